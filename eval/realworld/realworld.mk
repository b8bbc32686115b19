# The real-program corpus (issue 17), included by the top-level Makefile:
#   make bench-realworld   Lua 5.4 and the SQLite shell, full workload, plain / nfa / dyck
#                          in a guest; report in build/realworld/runs/full/report.md,
#                          summary line last
#   make test-realworld    the same, reduced (small scales), for make test
#   make realworld         only fetch and build (sources, both builds of each program)
#   make realworld-doc     copy the last full report into docs/evaluation.md
#   make test-realworld-report  report.py's unit tests (part of test-realworld)
# Variables: SCRATCH, SBX_BIN, MODES, VM_CPUS, ONLY, ... (see eval/realworld/bench.sh);
#   RW_BUFFER=1 adds a third build of each program (dyck-cc --dyck-buffer) and the
#   modes dyckbuf-nfa, dyckbuf-dyck (report in build/realworld/runs/LEVEL-buffered).
# The targets (eval/lib/harness.mk); report.py's unit tests use synthetic run
# directories, so each comparison can fail.
$(eval $(call sbx_eval_harness,realworld,eval/realworld))
