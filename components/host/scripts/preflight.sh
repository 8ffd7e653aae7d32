#!/usr/bin/env bash
# Checks that an existing host can carry the platform before anything is installed on it.
# Inputs (environment): MIN_MEMORY_MB, MIN_DISK_GB. Prints one line per check; exits 1 on the first failure.
# PREFLIGHT_OS_RELEASE and PREFLIGHT_MEMINFO replace /etc/os-release and /proc/meminfo (tests).
set -euo pipefail

min_memory_mb="${MIN_MEMORY_MB:-4096}"
min_disk_gb="${MIN_DISK_GB:-20}"
os_release="${PREFLIGHT_OS_RELEASE:-/etc/os-release}"
meminfo="${PREFLIGHT_MEMINFO:-/proc/meminfo}"
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
