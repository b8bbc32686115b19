"""Unit tests of report.py on synthetic run directories: the comparison must be
able to fail (a differing output, status or report is a false positive, a plain
run without its markers is not meaningful, a mode that did not run is counted),
and equal runs must pass. Run by `make test-realworld` before the guest."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class ReportTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.run_dir = self.tmp.name
        self.plain = "/builds/plain"
        self.dyck = "/builds/dyck"
        with open(os.path.join(self.run_dir, "bench.env"), "w") as f:
            f.write("modes=plain nfa dyck\nicount=1\n")

    def tearDown(self):
        self.tmp.cleanup()

    def put(self, mode, name, status=0, out="OK x\n", err="", report=None, cpu_us=1000):
        d = os.path.join(self.run_dir, mode)
        os.makedirs(d, exist_ok=True)
        for ext, text in ((".out", out), (".err", err), (".status", f"{status}\n"),
                          (".time", f"0.1 {cpu_us / 1e6:.6f} 0.000000 {status}\n")):
            with open(os.path.join(d, name + ext), "w") as f:
                f.write(text)
        if mode != "plain":
            r = {"killed_by_monitor": False, "killed_descendants": [], "lost_threads": [],
                 "records_dropped": 0, "violations": [], "markers": 5, "utime_us": cpu_us, "stime_us": 0}
            r.update(report or {})
            with open(os.path.join(d, name + ".json"), "w") as f:
                json.dump(r, f)

    def expect(self, name, status=0, markers=("^OK x$",)):
        d = os.path.join(self.run_dir, "expect")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "w") as f:
            f.write(f"status {status}\n" + "".join(f"marker {m}\n" for m in markers))

    def report(self, *extra):
        p = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), self.run_dir, self.plain, self.dyck,
                            *extra], capture_output=True, text=True, check=True)
        return p.stdout.strip().splitlines()[-1]

    def buffered(self):
        with open(os.path.join(self.run_dir, "bench.env"), "w") as f:
            f.write("modes=plain nfa dyck dyckbuf-nfa dyckbuf-dyck\nicount=1\n")

    def test_equal_runs_pass_with_ratios(self):
        self.expect("lua-a")
        self.put("plain", "lua-a", cpu_us=1000)
        self.put("nfa", "lua-a", cpu_us=1100)
        self.put("dyck", "lua-a", cpu_us=2000)
        line = self.report()
        self.assertIn("runs=3 false_positives=0 not_meaningful=0", line)
        self.assertIn("instr_nfa_lua=1.10x", line)
        self.assertIn("instr_dyck_lua=2.00x", line)

    def test_argv0_of_the_builds_is_not_a_difference(self):
        self.expect("lua-e", status=1, markers=("boom",))
        self.put("plain", "lua-e", status=1, out="", err="/builds/plain/lua: boom\n")
        self.put("nfa", "lua-e", status=1, out="", err="/builds/dyck/lua: boom\n")
        self.put("dyck", "lua-e", status=1, out="", err="/builds/dyck/lua: boom\n")
        self.assertIn("false_positives=0 not_meaningful=0", self.report())

    def test_each_difference_is_a_false_positive(self):
        cases = {"out": {"out": "OK y\n"}, "err": {"err": "warning\n"}, "status": {"status": 1},
                 "kill": {"report": {"killed_by_monitor": True}},
                 "violation": {"report": {"violations": [{"reason": 1}]}},
                 "lost": {"report": {"lost_threads": [1]}}}
        for i, (what, change) in enumerate(cases.items()):
            name = f"sqlite-{i}"
            self.expect(name)
            self.put("plain", name)
            self.put("nfa", name)
            self.put("dyck", name, **change)
        line = self.report()
        self.assertIn(f"false_positives={len(cases)}", line, line)

    def test_records_left_in_the_module_are_a_false_positive(self):
        self.expect("lua-r")
        for m in ("plain", "nfa", "dyck"):
            self.put(m, "lua-r")
        with open(os.path.join(self.run_dir, "nfa", "lua-r.records"), "w") as f:
            f.write("record 1\n")
        self.assertIn("false_positives=1", self.report())

    def test_a_mode_that_did_not_run_is_counted(self):
        self.expect("lua-m")
        self.put("plain", "lua-m")
        self.put("nfa", "lua-m")
        self.assertIn("false_positives=1", self.report())

    def test_plain_without_its_marker_is_not_meaningful(self):
        self.expect("lua-v", markers=("^OK x$", "^never printed$"))
        for m in ("plain", "nfa", "dyck"):
            self.put(m, "lua-v")
        self.assertIn("false_positives=0 not_meaningful=1", self.report())

    def test_plain_with_the_wrong_status_or_no_output_is_not_meaningful(self):
        self.expect("lua-s", markers=())
        self.expect("lua-empty", markers=())
        for m in ("plain", "nfa", "dyck"):
            self.put(m, "lua-s", status=3)
            self.put(m, "lua-empty", out="")
        self.assertIn("not_meaningful=2", self.report())

    def test_buffered_modes_are_compared_and_can_fail(self):
        # RW_BUFFER=1: the dyckbuf build's argv[0] is no difference; its own
        # differences and a buffered mode that did not run are false positives.
        self.buffered()
        self.expect("lua-b", status=1, markers=("boom",))
        self.put("plain", "lua-b", status=1, out="", err="/builds/plain/lua: boom\n", cpu_us=1000)
        for m in ("nfa", "dyck"):
            self.put(m, "lua-b", status=1, out="", err="/builds/dyck/lua: boom\n", cpu_us=3000)
        for m, cpu in (("dyckbuf-nfa", 1500), ("dyckbuf-dyck", 2500)):
            self.put(m, "lua-b", status=1, out="", err="/builds/dyckbuf/lua: boom\n", cpu_us=cpu)
        line = self.report("/builds/dyckbuf")
        self.assertIn("runs=5 false_positives=0 not_meaningful=0", line)
        self.assertIn("instr_dyckbuf_nfa_lua=1.50x", line)
        self.assertIn("instr_dyckbuf_dyck_lua=2.50x", line)
        self.expect("lua-c")
        for m in ("plain", "nfa", "dyck", "dyckbuf-nfa"):
            self.put(m, "lua-c")
        self.put("dyckbuf-nfa", "lua-c", report={"violations": [{"reason": 29}]})
        self.assertIn("false_positives=2", self.report("/builds/dyckbuf"))

    def test_without_the_buffered_modes_the_output_is_unchanged(self):
        self.expect("lua-a")
        self.put("plain", "lua-a")
        self.put("dyck", "lua-a")
        self.put("nfa", "lua-a")
        self.put("dyckbuf-dyck", "lua-a")  # not in bench.env's modes: ignored
        self.assertEqual(self.report(), "realworld: programs=1 runs=3 false_positives=0 not_meaningful=0 "
                         "instr_nfa_lua=1.00x instr_dyck_lua=1.00x")


if __name__ == "__main__":
    unittest.main()
