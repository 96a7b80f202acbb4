#!/usr/bin/env bash
# Replays the attacks of the security review against a fusionrank binary, as an outside
# client would, and prints one Markdown table row per attack: what was sent, what the
# service answered, and what Postgres holds afterwards. docs/reliability.md shows the
# table for the current code; run it on another build to compare.
#
#   scripts/security-probe.sh                 # builds bin/fusionrank-probe from this tree
#   BIN=/path/to/fusionrank scripts/security-probe.sh
#
# It uses a database of its own (fusionrank_probe, recreated) and Redis database 5 on
# the servers scripts/services.sh starts, and a free port; it needs curl, jq and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN=${PROBE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DBNAME=${PROBE_DATABASE:-fusionrank_probe}
export FUSIONRANK_DATABASE_URL=${ADMIN%/*}/$DBNAME?sslmode=disable
export FUSIONRANK_REDIS_URL=${PROBE_REDIS_URL:-redis://127.0.0.1:6379/5}
export FUSIONRANK_MODALITIES=image:4 FUSIONRANK_LOG_LEVEL=error FUSIONRANK_REQUEST_TIMEOUT=5s
if [ -z "${BIN:-}" ]; then
  BIN=bin/fusionrank-probe
  go build -o "$BIN" ./cmd/fusionrank
fi

psql "$ADMIN" -qtAX -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" -c "CREATE DATABASE $DBNAME" >/dev/null
redis-cli -u "$FUSIONRANK_REDIS_URL" FLUSHDB >/dev/null
"$BIN" migrate >/dev/null
sql() { psql "$FUSIONRANK_DATABASE_URL" -qtAX -c "$1"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export FUSIONRANK_ADDR=127.0.0.1:$port
base=http://$FUSIONRANK_ADDR
PUBLIC=$("$BIN" keys create --scope public --name probe 2>/dev/null)
READ=$("$BIN" keys create --scope read --name probe 2>/dev/null)
WRITE=$("$BIN" keys create --scope write --name probe 2>/dev/null)
# A user token for the attacker's own account (a shop's backend signs one for every
# logged-in shopper); a build without user tokens gets none.
ATTACKER_TOKEN=
if "$BIN" keys user-secret >/dev/null 2>&1; then
  ATTACKER_TOKEN=$("$BIN" keys user-token --user attacker 2>/dev/null)
fi
"$BIN" serve 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

# call METHOD PATH KEY [BODY]: prints "STATUS BODY" (body cut to 160 characters).
call() {
  local out
  out=$(curl -sS -o /tmp/probe.body -w '%{http_code}' -X "$1" "$base$2" -H "Authorization: Bearer $3" \
    -H 'Content-Type: application/json' ${4:+--data-binary "$4"} || true)
  printf '%s %s' "$out" "$(head -c 160 /tmp/probe.body | tr '\n|' ' /')"
}
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ev() { printf '{"event_id":"%s","user_id":"%s","item_id":"%s","type":"%s","timestamp":"%s"}' "$1" "$2" "$3" "$4" "$now"; }

# The shop: 20 items in three categories; u3 bought three of them.
for i in $(seq 0 19); do
  cats=(accessories shoes dresses)
  printf '{"id":"sku-%d","title":"item %d","category":"%s","vectors":{"image":[1,%d,%d,1]}}\n' "$i" "$i" "${cats[$((i % 3))]}" $((i % 4)) $((i % 5))
done >/tmp/probe.items
call POST /v1/items:batch "$WRITE" "$(cat /tmp/probe.items)" >/dev/null
call POST /v1/events "$WRITE" "{\"events\":[$(ev b1 u3 sku-0 purchase),$(ev b2 u3 sku-1 purchase),$(ev b3 u3 sku-3 purchase)]}" >/dev/null
sleep 1 # the catalogue follows Postgres within half a second

echo "| attack | answer | stored afterwards |"
echo "|---|---|---|"

# 1. A public key claims an order id; the order system then sends the purchase.
tok=
[ -n "$ATTACKER_TOKEN" ] && tok="\"user_token\":\"$ATTACKER_TOKEN\","
a=$(call POST /v1/events "$PUBLIC" "{$tok\"events\":[$(ev order-5001 attacker sku-0 view)]}")
b=$(call POST /v1/events "$WRITE" "{\"events\":[$(ev order-5001 u2 sku-1 purchase)]}")
row "public key claims \`order-5001\` (view, with the attacker's own user token where tokens exist), then the write key sends purchase \`order-5001\` for u2" "claim: \`$a\`; purchase: \`$b\`" "purchases of u2: $(sql "SELECT count(*) FROM events WHERE user_id='u2' AND type='purchase'")"
c=$(call POST /v1/events "$WRITE" "{\"events\":[$(ev order-5001 u2 sku-1 add_to_cart)]}")
row "write key replays \`order-5001\` with type add_to_cart" "\`$c\`" "rows of order-5001 for u2: $(sql "SELECT string_agg(type, ',') FROM events WHERE user_id='u2'")"
d=$(call POST /v1/events "$PUBLIC" "{\"events\":[$(ev steer-1 u3 sku-9 click)]}")
row "public key sends a click for u3 (no token)" "\`$d\`" "events of u3 from it: $(sql "SELECT count(*) FROM events WHERE user_id='u3' AND item_id='sku-9'")"

# 2. Recommendations with the public key reveal purchases.
filt='"count":50,"filters":{"category":["accessories","shoes"]}'
u3=$(curl -sS "$base/v1/recommendations" -H "Authorization: Bearer $PUBLIC" -d "{\"user_id\":\"u3\",$filt}" | jq -c '[.items[].id]')
nobody=$(curl -sS "$base/v1/recommendations" -H "Authorization: Bearer $PUBLIC" -d "{\"user_id\":\"nobody\",$filt}" | jq -c '[.items[].id]')
pers=$(curl -sS "$base/v1/recommendations" -H "Authorization: Bearer $PUBLIC" -d "{\"user_id\":\"u3\",$filt}" | jq -c '[.personalized, .warnings]')
row "public key: recommendations for u3 filtered to accessories, shoes (no token)" "u3: \`$u3\`; an unknown user: \`$nobody\`; personalized, warnings: \`$pers\`" "—"
ex=$(curl -sS "$base/v1/recommendations" -H "Authorization: Bearer $PUBLIC" -d '{"user_id":"u3","explain":true}' | jq -c '[.items[0].explanation | keys]')
row "public key: \`explain: true\` for u3" "explanation keys: \`$ex\`" "—"

# 3. A body that never arrives.
start=$(date +%s.%N)
resp=$(timeout 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n' >&3; head -c 12 <&3; cat <&3 >/dev/null" 2>/dev/null || echo "no answer")
took=$(echo "$(date +%s.%N) - $start" | bc)
row "\`GET /healthz\` announcing a 10-byte body that never comes, no key" "\`$(echo "$resp" | tr -d '\r')\`, connection closed after $(printf '%.1f' "$took") s (the probe gives up at 30 s)" "—"

# 4. Made-up methods.
before=$(curl -sS "$base/metrics" | grep -c '^fusionrank_http_requests_total{' || true)
for i in $(seq 1 200); do curl -sS -o /dev/null -X "M$i" "$base/healthz" || true; done
after=$(curl -sS "$base/metrics" | grep -c '^fusionrank_http_requests_total{' || true)
row "200 requests with made-up methods" "—" "series of fusionrank_http_requests_total: $before before, $after after"

# 5. NUL and bad UTF-8.
row "\`PUT /v1/items/x\` with \`{\"title\":\"a\\\\u0000b\"}\`" "\`$(call PUT /v1/items/x "$WRITE" '{"title":"a\u0000b"}')\`" "item x: $(sql "SELECT count(*) FROM items WHERE id='x'")"
printf '{"title":"caf\xe9"}' >/tmp/probe.utf8
row "\`PUT /v1/items/y\` with a title holding the byte 0xE9 (Latin-1, not UTF-8)" "\`$(call PUT /v1/items/y "$WRITE" "$(cat /tmp/probe.utf8)")\`" "title stored: \`$(sql "SELECT coalesce(max(title), 'none') FROM items WHERE id='y'")\`"
for i in 1 2 3 4 5; do
  if [ $i = 3 ]; then printf '{"id":"five-%d","title":"a\\u0000b"}\n' $i; else printf '{"id":"five-%d","title":"ok"}\n' $i; fi
done >/tmp/probe.five
row "5-line batch, a NUL in line 3" "\`$(call POST /v1/items:batch "$WRITE" "$(cat /tmp/probe.five)")\`" "items stored: $(sql "SELECT count(*) FROM items WHERE id LIKE 'five-%'") of 4 good"
for i in $(seq 1 1500); do
  if [ $i = 1200 ]; then printf '{"id":"many-%d","title":"a\\u0000b"}\n' $i; else printf '{"id":"many-%d","title":"ok"}\n' $i; fi
done >/tmp/probe.many
row "1,500-line batch, a NUL in line 1,200" "\`$(call POST /v1/items:batch "$WRITE" @/tmp/probe.many)\`" "items stored: $(sql "SELECT count(*) FROM items WHERE id LIKE 'many-%'") of 1,499 good"
{ for i in $(seq 1 1199); do printf '{"id":"cut-%d","title":"ok"}\n' $i; done
  printf '{"id":"cut-1200","title":"%s"}\n' "$(head -c 4200000 /dev/zero | tr '\0' a)"
  for i in $(seq 1201 1500); do printf '{"id":"cut-%d","title":"ok"}\n' $i; done; } >/tmp/probe.cut
cut=$(curl -sS -X POST "$base/v1/items:batch" -H "Authorization: Bearer $WRITE" --data-binary @/tmp/probe.cut -w ' %{http_code}' | tail -c 400)
row "1,500-line batch, line 1,200 over the 4 MiB line limit" "\`$cut\`" "items stored: $(sql "SELECT count(*) FROM items WHERE id LIKE 'cut-%'")"

# 6. Huge engine scores.
for s in 1e200 2e154; do
  r=$(curl -sS "$base/v1/rerank" -H "Authorization: Bearer $READ" -d "{\"items\":[{\"id\":\"sku-1\",\"score\":$s},{\"id\":\"sku-2\",\"score\":0}],\"explain\":true}" -w ' %{http_code} %{size_download}')
  r2=$(curl -sS "$base/v1/rerank" -H "Authorization: Bearer $READ" -d "{\"items\":[{\"id\":\"sku-2\",\"score\":0},{\"id\":\"sku-1\",\"score\":$s}]}" | jq -c '[.items[] | [.id, .score]]' 2>/dev/null || echo "not JSON")
  row "rerank \`sku-1\` score $s, \`sku-2\` 0" "explain: status, bytes \`$(echo "$r" | awk '{print $(NF-1), $NF}')\`; without explain (sku-2 sent first): \`$r2\`" "—"
done

# 7. The smaller findings.
row "\`PUT /v1/items/n\` with the body \`null\`" "\`$(call PUT /v1/items/n "$WRITE" null)\`" "item n: $(sql "SELECT count(*) FROM items WHERE id='n'")"
dots=$(curl -sS --path-as-is -X PUT "$base/v1/items/.." -H "Authorization: Bearer $WRITE" -d '{"title":"x"}' -w ' %{http_code}' | tail -c 120)
row "\`PUT /v1/items/..\` (sent as is)" "\`$dots\`" "item ..: $(sql "SELECT count(*) FROM items WHERE id='..'")"
row "\`PUT /v1/items/k\` with \`{\"title\":\"a\",\"Title\":\"b\"}\`" "\`$(call PUT /v1/items/k "$WRITE" '{"title":"a","Title":"b"}')\`" "title of k: \`$(sql "SELECT coalesce(max(title), 'none') FROM items WHERE id='k'")\`"
lc=$(curl -sS -o /dev/null -w '%{http_code}' "$base/v1/stats/models" -H "Authorization: bearer $READ")
row "\`Authorization: bearer …\` (lower case), read key" "status $lc" "—"
row "event with timestamp \`1990-01-01T00:30:00+01:00\`" "\`$(call POST /v1/events "$WRITE" '{"events":[{"event_id":"tz-1","user_id":"u9","item_id":"sku-1","type":"view","timestamp":"1990-01-01T00:30:00+01:00"}]}')\`" "stored: $(sql "SELECT count(*) FROM events WHERE event_id='tz-1'")"
for _ in 1 2; do curl -sS -o /dev/null "$base/v1/rerank" -H "Authorization: Bearer $READ" -H 'X-Request-ID: same-id' -d '{"items":[{"id":"sku-1"}]}'; done
ids=$(curl -sS "$base/v1/rerank" -H "Authorization: Bearer $READ" -H 'X-Request-ID: same-id' -d '{"items":[{"id":"sku-1"}]}' | jq -r .request_id)
sleep 1 # attribution records are written every 200 ms
row "three rerank calls with \`X-Request-ID: same-id\`" "the third's request_id: \`$ids\`" "attribution records: $(sql "SELECT count(*) FROM rank_requests WHERE request_id LIKE 'same-id%'") of 3"
call DELETE /v1/items/sku-5 "$WRITE" >/dev/null
sleep 1
row "\`GET /widget/items?ids=sku-5\` after \`DELETE /v1/items/sku-5\`" "\`$(call GET '/widget/items?ids=sku-5' "$PUBLIC")\`" "—"
# One curl per row sends the 60 calls over one connection, each row from an address of
# its own (any 127.x.y.z reaches loopback), so one row's bucket does not limit the next.
n=0
for path in "/v1/recommendations" "/widget/items?ids=sku-1" "/demo/search?q=item"; do
  n=$((n + 1))
  key=$PUBLIC
  [ "$path" = "/demo/search?q=item" ] && key=$READ
  data=()
  [ "$path" = /v1/recommendations ] && data=(-d '{"user_id":"u1"}')
  urls=()
  for _ in $(seq 1 60); do urls+=(-o /dev/null "$base$path"); done
  codes=$(curl -sS --interface "127.0.4.$n" -w '%{http_code}\n' -H "Authorization: Bearer $key" "${data[@]}" "${urls[@]}" |
    sort | uniq -c | awk '{printf "%s×%s ", $1, $2}')
  row "60 quick calls of \`$path\` from one address (default configuration)" "$codes" "—"
done
exp=$("$BIN" keys create --scope read --name probe-exp --expires 1s 2>&1 >/dev/null | tr "\n" " " | head -c 120 || true)
row "\`fusionrank keys create --scope read --expires 1s\`" "\`$exp\`" "—"
