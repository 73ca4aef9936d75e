"""The benchmark harness keeps working: a 10-second smoke run of ingest-loadgen against a real
gateway and worker, whose sampled submissions must then be stored (bench/e2e.py)."""

import os
import subprocess
import tempfile

import harness
from harness import check


def test_loadgen_smoke():
    with harness.Stack("bench") as stack:
        stack.start_gateway()
        stack.start_worker()
        out = tempfile.mkdtemp(prefix="ing-bench-smoke-")
        loadgen = os.path.join(harness.BUILD, "bench", "ingest-loadgen")
        run = subprocess.run([loadgen, "--smoke", "--url", "http://127.0.0.1:%d" % stack.port,
                              "--out", out], capture_output=True, text=True,
                             env={k: v for k, v in stack.env.items() if not k.startswith("ING_")},
                             timeout=120)
        check(run.returncode == 0, "loadgen exited %d:\n%s%s" % (run.returncode, run.stdout,
                                                                run.stderr))
        with open(os.path.join(out, "summary.txt")) as f:
            summary = f.read()
        check("errors=0 " in summary and "sent=0 " not in summary, "summary: %s" % summary)
        for name in ("result.json", "percentiles.txt", "report.html"):
            check(os.path.getsize(os.path.join(out, name)) > 0, "%s missing or empty" % name)
        e2e = subprocess.run(["python3", os.path.join(harness.ROOT, "bench", "e2e.py"), out,
                              "--pg-url", harness.PG_URL, "--timeout", "60"],
                             capture_output=True, text=True, timeout=120)
        check(e2e.returncode == 0, "e2e.py exited %d:\n%s%s" % (e2e.returncode, e2e.stdout,
                                                               e2e.stderr))


if __name__ == "__main__":
    harness.run([test_loadgen_smoke])
