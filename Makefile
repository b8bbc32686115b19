# Top-level entry points. `make test` works on a fresh Debian 12 machine: it installs
# what it needs, builds, and runs every test.
SWIFT ?= swift
SWIFT_FLAGS ?=
BUILD_DIR := .build/debug

# The git commit that `sbx --version`, `dyck-gen --version` and `dyck-cc --dyck-version`
# report: Package.swift reads SBX_GIT_COMMIT from the environment of every swift
# command run here (exported, so that `swift build` and `swift test` see the same value
# and do not relink each other's products). 12 hex digits, "-dirty" when tracked files
# have uncommitted changes; "unknown" outside a git checkout (e.g. a release tarball:
# set SBX_GIT_COMMIT=... on the command line).
SBX_GIT_COMMIT ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
	{ git diff --quiet HEAD -- 2>/dev/null && echo $$c || echo $$c-dirty; } || echo unknown)
export SBX_GIT_COMMIT

.PHONY: all deps build lint format test test-unit test-integration test-guest test-targets-check test-core test-vm test-e2e test-attacks test-boot kmod fuzz demo bench bench-analysis bench-marker bench-vm bench-buffer clean \
	install install-tools install-systemd install-modules-load dkms-install test-install

all: build

deps:
	@bash .ci/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

test: build lint test-targets-check test-core
	$(SWIFT) test $(SWIFT_FLAGS)
	$(MAKE) test-vm
	$(MAKE) test-mbedtls
	$(MAKE) test-realworld
	$(MAKE) test-install

# Formatting: swift-format (.swift-format) for the Swift code, clang-format in kernel
# style (kmod/.clang-format) for kmod/. `make lint` checks, `make format` applies.
KMOD_C_FILES = $(shell git ls-files 'kmod/*.c' 'kmod/*.h' | grep -v '\.mod\.c$$')
lint: deps
	$(SWIFT) format lint --strict -r -p Sources Tests Package.swift
	clang-format-19 --dry-run -Werror --style=file:kmod/.clang-format $(KMOD_C_FILES)

format:
	$(SWIFT) format format -i -r -p Sources Tests Package.swift
	clang-format-19 -i --style=file:kmod/.clang-format $(KMOD_C_FILES)

# Swift tests in three tiers, by test target (Package.swift). Every test target is in
# exactly one list (test-targets-check says which is missing). `make test` runs all.
#   unit:        in-process (model, formats, checker, blob, reports, arguments, boot
#                consoles): no compiler, no ptrace, no built executable, no guest;
#   integration: clang, ptrace, make/CMake, this machine's libc, the built tools;
#   guest:       QEMU boots through `sbx vm`.
UNIT_TEST_TARGETS := SbxSystemTests DyckModelTests SbxBlobTests SbxRunTests SbxTraceTests \
	SbxVMTests DyckCCTests LibcSyscallsTests
INTEGRATION_TEST_TARGETS := DyckAnalysisTests DyckInstrumentTests CLITests \
	LibcSyscallsIntegrationTests SbxTraceIntegrationTests SbxRunIntegrationTests DyckCCIntegrationTests SbxSystemIntegrationTests
GUEST_TEST_TARGETS := SbxVMGuestTests
# --filter regex of whole test targets: ^(A|B)\.
empty :=
space := $(empty) $(empty)
targets_filter = ^($(subst $(space),|,$(strip $(1))))\.
# The slow tests of the unit targets: randomised differential tests of the Swift
# monitors against the kernel's C core and against a search, the blob's scale tests,
# and a timing test. They share their files and fixtures with fast unit tests (test
# targets cannot import one another), so the fast loop skips them by name; `make test`
# runs them.
SLOW_UNIT_TESTS := BufferedEventTests/testReplayAgreesWithReference|DifferentialTests/test(RandomPoliciesAgree|RealPolicies|NFABlobOfOneLargeComponentIsLinear|SharedFlatteningAgreesWithTheFlattenedModel)|MachineFiguresTests/testFiguresOfOneLargeComponentAreLinear|SharedFlatDifferentialTests/testCheckerAgreesWithTheFlattenedPolicy|InlineTests/testRandomPoliciesKeepTheirLibcLanguage|CheckerDifferentialTests|/testRandomRunsMatchSearchAndStayBelowNFA|/testLargeTraceParsesQuickly

test-targets-check:
	@declared=$$(sed -n 's/.*testTarget(name: "\([A-Za-z]*\)".*/\1/p; s/^ *name: "\([A-Za-z]*Tests\)",$$/\1/p' Package.swift | sort); \
	listed=$$(printf '%s\n' $(UNIT_TEST_TARGETS) $(INTEGRATION_TEST_TARGETS) $(GUEST_TEST_TARGETS) | sort); \
	[ "$$declared" = "$$listed" ] || { echo "test targets of Package.swift and the Makefile's lists differ:"; \
		echo "Package.swift: "$$declared; echo "Makefile:      "$$listed; exit 1; }

# The fast loop: the unit test targets, under a minute once built.
test-unit: test-targets-check
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS) --filter '$(call targets_filter,$(UNIT_TEST_TARGETS))' --skip '$(SLOW_UNIT_TESTS)'

test-integration: build test-targets-check
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS) --filter '$(call targets_filter,$(INTEGRATION_TEST_TARGETS))'

test-guest: build test-targets-check
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS) --filter '$(call targets_filter,$(GUEST_TEST_TARGETS))'

# The kernel module, against the Debian 6.1 headers the guest kernel matches.
kmod: deps
	$(MAKE) -C kmod

# The module in a real guest kernel (QEMU TCG via `sbx vm`): a KTAP suite, then a
# check that the kernel is not tainted with a warning or an oops.
test-vm: build kmod
	sh kmod/tests/vm-test.sh $(CURDIR)/.build/debug/sbx
	$(MAKE) test-e2e
	$(MAKE) test-attacks

# sbx run, sbx policy and sbx status in a guest, on real programs built with dyck-cc:
# sandboxed runs equal plain runs, a hijack and an impossible path killed, the
# registry, audit mode, every error status.
test-e2e: build kmod
	bash Tests/e2e/run.sh .build/debug

# The attack suite (issue 14) in a guest: memory-corruption attacks on victims built
# with dyck-cc (function pointer, ret2libc, ROP, forged markers, mprotect shellcode,
# raw clone/clone3/vfork, /proc/self/mem), each shown to work natively and expected
# to be killed under both modes; benign runs equal to native ones. Part of test-vm
# (so of `make test`). ATTACKS_NATIVE_ONLY=1: only the native half, on this machine.
# ATTACKS_INLINE=K: victims built with dyck-cc --dyck-inline=K (default: dyck-cc's).
test-attacks: build kmod
	bash Tests/attacks/run.sh .build/debug

# Boot stress test (issue 17; not part of `make test`: it keeps every host core busy
# for about 20 minutes): BOOTS (50) boots of `true` under `sbx vm` with the module,
# a busy loop on each host core; reports boots, retries, failures and the boot time
# (median, max); fails on any failure. BOOT_CPUS=2 boots two-CPU guests.
test-boot: build kmod
	BOOTS=$(or $(BOOTS),50) sh Tests/boot/boot-stress.sh $(CURDIR)/.build/debug/sbx

# The kernel's freestanding monitor core, in userspace: unit tests under ASan and
# UBSan, and a check that it compiles with no system header.
test-core: deps
	$(MAKE) -C kmod/core/tests run

# libFuzzer on blob validation and stepping; FUZZ_SECONDS bounds the run.
fuzz: deps
	$(MAKE) -C kmod/core/tests fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),600)

# The README's first command: policy, drawing, instrumented build, then a normal run
# and a killed hijack under sbx run in a guest kernel.
demo: build kmod
	@bash examples/demo/demo.sh

bench: bench-analysis bench-marker bench-vm

# dyck-gen on 50k..200k lines of IR: lines/s, peak memory, linearity.
bench-analysis: build
	@bash eval/bench/analysis-bench.sh

# Cost of a marker with no monitor loaded, relative to a bare getppid() syscall.
bench-marker: build
	@bash eval/bench/marker-bench.sh

# Marker and system-call cost in a guest, in instructions (sbx vm --icount):
# an unrelated process's getppid with the module not loaded, loaded, a policy
# installed, another process enforced (issue 19: target +0);
# module not loaded, loaded but not enforcing, enforced; the binding of system
# calls and pinned markers, beside the module from before them in the same boot;
# the libc-heavy programs of eval/bench/libc plain, under a seccomp-bpf allowlist,
# instrumented, nfa and dyck (docs/benchmarks.md).
bench-vm: build kmod
	$(MAKE) -C kmod tests
	bash eval/bench/binding-bench.sh $(CURDIR)/.build/debug/sbx

# Buffered events against markers, in guest instructions (sbx vm --icount): a
# getppid with an empty buffer, 32 markers or 32 buffered events and the getppid
# that drains them (kmod/tests/guest-bench-buffer.sh; specs/kernel-abi.md, "Buffered
# events"). The libc programs' buffered builds are part of bench-vm (buf, bufnfa).
bench-buffer: build kmod
	$(MAKE) -C kmod tests
	$(CURDIR)/.build/debug/sbx vm --icount --boot-timeout 240 --module kmod/sbx_dyck.ko -- \
		kmod/tests/guest-bench-buffer.sh

# Installing on a host (README, "Install on a host"). The tools are built in release mode
# with the Swift runtime linked in (--static-swift-stdlib), so they run without the Swift
# toolchain; their man pages (swift-argument-parser's generate-manual tool; dyck-cc's from
# its --dyck-help) and shell completions are generated here, never committed. PREFIX and DESTDIR as with autotools.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_SCRATCH ?= .build/install
TOOLS := dyck-gen dyck-cc sbx
BINDIR := $(DESTDIR)$(PREFIX)/bin
MAN1DIR := $(DESTDIR)$(PREFIX)/share/man/man1

# systemd reads units from $(PREFIX)/lib/systemd/system for PREFIX /usr and /usr/local,
# and modules-load.d files from $(PREFIX)/lib/modules-load.d likewise.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MODULESLOADDIR ?= $(PREFIX)/lib/modules-load.d

install: install-tools install-systemd

# sbx-policies.service: `sbx policy load-all` at boot (README, "Policies that survive a
# reboot"); its ExecStart names the installed sbx. Not enabled here: systemctl enable.
install-systemd:
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|@BINDIR@|$(PREFIX)/bin|g' dist/systemd/sbx-policies.service.in >$(DESTDIR)$(SYSTEMDUNITDIR)/sbx-policies.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/sbx-policies.service

# modules-load.d/sbx_dyck.conf: systemd-modules-load loads the module at boot. With the
# module (dkms-install), not with the tools: without the module it would fail every boot.
install-modules-load:
	install -d $(DESTDIR)$(MODULESLOADDIR)
	install -m 644 dist/modules-load.d/sbx_dyck.conf $(DESTDIR)$(MODULESLOADDIR)/sbx_dyck.conf

install-tools: deps
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(INSTALL_SCRATCH) $(SWIFT_FLAGS)
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(INSTALL_SCRATCH) --product generate-manual
	rm -rf $(INSTALL_SCRATCH)/man1 && mkdir -p $(INSTALL_SCRATCH)/man1
	for t in dyck-gen sbx; do \
		$(INSTALL_SCRATCH)/release/generate-manual $(INSTALL_SCRATCH)/release/$$t --multi-page \
			--output-directory $(INSTALL_SCRATCH)/man1 || exit 1; done
	bash Tests/install/dyck-cc-man.sh $(INSTALL_SCRATCH)/release/dyck-cc >$(INSTALL_SCRATCH)/man1/dyck-cc.1
	install -d $(BINDIR) $(MAN1DIR) \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	for t in $(TOOLS); do install -m 755 $(INSTALL_SCRATCH)/release/$$t $(BINDIR)/$$t || exit 1; done
	# dyck-cc takes clang's options: it has no completion script of its own.
	for t in dyck-gen sbx; do \
		$(INSTALL_SCRATCH)/release/$$t --generate-completion-script bash \
			>$(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t || exit 1; \
		$(INSTALL_SCRATCH)/release/$$t --generate-completion-script zsh \
			>$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t || exit 1; \
		$(INSTALL_SCRATCH)/release/$$t --generate-completion-script fish \
			>$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish || exit 1; \
	done
	install -m 644 $(INSTALL_SCRATCH)/man1/*.1 $(MAN1DIR)/

# The kernel module through DKMS: its source to /usr/src/sbx-dyck-<version>, then dkms
# add, build and install for the running kernel; DKMS rebuilds it for every kernel the
# host installs later. Needs root and the dkms package.
dkms-install: deps install-modules-load
	$(MAKE) -C kmod dkms-source DESTDIR=$(DESTDIR)
	dkms add -m $$($(MAKE) -s --no-print-directory -C kmod dkms-name) -v $$($(MAKE) -s --no-print-directory -C kmod dkms-version) 2>&1 | grep -v 'already added' || true
	dkms install -m $$($(MAKE) -s --no-print-directory -C kmod dkms-name) -v $$($(MAKE) -s --no-print-directory -C kmod dkms-version)

# make install into a temporary DESTDIR, then the installed tools run with the Swift
# toolchain hidden; DKMS builds the module against Debian's 6.1 headers in a private
# tree, and a guest loads the module DKMS built.
test-install: build
	bash Tests/install/install-test.sh

# mbed TLS (issue 7): bench-mbedtls, test-mbedtls (reduced, part of make test),
# mbedtls (fetch and build only), evaluation-doc.
include eval/mbedtls/mbedtls.mk

# The targets every guest benchmark harness has (used by realworld.mk and nginx.mk).
include eval/lib/harness.mk

# Real programs (issue 17): Lua 5.4 and SQLite 3 from Debian's sources; bench-realworld,
# test-realworld (reduced, part of make test), realworld (fetch and build only), realworld-doc.
include eval/realworld/realworld.mk

# nginx 1.22 (issue 19): a static-file server under ab in the guest; bench-nginx,
# test-nginx (reduced, part of nothing yet), nginx (fetch and build only), nginx-doc.
include eval/nginx/nginx.mk

clean:
	rm -rf .build build
