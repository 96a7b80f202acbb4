#!/usr/bin/env bash
# The cost of Redis Cluster: the same fusionrank serving the same generated shop (see
# scripts/lib/shop.sh) on one redis-server and on a 3-master Redis Cluster (redis-server
# --cluster-enabled yes on free ports, joined by redis-cli --cluster create), one after
# the other in one run, ROUNDS times, at the same open-loop rates. Prints, per scenario
# and backend, the latency quantiles and the server's CPU per request (scripts/loadtest).
#
#   SCENARIOS="rerank:200 recommend:100" DURATION=20s ROUNDS=2 scripts/cluster-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SCENARIOS=${SCENARIOS:-"rerank:500 recommend:250"}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-/tmp/fusionrank-cluster-bench}
DB=fusionrank_clusterbench NAME=cluster-bench
ITEMS=${ITEMS:-20000} USERS=${USERS:-5000}
. scripts/lib/shop.sh
cluster_pids=()
cluster_cleanup() { for p in "${cluster_pids[@]}"; do kill "$p" 2>/dev/null || true; done; shop_cleanup; }
trap cluster_cleanup EXIT

shop_build
shop_redis
shop_env
shop_data
single_url=$FUSIONRANK_REDIS_URL

addrs=""
for i in 1 2 3; do
  p=$(free_port) b=$(free_port)
  mkdir -p "$OUT/cluster/$i" && rm -f "$OUT/cluster/$i/nodes.conf"
  redis-server --port "$p" --cluster-port "$b" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "$OUT/cluster/$i/nodes.conf" --save "" --appendonly no --dir "$OUT/cluster/$i" \
    --loglevel warning >"$OUT/cluster/$i/log" 2>&1 &
  cluster_pids+=($!)
  addrs="$addrs 127.0.0.1:$p"
done
for a in $addrs; do for _ in $(seq 1 40); do [ "$(redis-cli -p "${a##*:}" ping 2>/dev/null)" = PONG ] && break; sleep 0.25; done; done
redis-cli --cluster create $addrs --cluster-yes >/dev/null
for _ in $(seq 1 60); do redis-cli -p "${addrs##*:}" cluster info | grep -q cluster_state:ok && break; sleep 0.5; done
cluster_url="redis+cluster://$(echo $addrs | tr ' ' ',')"
log "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

run_on() { # run_on NAME URL
  export FUSIONRANK_REDIS_URL=$2
  shop_serve
  "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario features -sequential-users -rate 200 -duration 10s | tail -n 1 >/dev/null
  for s in $SCENARIOS; do
    echo "== $1: ${s%%:*} at ${s##*:} req/s for $DURATION (load $(cut -d' ' -f1 /proc/loadavg))"
    "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario "${s%%:*}" -rate "${s##*:}" -duration "$DURATION" -pid "$server_pid"
  done
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}
for r in $(seq 1 "$ROUNDS"); do
  run_on "round $r, single node" "$single_url"
  run_on "round $r, cluster (3 masters)" "$cluster_url"
done
