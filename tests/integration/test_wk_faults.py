"""Issue 4, faults: PostgreSQL stopped for 30 s under load (nothing lost, nothing
dead-lettered, processing resumes by itself, a worker started during the outage waits for the
database), and a worker killed with SIGKILL in the middle of its batches while another one
runs (nothing lost, nothing stored twice).

Stops and starts the stack's own PostgreSQL cluster (deploy/local/lib/postgres.sh): run it only
against the local stack.
"""

import concurrent.futures
import hashlib
import http.client
import os
import signal
import subprocess
import time
import uuid

import harness
from harness import check, psql, wait_until
from test_end_to_end import assert_exactly_once, small_docs, submit_all
from test_wk_statuses import dlq_lines

PG_BIN = "/usr/lib/postgresql/15/bin"


def pg_paths():
    """(PGDATA, log) as deploy/local/lib/postgres.sh decides them."""
    state = os.path.join(harness.ROOT, ".local", "state")
    where = "local"
    try:
        with open(os.path.join(state, "pg.location")) as f:
            where = f.read().strip()
    except OSError:
        pass
    if where == "fallback":
        base = "/var/tmp/ingest-stack-" + hashlib.sha256(harness.ROOT.encode()).hexdigest()[:12]
        return os.path.join(base, "pg"), os.path.join(base, "postgres.log")
    return os.path.join(state, "pg"), os.path.join(state, "log", "postgres.log")


def pg_ctl(*args):
    pgdata, log = pg_paths()
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D",
                    pgdata, "-l", log, "-w", "-t", "60"] + list(args),
                   check=True, capture_output=True, cwd="/", timeout=90)


def pg_up():
    try:
        psql("SELECT 1")
        return True
    except subprocess.CalledProcessError:
        return False


def paced_submit(stack, envs, per_second, threads=4):
    """Submits at about per_second documents a second (the gateway needs no database)."""
    chunks = [envs[i::threads] for i in range(threads)]
    interval = threads / per_second

    def run(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
        codes = []
        next_at = time.monotonic()
        for env in chunk:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            code, _, body = stack.submit(env, conn=conn)
            codes.append((env["document_id"], code, body))
        conn.close()
        return codes
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return [c for part in pool.map(run, chunks) for c in part]


def test_postgres_down_30s_under_load():
    check(pg_up(), "PostgreSQL is not running before the test")
    with harness.Stack("pgdown") as stack:
        stack.env["ING_WORKER_BATCH_MAX"] = "100"
        stack.start_gateway()
        w1 = stack.start_worker(1)
        w2 = stack.start_worker(2)
        prefix = "WK-PG-" + uuid.uuid4().hex[:8]
        envs = small_docs(prefix, 1500, seed=4000)
        late = None
        stopped_at = None
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(paced_submit, stack, envs, 35)
            try:
                wait_until("some stored", lambda: harness.stored_count(prefix) >= 100, 60, 0.1)
                pg_ctl("stop", "-m", "fast")
                stopped_at = time.monotonic()
                # A worker started during the outage waits for the database.
                late = stack.start_worker(3)
                time.sleep(30)
            finally:
                if not pg_up():
                    pg_ctl("start")
            outage = time.monotonic() - stopped_at
            results = pending.result()
        refused = [r for r in results if r[1] != 202]
        check(not refused, "%d not accepted, e.g. %s" % (len(refused), refused[:2]))
        wait_until("1500 stored", lambda: harness.stored_count(prefix) >= 1500, 120)
        time.sleep(2)
        assert_exactly_once(prefix, envs)
        check(dlq_lines(stack) == [], "dead letters after the outage")
        for w in (w1, w2, late):
            check(w.proc.poll() is None, "%s exited %s during the outage" %
                  (w.name, w.proc.returncode))
        logs = w1.log_text() + w2.log_text()
        check("batch rolled back" in logs and "reconnected to PostgreSQL" in logs,
              "no rollback/reconnect logged by the running workers")
        late_log = late.log_text()
        check("PostgreSQL unreachable (attempt 1)" in late_log and
              "PostgreSQL reachable after" in late_log,
              "the late worker did not wait for the database:\n%s" % late_log[-2000:])
        print("  outage %.1f s" % outage)


def test_sigkill_mid_batch_two_workers():
    with harness.Stack("kill") as stack:
        # Big, slow-closing batches: the kill lands in the middle of one.
        stack.env.update({"ING_WORKER_BATCH_MAX": "300", "ING_WORKER_BATCH_MS": "500"})
        stack.start_gateway()
        victim = stack.start_worker(1)
        survivor = stack.start_worker(2)
        prefix = "WK-KILL-" + uuid.uuid4().hex[:8]
        envs = small_docs(prefix, 2000, seed=5000)
        # The first half streams in while both workers run and the victim is killed
        # mid-stream; the second half arrives after the kill, so however fast the workers
        # are, the kill lands before the end and the survivor has work left.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(submit_all, stack, envs[:1000], 4)
            wait_until("some stored", lambda: harness.stored_count(prefix) >= 200, 120, 0.02)
            victim.stop(signal.SIGKILL)
            killed_at = harness.stored_count(prefix)
            results = pending.result()
        results.update(submit_all(stack, envs[1000:], 4))
        check(all(r[0] == 202 for r in results.values()), "a submission was not accepted")
        check(killed_at < 2000, "everything was stored before the kill (%d)" % killed_at)
        wait_until("2000 stored", lambda: harness.stored_count(prefix) >= 2000, 120)
        time.sleep(2)
        assert_exactly_once(prefix, envs)
        check(survivor.proc.poll() is None, "the surviving worker exited")
        check(dlq_lines(stack) == [], "dead letters after the kill")


def test_sigterm_while_joining():
    """SIGTERM while a consumer thread is still joining its group (the second thread waits for
    the first to give up half of the partitions): every thread closes cleanly and the worker
    exits 0. librdkafka 2.0.2 aborted here (upstream issue 4312); the worker now lets a
    consumer join before closing it."""
    with harness.Stack("joining") as stack:
        caught = 0
        for attempt in range(1, 6):
            worker = stack.start_worker(attempt)
            wait_until("both consumers subscribed",
                       lambda: worker.log_text().count("consuming ") >= 2, 30, 0.02)
            joining = worker.log_text().count("assigned ") < 2
            rc = worker.stop(signal.SIGTERM)
            with open(worker.log_path, errors="replace") as f:
                check(rc == 0, "exit %s:\n%s" % (rc, f.read()[-2000:]))
            caught += joining
        check(caught >= 1, "no SIGTERM reached a thread still joining in 5 attempts")


if __name__ == "__main__":
    harness.run([test_sigkill_mid_batch_two_workers, test_postgres_down_30s_under_load,
                 test_sigterm_while_joining])
