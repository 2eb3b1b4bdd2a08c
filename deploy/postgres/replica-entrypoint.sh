#!/bin/bash
# A hot standby: on first start, copy the primary with pg_basebackup (-R writes standby.signal and
# primary_conninfo); then start PostgreSQL as the image always does.
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    install -d -o postgres -g postgres -m 700 "$PGDATA"
    until gosu postgres pg_isready --host primary --port 5432 --quiet; do sleep 1; done
    PGPASSWORD="$REPLICATION_PASSWORD" gosu postgres pg_basebackup \
        --host primary --port 5432 --username replicator --pgdata "$PGDATA" \
        --write-recovery-conf --wal-method stream --checkpoint fast --slot replica1 \
        --dbname "application_name=replica1"
fi
exec docker-entrypoint.sh postgres -c hot_standby=on -c hot_standby_feedback=on
