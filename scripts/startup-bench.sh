#!/usr/bin/env bash
# Serving start-up time on an existing database: starts BIN serve (default bin/fusionrank)
# on DATABASE_URL with a redis-server of its own (empty: the worst case, every
# co-visitation set missing) and reports when it answered /readyz and when its
# start-up warm-ups (co-visitation sets, profiles) finished, from its log, with its log
# lines saying how it got the model's and the catalogue's retrieval indexes (loaded
# from a stored graph or built). Extra settings come from the environment (e.g.
# FUSIONRANK_COVIS_WINDOW=720h).
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/fusionrank_scale_before?sslmode=disable \
#     BIN=/tmp/fr-main scripts/startup-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/fusionrank}
PORT=${PORT:-18210}
REDIS_PORT=${REDIS_PORT:-18211}
LIMIT=${LIMIT:-900}
OUT=$(mktemp -d)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" --loglevel warning >/dev/null 2>&1 &
rpid=$!
# Both are waited for: the next run reuses their ports.
trap 'kill $rpid ${spid:-} 2>/dev/null || true; wait $rpid ${spid:-} 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 1 40); do [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break; sleep 0.25; done
echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); events: $(psql "$DATABASE_URL" -tAc 'SELECT count(*) FROM events')"
start=$(date +%s.%N)
FUSIONRANK_DATABASE_URL=$DATABASE_URL FUSIONRANK_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 FUSIONRANK_ADDR=127.0.0.1:$PORT \
  FUSIONRANK_MODALITIES=${FUSIONRANK_MODALITIES:-image:4} "$BIN" serve >"$OUT/log" 2>&1 &
spid=$!
ready=""
while :; do
  now=$(date +%s.%N)
  if [ -z "$ready" ] && curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
    ready=$(echo "$now - $start" | bc); echo "ready (/readyz 200) after ${ready} s"
  fi
  if grep -q 'profiles warmed\|warm-up failed' "$OUT/log"; then
    echo "warm-ups done after $(echo "$now - $start" | bc) s"; break
  fi
  if [ "$(echo "$now - $start > $LIMIT" | bc)" = 1 ]; then echo "warm-ups not done after $LIMIT s"; break; fi
  sleep 0.5
done
grep -h 'warmed\|warm-up\|"model"\|catalogue retrieval indexes' "$OUT/log" | cut -c1-300 || true
