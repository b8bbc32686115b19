# The mbed TLS evaluation (issue 7), included by the top-level Makefile:
#   make bench-mbedtls     every program and test suite, plain / nfa / dyck, in a guest;
#                          report in build/mbedtls/runs/full/report.md, summary line last
#   make test-mbedtls      the same, reduced (a handful of programs and suites), for make test
#   make mbedtls           only fetch and build (source, both builds, analysis, blobs)
#   make evaluation-doc    copy the last full report's table into docs/evaluation.md
#   make test-report       report.py's unit tests (synthetic run directories; part of test-mbedtls)
# Variables: SCRATCH (swift scratch path of the tools, default .build), SBX_BIN (prebuilt
# tools instead), MODES, SUITES, VM_CPUS, ... (see eval/mbedtls/bench.sh).
.PHONY: mbedtls bench-mbedtls test-mbedtls test-report evaluation-doc

mbedtls: build
	bash eval/mbedtls/fetch-build.sh

bench-mbedtls: build kmod
	bash eval/mbedtls/bench.sh full

test-mbedtls: build kmod test-report
	bash eval/mbedtls/bench.sh reduced

test-report:
	python3 -m unittest discover -s eval/mbedtls -p 'test_*.py'

evaluation-doc:
	bash eval/mbedtls/evaluation-doc.sh
