#!/bin/sh
# Saves the given paths as one snapshot of this component's restic repository (created on first use),
# then applies the retention: restic forget --keep-daily/--keep-weekly/--keep-monthly --prune.
# Runs as the last container of each backup CronJob, after the step that produced the paths.
set -eu
# shellcheck source=restic-lib.sh
. "$(dirname "$0")/restic-lib.sh"

need RESTIC_REPOSITORY RESTIC_PASSWORD BACKUP_HOST BACKUP_TAG
[ "$#" -gt 0 ] || die "usage: backup.sh PATH..."
for path in "$@"; do
  [ -e "$path" ] || die "$path does not exist: the step that produces it failed, or its volume is not mounted"
done

ensure_repository
# Exit 3 (some source files unreadable) fails the job too: an incomplete snapshot is not a backup.
r backup --host "$BACKUP_HOST" --tag "$BACKUP_TAG" "$@"
r forget --host "$BACKUP_HOST" --tag "$BACKUP_TAG" \
  --keep-daily "${KEEP_DAILY:-7}" --keep-weekly "${KEEP_WEEKLY:-4}" --keep-monthly "${KEEP_MONTHLY:-6}" --prune
r snapshots --host "$BACKUP_HOST" --tag "$BACKUP_TAG" --latest 1
echo "backup: $BACKUP_TAG saved; keeping ${KEEP_DAILY:-7} daily, ${KEEP_WEEKLY:-4} weekly, ${KEEP_MONTHLY:-6} monthly"
