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
#   PHOTOS                     the photo shop's catalogue, a folder in the Grocery Store layout;
#                              default ../shared/datasets/grocery-store; empty: no photo shop
#   PHOTO_ADDR                 the photo shop's address; default the port after FUSIONRANK_ADDR's
#   DEMO_PHOTO_KEYS            default data/demo-photo-keys.env (git-ignored)
#
# The photo shop runs beside the first one: a second server on PHOTO_ADDR with its own
# database (the first one's name with _photos appended) and Redis namespace, the Grocery
# Store's 81 products with their web-shop photos, and the search-by-photo panel offering
# the shoppers' val photos. Its first run trains the image encoder in the background
# (`fusionrank train-images`, several minutes; log data/demo-train-images.log) and
# activates it; until then the fixed descriptor serves.
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


# The photo shop: its database, its catalogue (once), its keys.
PHOTOS=${PHOTOS-../shared/datasets/grocery-store}
PHOTO_KEYS=${DEMO_PHOTO_KEYS:-data/demo-photo-keys.env}
photo_url= photo_pid= itpid=
host=${FUSIONRANK_ADDR%:*}
port=${FUSIONRANK_ADDR##*:}
case "$host" in "" | 0.0.0.0 | "[::]") host=localhost ;; esac
if [ -n "$PHOTOS" ] && [ -f "$PHOTOS/classes.csv" ]; then
  photo_db_url=${FUSIONRANK_DATABASE_URL/\/$dbname/\/${dbname}_photos}
  if [ "$(psql "$admin" -qtAX -c "SELECT 1 FROM pg_database WHERE datname = '${dbname}_photos'")" != 1 ]; then
    log "creating database ${dbname}_photos"
    psql "$admin" -qtAX -c "CREATE DATABASE \"${dbname}_photos\""
  fi
  psql_photos() { psql "$photo_db_url" -qtAX -c "$1"; }
  FUSIONRANK_DATABASE_URL=$photo_db_url "$BIN" migrate >/dev/null
  if [ "$(psql_photos "SELECT count(*) FROM item_images WHERE status = 'ready'")" -gt 0 ]; then
    log "the photo shop is already imported"
  else
    log "importing the photo shop from $PHOTOS (its products and their photos)"
    FUSIONRANK_DATABASE_URL=$photo_db_url "$BIN" import items --format grocery --quiet "$PHOTOS" >/dev/null
  fi
  PHOTO_PUBLIC_KEY= PHOTO_READ_KEY=
  # shellcheck disable=SC1090
  [ -f "$PHOTO_KEYS" ] && . "$PHOTO_KEYS"
  pvalid() { [ -n "$1" ] && [ "$(psql_photos "SELECT count(*) FROM api_keys WHERE prefix = '${1:0:10}' AND scope = '$2' AND revoked_at IS NULL")" -gt 0 ]; }
  if ! pvalid "$PHOTO_PUBLIC_KEY" public || ! pvalid "$PHOTO_READ_KEY" read; then
    PHOTO_PUBLIC_KEY=$(FUSIONRANK_DATABASE_URL=$photo_db_url "$BIN" keys create --scope public --name demo-photo-widget 2>/dev/null)
    PHOTO_READ_KEY=$(FUSIONRANK_DATABASE_URL=$photo_db_url "$BIN" keys create --scope read --name demo-photo-page 2>/dev/null)
    mkdir -p "$(dirname "$PHOTO_KEYS")"
    (umask 077 && printf 'PHOTO_PUBLIC_KEY=%s\nPHOTO_READ_KEY=%s\n' "$PHOTO_PUBLIC_KEY" "$PHOTO_READ_KEY" >"$PHOTO_KEYS")
  fi
  photo_addr=${PHOTO_ADDR:-${FUSIONRANK_ADDR%:*}:$((port + 1))}
  photo_url="http://$host:${photo_addr##*:}"
  FUSIONRANK_DATABASE_URL=$photo_db_url FUSIONRANK_ADDR=$photo_addr FUSIONRANK_REDIS_NAMESPACE=frphotos \
    FUSIONRANK_DEMO_PHOTOS=$PHOTOS "$BIN" serve &
  photo_pid=$!
fi

# Serve, and print the URLs once it answers.
url="http://$host:$port"
"$BIN" serve &
pid=$!
tpid=
# Under set -e, a kill of a process that has already ended must not end the script
# before the servers are stopped.
stop() {
  if [ -n "$tpid" ]; then kill -TERM "$tpid" 2>/dev/null || true; fi
  if [ -n "$itpid" ]; then kill -TERM "$itpid" 2>/dev/null || true; fi
  if [ -n "$photo_pid" ]; then kill -TERM "$photo_pid" 2>/dev/null || true; fi
  kill -TERM $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  if [ -n "$photo_pid" ]; then wait "$photo_pid" 2>/dev/null || true; fi
  exit 0
}
trap stop INT TERM
ready=0
for _ in $(seq 1 600); do
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.2
done
if [ -n "$photo_pid" ] && [ "$ready" = 1 ]; then
  ready=0
  for _ in $(seq 1 600); do
    if curl -fsS "$photo_url/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$photo_pid" 2>/dev/null || break
    sleep 0.2
  done
fi
if [ "$ready" != 1 ]; then
  log "the server did not become ready"
  kill -TERM $pid 2>/dev/null || true
  if [ -n "$photo_pid" ]; then kill -TERM "$photo_pid" 2>/dev/null || true; fi
  wait $pid || true
  exit 1
fi
photo_lines=
if [ -n "$photo_pid" ]; then
  photo_lines="  photo shop:  $photo_url/demo#public=$PHOTO_PUBLIC_KEY&read=$PHOTO_READ_KEY
               (search by photo; Grocery Store products with their photos)"
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
$photo_lines
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
# The photo shop's image encoder: trained once in the background, then activated (the
# photo shop re-encodes its catalogue with it and switches when every photo has its
# vector).
if [ -n "$photo_pid" ] && [ "${DEMO_TRAIN:-1}" != 0 ] &&
  [ "$(psql "$photo_db_url" -qtAX -c "SELECT count(*) FROM image_encoders WHERE kind = 'cnn'")" = 0 ]; then
  mkdir -p data
  log "training the photo shop's image encoder in the background (log: data/demo-train-images.log)"
  (
    "$BIN" train-images --data "$PHOTOS" --out data/grocery-encoder.safetensors >data/demo-train-images.log 2>&1 &
    child=$!
    trap 'kill -TERM $child 2>/dev/null || true; exit 0' TERM
    if wait $child && FUSIONRANK_DATABASE_URL=$photo_db_url "$BIN" encoders register --activate data/grocery-encoder.safetensors >>data/demo-train-images.log 2>&1; then
      log "image encoder trained and activated for the photo shop"
    else
      log "image encoder training failed (see data/demo-train-images.log); the descriptor serves"
    fi
  ) &
  itpid=$!
fi
wait $pid
