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
ITEMS=${ITEMS:-100000}
USERS=${USERS:-10000}
OUT=${OUT:-/tmp/fusionrank-soak}
GLOVE=${FUSIONRANK_TEXT_VECTORS:-$( (ls data/glove-6B-100d-full.txt.gz ../shared/datasets/glove/glove-6B-100d-top50k.txt.gz 2>/dev/null || true) | head -n 1)}
ADMIN_URL=${SOAK_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB_URL=${ADMIN_URL%/*}/fusionrank_soak?sslmode=disable

log() { echo "soak: $(date -u +%H:%M:%S) $*" >&2; }
mkdir -p "$OUT"

scripts/services.sh
log "building"
# The serving build: the scorer's AVX-512 path (see Makefile build-fast).
GOEXPERIMENT=simd go build -o "$OUT/fusionrank" ./cmd/fusionrank
go build -o "$OUT/loadtest" ./scripts/loadtest

server_pid=""
redis_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=${PORT:-$(free_port)}
if curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
  log "port $PORT already answers: another server is there; choose another PORT"
  exit 1
fi

# A redis-server of our own, without persistence.
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" --loglevel warning >"$OUT/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 40); do [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break; sleep 0.25; done

export FUSIONRANK_DATABASE_URL=$DB_URL
export FUSIONRANK_REDIS_URL=redis://127.0.0.1:$redis_port/0
export FUSIONRANK_ADDR=127.0.0.1:$PORT
export FUSIONRANK_MODALITIES=image:32
export FUSIONRANK_TEXT_VECTORS=$GLOVE
export FUSIONRANK_LOG_LEVEL=warn
export FUSIONRANK_RATE_LIMIT=0
export GODEBUG=asyncpreemptoff=1

log "database fusionrank_soak (recreated)"
psql "$ADMIN_URL" -qtAX -c "DROP DATABASE IF EXISTS fusionrank_soak WITH (FORCE)" -c "CREATE DATABASE fusionrank_soak"
"$OUT/fusionrank" migrate >/dev/null

log "generating the shop ($ITEMS items, $USERS users)"
"$OUT/loadtest" gen -items "$ITEMS" -users "$USERS" -image-dim 32 -out "$OUT/shop"
"$OUT/fusionrank" import items --quiet "$OUT/shop/items.ndjson" | tail -n 1
"$OUT/fusionrank" import events --quiet "$OUT/shop/events.ndjson" | tail -n 1
KEY=$("$OUT/fusionrank" keys create --scope read --name soak 2>/dev/null)
# A model with the shapes of a real one (text 100-d, image 32-d, learned collab and
# attribute vectors), trained briefly: the soak measures serving, not accuracy.
log "training a model (200 users, 1 epoch)"
"$OUT/fusionrank" train --max-users 200 --epochs 1 --version soak-1 --activate 2>&1 | tail -n 2

log "serving on $FUSIONRANK_ADDR"
"$OUT/fusionrank" serve >"$OUT/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 240); do
  kill -0 "$server_pid" 2>/dev/null || { log "the server exited; see $OUT/server.log"; exit 1; }
  curl -fsS "http://$FUSIONRANK_ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
sleep 5 # the co-visitation warm-up (about a second for this shop's 200k events)
kill -0 "$server_pid" 2>/dev/null || { log "the server exited; see $OUT/server.log"; exit 1; }

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
