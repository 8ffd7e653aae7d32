#!/usr/bin/env bash
# Keeps a PostgreSQL role's password equal to the mounted Secret. PostgreSQL keeps the password of
# its first start in its data directory (the image applies POSTGRES_PASSWORD to an empty one only),
# while a rotation updates the Secret in place and the kubelet refreshes the mounted file. This runs
# beside postgres in the same pod and talks to it over the local socket, which the image's initdb
# trusts (docker-library/postgres docker-entrypoint.sh: initdb without --auth; only `host` lines
# get POSTGRES_HOST_AUTH_METHOD), so no old password is needed. It is its own container: a process
# left under postgres as PID 1 would be an "untracked child process" whose exit restarts every backend.
# The password reaches psql through `\set` from the file: never in argv, never in a log line
# (log_statement none, log_min_error_statement panic for this session).
#   DB_ROLE            the role (the image's POSTGRES_USER, a superuser)
#   DB_PASSWORD_FILE   the mounted Secret key
#   PGHOST             the socket directory (PGPORT if not 5432)
#   SYNC_INTERVAL      seconds between checks (default 10); SYNC_RESYNC: apply again anyway after
#                      this many seconds (default 600, e.g. after a restore of an older data directory)
#   SYNC_STATE_DIR     where the probes look: `alive` (touched every pass) and `ok` (the file's
#                      password is applied); SYNC_ONCE=1 makes one pass and exits 0 only when ok
set -euo pipefail

: "${DB_ROLE:?}" "${DB_PASSWORD_FILE:?}" "${PGHOST:?}"
INTERVAL="${SYNC_INTERVAL:-10}"
RESYNC="${SYNC_RESYNC:-600}"
STATE_DIR="${SYNC_STATE_DIR:-/var/lib/db-sync}"
export DB_PASSWORD_FILE PGHOST

log() { printf 'password-sync: %s\n' "$*" >&2; }

case "$DB_ROLE" in "" | *[!a-z0-9_]*) log "DB_ROLE must be a lowercase identifier, got '$DB_ROLE'"; exit 2 ;; esac
mkdir -p "$STATE_DIR"

apply() {
  psql -X -q -v ON_ERROR_STOP=1 -v role="$DB_ROLE" -U "$DB_ROLE" -d postgres <<'SQL'
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SET log_min_duration_statement = -1;
\set pw `cat "$DB_PASSWORD_FILE"`
ALTER ROLE :"role" PASSWORD :'pw';
SQL
}

applied=""
applied_at=0
while :; do
  touch "$STATE_DIR/alive"
  now="$(date +%s)"
  if [ ! -s "$DB_PASSWORD_FILE" ]; then
    rm -f "$STATE_DIR/ok"
    log "no password in $DB_PASSWORD_FILE"
  else
    current="$(sha256sum < "$DB_PASSWORD_FILE")"
    if [ "$current" != "$applied" ] || [ $((now - applied_at)) -ge "$RESYNC" ]; then
      if pg_isready -q -U "$DB_ROLE" -d postgres && apply; then
        [ "$current" = "$applied" ] || log "applied the mounted password to role $DB_ROLE"
        applied="$current"
        applied_at="$now"
        touch "$STATE_DIR/ok"
      else
        rm -f "$STATE_DIR/ok"
        log "could not apply the password to role $DB_ROLE yet; again in ${INTERVAL}s"
      fi
    fi
  fi
  if [ -n "${SYNC_ONCE:-}" ]; then [ -e "$STATE_DIR/ok" ]; exit $?; fi
  sleep "$INTERVAL"
done
