#!/usr/bin/env bash
# Makes Postgres and Redis available on 127.0.0.1 for fusionrank, its tests and the demo.
# When they already answer, it uses them; otherwise it installs the Debian packages when
# absent and starts them. Then it creates the fusionrank database. Idempotent and quiet
# when all is well. Set WITH_BROWSER=1 to also install headless Chromium for the browser
# test, WITH_ONNX=1 for ONNX Runtime (the onnx: encoders' tests), and WITH_COMPOSE=1 for
# docker-compose (to check docker-compose.yml).
set -euo pipefail

log() { echo "services: $*" >&2; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

# Postgres
if ! command -v pg_isready >/dev/null 2>&1 || ! pg_up; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql postgresql-client
  fi
  if ! pg_up; then
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    conf=/etc/postgresql/$ver/main
    # Trust auth on loopback, as the tests and the demo expect.
    if ! grep -q "fusionrank-trust" "$conf/pg_hba.conf" 2>/dev/null; then
      sed -i '1i host all all 127.0.0.1/32 trust # fusionrank-trust\nhost all all ::1/128 trust # fusionrank-trust\nlocal all all trust # fusionrank-trust' "$conf/pg_hba.conf"
    fi
    log "starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  fi
  pg_up || { log "PostgreSQL did not come up"; exit 1; }
fi

# Streaming replication from loopback: the read-replica test (internal/testenv's
# StartPostgresReplica) takes a pg_basebackup of this server and streams from it over
# 127.0.0.1. Trust for replication connections there, applied by a reload (no restart).
# wal_level=replica and max_wal_senders=10 are Debian's defaults; changing them would
# need a restart, so this only says so.
hba=$(psql -h 127.0.0.1 -U postgres -tAc "SHOW hba_file" postgres 2>/dev/null || true)
if [ -n "$hba" ] && [ -w "$hba" ] && ! grep -q "fusionrank-replication" "$hba"; then
  log "allowing replication connections from 127.0.0.1 ($hba)"
  sed -i '1i host replication all 127.0.0.1/32 trust # fusionrank-replication' "$hba"
  psql -h 127.0.0.1 -U postgres -qtAc "SELECT pg_reload_conf()" postgres >/dev/null
fi
if [ "$(psql -h 127.0.0.1 -U postgres -tAc "SHOW wal_level" postgres 2>/dev/null)" = minimal ]; then
  log "wal_level is minimal: the read-replica test needs wal_level=replica (a restart)"
fi

# Redis
if ! redis_up; then
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 40); do redis_up && break; sleep 0.25; done
  redis_up || { log "Redis did not come up"; exit 1; }
fi

# The fault tests (cmd/fusionrank/faults_*_test.go) and scripts/soak.sh start
# redis-server processes of their own, even when a Redis already answers.
command -v redis-server >/dev/null 2>&1 || apt_install redis-server

# The fusionrank database.
if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'fusionrank'" postgres | grep -q 1; then
  log "creating database fusionrank"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE fusionrank" postgres
fi

if [ "${WITH_COMPOSE:-0}" = 1 ] && ! command -v docker-compose >/dev/null 2>&1; then
  apt_install docker-compose
fi
if [ "${WITH_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium chromium-driver
fi
# WITH_ONNX=1: ONNX Runtime's shared library for onnx: encoders and their tests, from
# the npm package onnxruntime-node, under data/onnxruntime. --ignore-scripts: the
# package's install step would download more from elsewhere; the library itself ships
# inside the package.
if [ "${WITH_ONNX:-0}" = 1 ]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  if ! ls "$root"/data/onnxruntime/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so* >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 || apt_install npm
    log "installing onnxruntime-node@1.30.0 (its shared library) under data/onnxruntime"
    mkdir -p "$root/data/onnxruntime"
    npm install --ignore-scripts --no-audit --no-fund --silent --prefix "$root/data/onnxruntime" onnxruntime-node@1.30.0 >/dev/null
  fi
fi
exit 0
