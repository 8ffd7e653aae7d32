#!/bin/sh
# Runs in the pinned PostgreSQL image: pg_dump of the sample database over the network (libpq reads
# PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD from the environment, the password from the
# database's own Secret). Custom format, uncompressed: pg_restore can select objects, and restic
# compresses and deduplicates across days.
set -eu
out="${BACKUP_DIR:-/backup}"
: "${PGDATABASE:?PGDATABASE is required}"
file="$out/$PGDATABASE.dump"

# The sidecar (or the database after a restart) may need a moment.
tries=0
until pg_isready --quiet; do
  tries=$((tries + 1))
  [ "$tries" -lt "${PG_WAIT_TRIES:-30}" ] || { echo "pg-dump: ${PGHOST:-localhost}:${PGPORT:-5432} not ready" >&2; exit 1; }
  sleep 2
done

pg_dump --format=custom --compress=0 --file="$file.part"
# A readable archive, or the job fails here rather than at restore time.
tables="$(pg_restore --list "$file.part" | grep -c ' TABLE DATA ' || true)"
mv "$file.part" "$file"
echo "pg-dump: $PGDATABASE: $(wc -c < "$file") bytes, $tables tables with data"
