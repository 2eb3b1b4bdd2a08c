#!/bin/bash
# Start a primary, a streaming hot standby and PgBouncer (transaction mode) on loopback, all state under
# $SCALEOUT_DIR. Ports: $PRIMARY_PORT (5441), $REPLICA_PORT (5442), $BOUNCER_PORT (6441).
# As root the servers run as the `postgres` user (PostgreSQL and PgBouncer refuse to run as root).
set -euo pipefail
: "${SCALEOUT_DIR:?set SCALEOUT_DIR}"
PRIMARY_PORT=${PRIMARY_PORT:-5441}
REPLICA_PORT=${REPLICA_PORT:-5442}
BOUNCER_PORT=${BOUNCER_PORT:-6441}
BOUNCER_POOL_SIZE=${BOUNCER_POOL_SIZE:-4}
B=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
D=$SCALEOUT_DIR/pg
PB=$SCALEOUT_DIR/pgbouncer
if [ "$(id -u)" = 0 ]; then
  AS_PG="runuser -u postgres --"; OWNER="-o postgres -g postgres"; BOUNCER_USER="-u postgres"
  chmod o+x "$SCALEOUT_DIR"   # mktemp -d makes it 700; the postgres user must reach its subdirectories
else
  AS_PG=""; OWNER=""; BOUNCER_USER=""
fi
install -d $OWNER -m 700 "$D"
install -d $OWNER -m 755 "$PB"
PSQL="$B/psql -X -q -At -h 127.0.0.1 -U postgres"

# primary
$AS_PG "$B/initdb" -D "$D/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$D/primary/postgresql.conf" <<CONF
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
echo "port = $REPLICA_PORT" >> "$D/replica/postgresql.conf"
$AS_PG "$B/pg_ctl" -D "$D/replica" -l "$D/replica.log" -w start >/dev/null
s=""
for _ in $(seq 200); do
  s=$($PSQL -p "$PRIMARY_PORT" -c "select state from pg_stat_replication where application_name='replica1'")
  [ "$s" = streaming ] && break; sleep 0.05
done
[ "$s" = streaming ] || { echo "replica not streaming" >&2; exit 1; }

# pgbouncer: every database name maps to the same name on the primary
cat > "$PB/pgbouncer.ini" <<CONF
[databases]
* = host=127.0.0.1 port=$PRIMARY_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PB/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = $BOUNCER_POOL_SIZE
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
logfile = $PB/pgbouncer.log
pidfile = $PB/pgbouncer.pid
CONF
echo '"postgres" ""' > "$PB/userlist.txt"
[ -n "$OWNER" ] && chown postgres:postgres "$PB"/*
pgbouncer -d $BOUNCER_USER "$PB/pgbouncer.ini"
for _ in $(seq 100); do
  $PSQL -p "$BOUNCER_PORT" postgres -c "select 1" >/dev/null 2>&1 && break; sleep 0.05
done
$PSQL -p "$BOUNCER_PORT" postgres -c "select 1" >/dev/null
echo "up: primary=$PRIMARY_PORT replica=$REPLICA_PORT pgbouncer=$BOUNCER_PORT"
