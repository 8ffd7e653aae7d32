#!/bin/sh
# Puts one Gitea snapshot back onto Gitea's volume (/data, mounted read-write; Gitea is scaled to 0
# first by scripts/ops/restore.sh). Runs in the restic image as Gitea's user (uid 1000), so the files
# it writes are Gitea's. The dump's layout maps back as gitea dump wrote it (chart paths):
#   data/...  -> /data/...  (APP_DATA_PATH: app.ini under gitea/conf, avatars, lfs, attachments, ...)
#   repos/... -> /data/git/gitea-repositories/...  (repository.ROOT)
#   gitea.db  -> /data/gitea.db  (the consistent SQLite copy; database.PATH defaults to APP_DATA_PATH/gitea.db)
set -eu
# shellcheck source=restic-lib.sh
. "$(dirname "$0")/restic-lib.sh"
need RESTIC_REPOSITORY RESTIC_PASSWORD BACKUP_HOST BACKUP_TAG
data="${GITEA_DATA:-/data}"
work="${WORK_DIR:-/work}"
repos_root="${GITEA_REPOS_ROOT:-$data/git/gitea-repositories}"

fetch /backup/gitea-dump.tar "$work/gitea-dump.tar"
fetch /backup/gitea.db "$work/gitea.db"
is_sqlite "$work/gitea.db" || die "gitea.db from the snapshot is not an SQLite database"

mkdir -p "$work/dump"
tar -x -f "$work/gitea-dump.tar" -C "$work/dump"
[ -f "$work/dump/app.ini" ] || die "the archive has no app.ini: not a gitea dump"
[ -d "$work/dump/data" ] || die "the archive has no data/: not a gitea dump"
[ ! -e "$work/dump/data/gitea.db" ] || die "the archive carries its own data/gitea.db; refusing to guess which database is current"

# Everything the fresh install created goes: its database, app.ini (new SECRET_KEY, which cannot
# decrypt the backup's secrets) and repositories would shadow the backup's.
find "$data" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
cp -a "$work/dump/data/." "$data/"
mkdir -p "$repos_root" "$data/gitea/conf"
if [ -d "$work/dump/repos" ]; then
  cp -a "$work/dump/repos/." "$repos_root/"
fi
# app.ini lives inside data/ in the chart's layout; the archive's top-level copy covers other layouts.
[ -f "$data/gitea/conf/app.ini" ] || cp "$work/dump/app.ini" "$data/gitea/conf/app.ini"
cp "$work/gitea.db" "$data/gitea.db"
chmod 600 "$data/gitea.db"
repos="$(find "$repos_root" -mindepth 2 -maxdepth 2 -type d -name '*.git' | wc -l)"
echo "restore-gitea: restored snapshot ${SNAPSHOT:-latest}: $repos repositories, database $(wc -c < "$data/gitea.db") bytes"
