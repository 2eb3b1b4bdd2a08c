#!/bin/bash
# Install the distribution's PostgreSQL server and PgBouncer when they are missing (Debian/Ubuntu, as root).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v pgbouncer >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "scale-out tests need the postgresql and pgbouncer packages (apt-get as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql pgbouncer >/dev/null
