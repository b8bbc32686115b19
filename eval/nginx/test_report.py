"""report.py's unit tests on synthetic run directories (make test-nginx-report):
a clean run passes with the ratios computed from the schedstat deltas, and each
kind of fault (a kill, a violation record, a different status, a wrong body, a
non-2xx or short ab run, a request the server did not log, a run that did not
happen) is caught."""
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

N = 3
SIZES = {"index.html": 1024, "style.css": 4096, "page.html": 16384, "data.bin": 65536}
AB = """Server Software:        nginx/1.22.1
Document Path:          /{f}
Document Length:        {size} bytes

Concurrency Level:      1
Time taken for tests:   0.500 seconds
Complete requests:      {n}
Failed requests:        0
{ka}Total transferred:      {total} bytes
HTML transferred:       {html} bytes
Requests per second:    6.00 [#/sec] (mean)
"""


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def make_run(root, cost={"plain": 100_000, "nfa": 150_000, "dyck": 180_000}):
    write(os.path.join(root, "bench.env"),
          f"level=reduced\nicount=1\nrequests_per_ab={N}\nconfs=single\nmodes=plain nfa dyck\n")
    for f, size in SIZES.items():
        write(os.path.join(root, "site", f), bytes((i * 7 + size) % 251 for i in range(size)))
    for mode in ("plain", "nfa", "dyck"):
        d = os.path.join(root, f"single-{mode}")
        write(os.path.join(d, "server.status"), "0\n")
        for f, size in SIZES.items():
            write(os.path.join(d, f"get-{f}.head"), f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n")
            with open(os.path.join(root, "site", f), "rb") as src:
                write(os.path.join(d, f"get-{f}.body"), src.read())
            for kind in ("ka", "close"):
                ka = f"Keep-Alive requests:    {N}\n" if kind == "ka" else ""
                write(os.path.join(d, f"ab-{f}-{kind}.txt"),
                      AB.format(f=f, size=size, n=N, ka=ka, total=N * (size + 200), html=N * size))
        write(os.path.join(d, "get-missing.head"), "HTTP/1.1 404 Not Found\r\n\r\n")
        write(os.path.join(d, "get-head.head"), "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n")
        requests = N * 8
        lines = ['127.0.0.1 - - [x] "GET /f HTTP/1.0" 200 1 "-" "ab"'] * (requests + 5)
        lines.append('127.0.0.1 - - [x] "GET /no-such-file HTTP/1.1" 404 1 "-" "curl"')
        write(os.path.join(d, "access.log"), "\n".join(lines) + "\n")
        write(os.path.join(d, "sched.before"), "1000 5 5\n")
        write(os.path.join(d, "sched.after"), f"{1000 + cost[mode] * requests} 5 5\n")
        if mode != "plain":
            write(os.path.join(d, "markers.before"), "10\n")
            write(os.path.join(d, "markers.after"), f"{10 + 300 * requests}\n")
            write(os.path.join(d, "server.json"),
                  json.dumps({"status": 0, "killed_by_monitor": False, "violations": [],
                              "utime_us": 1, "stime_us": 1}))


def run_report(root):
    buf = io.StringIO()
    with redirect_stdout(buf):
        status = report.main(["report.py", root])
    out = buf.getvalue().strip().splitlines()
    return status, out, dict(w.split("=", 1) for w in out[-1].split()[1:])


class ReportTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        make_run(self.root)

    def tearDown(self):
        self.tmp.cleanup()

    def test_clean_run(self):
        status, out, s = run_report(self.root)
        self.assertEqual(status, 0)
        self.assertEqual(s["requests"], str(3 * N * 8))
        self.assertEqual(s["false_positives"], "0")
        self.assertEqual(s["bad_responses"], "0")
        self.assertEqual(s["dyck_vs_plain"], "1.80x")
        self.assertEqual(s["nfa_vs_plain"], "1.50x")
        self.assertEqual(s["instr_per_request_plain"], "100000")
        self.assertEqual(s["markers_per_request_dyck"], "300.0")
        self.assertTrue(os.path.isfile(os.path.join(self.root, "report.md")))

    def test_kill_is_false_positive(self):
        write(os.path.join(self.root, "single-dyck", "server.json"),
              json.dumps({"killed_by_monitor": True, "violations": []}))
        _, out, s = run_report(self.root)
        self.assertEqual(s["false_positives"], "1")
        self.assertTrue(any(line.startswith("FALSE POSITIVE single-dyck") for line in out))

    def test_violation_record_is_false_positive(self):
        write(os.path.join(self.root, "single-nfa", "server.records"), "pid 5 reason 3\n")
        _, _, s = run_report(self.root)
        self.assertEqual(s["false_positives"], "1")

    def test_status_differs_is_false_positive(self):
        write(os.path.join(self.root, "single-dyck", "server.status"), "100\n")
        _, _, s = run_report(self.root)
        self.assertEqual(s["false_positives"], "1")

    def test_wrong_body(self):
        write(os.path.join(self.root, "single-dyck", "get-page.html.body"), b"not the page")
        _, out, s = run_report(self.root)
        self.assertEqual(s["bad_responses"], "1")
        self.assertTrue(any("body differs" in line for line in out))

    def test_missing_is_not_404(self):
        write(os.path.join(self.root, "single-plain", "get-missing.head"), "HTTP/1.1 200 OK\r\n\r\n")
        _, _, s = run_report(self.root)
        self.assertEqual(s["bad_responses"], "1")

    def test_ab_non2xx_and_short(self):
        path = os.path.join(self.root, "single-nfa", "ab-data.bin-close.txt")
        with open(path) as f:
            t = f.read()
        write(path, t.replace("Failed requests:        0\n",
                              "Failed requests:        0\nNon-2xx responses:      2\n"))
        _, out, s = run_report(self.root)
        self.assertEqual(s["bad_responses"], "1")
        self.assertTrue(any("non-2xx" in line for line in out))
        write(path, t.replace(f"Complete requests:      {N}", f"Complete requests:      {N - 1}"))
        _, out, s = run_report(self.root)
        self.assertEqual(s["bad_responses"], "1")

    def test_unlogged_request(self):
        path = os.path.join(self.root, "single-dyck", "access.log")
        with open(path) as f:
            lines = f.read().splitlines()
        write(path, "\n".join(lines[1:]) + "\n")
        _, out, s = run_report(self.root)
        self.assertEqual(s["bad_responses"], "1")
        self.assertTrue(any("access log" in line for line in out))

    def test_mode_not_run(self):
        import shutil
        shutil.rmtree(os.path.join(self.root, "single-nfa"))
        _, out, s = run_report(self.root)
        self.assertEqual(s["bad_responses"], "1")
        self.assertEqual(s["nfa_vs_plain"], "NA")
        self.assertTrue(any(line.startswith("NOT RUN single-nfa") for line in out))

    def test_native_mode(self):
        # The dyck-cc build without a runner: measured and checked as plain is, no
        # runner report needed; a bad status there is a bad run, not a false positive.
        import shutil
        shutil.copytree(os.path.join(self.root, "single-plain"), os.path.join(self.root, "single-native"))
        write(os.path.join(self.root, "single-native", "sched.after"), f"{1000 + 120_000 * N * 8} 5 5\n")
        with open(os.path.join(self.root, "bench.env"), "a") as f:
            f.write("modes=plain native nfa dyck\n")
        _, _, s = run_report(self.root)
        self.assertEqual(s["native_vs_plain"], "1.20x")
        self.assertEqual(s["false_positives"], "0")
        self.assertEqual(s["bad_responses"], "0")
        write(os.path.join(self.root, "single-native", "server.status"), "1\n")
        _, _, s = run_report(self.root)
        self.assertEqual(s["false_positives"], "0")
        self.assertEqual(s["bad_responses"], "1")

    def test_code_size_of_an_executable(self):
        # size -A of a real ELF file: the .text row is found and parsed.
        exe = os.path.realpath(sys.executable)
        self.assertGreater(report.text_size(exe) or 0, 0)
        buf = io.StringIO()
        with redirect_stdout(buf):
            report.main(["report.py", self.root, "--builds", f"py={exe}:{exe}"])
        self.assertRegex(buf.getvalue(), r"code-size: py=\d+->\d+\(1\.00x\)")

    def test_code_size_of_missing_build(self):
        buf = io.StringIO()
        with redirect_stdout(buf):
            report.main(["report.py", self.root, "--builds", "lua=/nonexistent/a:/nonexistent/b"])
        self.assertIn("code-size: none built", buf.getvalue())


if __name__ == "__main__":
    unittest.main()
