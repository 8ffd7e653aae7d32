#!/usr/bin/env bash
# Runs ON the K3s server as root (scripts/ops/restore.sh k3s --ssh pipes it over SSH): swaps the
# staged datastore in for the live one. SQLite datastore only (single server, no --cluster-init);
# embedded etcd restores with `k3s server --cluster-reset --cluster-reset-restore-path` instead.
set -euo pipefail
server="${K3S_SERVER_DIR:-/var/lib/rancher/k3s/server}"
staged="$server/db-restore"
unit="${K3S_UNIT:-k3s}"

die() {
  echo "k3s-swap-datastore: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -s "$staged/state.db" ] || die "nothing staged in $staged (run the restore-k3s Job first)"
[ "$(head -c 15 "$staged/state.db")" = "SQLite format 3" ] || die "$staged/state.db is not an SQLite database"
[ ! -d "$server/db/etcd" ] || die "this server runs embedded etcd; use k3s etcd-snapshot and --cluster-reset-restore-path"
# K3s encrypts its bootstrap data with the token: a datastore under another token cannot be read.
if ! cmp -s "$staged/token" "$server/token"; then
  [ "${REPLACE_TOKEN:-0}" = "1" ] || die "the snapshot's token differs from $server/token; set REPLACE_TOKEN=1 to restore it too (agents must then rejoin with it)"
fi

stamp="$(date +%Y%m%d%H%M%S)"
systemctl stop "$unit"
mv "$server/db" "$server/db.before-restore-$stamp"
install -d -m 700 "$server/db"
install -m 600 "$staged/state.db" "$server/db/state.db"
if [ "${REPLACE_TOKEN:-0}" = "1" ]; then
  install -m 600 "$staged/token" "$server/token"
fi
systemctl start "$unit"

for _ in $(seq 1 "${READY_TRIES:-60}"); do
  if k3s kubectl get --raw /readyz > /dev/null 2>&1; then
    rm -rf "$staged"
    echo "k3s-swap-datastore: restored; the previous datastore is in $server/db.before-restore-$stamp"
    exit 0
  fi
  sleep "${READY_SLEEP:-5}"
done
die "K3s did not become ready; the previous datastore is in $server/db.before-restore-$stamp (move it back to $server/db and restart $unit)"
