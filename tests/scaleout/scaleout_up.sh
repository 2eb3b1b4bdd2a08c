#!/bin/bash
# Start a primary and a streaming hot standby on loopback, all state under $SCALEOUT_DIR.
# Ports: $PRIMARY_PORT (5441), $REPLICA_PORT (5442). Programs from $PG_BIN (the embedded PostgreSQL's
# bin folder, or a distribution's). $RUN_AS: the account to run them as when started by root
# (PostgreSQL refuses root); it must own $SCALEOUT_DIR. PgBouncer: bouncer_up.sh.
set -euo pipefail
: "${SCALEOUT_DIR:?set SCALEOUT_DIR}" "${PG_BIN:?set PG_BIN}"
PRIMARY_PORT=${PRIMARY_PORT:-5441}
REPLICA_PORT=${REPLICA_PORT:-5442}
B=$PG_BIN
D=$SCALEOUT_DIR/pg
if [ -n "${RUN_AS:-}" ]; then
  AS_PG="runuser -u $RUN_AS --"
else
  AS_PG=""
fi
$AS_PG install -d -m 700 "$D"
PSQL="$B/psql -X -q -At -h 127.0.0.1 -U postgres"

# primary
$AS_PG "$B/initdb" -D "$D/primary" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
$AS_PG tee -a "$D/primary/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $PRIMARY_PORT
unix_socket_directories = '$D'
max_connections = 100
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
hot_standby = on
hot_standby_feedback = on
# test-only speed-up; synchronous_commit=off would add ~200 ms of replica lag (wal_writer_delay)
fsync = off
full_page_writes = off
CONF
$AS_PG "$B/pg_ctl" -D "$D/primary" -l "$D/primary.log" -w start >/dev/null

# replica: base backup with -R (standby.signal + primary_conninfo) and a physical slot
$AS_PG "$B/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$D/replica" \
    -R -X stream -c fast -C -S replica1 -d "application_name=replica1"
echo "port = $REPLICA_PORT" | $AS_PG tee -a "$D/replica/postgresql.conf" >/dev/null
$AS_PG "$B/pg_ctl" -D "$D/replica" -l "$D/replica.log" -w start >/dev/null
s=""
for _ in $(seq 200); do
  s=$($PSQL -p "$PRIMARY_PORT" -c "select state from pg_stat_replication where application_name='replica1'")
  [ "$s" = streaming ] && break; sleep 0.05
done
[ "$s" = streaming ] || { echo "replica not streaming" >&2; exit 1; }

echo "up: primary=$PRIMARY_PORT replica=$REPLICA_PORT"
