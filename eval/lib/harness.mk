# The make targets of a guest benchmark harness, included by the top-level Makefile
# before the harnesses' .mk files. eval/realworld and eval/nginx use it (eval/mbedtls
# has the same targets written out and could adopt it). A harness in DIR with
# fetch-build.sh, bench.sh full|reduced, report.py's test_*.py and evaluation-doc.sh:
#
#   $(eval $(call sbx_eval_harness,NAME,DIR))
#
# defines NAME (fetch and build only), bench-NAME (full), test-NAME (reduced, after
# the report's unit tests), test-NAME-report (report.py's unit tests) and NAME-doc.
define sbx_eval_harness
.PHONY: $(1) bench-$(1) test-$(1) test-$(1)-report $(1)-doc

$(1): build
	bash $(2)/fetch-build.sh

bench-$(1): build kmod
	bash $(2)/bench.sh full

test-$(1): build kmod test-$(1)-report
	bash $(2)/bench.sh reduced

test-$(1)-report:
	python3 -m unittest discover -s $(2) -p 'test_*.py'

$(1)-doc:
	bash $(2)/evaluation-doc.sh
endef
