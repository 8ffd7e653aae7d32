# shellcheck shell=sh
# Shared by the backup and restore scripts; sourced, not run. POSIX sh: the restic image is Alpine's
# busybox. Inputs (environment, from the backup-restic Secret and the Job): RESTIC_REPOSITORY,
# RESTIC_PASSWORD (+ AWS_* or RESTIC_REST_*), BACKUP_HOST, BACKUP_TAG, S3_BUCKET_LOOKUP (optional).

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# Fails naming every listed variable that is empty or unset.
need() {
  missing=""
  for var in "$@"; do
    eval "value=\${$var:-}"
    # shellcheck disable=SC2154 # assigned by the eval above
    [ -n "$value" ] || missing="$missing $var"
  done
  [ -z "$missing" ] || die "required environment missing:$missing"
}

# restic with the options this repository needs: OCI's S3 API answers path-style requests.
r() {
  if [ -n "${S3_BUCKET_LOOKUP:-}" ]; then
    restic -o "s3.bucket-lookup=${S3_BUCKET_LOOKUP}" "$@"
  else
    restic "$@"
  fi
}

# Creates the repository on first use. restic >= 0.17 exits 10 when it does not exist; any other
# failure (credentials, network, wrong password) stops the job instead of creating a second one.
ensure_repository() {
  err="${TMPDIR:-/tmp}/restic-cat-config.err"
  rc=0
  r cat config > /dev/null 2> "$err" || rc=$?
  case "$rc" in
    0) ;;
    10) echo "restic: no repository yet at $RESTIC_REPOSITORY, creating it"; r init ;;
    *) cat "$err" >&2; die "cannot open the repository $RESTIC_REPOSITORY (restic exit $rc)" ;;
  esac
}

# fetch PATH_IN_SNAPSHOT DEST: one file of SNAPSHOT (an ID, or "latest" of this host and tag).
fetch() {
  r dump --host "$BACKUP_HOST" --tag "$BACKUP_TAG" "${SNAPSHOT:-latest}" "$1" > "$2.part" || die "restic dump of $1 from snapshot ${SNAPSHOT:-latest} failed"
  mv "$2.part" "$2"
  echo "restore: fetched $1 ($(wc -c < "$2") bytes) from snapshot ${SNAPSHOT:-latest}"
}

# is_sqlite FILE: the 16-byte SQLite header, so an empty or truncated download is caught here.
is_sqlite() {
  [ "$(head -c 15 "$1")" = "SQLite format 3" ]
}
