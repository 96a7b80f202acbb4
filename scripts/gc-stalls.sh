#!/usr/bin/env bash
# Whether garbage collections make the latency tail: a rerank load (vegeta, RATE per
# second for DURATION) against a server running with GODEBUG=gctrace=1, on
# scripts/serving-bench.sh's shop (run that first: it leaves its database and model),
# then every request's latency set against the server's collection windows
# (scripts/gc-stalls.py): the tail's quantiles during a collection, in the half second
# after one, and at other times, and the share of the slowest 1% near one.
#
#   OUT=/tmp/perf-bench BENCH_DB=fusionrank_perfbench scripts/gc-stalls.sh
#   GOGC=200 RATE=1000 DURATION=40s scripts/gc-stalls.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-1000}
DURATION=${DURATION:-40s}
OUT=${OUT:-/tmp/perf-bench}
DB=${BENCH_DB:-fusionrank_perfbench} NAME=gc-stalls
. scripts/lib/shop.sh
mkdir -p "$OUT"
go build -o "$OUT/fusionrank" ./cmd/fusionrank
go build -o "$OUT/loadtest" ./scripts/loadtest
shop_redis
shop_env
KEY=$("$OUT/fusionrank" keys create --scope read --name "$NAME" 2>/dev/null)
export GODEBUG=gctrace=1
shop_serve
unset GODEBUG
start=$(awk -v b="$(awk '/btime/{print $2}' /proc/stat)" '{printf "%.2f", b + $22/100}' "/proc/$server_pid/stat")
"$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario features -sequential-users -rate 500 -duration 20s | tail -n 1 >/dev/null
"$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario rerank -rate "$RATE" -duration "$DURATION" -vegeta-targets "$OUT/gc-targets.json" >/dev/null
cpu() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
c0=$(cpu)
vegeta attack -format=json -targets "$OUT/gc-targets.json" -rate "$RATE/s" -duration "$DURATION" -timeout 10s >"$OUT/gc-stalls.bin"
c1=$(cpu)
secs=${DURATION%s}
echo "GOGC=${GOGC:-100} rerank $RATE/s for $DURATION: server cpu per request $(( (c1 - c0) * 10000 / (RATE * secs) ))µs"
vegeta encode --to csv "$OUT/gc-stalls.bin" >"$OUT/gc-stalls.csv"
python3 scripts/gc-stalls.py "$OUT/server.log" "$OUT/gc-stalls.csv" "$start"
