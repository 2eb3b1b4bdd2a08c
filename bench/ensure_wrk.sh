#!/bin/bash
# Install the load generator, wrk, from the distribution's packages when it is missing (Debian/Ubuntu).
set -euo pipefail
command -v wrk >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "make bench needs wrk: apt-get install -y wrk (as root)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq wrk >/dev/null
