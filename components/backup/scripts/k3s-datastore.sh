#!/bin/sh
# Runs in the Python image on the K3s server, as root (the files are root's, mode 0600): the
# datastore as a consistent SQLite copy and the server token, which K3s uses to encrypt the
# bootstrap data in the datastore (docs.k3s.io/datastore/backup-restore: back up both).
set -eu
server="${K3S_SERVER_DIR:-/k3s}"
out="${BACKUP_DIR:-/backup}"
python3 "$(dirname "$0")/sqlite-backup.py" "$server/db/state.db" "$out/state.db"
[ -s "$server/token" ] || { echo "k3s-datastore: $server/token is missing or empty" >&2; exit 1; }
cp "$server/token" "$out/token"
chmod 600 "$out/token"
echo "k3s-datastore: token saved"
