#!/bin/sh
# Runs in the pinned Gitea image, as Gitea's user, against Gitea's volume mounted read-only at /data
# next to the running server (ReadWriteOnce allows pods on the same node). `gitea dump` writes
# repositories, data and app.ini; the SQLite file is left out (--skip-db) because
# sqlite-backup.py copies it consistently through SQLite's backup API instead.
# Layout (go-gitea/gitea cmd/dump.go): app.ini, data/... (APP_DATA_PATH, /data in the chart,
# minus repositories, logs and the database), data/lfs|attachments|packages/..., repos/<owner>/<repo>.git/...
set -eu
out="${BACKUP_DIR:-/backup}"
archive="$out/gitea-dump.tar"
scratch="$out/tmp"

die() {
  echo "gitea-dump: $*" >&2
  exit 1
}

mkdir -p "$scratch"
rm -f "$archive"
# The wrapper in the image adds -c "$GITEA_APP_INI"; uncompressed tar deduplicates best in restic.
gitea dump --type tar --file "$archive" --tempdir "$scratch" --skip-db --skip-log --skip-index
[ -s "$archive" ] || die "gitea dump produced no archive"

tar -tf "$archive" > "$scratch/list"
grep -qx 'app.ini' "$scratch/list" || die "the archive has no app.ini: it is not gitea dump's layout"
grep -q '^data/' "$scratch/list" || die "the archive has no data/: it is not gitea dump's layout"
if grep -q '^gitea\.db$\|^data/gitea\.db$' "$scratch/list"; then
  die "the archive holds a copy of the live database; --skip-db was not honoured"
fi
repos="$(grep -c '^repos/[^/]*/[^/]*\.git/HEAD$' "$scratch/list" || true)"
echo "gitea-dump: $(wc -c < "$archive") bytes, $repos repositories"
rm -rf "$scratch"
