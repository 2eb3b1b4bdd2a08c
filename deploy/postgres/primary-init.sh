#!/bin/bash
# Run once by the postgres image on a new primary: the application's role and database, and what a
# streaming replica needs (a replication role allowed in pg_hba.conf, a physical replication slot).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v app_password="$APP_DB_PASSWORD" -v replication_password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE app LOGIN PASSWORD :'app_password';
CREATE DATABASE app OWNER app;
CREATE ROLE replicator LOGIN REPLICATION PASSWORD :'replication_password';
SELECT pg_create_physical_replication_slot('replica1');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
