# Shared by scripts/soak.sh and scripts/serving-bench.sh (source it from the repository
# root): a generated shop served by its own fusionrank on a free port, with its own
# database and its own redis-server, torn down on exit.
#
# The caller sets OUT (work directory), DB (database name), NAME (log prefix), and
# optionally ITEMS, USERS, PORT, FUSIONRANK_TEXT_VECTORS; then calls shop_up.
# Afterwards: $KEY (a read key), $server_pid, $redis_port, $FUSIONRANK_ADDR.

ITEMS=${ITEMS:-100000}
USERS=${USERS:-10000}
ADMIN_URL=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
server_pid="" redis_pid="" base_src=""
pids=() # more servers of the caller's, stopped on exit

log() { echo "$NAME: $(date -u +%H:%M:%S) $*" >&2; }

shop_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  [ -n "$base_src" ] && git worktree remove --force "$base_src" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
}
trap shop_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# shop_build: the services, then the serving binary (a plain go build: the kernels pick
# AVX-512 or AVX2 when it starts) and the load generator.
shop_build() {
  mkdir -p "$OUT"
  scripts/services.sh
  log "building"
  go build -o "$OUT/fusionrank" ./cmd/fusionrank
  go build -o "$OUT/loadtest" ./scripts/loadtest
}

# shop_base REV: revision REV's serving binary as $OUT/a/fusionrank, built in a
# worktree of its own ($OUT/base-src, removed on exit), for the A/B scripts. A revision
# without internal/kernel has its fast scorer only under GOEXPERIMENT=simd (served with
# GODEBUG=asyncpreemptoff=1): base_env is then (env GOEXPERIMENT=simd), else empty.
shop_base() {
  base_src=$OUT/base-src base_env=()
  mkdir -p "$OUT/a"
  git worktree remove --force "$base_src" 2>/dev/null || true
  git worktree add -f --detach "$base_src" "$1" >/dev/null 2>&1
  if [ ! -d "$base_src/internal/kernel" ]; then base_env=(env GOEXPERIMENT=simd); fi
  (cd "$base_src" && "${base_env[@]}" go build -o "$OUT/a/fusionrank" ./cmd/fusionrank)
}

# shop_redis: a redis-server of our own on a free port, without persistence.
shop_redis() {
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT" --loglevel warning >"$OUT/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 40); do [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break; sleep 0.25; done
}

# shop_env: the server's configuration.
shop_env() {
  PORT=${PORT:-$(free_port)}
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
    log "port $PORT already answers: another server is there; choose another PORT"
    exit 1
  fi
  export FUSIONRANK_DATABASE_URL=${ADMIN_URL%/*}/$DB?sslmode=disable
  export FUSIONRANK_REDIS_URL=redis://127.0.0.1:$redis_port/0
  export FUSIONRANK_ADDR=127.0.0.1:$PORT
  export FUSIONRANK_MODALITIES=image:32
  export FUSIONRANK_TEXT_VECTORS=${FUSIONRANK_TEXT_VECTORS:-$( (ls data/glove-6B-100d-full.txt.gz ../shared/datasets/glove/glove-6B-100d-top50k.txt.gz 2>/dev/null || true) | head -n 1)}
  export FUSIONRANK_LOG_LEVEL=warn
  export FUSIONRANK_RATE_LIMIT=0
}

# shop_data: the database recreated, the shop generated (once per OUT) and imported,
# a model trained briefly (the shapes of a real one: text 100-d, image 32-d, learned
# collab and attribute vectors; this measures serving, not accuracy), a read key. The
# binary that does it is $SHOP_BIN (default $OUT/fusionrank).
shop_data() {
  local bin=${SHOP_BIN:-$OUT/fusionrank}
  log "database $DB (recreated)"
  psql "$ADMIN_URL" -qtAX -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  "$bin" migrate >/dev/null
  if [ ! -f "$OUT/shop/events.ndjson" ]; then
    log "generating the shop ($ITEMS items, $USERS users)"
    "$OUT/loadtest" gen -items "$ITEMS" -users "$USERS" -image-dim 32 -out "$OUT/shop"
  fi
  "$bin" import items --quiet "$OUT/shop/items.ndjson" | tail -n 1
  "$bin" import events --quiet "$OUT/shop/events.ndjson" | tail -n 1
  log "training a model (200 users, 1 epoch)"
  "$bin" train --max-users 200 --epochs 1 --version "$DB-1" --activate 2>&1 | tail -n 1
  KEY=$("$bin" keys create --scope read --name "$NAME" 2>/dev/null)
}

# shop_serve: the server, up and past its co-visitation warm-up.
shop_serve() {
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
}

# shop_up: everything above, in order.
shop_up() {
  shop_build
  shop_redis
  shop_env
  shop_data
  shop_serve
}
