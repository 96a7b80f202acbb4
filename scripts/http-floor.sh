#!/usr/bin/env bash
# What one loopback HTTP exchange costs the server on this machine: a bare net/http
# server (scripts/httpfloor) answering GET /healthz at RATE per second for DURATION,
# driven by vegeta over HTTP/1.1 with keep-alive and over HTTP/2 without TLS (h2c),
# ROUNDS times alternating. Prints the server's CPU time per request (user + system,
# from /proc) and vegeta's latency quantiles. Needs vegeta on PATH
# (github.com/tsenart/vegeta/v12).
#
#   scripts/http-floor.sh
#   RATE=1000 DURATION=20s ROUNDS=3 scripts/http-floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-2000}
DURATION=${DURATION:-15s}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-/tmp/fusionrank-http-floor}
mkdir -p "$OUT"
go build -o "$OUT/httpfloor" ./scripts/httpfloor
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$OUT/httpfloor" "127.0.0.1:$port" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 40); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.25; done
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
secs=${DURATION%s}
for round in $(seq 1 "$ROUNDS"); do
  for proto in http1 h2c; do
    flags=()
    [ "$proto" = h2c ] && flags=(-h2c)
    c0=$(cpu)
    echo "GET http://127.0.0.1:$port/healthz" | vegeta attack "${flags[@]}" -rate "$RATE/s" -duration "$DURATION" >"$OUT/$proto.bin"
    c1=$(cpu)
    echo "round $round $proto $RATE/s: server cpu per request $(( (c1 - c0) * 1000000 / $(getconf CLK_TCK) / (RATE * secs) ))µs"
    vegeta report "$OUT/$proto.bin" | grep Latencies
  done
done
