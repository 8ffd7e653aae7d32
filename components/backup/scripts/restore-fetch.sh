#!/bin/sh
# Init container of a restore Job: copies files of one snapshot into the Job's scratch volume.
# Usage: restore-fetch.sh DEST_DIR PATH_IN_SNAPSHOT...
set -eu
# shellcheck source=restic-lib.sh
. "$(dirname "$0")/restic-lib.sh"
need RESTIC_REPOSITORY RESTIC_PASSWORD BACKUP_HOST BACKUP_TAG
[ "$#" -ge 2 ] || die "usage: restore-fetch.sh DEST_DIR PATH_IN_SNAPSHOT..."
dest="$1"
shift
mkdir -p "$dest"
for path in "$@"; do
  fetch "$path" "$dest/$(basename "$path")"
done
