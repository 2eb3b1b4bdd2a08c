#!/bin/bash
# Start PgBouncer (transaction mode) on 127.0.0.1:$BOUNCER_PORT in front of the primary that
# scaleout_up.sh started; state under $SCALEOUT_DIR/pgbouncer. $PGBOUNCER: the program.
# $RUN_AS: the account to run it as when started by root (PgBouncer refuses root).
set -euo pipefail
: "${SCALEOUT_DIR:?set SCALEOUT_DIR}" "${PG_BIN:?set PG_BIN}" "${PGBOUNCER:?set PGBOUNCER}"
PRIMARY_PORT=${PRIMARY_PORT:-5441}
BOUNCER_PORT=${BOUNCER_PORT:-6441}
BOUNCER_POOL_SIZE=${BOUNCER_POOL_SIZE:-4}
PB=$SCALEOUT_DIR/pgbouncer
if [ -n "${RUN_AS:-}" ]; then
  AS_PG="runuser -u $RUN_AS --"; BOUNCER_USER="-u $RUN_AS"
else
  AS_PG=""; BOUNCER_USER=""
fi
$AS_PG install -d -m 755 "$PB"
PSQL="$PG_BIN/psql -X -q -At -h 127.0.0.1 -U postgres"

# every database name maps to the same name on the primary
$AS_PG tee "$PB/pgbouncer.ini" >/dev/null <<CONF
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
echo '"postgres" ""' | $AS_PG tee "$PB/userlist.txt" >/dev/null
# as root, -u drops privileges after start-up (otherwise "PgBouncer should not run as root")
"$PGBOUNCER" -d $BOUNCER_USER "$PB/pgbouncer.ini"
for _ in $(seq 100); do
  $PSQL -p "$BOUNCER_PORT" postgres -c "select 1" >/dev/null 2>&1 && break; sleep 0.05
done
$PSQL -p "$BOUNCER_PORT" postgres -c "select 1" >/dev/null
echo "up: pgbouncer=$BOUNCER_PORT"
