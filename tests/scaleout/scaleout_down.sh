#!/bin/bash
# Stop PgBouncer, the replica and the primary started by scaleout_up.sh / bouncer_up.sh, then delete
# their state. Safe to run when some or none of them run.
: "${SCALEOUT_DIR:?set SCALEOUT_DIR}" "${PG_BIN:?set PG_BIN}"
B=$PG_BIN
D=$SCALEOUT_DIR/pg
PB=$SCALEOUT_DIR/pgbouncer
if [ -n "${RUN_AS:-}" ]; then AS_PG="runuser -u $RUN_AS --"; else AS_PG=""; fi
if [ -f "$PB/pgbouncer.pid" ]; then
  PID=$(cat "$PB/pgbouncer.pid"); kill -TERM "$PID" 2>/dev/null
  # a zombie (state Z) waiting for a slow reaper counts as gone
  for _ in $(seq 50); do st=$(ps -o stat= -p "$PID"); { [ -z "$st" ] || [ "${st:0:1}" = Z ]; } && break; sleep 0.1; done
fi
[ -f "$D/replica/postmaster.pid" ] && $AS_PG "$B/pg_ctl" -D "$D/replica" -m immediate -w stop >/dev/null
[ -f "$D/primary/postmaster.pid" ] && $AS_PG "$B/pg_ctl" -D "$D/primary" -m fast -w stop >/dev/null
rm -rf "$D" "$PB"
exit 0
