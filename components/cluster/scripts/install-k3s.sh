#!/usr/bin/env bash
# Installs or reconciles K3s on this node. Idempotent: a second run with the same inputs changes nothing.
# Inputs (environment, set by the K3s component):
#   K3S_ROLE          server | agent
#   K3S_VERSION       pinned release, e.g. v1.34.1+k3s1
#   K3S_TOKEN         cluster join token (secret)
#   K3S_URL           agents only: https://<server private address>:6443
#   K3S_CONFIG_B64    base64 of /etc/rancher/k3s/config.yaml
#   REGISTRIES_B64    base64 of /etc/rancher/k3s/registries.yaml
#   ROLLOUTS_VERSION  servers only: kubectl-argo-rollouts plugin release (PM-16)
#   PULUMI_ACCESS_B64 servers only: base64 of the ServiceAccount, binding and token Secret the stack
#                     authenticates with (a token that does not expire, unlike the admin client cert)
#   SYSCTL_CONF_B64   base64 of /etc/sysctl.d/90-kubelet.conf: the kernel parameters the kubelet's
#                     protect-kernel-defaults requires (CIS 4.2.6), set before K3s starts
#   ADMISSION_CONFIG_B64, AUDIT_POLICY_B64  servers only: base64 of <data dir>/server/psa.yaml (Pod
#                     Security and EventRateLimit) and <data dir>/server/audit.yaml (the audit policy)
#   K3S_CONFIG_DIR, BIN_DIR, SYSTEMD_DIR, K3S_DATA_DIR, SYSCTL_DIR, PROC_SYS_DIR  where things live
#                     (defaults /etc/rancher/k3s, /usr/local/bin, /etc/systemd/system, /var/lib/rancher/k3s,
#                     /etc/sysctl.d, /proc/sys; tests use a temp dir)
set -euo pipefail

config_dir="${K3S_CONFIG_DIR:-/etc/rancher/k3s}"
bin_dir="${BIN_DIR:-/usr/local/bin}"
systemd_dir="${SYSTEMD_DIR:-/etc/systemd/system}"
data_dir="${K3S_DATA_DIR:-/var/lib/rancher/k3s}"
sysctl_dir="${SYSCTL_DIR:-/etc/sysctl.d}"
proc_sys="${PROC_SYS_DIR:-/proc/sys}"

: "${K3S_ROLE:?K3S_ROLE is required (server or agent)}"
: "${K3S_VERSION:?K3S_VERSION is required}"
: "${K3S_TOKEN:?K3S_TOKEN is required}"
: "${K3S_CONFIG_B64:?K3S_CONFIG_B64 is required}"
: "${REGISTRIES_B64:?REGISTRIES_B64 is required}"
: "${SYSCTL_CONF_B64:?SYSCTL_CONF_B64 is required (kernel parameters for the kubelet)}"
if [ "$K3S_ROLE" = "server" ]; then
  : "${ADMISSION_CONFIG_B64:?ADMISSION_CONFIG_B64 is required on a server (Pod Security and EventRateLimit)}"
  : "${AUDIT_POLICY_B64:?AUDIT_POLICY_B64 is required on a server (the audit policy)}"
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-k3s: must run as root (the component runs it with sudo)" >&2
  exit 1
fi

changed=0
# Writes a file only when its content differs, so K3s restarts only on a real change.
put_file() {
  local path="$1" b64="$2" mode="$3" tmp
  tmp="$(mktemp)"
  printf '%s' "$b64" | base64 -d > "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 0
  fi
  install -D -m "$mode" "$tmp" "$path"
  rm -f "$tmp"
  changed=1
  echo "install-k3s: wrote $path"
}

# CIS 4.2.6: with protect-kernel-defaults the kubelet exits when a kernel parameter differs from what
# it expects, so they are in place before K3s (re)starts. `sysctl --system` applies every file in boot
# order: a later file that sets one otherwise is caught now rather than at the next reboot.
sysctl_file="$sysctl_dir/90-kubelet.conf"
put_file "$sysctl_file" "$SYSCTL_CONF_B64" 0644
# Applied when the file is new or changed too: a running kubelet without protect-kernel-defaults set
# these values itself, so /proc/sys alone would hide a later file that undoes them at the next boot.
sysctl_written="$changed"
changed=0 # kernel parameters take effect without a K3s restart
kernel_mismatches() {
  local key value actual
  while IFS='=' read -r key value; do
    case "$key" in '' | '#'*) continue ;; esac
    actual="$(cat "$proc_sys/${key//.//}" 2>/dev/null || echo unreadable)"
    [ "$actual" = "$value" ] || echo "$key is $actual, the kubelet needs $value"
  done < "$sysctl_file"
}
if [ "$sysctl_written" -eq 1 ] || [ -n "$(kernel_mismatches)" ]; then
  sysctl --system > /dev/null || true # the check below decides, not unrelated keys of other files
  mismatches="$(kernel_mismatches)"
  if [ -n "$mismatches" ]; then
    echo "install-k3s: kernel parameters the kubelet requires (protect-kernel-defaults) are not in effect after 'sysctl --system':" >&2
    sed 's/^/  /' <<< "$mismatches" >&2
    echo "install-k3s: a file sorting after $sysctl_file (or /etc/sysctl.conf) sets them otherwise, or /proc/sys is read-only (a container); fix that and retry. K3s was not (re)started." >&2
    exit 1
  fi
  echo "install-k3s: kernel parameters for the kubelet in effect ($sysctl_file)"
fi

put_file "$config_dir/config.yaml" "$K3S_CONFIG_B64" 0600
put_file "$config_dir/registries.yaml" "$REGISTRIES_B64" 0600
if [ "$K3S_ROLE" = "server" ]; then
  # The files config.yaml's kube-apiserver-arg points at; a change restarts K3s like config.yaml's.
  put_file "$data_dir/server/psa.yaml" "$ADMISSION_CONFIG_B64" 0600
  put_file "$data_dir/server/audit.yaml" "$AUDIT_POLICY_B64" 0600
  install -d -m 0700 "$data_dir/server/logs"
fi

installed=""
if command -v k3s >/dev/null 2>&1; then
  installed="$(k3s --version | awk 'NR==1 {print $3}')"
fi

unit="k3s"
[ "$K3S_ROLE" = "agent" ] && unit="k3s-agent"

# The token a node runs with lives in the service's environment file (written by K3s's installer).
# A new value takes effect only after the cluster was rotated to it (`k3s token rotate`): restarting
# a server with a token the datastore was not rotated to leaves it unable to start.
env_file="$systemd_dir/$unit.service.env"
if [ -n "$installed" ] && [ -f "$env_file" ]; then
  current_token="$(sed -n 's/^K3S_TOKEN=//p' "$env_file" | head -n 1)"
  current_token="${current_token#\'}"
  current_token="${current_token%\'}"
  if [ "$current_token" != "$K3S_TOKEN" ]; then
    if [ "$K3S_ROLE" = "server" ]; then
      cluster_token="$(cat "$data_dir/server/token" 2>/dev/null || true)"
      if [ "$cluster_token" != "$K3S_TOKEN" ] && [ "${cluster_token##*::server:}" != "$K3S_TOKEN" ]; then
        echo "install-k3s: K3S_TOKEN differs from the token this cluster was rotated to; run 'sudo k3s token rotate --new-token <new token>' on the server first (docs.k3s.io/cli/token), then retry" >&2
        exit 1
      fi
    fi
    case "$K3S_TOKEN" in
      *[!A-Za-z0-9._:+/=-]*) echo "install-k3s: K3S_TOKEN has characters this script will not write to $env_file; use letters, digits and ._:+/=-" >&2; exit 1 ;;
    esac
    tmp="$(mktemp)"
    grep -v '^K3S_TOKEN=' "$env_file" > "$tmp" || true
    printf "K3S_TOKEN='%s'\n" "$K3S_TOKEN" >> "$tmp"
    install -m 0600 "$tmp" "$env_file"
    rm -f "$tmp"
    changed=1
    echo "install-k3s: the node now runs with the rotated token ($env_file)"
  fi
fi

if [ "$installed" != "$K3S_VERSION" ]; then
  echo "install-k3s: installing K3s $K3S_VERSION as $K3S_ROLE (found: ${installed:-none})"
  # The install script is taken from the same tag as the binary, not the moving get.k3s.io.
  script_url="https://raw.githubusercontent.com/k3s-io/k3s/${K3S_VERSION}/install.sh"
  installer="$(mktemp)"
  curl -sfL --retry 5 --retry-delay 5 "$script_url" -o "$installer"
  if [ "$K3S_ROLE" = "agent" ]; then
    : "${K3S_URL:?K3S_URL is required for agents}"
    INSTALL_K3S_VERSION="$K3S_VERSION" K3S_URL="$K3S_URL" K3S_TOKEN="$K3S_TOKEN" sh "$installer" agent < /dev/null
  else
    INSTALL_K3S_VERSION="$K3S_VERSION" K3S_TOKEN="$K3S_TOKEN" sh "$installer" server < /dev/null
  fi
  rm -f "$installer"
elif [ "$changed" -eq 1 ]; then
  echo "install-k3s: configuration changed, restarting $unit"
  systemctl restart "$unit"
else
  echo "install-k3s: K3s $K3S_VERSION already installed and configured; nothing to do"
fi

# K3s renews its certificates, the admin client's that `k3s kubectl` below uses included, only when
# it starts and they expire within 90 days (docs.k3s.io/cli/certificate): after a year without a
# restart this script would lock itself out. Restart now then, unless it just (re)started anyway.
admin_cert="$data_dir/server/tls/client-admin.crt"
if [ "$K3S_ROLE" = "server" ] && [ "$installed" = "$K3S_VERSION" ] && [ "$changed" -eq 0 ] && [ -f "$admin_cert" ] \
  && command -v openssl >/dev/null 2>&1 && ! openssl x509 -checkend 7776000 -noout -in "$admin_cert" >/dev/null 2>&1; then
  echo "install-k3s: the admin client certificate expires within 90 days; restarting $unit to renew it"
  systemctl restart "$unit"
fi

if [ "$K3S_ROLE" = "server" ]; then
  for _ in $(seq 1 60); do
    if k3s kubectl get --raw /readyz >/dev/null 2>&1; then break; fi
    sleep 5
  done
  k3s kubectl get --raw /readyz >/dev/null

  # The stack's own identity: a ServiceAccount token that does not expire (see cluster/kubeconfig.ts).
  if [ -n "${PULUMI_ACCESS_B64:-}" ]; then
    printf '%s' "$PULUMI_ACCESS_B64" | base64 -d \
      | k3s kubectl apply --server-side --force-conflicts --field-manager=platform-install -f - >/dev/null
    echo "install-k3s: ServiceAccount token for Pulumi in place"
  fi

  # PM-16: the Rollouts plugin next to kubectl, so `kubectl argo rollouts` works on the server.
  if [ -n "${ROLLOUTS_VERSION:-}" ]; then
    plugin="$bin_dir/kubectl-argo-rollouts"
    current=""
    if [ -x "$plugin" ]; then
      current="$("$plugin" version --short 2>/dev/null | awk '{print $2}' | cut -d+ -f1 || true)"
    fi
    if [ "$current" != "$ROLLOUTS_VERSION" ]; then
      case "$(uname -m)" in
        aarch64|arm64) arch=arm64 ;;
        x86_64|amd64) arch=amd64 ;;
        *) echo "install-k3s: unsupported architecture $(uname -m)" >&2; exit 1 ;;
      esac
      # #14: the plugin is checked against its pinned sha256 before it is installed. Sources:
      # cashapp/hermit-packages kubectl-argo-rollouts.hcl @ f0517fd7 (sha256sums), the same as
      # Homebrew formulae for v1.9.0; a version without a line here fails, naming it (Renovate's PR
      # for argoproj/argo-rollouts says to add it from the release's argo-rollouts-checksums.txt).
      rollouts_sums="v1.9.0 amd64 d1c98f59f6d3716b7a35aa540506764700a358448dd6a10e92381b7aa294d00b
v1.9.0 arm64 90907a84406b3843fb9deecd12a7312f61a9269e6d5729a30ca72a26bf67f2ab"
      # Tests replace the table (their download is a stub); the stack never sets this.
      if [ -n "${ROLLOUTS_SUMS_FILE:-}" ]; then rollouts_sums="$(cat "$ROLLOUTS_SUMS_FILE")"; fi
      want="$(printf '%s\n' "$rollouts_sums" | awk -v v="$ROLLOUTS_VERSION" -v a="$arch" '$1 == v && $2 == a { print $3 }')"
      if [ -z "$want" ]; then
        echo "install-k3s: no sha256 pinned for kubectl-argo-rollouts $ROLLOUTS_VERSION ($arch) in install-k3s.sh" >&2; exit 1
      fi
      url="https://github.com/argoproj/argo-rollouts/releases/download/${ROLLOUTS_VERSION}/kubectl-argo-rollouts-linux-${arch}"
      install -d "$bin_dir"
      curl -sfL --retry 5 --retry-delay 5 "$url" -o "$plugin.tmp"
      if ! printf '%s  %s\n' "$want" "$plugin.tmp" | sha256sum -c - >/dev/null; then
        rm -f "$plugin.tmp"
        echo "install-k3s: kubectl-argo-rollouts $ROLLOUTS_VERSION ($arch) does not match its pinned sha256; refusing $url" >&2; exit 1
      fi
      install -m 0755 "$plugin.tmp" "$plugin"
      rm -f "$plugin.tmp"
      echo "install-k3s: installed kubectl-argo-rollouts $ROLLOUTS_VERSION"
    fi
  fi
fi
echo "install-k3s: done"
