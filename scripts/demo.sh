#!/usr/bin/env bash
# Runs fusionrank on the demo shop (UCI Online Retail), for `make demo`.
#
# First run: migrates the demo database, imports the shop's items (with text vectors
# from the built-in encoder) and events, creates a public, a read and a write key and
# the user-token secret, serves, and trains and activates a model in the background when `fusionrank train`
# exists.
# Later runs reuse what is there (the import is skipped, the keys are read back from
# data/demo-keys.env) and are up in seconds.
#
# Environment (the Makefile sets most of them):
#   DATA                       the Online Retail TSV (plain or gzip); default
#                              ../shared/datasets/online-retail/online_retail.tsv.gz
#   DEMO_DATABASE_URL          default postgres://postgres@127.0.0.1:5432/fusionrank_demo?sslmode=disable
#                              (its own database, so the demo never mixes with other data)
#   DEMO_REDIS_URL             default redis://127.0.0.1:6379/1
#   FUSIONRANK_ADDR            default :8080
#   FUSIONRANK_TEXT_VECTORS    GloVe-format word vectors for the text modality
#   FUSIONRANK_LOG_LEVEL       default warn (the request log is quiet)
#   DEMO_TRAIN                 0 skips training (default 1)
#   DEMO_TRAIN_FLAGS           more flags for the one-time `fusionrank train` (say --epochs 2)
#   FUSIONRANK_BIN             default bin/fusionrank
#   DEMO_KEYS                  default data/demo-keys.env (git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "demo: $*" >&2; }
t0=$(date +%s%N)
elapsed() { local d=$((($(date +%s%N) - t0) / 100000000)); echo "$((d / 10)).$((d % 10))s"; }

BIN=${FUSIONRANK_BIN:-bin/fusionrank}
DATA=${DATA:-../shared/datasets/online-retail/online_retail.tsv.gz}
KEYS=${DEMO_KEYS:-data/demo-keys.env}
export FUSIONRANK_DATABASE_URL=${DEMO_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fusionrank_demo?sslmode=disable}
export FUSIONRANK_REDIS_URL=${DEMO_REDIS_URL:-redis://127.0.0.1:6379/1}
export FUSIONRANK_ADDR=${FUSIONRANK_ADDR:-:8080}
export FUSIONRANK_TEXT_VECTORS=${FUSIONRANK_TEXT_VECTORS:-}
export FUSIONRANK_LOG_LEVEL=${FUSIONRANK_LOG_LEVEL:-warn}

[ -x "$BIN" ] || { log "$BIN is missing: run make build"; exit 1; }

sql() { psql "$FUSIONRANK_DATABASE_URL" -qtAX -c "$1"; }

# The demo database, on the server scripts/services.sh started.
dbname=${FUSIONRANK_DATABASE_URL##*/}
dbname=${dbname%%\?*}
admin=${FUSIONRANK_DATABASE_URL%/*}/postgres
if [ "$(psql "$admin" -qtAX -c "SELECT 1 FROM pg_database WHERE datname = '$dbname'")" != 1 ]; then
  log "creating database $dbname"
  psql "$admin" -qtAX -c "CREATE DATABASE \"$dbname\""
fi
"$BIN" migrate >/dev/null

# The shop: skipped when its items and events are already there.
items=$(sql "SELECT count(*) FROM items WHERE id LIKE 'sku-%'")
events=$(sql "SELECT count(*) FROM (SELECT 1 FROM events WHERE event_id LIKE 'or:%' LIMIT 1) e")
if [ "$items" -gt 0 ] && [ "$events" -gt 0 ]; then
  log "the shop is already imported ($items items); skipping the import"
elif [ -f "$DATA" ]; then
  [ -n "$FUSIONRANK_TEXT_VECTORS" ] || log "FUSIONRANK_TEXT_VECTORS is empty: items get no text vectors"
  log "importing the UCI Online Retail shop from $DATA (once; takes a minute or two)"
  "$BIN" import items --format online-retail --quiet "$DATA"
  "$BIN" import events --format online-retail --quiet "$DATA"
else
  log "no data set at $DATA: the shop stays empty (give one with make demo DATA=path/online_retail.tsv.gz;"
  log "the README says where to get it)"
fi

# A model: when none is active and this binary can train, one is trained in the
# background once the server is up (the server switches to it within a second of its
# activation); meanwhile, and when the binary cannot train, the service answers from its
# documented fallback (model_version "none").
train=0
if [ "$(sql "SELECT count(*) FROM models WHERE active")" -gt 0 ]; then
  log "an active model exists: $(sql "SELECT version FROM models WHERE active")"
elif [ "${DEMO_TRAIN:-1}" = 0 ]; then
  log "DEMO_TRAIN=0: no training; serving with the fallback (model_version \"none\")"
elif ! "$BIN" train --help >/dev/null 2>&1; then
  log "this binary cannot train yet: serving with the fallback (model_version \"none\")"
elif [ "$(sql "SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1) e")" -gt 0 ]; then
  train=1
fi

# Keys: reused from $KEYS while they are still valid in this database.
valid() { # key scope
  [ -n "$1" ] && [ "$(sql "SELECT count(*) FROM api_keys WHERE prefix = '${1:0:10}' AND scope = '$2' AND revoked_at IS NULL")" -gt 0 ]
}
PUBLIC_KEY= READ_KEY= WRITE_KEY=
# shellcheck disable=SC1090
[ -f "$KEYS" ] && . "$KEYS"
if valid "$PUBLIC_KEY" public && valid "$READ_KEY" read && valid "$WRITE_KEY" write; then
  log "reusing the keys in $KEYS"
else
  log "creating the demo keys"
  PUBLIC_KEY=$("$BIN" keys create --scope public --name demo-widget 2>/dev/null)
  READ_KEY=$("$BIN" keys create --scope read --name demo-page 2>/dev/null)
  WRITE_KEY=$("$BIN" keys create --scope write --name demo-purchases 2>/dev/null)
  mkdir -p "$(dirname "$KEYS")"
  (umask 077 && printf 'PUBLIC_KEY=%s\nREAD_KEY=%s\nWRITE_KEY=%s\n' "$PUBLIC_KEY" "$READ_KEY" "$WRITE_KEY" >"$KEYS")
fi

# The secret user tokens are signed with: a public key gets personal recommendations,
# and may send events, only for the shopper a valid token names. The page asks
# /demo/user-token for one with its read key, as a shop's backend signs one for its
# logged-in shopper.
if [ "$(sql "SELECT count(*) FROM user_token_secrets WHERE expires_at IS NULL")" -gt 0 ]; then
  log "reusing the user-token secret"
else
  log "creating the user-token secret"
  "$BIN" keys user-secret >/dev/null 2>&1
fi

# Serve, and print the URLs once it answers.
host=${FUSIONRANK_ADDR%:*}
port=${FUSIONRANK_ADDR##*:}
case "$host" in "" | 0.0.0.0 | "[::]") host=localhost ;; esac
url="http://$host:$port"
"$BIN" serve &
pid=$!
tpid=
# Under set -e, a kill of a process that has already ended must not end the script
# before the server is stopped.
stop() {
  if [ -n "$tpid" ]; then kill -TERM "$tpid" 2>/dev/null || true; fi
  kill -TERM $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  exit 0
}
trap stop INT TERM
ready=0
for _ in $(seq 1 600); do
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.2
done
if [ "$ready" != 1 ]; then
  log "the server did not become ready"
  kill -TERM $pid 2>/dev/null || true
  wait $pid || true
  exit 1
fi
cat >&2 <<EOF

fusionrank demo is up after $(elapsed) on $url
  public key (widget):      $PUBLIC_KEY
  read key (page):          $READ_KEY
  write key (purchases):    $WRITE_KEY
  demo page:   $url/demo#public=$PUBLIC_KEY&read=$READ_KEY&write=$WRITE_KEY
  widget:      $url/widget.js   (snippet in the README, section Widget)
  user tokens: $BIN keys user-token --user ID   (the page asks /demo/user-token)
  API:         $url/openapi.json
Ctrl-C stops it.
EOF
if [ "$train" = 1 ]; then
  mkdir -p data
  log "training a model in the background (log: data/demo-train.log); the service switches to it when it is activated"
  # shellcheck disable=SC2086
  (
    "$BIN" train --activate ${DEMO_TRAIN_FLAGS:-} >data/demo-train.log 2>&1 &
    child=$!
    trap 'kill -TERM $child 2>/dev/null || true; exit 0' TERM
    if wait $child; then
      log "model trained and activated: $(sql "SELECT version FROM models WHERE active")"
    else
      log "training failed (see data/demo-train.log); serving with the fallback"
    fi
  ) &
  tpid=$!
fi
wait $pid
