# nginx 1.22 as a real server under the sandbox (issue 19), included by the
# top-level Makefile:
#   make bench-nginx   full load (250 requests per ab run), plain / nfa / dyck, a
#                      single-process and a master+worker server, in one guest;
#                      report in ~/.cache/sbx-nginx/runs/full/report.md, summary last
#   make test-nginx    the same, reduced (20 requests per ab run); part of nothing yet
#   make nginx         only fetch and build (both builds, cached in ~/.cache/sbx-nginx)
#   make nginx-doc     copy the last full report into docs/evaluation.md
#   make test-nginx-report  report.py's unit tests (part of test-nginx)
# Variables: NGINX_DIR, SBX_BIN, MODES, CONFS, REQUESTS, ... (see eval/nginx/bench.sh).
# The targets (eval/lib/harness.mk); report.py's unit tests use synthetic run
# directories, so each comparison can fail.
$(eval $(call sbx_eval_harness,nginx,eval/nginx))
