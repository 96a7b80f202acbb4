# fusionrank: `make demo` runs the service on a demo shop; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
ADDR ?= :8080
export FUSIONRANK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fusionrank?sslmode=disable
export FUSIONRANK_REDIS_URL ?= redis://127.0.0.1:6379/0
GLOVE ?= $(firstword $(wildcard data/glove-6B-100d-full.txt.gz) ../shared/datasets/glove/glove-6B-100d-top50k.txt.gz)

.PHONY: test demo build build-fast services vet compose-check bench

build:
	$(GO) build -o bin/fusionrank ./cmd/fusionrank

# build-fast is build: every build picks the kernels' AVX-512 or AVX2 assembly when the
# program starts (internal/kernel).
build-fast: build

services:
	@WITH_COMPOSE=1 scripts/services.sh

vet:
	$(GO) vet ./...

compose-check: services
	docker-compose -f docker-compose.yml config -q

# Every test, against the real Postgres and Redis on loopback. internal/kernel's tests run
# each kernel on every level the CPU has (AVX-512, AVX2, pure Go); then the scorer's golden
# and reference tests again with the kernels capped at AVX2 and with the pure-Go twins;
# then the ONNX encoder's tests (build tag onnx).
# The feature store's tests run a second time on a Redis Cluster of 3 masters with one
# replica each, which testenv starts on free ports (redis-server --cluster-enabled yes,
# redis-cli --cluster create); cmd/fusionrank's TestFaultRedisClusterMasterKilled
# starts its own and kills a master under load. The feature store, the serving path
# (whose reads outlive their requests) and the API (which reuses request memory) run
# once more under the race detector.
# scripts/compose-smoke.sh brings docker-compose.yml up and checks it through its load
# balancer where Docker works, and says it skipped otherwise.
# WITH_BROWSER=1 (passed on to services): the browser tests need headless Chromium;
# WITH_ONNX=1: the ONNX encoder's tests need ONNX Runtime.
test: export WITH_BROWSER := 1
test: export WITH_ONNX := 1
test: services vet compose-check
	$(GO) test -count=1 -timeout 20m ./...
	FUSIONRANK_TEST_REDIS_CLUSTER=1 $(GO) test -count=1 ./features/
	$(GO) test -count=1 -race ./features/ ./recommend/ ./api/
	scripts/compose-smoke.sh
	$(GO) test -count=1 -tags noavx512 ./ranking/
	$(GO) test -count=1 -tags purego ./internal/kernel/ ./ranking/
	$(GO) test -count=1 -tags onnx ./onnx/ && $(GO) test -count=1 -tags onnx -run ONNX ./cmd/fusionrank/

# The scorer's fast path and its plain reference in one run (ns/candidate and
# cpu-ns/candidate), the kernels on every level the CPU has, then the retrieval and text
# encoder benchmarks.
bench:
	$(GO) test -run '^$$' -bench 'Fusion' -benchtime 10x ./ranking/
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./internal/kernel/
	$(GO) test -run '^$$' -bench . -benchtime 1x ./recommend/retrieval/ ./features/text/

# The demo shop (scripts/demo.sh): imports ../shared/datasets/online-retail once (or DATA=…),
# creates the demo keys, serves on ADDR and prints the URLs. Reruns are up in seconds.
DATA ?= ../shared/datasets/online-retail/online_retail.tsv.gz
demo: services build
	DATA=$(DATA) FUSIONRANK_ADDR=$(ADDR) FUSIONRANK_TEXT_VECTORS=$${FUSIONRANK_TEXT_VECTORS:-$(GLOVE)} scripts/demo.sh
