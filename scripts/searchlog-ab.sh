#!/usr/bin/env bash
# The cost of logging rerank answers (FUSIONRANK_SEARCH_LOG_DEPTH): one generated shop
# (20,000 items, 3,000 users; scripts/lib/shop.sh), one server restarted with each depth
# (every position, the default 20, none), rerank of 100 candidates at RATE/s for
# DURATION, ROUNDS rounds alternating the depths. Prints the load tool's latencies and
# CPU per request, and the impressions Postgres holds after each run.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/fusionrank-searchlog-ab} DB=${BENCH_DB:-fusionrank_searchlog_ab} NAME=searchlog-ab
ITEMS=${ITEMS:-20000} USERS=${USERS:-3000} RATE=${RATE:-500} DURATION=${DURATION:-15s} ROUNDS=${ROUNDS:-2}
. scripts/lib/shop.sh
shop_up
"$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -items "$ITEMS" -users "$USERS" -scenario features -sequential-users -rate 300 -duration 10s | tail -n 1 >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  for depth in 10000 20 0; do
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
    export FUSIONRANK_SEARCH_LOG_DEPTH=$depth
    shop_serve
    echo "=== FUSIONRANK_SEARCH_LOG_DEPTH=$depth round $round; $(uptime)"
    "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -items "$ITEMS" -users "$USERS" -scenario rerank -rate "$RATE" -duration "$DURATION" -pid "$server_pid" -redis "127.0.0.1:$redis_port" -postgres
    echo "impressions stored: $(psql "$FUSIONRANK_DATABASE_URL" -qtAX -c 'SELECT coalesce(sum(cardinality(item_ids)), 0) FROM searches')"
  done
done
