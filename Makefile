# fusionrank: `make demo` runs the service on a demo shop; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
ADDR ?= :8080
export FUSIONRANK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/fusionrank?sslmode=disable
export FUSIONRANK_REDIS_URL ?= redis://127.0.0.1:6379/0
GLOVE ?= $(firstword $(wildcard data/glove-6B-100d-full.txt.gz) ../shared/datasets/glove/glove-6B-100d-top50k.txt.gz)

.PHONY: test demo build services vet compose-check bench

build:
	$(GO) build -o bin/fusionrank ./cmd/fusionrank

services:
	@WITH_COMPOSE=1 scripts/services.sh

vet:
	$(GO) vet ./...

compose-check: services
	docker-compose -f docker-compose.yml config -q

# Every test, against the real Postgres and Redis on loopback.
# WITH_BROWSER=1 (passed on to services): the browser tests need headless Chromium.
test: export WITH_BROWSER := 1
test: services vet compose-check
	$(GO) test -count=1 -timeout 20m ./...

# The fast path of the scorer needs GOEXPERIMENT=simd.
bench:
	GOEXPERIMENT=simd $(GO) test -run '^$$' -bench . -benchtime 2000x ./ranking/

# The demo shop (scripts/demo.sh): imports ../shared/datasets/online-retail once (or DATA=…),
# creates the demo keys, serves on ADDR and prints the URLs. Reruns are up in seconds.
DATA ?= ../shared/datasets/online-retail/online_retail.tsv.gz
demo: services build
	DATA=$(DATA) FUSIONRANK_ADDR=$(ADDR) FUSIONRANK_TEXT_VECTORS=$${FUSIONRANK_TEXT_VECTORS:-$(GLOVE)} scripts/demo.sh
