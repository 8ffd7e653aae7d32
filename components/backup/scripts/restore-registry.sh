#!/bin/sh
# Puts the registry's storage back from one snapshot (the registry is scaled to 0 first). Runs in the
# restic image as the registry's user; `restic dump` of a directory streams a tar whose entries are
# the snapshot's paths without the leading slash, so it is unpacked at the filesystem root.
set -eu
# shellcheck source=restic-lib.sh
. "$(dirname "$0")/restic-lib.sh"
need RESTIC_REPOSITORY RESTIC_PASSWORD BACKUP_HOST BACKUP_TAG
snapshot_path="${SNAPSHOT_PATH:-/var/lib/registry}"
root="${RESTORE_ROOT:-/}"
target="${root%/}$snapshot_path"
work="${WORK_DIR:-/work}"
[ -d "$target" ] || die "$target is not mounted"

find "$target" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
# A FIFO instead of a pipe: POSIX sh reports only the last command's status, and restic's must count.
fifo="$work/registry.tar.fifo"
rm -f "$fifo"
mkfifo "$fifo"
r dump --host "$BACKUP_HOST" --tag "$BACKUP_TAG" "${SNAPSHOT:-latest}" "$snapshot_path" > "$fifo" &
dumper=$!
# Through stdin: tar reads a pipe in full records only then (GNU tar's -B default for stdin).
tar -x -f - -C "$root" < "$fifo"
wait "$dumper" || die "restic dump of $snapshot_path failed"
rm -f "$fifo"
[ -d "$target/docker/registry/v2" ] || die "the snapshot holds no docker/registry/v2: not the registry's storage"
repos="$(find "$target/docker/registry/v2/repositories" -name _manifests -type d 2>/dev/null | wc -l)"
echo "restore-registry: restored snapshot ${SNAPSHOT:-latest}: $repos repositories"
