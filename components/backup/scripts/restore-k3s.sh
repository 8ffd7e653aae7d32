#!/bin/sh
# Stages the K3s datastore and token of one snapshot on the server node (a hostPath directory next
# to the live db/), while K3s still runs. Swapping it in needs K3s stopped, so that happens on the
# node: scripts/ops/restore.sh k3s --ssh runs k3s-swap-datastore.sh there (docs/restore.md).
set -eu
# shellcheck source=restic-lib.sh
. "$(dirname "$0")/restic-lib.sh"
need RESTIC_REPOSITORY RESTIC_PASSWORD BACKUP_HOST BACKUP_TAG
staging="${STAGING_DIR:-/staging}"
mkdir -p "$staging"
chmod 700 "$staging"
fetch /backup/state.db "$staging/state.db"
fetch /backup/token "$staging/token"
chmod 600 "$staging/state.db" "$staging/token"
is_sqlite "$staging/state.db" || die "state.db from the snapshot is not an SQLite database"
echo "restore-k3s: staged snapshot ${SNAPSHOT:-latest} in $staging"
