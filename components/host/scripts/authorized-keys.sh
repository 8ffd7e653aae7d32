#!/usr/bin/env bash
# Keeps the keys the platform manages in the SSH user's authorized_keys: the stack's own key (the
# one Pulumi connects with) and platform:sshPublicKey. OCI reads ssh_authorized_keys only at launch,
# so a later key reaches the node this way. Keys this script installed (or found wanted) earlier
# and no longer wants are removed; keys anyone else added are left alone. Idempotent; the file is
# replaced atomically, never left half-written.
# Env: KEEP_KEYS (OpenSSH public keys, one per line; the first is the one Pulumi connects with),
#      AUTHORIZED_KEYS (default ~/.ssh/authorized_keys).
set -euo pipefail

: "${KEEP_KEYS:?KEEP_KEYS is required}"
file="${AUTHORIZED_KEYS:-$HOME/.ssh/authorized_keys}"
# "type base64" of every key this script manages, one per line.
managed="${file}.platform"
dir="$(dirname "$file")"

umask 077
mkdir -p "$dir"
touch "$file" "$managed"
tmp="$(mktemp "$dir/.authorized_keys.XXXXXX")"
tmp_managed="$(mktemp "$dir/.authorized_keys.platform.XXXXXX")"
trap 'rm -f "$tmp" "$tmp_managed"' EXIT

# A key is its type and base64 blob; options before it and the comment after it do not count.
awk -v keep="$KEEP_KEYS" -v managed_file="$managed" -v managed_out="$tmp_managed" '
  function blob(line,    n, f, i) {
    n = split(line, f, /[ \t]+/)
    for (i = 1; i < n; i++) if (f[i] ~ TYPE && f[i + 1] ~ B64) return f[i] " " f[i + 1]
    return ""
  }
  BEGIN {
    TYPE = "^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh[.]com)$"
    B64 = "^[A-Za-z0-9+/]+=*$"
    n = split(keep, k, "\n")
    for (i = 1; i <= n; i++) {
      b = blob(k[i])
      if (b != "" && !(b in want)) { want[b] = k[i]; order[++w] = b }
    }
    if (w == 0) { print "authorized-keys: KEEP_KEYS holds no OpenSSH public key" > "/dev/stderr"; exit 2 }
    while ((getline line < managed_file) > 0) if (line != "" && !(line in want)) drop[line] = 1
  }
  {
    b = blob($0)
    if (b != "" && (b in drop)) { removed++; next }
    if (b != "" && (b in want)) seen[b] = 1
    print
  }
  END {
    if (w == 0) exit 2
    for (i = 1; i <= w; i++) {
      if (!(order[i] in seen)) { print want[order[i]]; added++ }
      print order[i] > managed_out
    }
    printf "authorized-keys: %d managed, %d added, %d removed\n", w, added, removed > "/dev/stderr"
  }
' "$file" > "$tmp"

chmod 600 "$tmp" "$tmp_managed"
mv -f "$tmp" "$file"
mv -f "$tmp_managed" "$managed"
