#!/bin/sh
# Restores the sample database from a pg_dump archive fetched by the init container (restore-fetch.sh).
# Runs in the pinned PostgreSQL image; connection from PG* variables as in pg-dump.sh. One
# transaction: a failure leaves the database as it was.
set -eu
: "${PGDATABASE:?PGDATABASE is required}"
file="${RESTORE_DIR:-/restore}/$PGDATABASE.dump"
[ -s "$file" ] || { echo "restore-postgres: $file is missing or empty" >&2; exit 1; }
pg_restore --list "$file" > /dev/null

tries=0
until pg_isready --quiet; do
  tries=$((tries + 1))
  [ "$tries" -lt "${PG_WAIT_TRIES:-30}" ] || { echo "restore-postgres: ${PGHOST:-localhost}:${PGPORT:-5432} not ready" >&2; exit 1; }
  sleep 2
done

pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname="$PGDATABASE" "$file"
echo "restore-postgres: $PGDATABASE restored from $(basename "$file") ($(pg_restore --list "$file" | grep -c ' TABLE DATA ' || true) tables with data)"
