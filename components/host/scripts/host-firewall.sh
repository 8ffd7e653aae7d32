#!/usr/bin/env bash
# The homelab host's firewall for the ports the platform opens (#13.3): SSH and the Kubernetes API
# from platform:adminCidr (and the host and its pods) only, not over IPv6, 80/443 from anywhere, NodePorts
# (30000-32767) from the host, its pods and adminCidr only; other ports are left to whoever manages
# them (ufw included: its chains are untouched, ours are jumped to first). Idempotent: our chains
# are rebuilt on each run; an empty chain decides nothing, so a rebuild never locks anyone out.
# Refuses to apply a rule set that would drop the SSH client running it (Pulumi's connection).
# Persists with a systemd unit that re-applies the saved settings at boot, before K3s.
# Env: ADMIN_CIDR (empty: SSH and the API are not restricted), SSH_PORT (22), API_PORT (6443),
#      POD_CIDR, SERVICE_CIDR, SSH_CLIENT_ADDR (the client's address, from $SSH_CLIENT),
#      ACTION (apply | boot | remove), CONF_FILE, UNIT_DIR (where the unit goes; only
#      /etc/systemd/system is enabled with systemctl), FIREWALL_SCRIPT (this script, for the boot copy).
set -euo pipefail

action="${ACTION:-apply}"
conf="${CONF_FILE:-/etc/default/platform-host-firewall}"
unit_dir="${UNIT_DIR:-/etc/systemd/system}"
unit="platform-host-firewall.service"
self="/usr/local/sbin/platform-host-firewall.sh"
INPUT_CHAIN="PLATFORM-INPUT"
NODEPORT_CHAIN="PLATFORM-NODEPORTS"

# At boot the saved settings are all there is.
if [ "$action" = boot ]; then
  # shellcheck disable=SC1090
  . "$conf"
fi
admin_cidr="${ADMIN_CIDR:-}"
ssh_port="${SSH_PORT:-22}"
api_port="${API_PORT:-6443}"
pod_cidr="${POD_CIDR:-10.42.0.0/16}"
service_cidr="${SERVICE_CIDR:-10.43.0.0/16}"

ip_to_int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  echo $(( (a << 24) | (b << 16) | (c << 8) | d ))
}
# in_cidr 192.0.2.7 192.0.2.0/24
in_cidr() {
  local ip="$1" net="${2%/*}" bits="${2#*/}" mask
  mask=$(( bits == 0 ? 0 : (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF ))
  [ $(( $(ip_to_int "$ip") & mask )) -eq $(( $(ip_to_int "$net") & mask )) ]
}

jump() { # table chain rule... : inserts the jump first in the chain unless it is there
  local table="$1" chain="$2"; shift 2
  iptables -t "$table" -C "$chain" "$@" 2>/dev/null || iptables -t "$table" -I "$chain" 1 "$@"
}
unjump() {
  local table="$1" chain="$2"; shift 2
  while iptables -t "$table" -C "$chain" "$@" 2>/dev/null; do iptables -t "$table" -D "$chain" "$@"; done
}
input_jump=(-p tcp -m conntrack --ctstate NEW -j "$INPUT_CHAIN")
# sshd and K3s listen on every address family, and adminCidr is an IPv4 range: over IPv6 (a home
# ISP's global address) SSH and the API would stay open to anyone. No IPv6 source is in adminCidr.
# Skipped where the kernel has no IPv6 (ip6tables cannot load its table; nothing listens there).
have_ip6() { command -v ip6tables >/dev/null 2>&1 && ip6tables -t filter -S INPUT >/dev/null 2>&1; }
nodeport_jump=(-p tcp --dport 30000:32767 -m conntrack --ctstate NEW -j "$NODEPORT_CHAIN")

if [ "$action" = remove ]; then
  unjump filter INPUT "${input_jump[@]}"
  unjump mangle PREROUTING "${nodeport_jump[@]}"
  iptables -t filter -F "$INPUT_CHAIN" 2>/dev/null || true
  iptables -t filter -X "$INPUT_CHAIN" 2>/dev/null || true
  iptables -t mangle -F "$NODEPORT_CHAIN" 2>/dev/null || true
  iptables -t mangle -X "$NODEPORT_CHAIN" 2>/dev/null || true
  if have_ip6; then
    while ip6tables -t filter -C INPUT "${input_jump[@]}" 2>/dev/null; do ip6tables -t filter -D INPUT "${input_jump[@]}"; done
    ip6tables -t filter -F "$INPUT_CHAIN" 2>/dev/null || true
    ip6tables -t filter -X "$INPUT_CHAIN" 2>/dev/null || true
  fi
  if [ "$unit_dir" = /etc/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable "$unit" 2>/dev/null || true
  fi
  rm -f "$unit_dir/$unit" "$conf"
  echo "host-firewall: removed"
  exit 0
fi

if [ -n "$admin_cidr" ] && [ "$action" = apply ]; then
  client="${SSH_CLIENT_ADDR:-}"
  if [ -z "$client" ]; then
    echo "host-firewall: cannot tell the SSH client's address (SSH_CLIENT_ADDR is empty); not applying platform:adminCidr $admin_cidr" >&2
    exit 1
  fi
  # sshd may report an IPv4 peer of a dual-stack socket as IPv4-mapped.
  case "$client" in ::ffff:*.*.*.*) client="${client#::ffff:}" ;; esac
  # adminCidr is IPv4 and SSH over IPv6 is closed below: an IPv6 client would be locked out (and
  # in_cidr's arithmetic cannot judge it).
  if ! [[ "$client" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then
    echo "host-firewall: this SSH connection comes from $client, not an IPv4 address; platform:adminCidr is an IPv4 range and SSH over IPv6 is closed with it, which would lock Pulumi out. Set platform:hostAddress to the host's IPv4 address" >&2
    exit 1
  fi
  if ! in_cidr "$client" "$admin_cidr"; then
    echo "host-firewall: this SSH connection comes from $client, outside platform:adminCidr $admin_cidr: applying it would lock Pulumi out. Set platform:adminCidr to a range that contains $client (or run pulumi from inside it)" >&2
    exit 1
  fi
fi

# filter INPUT: new TCP connections to our ports.
iptables -t filter -N "$INPUT_CHAIN" 2>/dev/null || true
iptables -t filter -F "$INPUT_CHAIN"
add() { iptables -t filter -A "$INPUT_CHAIN" "$@"; }
add -i lo -j RETURN
for port in 80 443; do add -p tcp --dport "$port" -j ACCEPT; done
if [ -n "$admin_cidr" ]; then
  for port in "$ssh_port" "$api_port"; do
    add -p tcp --dport "$port" -s "$admin_cidr" -j ACCEPT
    add -p tcp --dport "$port" -m addrtype --src-type LOCAL -j ACCEPT
  done
  # Pods reach the API through the kubernetes Service, DNATed to this host.
  add -p tcp --dport "$api_port" -s "$pod_cidr" -j ACCEPT
  for port in "$ssh_port" "$api_port"; do add -p tcp --dport "$port" -j DROP; done
fi
jump filter INPUT "${input_jump[@]}"
if have_ip6; then
  ip6tables -t filter -N "$INPUT_CHAIN" 2>/dev/null || true
  ip6tables -t filter -F "$INPUT_CHAIN"
  ip6tables -t filter -A "$INPUT_CHAIN" -i lo -j RETURN
  if [ -n "$admin_cidr" ]; then
    for port in "$ssh_port" "$api_port"; do ip6tables -t filter -A "$INPUT_CHAIN" -p tcp --dport "$port" -j DROP; done
  fi
  ip6tables -t filter -C INPUT "${input_jump[@]}" 2>/dev/null || ip6tables -t filter -I INPUT 1 "${input_jump[@]}"
fi

# mangle PREROUTING: NodePorts, before kube-proxy's DNAT turns them into pod ports. The host's own
# connections (containerd pulling through the registry NodePort) go through OUTPUT, not here.
iptables -t mangle -N "$NODEPORT_CHAIN" 2>/dev/null || true
iptables -t mangle -F "$NODEPORT_CHAIN"
for cidr in "$pod_cidr" "$service_cidr" ${admin_cidr:+"$admin_cidr"}; do
  iptables -t mangle -A "$NODEPORT_CHAIN" -s "$cidr" -j RETURN
done
iptables -t mangle -A "$NODEPORT_CHAIN" -m addrtype --src-type LOCAL -j RETURN
iptables -t mangle -A "$NODEPORT_CHAIN" -j DROP
jump mangle PREROUTING "${nodeport_jump[@]}"

if [ "$action" = apply ]; then
  mkdir -p "$(dirname "$conf")" "$unit_dir"
  umask 022
  {
    printf 'ADMIN_CIDR=%q\nSSH_PORT=%q\nAPI_PORT=%q\nPOD_CIDR=%q\nSERVICE_CIDR=%q\n' \
      "$admin_cidr" "$ssh_port" "$api_port" "$pod_cidr" "$service_cidr"
  } > "$conf"
  # The boot copy of this script (the program passes its own text; it cannot copy $0, which carries the inputs).
  if [ -n "${FIREWALL_SCRIPT:-}" ] && [ "$unit_dir" = /etc/systemd/system ]; then
    printf '%s\n' "$FIREWALL_SCRIPT" > "$self"
    chmod 0755 "$self"
  fi
  cat > "$unit_dir/$unit" <<UNIT
[Unit]
Description=Platform host firewall (SSH and API from adminCidr, NodePorts from the host)
After=network-pre.target ufw.service
Before=k3s.service network-online.target

[Service]
Type=oneshot
Environment=ACTION=boot CONF_FILE=$conf
ExecStart=/usr/bin/env bash $self
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
UNIT
  if [ "$unit_dir" = /etc/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload
    systemctl enable "$unit" >/dev/null 2>&1
  fi
fi
echo "host-firewall: applied (adminCidr ${admin_cidr:-unrestricted})"
