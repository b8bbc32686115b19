# Top-level entry points. `make test` works on a fresh Debian 12 machine: it installs
# what it needs, builds, and runs every test.
SWIFT ?= swift
SWIFT_FLAGS ?=
BUILD_DIR := .build/debug

.PHONY: all deps build test demo bench bench-analysis bench-marker clean

all: build

deps:
	@bash .ci/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

test: build
	$(SWIFT) test $(SWIFT_FLAGS)

demo: build
	@bash Tests/demo/demo.sh

bench: bench-analysis bench-marker

# dyck-gen on 50k..200k lines of IR: lines/s, peak memory, linearity.
bench-analysis: build
	@bash Tests/bench/analysis-bench.sh

# Cost of a marker with no monitor loaded, relative to a bare getppid() syscall.
bench-marker: build
	@bash Tests/bench/marker-bench.sh

clean:
	rm -rf .build build
