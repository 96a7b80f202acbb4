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
GLOVE=${FUSIONRANK_TEXT_VECTORS:-$( (ls data/glove-6B-100d-full.txt.gz ../shared/datasets/glove/glove-6B-100d-top50k.txt.gz 2>/dev/null || true) | head -n 1)}
ADMIN_URL=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
log() { echo "bench: $(date -u +%H:%M:%S) $*" >&2; }
mkdir -p "$OUT"

scripts/services.sh
log "building (the serving build: GOEXPERIMENT=simd)"
GOEXPERIMENT=simd go build -o "$OUT/fusionrank" ./cmd/fusionrank
go build -o "$OUT/loadtest" ./scripts/loadtest

server_pid="" redis_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" --loglevel warning >"$OUT/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 40); do [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break; sleep 0.25; done

export FUSIONRANK_DATABASE_URL=${ADMIN_URL%/*}/fusionrank_bench?sslmode=disable
export FUSIONRANK_REDIS_URL=redis://127.0.0.1:$redis_port/0
export FUSIONRANK_ADDR=127.0.0.1:$PORT
export FUSIONRANK_MODALITIES=image:32
export FUSIONRANK_TEXT_VECTORS=$GLOVE
export FUSIONRANK_LOG_LEVEL=warn
export FUSIONRANK_RATE_LIMIT=0
export GODEBUG=asyncpreemptoff=1

psql "$ADMIN_URL" -qtAX -c "DROP DATABASE IF EXISTS fusionrank_bench WITH (FORCE)" -c "CREATE DATABASE fusionrank_bench"
"$OUT/fusionrank" migrate >/dev/null
[ -f "$OUT/shop/events.ndjson" ] || "$OUT/loadtest" gen -items 100000 -users 10000 -image-dim 32 -out "$OUT/shop"
"$OUT/fusionrank" import items --quiet "$OUT/shop/items.ndjson" | tail -n 1
"$OUT/fusionrank" import events --quiet "$OUT/shop/events.ndjson" | tail -n 1
"$OUT/fusionrank" train --max-users 200 --epochs 1 --version bench-1 --activate 2>&1 | tail -n 1
KEY=$("$OUT/fusionrank" keys create --scope read --name bench 2>/dev/null)

"$OUT/fusionrank" serve >"$OUT/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 240); do
  kill -0 "$server_pid" 2>/dev/null || { log "the server exited; see $OUT/server.log"; exit 1; }
  curl -fsS "http://$FUSIONRANK_ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
sleep 5 # the co-visitation warm-up
log "warming every user's profile (one request per user)"
"$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario features -sequential-users -rate 500 -duration 20s | tail -n 1 >/dev/null
for s in $SCENARIOS; do
  log "${s%%:*} at ${s##*:} req/s for $DURATION"
  "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario "${s%%:*}" -rate "${s##*:}" -duration "$DURATION" \
    -pid "$server_pid" -redis "127.0.0.1:$redis_port"
  sleep 5
done
