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

# The binary with the scorer's AVX-512 fast path (Go's GOEXPERIMENT=simd). Run it with
# GODEBUG=asyncpreemptoff=1: under the experiment, Go 1.26's asynchronous preemption
# leaves the vector unit in a state that slows all scalar float code of the process
# several-fold (see ranking/doc.go).
build-fast:
	GOEXPERIMENT=simd $(GO) build -o bin/fusionrank ./cmd/fusionrank

services:
	@WITH_COMPOSE=1 scripts/services.sh

vet:
	$(GO) vet ./...

compose-check: services
	docker-compose -f docker-compose.yml config -q

# Every test, against the real Postgres and Redis on loopback; then the
# packages with AVX-512 kernels again in the GOEXPERIMENT=simd build (the
# kernels run where the CPU has AVX-512, their pure-Go twins elsewhere).
# WITH_BROWSER=1 (passed on to services): the browser tests need headless Chromium;
# WITH_ONNX=1: the ONNX encoder's tests (build tag onnx) need ONNX Runtime.
test: export WITH_BROWSER := 1
test: export WITH_ONNX := 1
test: services vet compose-check
	$(GO) test -count=1 -timeout 20m ./...
	GOEXPERIMENT=simd $(GO) test -count=1 ./ranking/ ./training/
	$(GO) test -count=1 -tags onnx ./onnx/ && $(GO) test -count=1 -tags onnx -run ONNX ./cmd/fusionrank/

# The scorer's fast path and its plain reference in one run (ns/candidate and
# cpu-ns/candidate), then the retrieval and text encoder benchmarks.
bench:
	GOEXPERIMENT=simd GODEBUG=asyncpreemptoff=1 $(GO) test -run '^$$' -bench 'Fusion' -benchtime 10x ./ranking/
	$(GO) test -run '^$$' -bench . -benchtime 1x ./recommend/retrieval/ ./features/text/

# The demo shop (scripts/demo.sh): imports ../shared/datasets/online-retail once (or DATA=…),
# creates the demo keys, serves on ADDR and prints the URLs. Reruns are up in seconds.
DATA ?= ../shared/datasets/online-retail/online_retail.tsv.gz
demo: services build-fast
	GODEBUG=asyncpreemptoff=1 DATA=$(DATA) FUSIONRANK_ADDR=$(ADDR) FUSIONRANK_TEXT_VECTORS=$${FUSIONRANK_TEXT_VECTORS:-$(GLOVE)} scripts/demo.sh
