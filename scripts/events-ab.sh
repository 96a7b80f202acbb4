#!/usr/bin/env bash
# Event ingestion throughput of two revisions in the same run, alternating, on the same
# generated shop (100k items, 10k users with 20 events each): POST /v1/events with
# batches of 500 events over random users, 4 senders (closed loop), every user's profile
# cached first so that each event is a profile update in Redis.
#
#   scripts/events-ab.sh                  # BASE=HEAD~1 against the working tree
#   BASE=1915599 ROUNDS=3 DURATION=20s scripts/events-ab.sh
#
# Each revision gets its own database (fusionrank_ev_a, fusionrank_ev_b, recreated), its
# own Redis database on one redis-server of our own (free port, stopped at the end) and
# its own server; only one is loaded at a time.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:-HEAD~1}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20s}
OUT=${OUT:-/tmp/fusionrank-events-ab}
ADMIN_URL=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
NAME=events-ab
. scripts/lib/shop.sh
mkdir -p "$OUT/a" "$OUT/b"
scripts/services.sh
log "building $BASE (a) and the working tree (b)"
shop_base "$BASE"
go build -o "$OUT/b/fusionrank" ./cmd/fusionrank
go build -o "$OUT/loadtest" ./scripts/loadtest
[ -f "$OUT/shop/events.ndjson" ] || "$OUT/loadtest" gen -items 100000 -users 10000 -image-dim 32 -out "$OUT/shop"
shop_redis
export FUSIONRANK_MODALITIES=image:32 FUSIONRANK_LOG_LEVEL=warn FUSIONRANK_RATE_LIMIT=0
export FUSIONRANK_TEXT_VECTORS=${FUSIONRANK_TEXT_VECTORS:-$( (ls data/glove-6B-100d-full.txt.gz ../shared/datasets/glove/glove-6B-100d-top50k.txt.gz 2>/dev/null || true) | head -n 1)}
declare -A key addr
rdbn=1
for v in a b; do
  db=fusionrank_ev_$v
  export FUSIONRANK_DATABASE_URL=${ADMIN_URL%/*}/$db?sslmode=disable
  export FUSIONRANK_REDIS_URL=redis://127.0.0.1:$redis_port/$rdbn
  export FUSIONRANK_ADDR=127.0.0.1:$(free_port)
  rdbn=$((rdbn + 1))
  log "$v: database $db (recreated), import"
  psql "$ADMIN_URL" -qtAX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  "$OUT/$v/fusionrank" migrate >/dev/null
  "$OUT/$v/fusionrank" import items --quiet "$OUT/shop/items.ndjson" | tail -n 1
  "$OUT/$v/fusionrank" import events --quiet "$OUT/shop/events.ndjson" | tail -n 1
  key[$v]=$("$OUT/$v/fusionrank" keys create --scope write --name "$NAME" 2>/dev/null)
  addr[$v]=$FUSIONRANK_ADDR
  if [ "$v" = a ] && [ ${#base_env[@]} -gt 0 ]; then
    GODEBUG=asyncpreemptoff=1 "$OUT/$v/fusionrank" serve >"$OUT/$v/server.log" 2>&1 &
  else
    "$OUT/$v/fusionrank" serve >"$OUT/$v/server.log" 2>&1 &
  fi
  pids+=($!)
  for _ in $(seq 1 240); do curl -fsS "http://$FUSIONRANK_ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  sleep 5
  log "$v: caching every user's profile"
  "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "${key[$v]}" -scenario features -sequential-users -rate 500 -duration 20s | tail -n 1 >/dev/null
done
for r in $(seq 1 "$ROUNDS"); do
  for v in a b; do
    log "round $r, $v"
    "$OUT/loadtest" run -url "http://${addr[$v]}" -key "${key[$v]}" -scenario events -batch 500 -concurrency 4 -duration "$DURATION" | sed "s/^/$v: /"
    sleep 3
  done
done
