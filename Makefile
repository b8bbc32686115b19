# Top-level entry points. `make test` works on a fresh Debian 12 machine: it installs
# what it needs, builds, and runs every test.
SWIFT ?= swift
SWIFT_FLAGS ?=
BUILD_DIR := .build/debug

.PHONY: all deps build test test-swift demo bench clean

all: build

deps:
	@bash .ci/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

test: build
	$(SWIFT) test $(SWIFT_FLAGS)

demo: build
	@bash Tests/demo/demo.sh

bench: build
	@bash Tests/bench/analysis-bench.sh

clean:
	rm -rf .build build
