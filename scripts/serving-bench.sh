#!/usr/bin/env bash
# Serving latency at fixed request rates (open loop) on a generated shop: 100k items,
# 10k users with 20 events each, a briefly trained model (the shapes of a real one).
# Prints, per scenario, latency quantiles and CPU per request of the server, Redis and
# the load generator (scripts/loadtest run -pid -redis).
#
#   scripts/serving-bench.sh                         # rerank 2000/s, recommend 1000/s
#   SCENARIOS="rerank:1000 recommend:500" DURATION=20s scripts/serving-bench.sh
#
# Its own database (fusionrank_bench, recreated) on the Postgres of scripts/services.sh
# and its own redis-server on a free port, stopped at the end. The load generator,
# Redis and Postgres share the machine with the server: on a small machine, read the
# CPU per request beside the latency.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIOS=${SCENARIOS:-"rerank:2000 recommend:1000"}
DURATION=${DURATION:-20s}
OUT=${OUT:-/tmp/fusionrank-bench}
ADMIN_URL=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB=fusionrank_bench NAME=bench
. scripts/lib/shop.sh
shop_up
log "warming every user's profile (one request per user)"
"$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario features -sequential-users -rate 500 -duration 20s | tail -n 1 >/dev/null
for s in $SCENARIOS; do
  log "${s%%:*} at ${s##*:} req/s for $DURATION"
  "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario "${s%%:*}" -rate "${s##*:}" -duration "$DURATION" \
    -pid "$server_pid" -redis "127.0.0.1:$redis_port"
  sleep 5
done
