#!/usr/bin/env bash
# Photos on a served shop: item ingest throughput with photos (the Grocery Store's
# 2,640 train photos as items, through POST /v1/items:batch) against the same items
# without photos, then photo search (POST /v1/search with query.image, the 296 val
# photos in turn) at a fixed rate with vegeta as the outside load generator, against
# text search at the same rate in the same run.
#
#   scripts/photo-bench.sh                     # 50 req/s for 30 s
#   RATE=100 DURATION=20s scripts/photo-bench.sh
#
# Its own database (fusionrank_photobench, recreated) on the Postgres of
# scripts/services.sh, Redis database 9 under its own namespace. vegeta is installed
# with `go install` into $OUT/bin when it is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-50}
DURATION=${DURATION:-30s}
DATA=${PHOTOS:-../shared/datasets/grocery-store}
OUT=${OUT:-/tmp/fusionrank-photobench}
ADMIN_URL=${BENCH_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
log() { echo "photo-bench: $*" >&2; }
mkdir -p "$OUT/bin"
export PATH=$OUT/bin:$PATH
command -v vegeta >/dev/null || GOBIN=$OUT/bin go install github.com/tsenart/vegeta/v12@v12.13.0
go build -o "$OUT/fusionrank" ./cmd/fusionrank
psql "$ADMIN_URL" -qtAX -c "DROP DATABASE IF EXISTS fusionrank_photobench WITH (FORCE)" -c "CREATE DATABASE fusionrank_photobench"
export FUSIONRANK_DATABASE_URL=${ADMIN_URL/\/postgres\?/\/fusionrank_photobench?}
export FUSIONRANK_REDIS_URL=redis://127.0.0.1:6379/9 FUSIONRANK_REDIS_NAMESPACE=photobench
export FUSIONRANK_ADDR=127.0.0.1:${PORT:-18090} FUSIONRANK_LOG_LEVEL=warn
export FUSIONRANK_TEXT_VECTORS=${FUSIONRANK_TEXT_VECTORS:-../shared/datasets/glove/glove-6B-100d-top50k.txt.gz}
"$OUT/fusionrank" migrate >/dev/null
KEY=$("$OUT/fusionrank" keys create --scope write --name photo-bench 2>/dev/null)
"$OUT/fusionrank" serve &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -fsS "http://$FUSIONRANK_ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
url=http://$FUSIONRANK_ADDR

# The item files: one NDJSON line per train photo, with and without the photo (kept
# in $OUT for the next run).
n=$(wc -l <"$DATA/train.txt")
if [ "$(wc -l <"$OUT/with.ndjson" 2>/dev/null || echo 0)" != "$n" ]; then
  log "writing the item files"
  : >"$OUT/with.ndjson"
  : >"$OUT/without.ndjson"
  k=0
  while IFS=, read -r path _ _; do
    k=$((k + 1))
    title=$(basename "$(dirname "$path")")
    printf '{"id":"p-%d","title":"%s","image":"%s"}\n' "$k" "$title" "$(base64 -w0 "$DATA/$path")" >>"$OUT/with.ndjson"
    printf '{"id":"t-%d","title":"%s"}\n' "$k" "$title" >>"$OUT/without.ndjson"
  done <"$DATA/train.txt"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
ingest() { # file label
  local t0 t1
  t0=$(date +%s%N)
  curl -fsS -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/x-ndjson' --data-binary @"$1" "$url/v1/items:batch" >"$OUT/$2.json"
  t1=$(date +%s%N)
  echo "ingest $2: $n items in $(((t1 - t0) / 1000000)) ms: $((n * 1000000000 / (t1 - t0))) items/s ($(cat "$OUT/$2.json"))"
}
ingest "$OUT/without.ndjson" without-photos
ingest "$OUT/with.ndjson" with-photos
sleep 2 # the catalogue refresh

# The search targets: every val photo, and the product names as text queries.
[ "$(wc -l <"$OUT/photo.targets" 2>/dev/null || echo 0)" = "$(wc -l <"$DATA/val.txt")" ] || {
: >"$OUT/photo.targets"
: >"$OUT/text.targets"
while IFS=, read -r path _ _; do
  body=$(printf '{"query":{"image":"%s"},"count":10}' "$(base64 -w0 "$DATA/$path")" | base64 -w0)
  printf '{"method":"POST","url":"%s/v1/search","body":"%s","header":{"Authorization":["Bearer KEY"],"Content-Type":["application/json"]}}\n' "$url" "$body" >>"$OUT/photo.targets"
  body=$(printf '{"query":{"text":"%s"},"count":10}' "$(basename "$(dirname "$path")" | tr '-' ' ')" | base64 -w0)
  printf '{"method":"POST","url":"%s/v1/search","body":"%s","header":{"Authorization":["Bearer KEY"],"Content-Type":["application/json"]}}\n' "$url" "$body" >>"$OUT/text.targets"
done <"$DATA/val.txt"
}
for kind in text photo; do
  log "$kind search at $RATE req/s for $DURATION"
  sed "s/Bearer KEY/Bearer $KEY/" "$OUT/$kind.targets" >"$OUT/$kind.run.targets"
  vegeta attack -format=json -targets="$OUT/$kind.run.targets" -rate="$RATE" -duration="$DURATION" -timeout=5s >"$OUT/$kind.bin"
  echo "$kind search at $RATE req/s (load average $(cut -d' ' -f1 /proc/loadavg)): $(vegeta report -type=json <"$OUT/$kind.bin" | jq -c '{requests, success, p50_ms: (.latencies["50th"]/1e6), p90_ms: (.latencies["90th"]/1e6), p99_ms: (.latencies["99th"]/1e6), max_ms: (.latencies.max/1e6), status_codes}')"
done
