#!/usr/bin/env bash
# Checks that an existing host can carry the platform before anything is installed on it.
# Inputs (environment): MIN_MEMORY_MB, MIN_DISK_GB, KUBELET_SYSCTLS (space-separated key=value, the kernel
# parameters of the kubelet's protect-kernel-defaults). Prints one line per check; exits 1 on the first failure.
# PREFLIGHT_OS_RELEASE, PREFLIGHT_MEMINFO, PREFLIGHT_PROC_SYS, PREFLIGHT_MOUNTS, PREFLIGHT_SYSCTL_DIRS and
# PREFLIGHT_SYSCTL_CONF replace /etc/os-release, /proc/meminfo, /proc/sys, /proc/mounts, the sysctl.d
# directories and /etc/sysctl.conf (tests).
set -euo pipefail

min_memory_mb="${MIN_MEMORY_MB:-4096}"
min_disk_gb="${MIN_DISK_GB:-20}"
os_release="${PREFLIGHT_OS_RELEASE:-/etc/os-release}"
meminfo="${PREFLIGHT_MEMINFO:-/proc/meminfo}"
proc_sys="${PREFLIGHT_PROC_SYS:-/proc/sys}"
mounts="${PREFLIGHT_MOUNTS:-/proc/mounts}"
sysctl_dirs="${PREFLIGHT_SYSCTL_DIRS:-/etc/sysctl.d /run/sysctl.d /usr/local/lib/sysctl.d /usr/lib/sysctl.d /lib/sysctl.d}"
sysctl_conf="${PREFLIGHT_SYSCTL_CONF:-/etc/sysctl.conf}"
: "${KUBELET_SYSCTLS:?KUBELET_SYSCTLS is required (key=value pairs)}"
fail() { echo "preflight: FAILED: $*" >&2; exit 1; }

if [ -r "$os_release" ]; then
  # shellcheck source=/dev/null
  . "$os_release"
else
  fail "no $os_release: cannot tell the operating system"
fi
[ "${ID:-}" = "ubuntu" ] || fail "operating system is ${PRETTY_NAME:-unknown}; the homelab stack supports Ubuntu (22.04 or newer)"
major="${VERSION_ID%%.*}"
[ "${major:-0}" -ge 22 ] || fail "Ubuntu ${VERSION_ID:-?} is too old; 22.04 or newer is required"
echo "preflight: os ok (${PRETTY_NAME})"

arch="$(uname -m)"
case "$arch" in
  x86_64|aarch64) echo "preflight: architecture ok ($arch)" ;;
  *) fail "architecture $arch is not supported; x86_64 or aarch64 is required" ;;
esac

mem_mb="$(awk '/^MemTotal:/ {print int($2 / 1024)}' "$meminfo")"
[ "$mem_mb" -ge "$min_memory_mb" ] || fail "memory is ${mem_mb} MB; the platform budget needs at least ${min_memory_mb} MB"
echo "preflight: memory ok (${mem_mb} MB >= ${min_memory_mb} MB)"

target=/var/lib
disk_gb="$(df -P -BG "$target" | awk 'NR==2 {gsub("G", "", $4); print $4}')"
[ "$disk_gb" -ge "$min_disk_gb" ] || fail "free disk on $target is ${disk_gb} GB; at least ${min_disk_gb} GB is required"
echo "preflight: disk ok (${disk_gb} GB free on $target)"

sudo -n true 2>/dev/null || fail "user $(id -un) cannot run sudo without a password; K3s is installed with sudo"
echo "preflight: sudo ok"

for tool in curl systemctl base64; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done
echo "preflight: tools ok"

# CIS 4.2.6: the kubelet runs with protect-kernel-defaults and exits when one of these differs. The
# install sets them (/etc/sysctl.d/90-kubelet.conf) before K3s starts; refused here is what it cannot
# fix: a parameter the kernel does not expose, a read-only /proc/sys (a container), or a file applied
# after ours (sysctl --system and systemd-sysctl go by file name, /etc/sysctl.conf last) setting one otherwise.
proc_ro=0
if awk '$2 == "/proc/sys" && $4 ~ /(^|,)ro(,|$)/ {found = 1} END {exit !found}' "$mounts" 2>/dev/null; then proc_ro=1; fi
later_files=()
for dir in $sysctl_dirs; do
  for f in "$dir"/*.conf; do
    [ -f "$f" ] || continue
    name="${f##*/}"
    if [[ "$name" > "90-kubelet.conf" ]]; then later_files+=("$f"); fi
  done
done
[ -f "$sysctl_conf" ] && later_files+=("$sysctl_conf")
to_set=0
for pair in $KUBELET_SYSCTLS; do
  key="${pair%%=*}"
  want="${pair#*=}"
  file="$proc_sys/${key//.//}"
  [ -r "$file" ] || fail "kernel parameter $key is not available here (no $file); the kubelet (protect-kernel-defaults) needs it at $want"
  have="$(cat "$file")"
  if [ "$have" != "$want" ]; then
    [ "$proc_ro" -eq 0 ] || fail "kernel parameter $key is $have, the kubelet (protect-kernel-defaults) needs $want, and /proc/sys is read-only here (a container?): set it on the host"
    to_set=$((to_set + 1))
  fi
  for f in "${later_files[@]}"; do
    other="$(awk -F= -v k="$key" '{gsub(/[ \t]/, "", $1); gsub(/[ \t]/, "", $2)} $1 == k {v = $2} END {print v}' "$f")"
    [ -z "$other" ] || [ "$other" = "$want" ] \
      || fail "$f sets $key=$other and is applied after the install's 90-kubelet.conf ($key=$want): the kubelet (protect-kernel-defaults) would not start after a reboot; remove it there or set $want"
  done
done
echo "preflight: kernel parameters ok ($to_set to be set by the install before K3s starts)"
