#!/usr/bin/env bash
# Installs the stack's SSH host key on a node launched before cloud-init did (components/host/
# host-keys.ts): only this key is left in /etc/ssh, so sshd offers the one key Pulumi pins. The old
# keys are kept aside until sshd is known to accept the new one. Idempotent.
# Env: HOST_KEY_PRIVATE (OpenSSH private key), HOST_KEY_PUBLIC ("ssh-ed25519 AAAA..."),
#      SSH_DIR (default /etc/ssh), SSHD_CONFIG (default: sshd's own).
set -euo pipefail

: "${HOST_KEY_PRIVATE:?HOST_KEY_PRIVATE is required}"
: "${HOST_KEY_PUBLIC:?HOST_KEY_PUBLIC is required}"
dir="${SSH_DIR:-/etc/ssh}"
check=(sshd -t)
if [ -n "${SSHD_CONFIG:-}" ]; then check+=(-f "$SSHD_CONFIG"); fi
key="$dir/ssh_host_ed25519_key"

umask 077
tmp="$(mktemp -d "$dir/.host-key.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$HOST_KEY_PRIVATE" > "$tmp/key"
# The private key must be the public key's other half, or every pinned connection would fail.
derived="$(ssh-keygen -y -f "$tmp/key" | awk '{print $1 " " $2}')"
if [ "$derived" != "$(printf '%s' "$HOST_KEY_PUBLIC" | awk '{print $1 " " $2}')" ]; then
  echo "host-key: HOST_KEY_PRIVATE does not match HOST_KEY_PUBLIC" >&2
  exit 1
fi

current="$(awk '{print $1 " " $2}' "$key.pub" 2>/dev/null || true)"
others="$(find "$dir" -maxdepth 1 -name 'ssh_host_*_key*' ! -name 'ssh_host_ed25519_key' ! -name 'ssh_host_ed25519_key.pub' | wc -l)"
if [ "$current" = "$derived" ] && [ "$others" -eq 0 ]; then
  echo "host-key: already installed"
  exit 0
fi

mkdir -p "$tmp/old"
find "$dir" -maxdepth 1 -name 'ssh_host_*_key*' -exec mv {} "$tmp/old/" \;
install -m 0600 "$tmp/key" "$key"
printf '%s\n' "$HOST_KEY_PUBLIC" > "$key.pub"
chmod 0644 "$key.pub"
if ! "${check[@]}"; then
  echo "host-key: sshd refuses the new key; the old keys are back" >&2
  rm -f "$key" "$key.pub"
  mv "$tmp/old/"* "$dir/"
  exit 1
fi
# New connections get the new key; this one (and Pulumi's next) stay up. Only the system's sshd reads /etc/ssh.
if [ "$dir" = /etc/ssh ] && command -v systemctl >/dev/null 2>&1; then
  systemctl try-reload-or-restart ssh.service 2>/dev/null || systemctl try-reload-or-restart sshd.service 2>/dev/null || true
fi
echo "host-key: installed $(ssh-keygen -lf "$key.pub")"
