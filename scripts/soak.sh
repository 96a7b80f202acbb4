#!/usr/bin/env bash
# Soak test: rerank (100 candidates, personalised, with a query) at 2,000 req/s and
# recommendations at 1,000 req/s together, for 10 minutes, against a generated shop.
# Writes p99 latency per 30 s window and the server's resident memory (VmRSS) to a CSV,
# and fails on any 5xx (or 4xx) answer, on memory growth after warm-up, and when the
# rates were not held (more than 1% of requests dropped at the in-flight cap).
#
#   scripts/soak.sh            # the full run: 10 minutes; for a quiet machine
#   DURATION=1m scripts/soak.sh   # a short trial
#
# It uses its own database (fusionrank_soak, recreated each run) on the Postgres that
# scripts/services.sh provides, and its own redis-server on a free port (stopped at the
# end), so it never touches other data or the shared Redis.
#
# Environment:
#   DURATION        default 10m
#   WINDOW          default 30s
#   RERANK_RATE     default 2000 (req/s)
#   RECOMMEND_RATE  default 1000 (req/s)
#   ITEMS, USERS    the generated shop, default 100000 items and 10000 users (20 events each)
#   OUT             work directory and results, default /tmp/fusionrank-soak
#                   (the CSV is $OUT/soak.csv, the server's log $OUT/server.log)
#   PORT            default: a free port
#   FUSIONRANK_TEXT_VECTORS  word vectors; default the 50k-word GloVe in ../shared
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10m}
WINDOW=${WINDOW:-30s}
RERANK_RATE=${RERANK_RATE:-2000}
RECOMMEND_RATE=${RECOMMEND_RATE:-1000}
OUT=${OUT:-/tmp/fusionrank-soak}
ADMIN_URL=${SOAK_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB=fusionrank_soak NAME=soak
. scripts/lib/shop.sh
shop_up

log "load: rerank $RERANK_RATE/s + recommendations $RECOMMEND_RATE/s for $DURATION (windows of $WINDOW)"
status=0
"$OUT/loadtest" soak -url "http://$FUSIONRANK_ADDR" -key "$KEY" -rerank-rate "$RERANK_RATE" -recommend-rate "$RECOMMEND_RATE" \
  -duration "$DURATION" -window "$WINDOW" -items "$ITEMS" -users "$USERS" -pid "$server_pid" -csv "$OUT/soak.csv" || status=$?

log "stopping the server"
kill -TERM "$server_pid"
if ! wait "$server_pid"; then
  log "the server did not exit cleanly after SIGTERM"
  status=1
fi
server_pid=""
log "CSV: $OUT/soak.csv"
column -s, -t <"$OUT/soak.csv" || cat "$OUT/soak.csv"
exit $status
