#!/bin/sh
# Write pgbouncer.ini and the user list from the environment, then run PgBouncer in the foreground.
# DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME: the server and the one role clients use;
# POOL_MODE (transaction), DEFAULT_POOL_SIZE (20), MAX_CLIENT_CONN (500), LISTEN_PORT (6432).
set -eu
CONF_DIR=${CONF_DIR:-/tmp/pgbouncer}
mkdir -p "$CONF_DIR"
umask 077
printf '"%s" "%s"\n' "$DB_USER" "$DB_PASSWORD" > "$CONF_DIR/userlist.txt"
cat > "$CONF_DIR/pgbouncer.ini" <<CONF
[databases]
$DB_NAME = host=$DB_HOST port=${DB_PORT:-5432} dbname=$DB_NAME

[pgbouncer]
listen_addr = ${LISTEN_ADDR:-0.0.0.0}
listen_port = ${LISTEN_PORT:-6432}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $CONF_DIR/userlist.txt
pool_mode = ${POOL_MODE:-transaction}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
max_client_conn = ${MAX_CLIENT_CONN:-500}
ignore_startup_parameters = extra_float_digits
server_reset_query =
CONF
exec pgbouncer "$CONF_DIR/pgbouncer.ini"
