#!/usr/bin/env bash
# Server CPU per request and latency of two revisions in the same run, alternating, on
# scripts/serving-bench.sh's shop (100k items, 10k users with 20 events each, a briefly
# trained model): each scenario open-loop with `loadtest run -pid`, every user's profile
# touched first. Each run's figures per second go to $OUT/a|b/timeline-ROUND-SCENARIO.tsv.
#
#   scripts/serving-ab.sh                                   # BASE=HEAD~1 against the working tree
#   BASE=03359a2 ROUNDS=2 SCENARIOS="rerank:500 recommend:250" scripts/serving-ab.sh
#   KEEP_DB=1 scripts/serving-ab.sh                        # reuse the last run's database and model
#   SWITCH_AT=10 SCENARIOS="rerank:1000,recommend:500" DURATION=60s scripts/serving-ab.sh
#   WIPE_AT=10 SCENARIOS="rerank:1000,recommend:500" DURATION=30s FUSIONRANK_LOCAL_CACHE_TTL=2s scripts/serving-ab.sh
#   BASE=HEAD ENV_B="GOGC=400" scripts/serving-ab.sh       # one binary, a setting of b's server only
#
# ENV_B is a list of VAR=value words set for b's server alone (a runtime or fusionrank
# setting against the same revision, BASE=HEAD); with BASE=HEAD and no ENV_B the two
# sides run the same code, which shows the spread of the measurement itself.
#
# SWITCH_AT=N activates the other of two trained models N s into each scenario (the
# shop gets a second model, $BENCH_DB-2, trained at setup and not activated) and logs
# when the loaded server first answers with it: a model switch under load computes the
# new model's item keys and values and reads its retrieval graph (or builds it, for a
# revision that stores none) while the old one serves.
#
# WIPE_AT=N empties the loaded server's Redis database (FLUSHDB) N seconds into each
# scenario, as a Redis restart without persistence would; the personalised fraction
# is then also given for the requests due from 5 s after the wipe. A short
# FUSIONRANK_LOCAL_CACHE_TTL (the servers inherit the environment) lets the wipe reach
# the profiles the servers hold in memory within the run.
#
# The base revision builds the shop in its database (BENCH_DB, default fusionrank_servab,
# recreated); the other serves a copy of it (BENCH_DB_b) migrated by its own binary, so
# that revisions with different schemas compare. Each has its own Redis database on one
# redis-server of our own (free port, stopped at the end) and its own server; only one
# is loaded at a time. Read the CPU per request
# first: the load generator, Redis and Postgres share the machine with the servers.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:-HEAD~1}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-20s}
SCENARIOS=${SCENARIOS:-"rerank:500 recommend:250"}
OUT=${OUT:-/tmp/fusionrank-serving-ab}
DB=${BENCH_DB:-fusionrank_servab} NAME=serving-ab
. scripts/lib/shop.sh
mkdir -p "$OUT/a" "$OUT/b"
shop_build
log "building $BASE (a); the working tree is b"
shop_base "$BASE"
cp "$OUT/fusionrank" "$OUT/b/fusionrank"
shop_redis
shop_env
# The shop's database is made by a (the base, usually the older schema); b serves a copy
# of it migrated by b, so that each revision runs on its own schema.
SHOP_BIN=$OUT/a/fusionrank
if [ -n "${KEEP_DB:-}" ] && psql "$ADMIN_URL" -qtAX -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  log "database $DB kept (migrated by a)"
  "$SHOP_BIN" migrate >/dev/null
  KEY=$("$SHOP_BIN" keys create --scope read --name "$NAME" 2>/dev/null)
else
  shop_data
fi
if [ -n "${SWITCH_AT:-}" ] && ! "$SHOP_BIN" models list 2>/dev/null | grep -q "^$DB-2 "; then
  log "training a second model for SWITCH_AT"
  "$SHOP_BIN" train --max-users 200 --epochs 1 --version "$DB-2" 2>&1 | tail -n 1
fi
log "database ${DB}_b: a copy of $DB, migrated by b"
PGOPTIONS="-c client_min_messages=warning" psql "$ADMIN_URL" -qtAX -c "DROP DATABASE IF EXISTS ${DB}_b WITH (FORCE)" -c "CREATE DATABASE ${DB}_b TEMPLATE $DB"
declare -A addr spid rdb dburl
dburl[a]=$FUSIONRANK_DATABASE_URL dburl[b]=${ADMIN_URL%/*}/${DB}_b?sslmode=disable
FUSIONRANK_DATABASE_URL=${dburl[b]} "$OUT/b/fusionrank" migrate >/dev/null
# A revision that stores a model's retrieval graph with it (models index) gets the graphs
# of the models in its database, as a shop upgrading to it would; the other builds the
# index when a model loads.
for v in a b; do
  if "$OUT/$v/fusionrank" models --help 2>&1 | grep -q "index VERSION"; then
    for m in $(FUSIONRANK_DATABASE_URL=${dburl[$v]} "$OUT/$v/fusionrank" models list | awk '$1 ~ /^'"$DB"'-/ {print $1}'); do
      FUSIONRANK_DATABASE_URL=${dburl[$v]} "$OUT/$v/fusionrank" models index "$m" | sed "s/^/$v: /"
    done
  fi
done
rdbn=1
for v in a b; do
  export FUSIONRANK_DATABASE_URL=${dburl[$v]}
  export FUSIONRANK_REDIS_URL=redis://127.0.0.1:$redis_port/$rdbn
  export FUSIONRANK_ADDR=127.0.0.1:$(free_port)
  rdb[$v]=$rdbn
  rdbn=$((rdbn + 1))
  if [ "$v" = a ] && [ ${#base_env[@]} -gt 0 ]; then
    GODEBUG=asyncpreemptoff=1 "$OUT/$v/fusionrank" serve >"$OUT/$v/server.log" 2>&1 &
  elif [ "$v" = b ] && [ -n "${ENV_B:-}" ]; then
    # shellcheck disable=SC2086 # ENV_B is a list of VAR=value words
    env $ENV_B "$OUT/$v/fusionrank" serve >"$OUT/$v/server.log" 2>&1 &
  else
    "$OUT/$v/fusionrank" serve >"$OUT/$v/server.log" 2>&1 &
  fi
  spid[$v]=$!
  pids+=($!)
  addr[$v]=$FUSIONRANK_ADDR
  for _ in $(seq 1 240); do curl -fsS "http://$FUSIONRANK_ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  sleep 5
  log "$v: touching every user's profile"
  "$OUT/loadtest" run -url "http://$FUSIONRANK_ADDR" -key "$KEY" -scenario features -sequential-users -rate 500 -duration 20s | tail -n 1 >/dev/null
done
# switch_model V: after SWITCH_AT seconds, activates in V's database the model that is
# not active, then logs when V's server first answers a recommendation with it.
switch_model() {
  local v=$1 cur to t0 t
  sleep "$SWITCH_AT"
  cur=$(FUSIONRANK_DATABASE_URL=${dburl[$v]} "$OUT/$v/fusionrank" models list | awk '$2 == "ACTIVE" {print $1}')
  to=$DB-2
  [ "$cur" = "$DB-2" ] && to=$DB-1
  t0=$(date +%s%N)
  FUSIONRANK_DATABASE_URL=${dburl[$v]} "$OUT/$v/fusionrank" models activate "$to" >/dev/null
  for _ in $(seq 1 600); do
    if curl -fsS -H "Authorization: Bearer $KEY" -d '{"user_id":"lu-1","count":1}' "http://${addr[$v]}/v1/recommendations" | grep -q "\"model_version\":\"$to\""; then
      t=$(( ($(date +%s%N) - t0) / 1000000 ))
      log "$v: model $to activated at ${SWITCH_AT}s, served $((t / 1000)).$(printf %03d $((t % 1000)))s later"
      return
    fi
    sleep 0.2
  done
  log "$v: model $to activated at ${SWITCH_AT}s, not served after 2 min"
}

for r in $(seq 1 "$ROUNDS"); do
  for v in a b; do
    for s in $SCENARIOS; do
      kill -0 "${spid[$v]}" 2>/dev/null || { log "$v's server exited; see $OUT/$v/server.log"; exit 1; }
      log "round $r, $v, $s"
      settle=() bg=""
      if [ -n "${WIPE_AT:-}" ]; then
        (sleep "$WIPE_AT" && redis-cli -p "$redis_port" -n "${rdb[$v]}" FLUSHDB >/dev/null && log "$v: Redis database ${rdb[$v]} emptied") &
        bg=$!
        settle=(-settle "$((WIPE_AT + 5))s")
      fi
      if [ -n "${SWITCH_AT:-}" ]; then
        (switch_model "$v") &
        bg=$!
      fi
      "$OUT/loadtest" run -url "http://${addr[$v]}" -key "$KEY" -scenario "$s" -duration "$DURATION" "${settle[@]}" \
        -pid "${spid[$v]}" -redis "127.0.0.1:$redis_port" -postgres -server-latency -timeline "$OUT/$v/timeline-$r-${s//[:,]/-}.tsv" | sed "s/^/$v: /"
      [ -z "$bg" ] || wait "$bg"
      sleep 3
    done
  done
done
