#!/usr/bin/env bash
# Serving latency at fixed request rates (open loop) on a generated shop: 100k items,
# 10k users with 20 events each, a briefly trained model (the shapes of a real one).
# Prints, per scenario, latency quantiles, how late the load generator sent, the share
# of requests the server itself answered within 5, 10, 20 and 50 ms (its latency
# histogram on /metrics) and the bytes and objects its Go runtime allocated per request
# (and its garbage collections), the fraction of personalised answers and CPU per
# request of the server, Redis, Postgres and the load generator (scripts/loadtest run
# -pid -redis -postgres -server-latency).
#
#   scripts/serving-bench.sh                         # rerank 2000/s, recommend 1000/s
#   SCENARIOS="rerank:1000 recommend:500" DURATION=20s scripts/serving-bench.sh
#   SCENARIOS="rerank:1000,recommend:500" DURATION=60s COLD=1 scripts/serving-bench.sh
#   VEGETA=1 scripts/serving-bench.sh                # the same rates with vegeta too
#
# A scenario is one name:rate, or several joined by commas, which run together (the
# mixed scenario above). COLD=1 skips the warm-up: the server starts on an empty Redis
# (profiles and counters cold, only the server's own start-up warm-up) and the
# scenarios start at once; the personalised fraction is then also given for the
# requests due after the first 5 s. Each scenario's figures per second of the run go to
# $OUT/timeline-SCENARIO.tsv (loadtest run -timeline). VEGETA=1 repeats each scenario with vegeta
# (github.com/tsenart/vegeta/v12 on PATH) as the load generator, the scenarios of a
# mixed one as concurrent attacks, and reports the server's CPU per request beside
# vegeta's latencies.
#
# Its own database (BENCH_DB, default fusionrank_bench, recreated) on the Postgres of
# scripts/services.sh and its own redis-server on a free port, stopped at the end. The
# load generator, Redis and Postgres share the machine with the server: on a small
# machine, read the CPU per request beside the latency.
set -euo pipefail
cd "$(dirname "$0")/.."

SCENARIOS=${SCENARIOS:-"rerank:2000 recommend:1000"}
DURATION=${DURATION:-20s}
OUT=${OUT:-/tmp/fusionrank-bench}
ADMIN_URL=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB=${BENCH_DB:-fusionrank_bench} NAME=bench
. scripts/lib/shop.sh
shop_up
if [ -z "${COLD:-}" ]; then
  log "warming every user's profile (one request per user)"
  "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario features -sequential-users -rate 500 -duration 20s | tail -n 1 >/dev/null
fi

# server_cpu prints the server's user+system CPU time in clock ticks.
server_cpu() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }

# vegeta_run SCENARIO: the scenario's parts as concurrent vegeta attacks.
vegeta_run() {
  local parts=${1//,/ } pids=() total=0 p name rate
  for p in $parts; do
    name=${p%%:*} rate=${p##*:}
    "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario "$name" -rate "$rate" -duration "$DURATION" -vegeta-targets "$OUT/vegeta-$name.json" >/dev/null
    total=$((total + rate))
  done
  local c0; c0=$(server_cpu)
  for p in $parts; do
    name=${p%%:*} rate=${p##*:}
    vegeta attack -format=json -targets "$OUT/vegeta-$name.json" -rate "$rate/s" -duration "$DURATION" -timeout 10s >"$OUT/vegeta-$name.bin" &
    pids+=($!)
  done
  wait "${pids[@]}"
  local c1 secs; c1=$(server_cpu) secs=${DURATION%s}
  for p in $parts; do
    name=${p%%:*}
    echo "vegeta $name:"
    vegeta report -type=text "$OUT/vegeta-$name.bin" | sed -n '1,8p'
    vegeta encode --to json "$OUT/vegeta-$name.bin" | python3 -c '
import sys, json, base64
n = p = 0
for line in sys.stdin:
    r = json.loads(line)
    if r.get("code") == 200:
        n += 1
        p += b"\"personalized\":true" in base64.b64decode(r.get("body") or "")
print("personalised %.2f%% of %d 200 answers" % (100 * p / max(n, 1), n))'
  done
  echo "vegeta: server cpu per request $(( (c1 - c0) * 10000 / (total * secs) ))µs (all parts together)"
}

for s in $SCENARIOS; do
  log "${s} req/s for $DURATION$([ -n "${COLD:-}" ] && echo ", cold")"
  tl=$OUT/timeline-${s//[:,]/-}.tsv
  rm -f "$tl"
  "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario "$s" -rate 1000 -duration "$DURATION" \
    -pid "$server_pid" -redis "127.0.0.1:$redis_port" -postgres -server-latency -timeline "$tl"
  log "per second: $tl"
  sleep 5
  if [ -n "${VEGETA:-}" ]; then
    log "${s} req/s for $DURATION with vegeta"
    vegeta_run "$s"
    sleep 5
  fi
done
