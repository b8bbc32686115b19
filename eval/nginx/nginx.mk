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
.PHONY: nginx bench-nginx test-nginx test-nginx-report nginx-doc

nginx: build
	bash eval/nginx/fetch-build.sh

bench-nginx: build kmod
	bash eval/nginx/bench.sh full

test-nginx: build kmod test-nginx-report
	bash eval/nginx/bench.sh reduced

# report.py's unit tests (synthetic run directories: each check can fail).
test-nginx-report:
	python3 -m unittest discover -s eval/nginx -p 'test_*.py'

nginx-doc:
	bash eval/nginx/evaluation-doc.sh
