# Top-level entry points. `make test` works on a fresh Debian 12 machine: it installs
# what it needs, builds, and runs every test.
SWIFT ?= swift
SWIFT_FLAGS ?=
BUILD_DIR := .build/debug

.PHONY: all deps build test test-core fuzz demo bench bench-analysis bench-marker clean

all: build

deps:
	@bash .ci/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

test: build test-core
	$(SWIFT) test $(SWIFT_FLAGS)

# The kernel's freestanding monitor core, in userspace: unit tests under ASan and
# UBSan, and a check that it compiles with no system header.
test-core: deps
	$(MAKE) -C kmod/core/tests run

# libFuzzer on blob validation and stepping; FUZZ_SECONDS bounds the run.
fuzz: deps
	$(MAKE) -C kmod/core/tests fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),600)

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
