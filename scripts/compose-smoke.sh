#!/usr/bin/env bash
# Brings up docker-compose.yml (load balancer, two replicas, Redis Cluster, Postgres
# primary and replica), creates a key, stores an item and events through the load
# balancer, checks that both replicas answer for them, then takes it all down. Where
# Docker does not work it says so and exits 0: make test runs it everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker >/dev/null 2>&1 || ! timeout 10 docker info >/dev/null 2>&1; then
  echo "compose smoke test SKIPPED: no working Docker daemon here (docker info failed)" >&2
  exit 0
fi
compose() { if command -v docker-compose >/dev/null 2>&1; then docker-compose -p frsmoke "$@"; else docker compose -p frsmoke "$@"; fi; }
trap 'compose down -v >/dev/null 2>&1 || true' EXIT
compose up -d --build
base=http://127.0.0.1:8080
for _ in $(seq 1 120); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 1; done
curl -fsS "$base/readyz" >/dev/null
key=$(compose run --rm -T migrate keys create --scope write 2>/dev/null | tail -n 1 | tr -d '\r')
[ -n "$key" ] || { echo "compose smoke: no key created" >&2; exit 1; }
vec=$(python3 -c 'print(",".join(["0.1"]*512))')
curl -fsS -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"title\":\"smoke item\",\"vectors\":{\"image\":[$vec]}}" "$base/v1/items/smoke-1" >/dev/null
curl -fsS -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"events\":[{\"event_id\":\"smoke-e1\",\"user_id\":\"smoke-u\",\"item_id\":\"smoke-1\",\"type\":\"click\",\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}]}" \
  "$base/v1/events" >/dev/null
# Round robin: several reads reach both replicas; each must see the user's event.
for i in 1 2 3 4; do
  out=$(curl -fsS -H "Authorization: Bearer $key" "$base/v1/users/smoke-u/features")
  echo "$out" | grep -q smoke-1 || { echo "compose smoke: read $i lacks the event: $out" >&2; exit 1; }
done
echo "compose smoke test passed"
