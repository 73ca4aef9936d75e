"""Walking skeleton, end to end on the real broker and database: one document, a thousand
documents each stored exactly once, and a worker restarted in the middle of a stream."""

import concurrent.futures
import http.client
import os
import signal
import socket
import subprocess
import time
import uuid

import harness
from harness import check, ingsamples, psql, wait_until


def status_of(stack, sid):
    code, _, body = stack.request("GET", "/v1/submissions/" + sid)
    return body.get("status") if code == 200 else code


def test_one_document():
    with harness.Stack("one") as stack:
        stack.start_gateway()
        # config/local/gateway.conf leaves gateway.threads at its default: one per core
        threads = harness.metric(stack, "ing_gateway_threads")
        check(threads == min(os.cpu_count(), 64),
              "gateway threads %s, cores %s" % (threads, os.cpu_count()))
        stack.start_worker()
        doc_id = "E2E-ONE-" + uuid.uuid4().hex[:10]
        content = b"Glycemie a jeun: 5.1 mmol/L\nRef: " + doc_id.encode() + b"\n"
        env = ingsamples.envelope(doc_id, content, kind="lab")
        code, headers, body = stack.submit(env)
        check(code == 202, "POST answered %s %s" % (code, body))
        want_id = ingsamples.submission_id(env["source"]["finess"], doc_id, 1, content)
        check(body["submission_id"] == want_id and body["status"] == "accepted",
              "202 body %s, want id %s" % (body, want_id))
        check(headers.get("location") == "/v1/submissions/" + want_id, "Location %s" % headers)
        # The 'accepted' row is written after the 202, asynchronously (the 202 never waits
        # for the database); a GET on another gateway thread may miss it for a moment.
        first = wait_until("a status", lambda: status_of(stack, want_id) != 404 and
                           status_of(stack, want_id), 5, 0.05)
        check(first in ("accepted", "stored"), "first status %s" % first)
        wait_until("stored", lambda: status_of(stack, want_id) == "stored", 60)
        rows = psql("SELECT ins, source_finess, version, type_code, media_type, size_bytes, "
                    "encode(sha256, 'hex'), compression, length(content) > 0, "
                    "position('Glycemie'::bytea in content) FROM document "
                    "WHERE document_id = '%s'" % doc_id)
        check(len(rows) == 1, "rows %s" % rows)
        ins, finess, version, type_code, media, size, sha, comp, has_content, pos = rows[0]
        check((ins, finess, version, type_code, media) ==
              (env["patient"]["ins"], env["source"]["finess"], "1", "11502-2", "text/xml"),
              "metadata %s" % rows[0])
        check(int(size) == len(content) and sha == env["sha256"], "size/sha %s" % rows[0])
        check(comp.startswith("zstd") and has_content == "t", "compression %s" % comp)
        # A retry of the same submission is harmless: same id, no second copy.
        code, _, body = stack.submit(env)
        check(code in (200, 202) and body["submission_id"] == want_id, "retry %s %s" % (code, body))
        time.sleep(2)
        check(harness.stored_count(doc_id) == 1, "retry stored a second copy")
        # An invalid envelope is refused with its machine code and field.
        bad = dict(env, patient={"ins": "295109912611199", "oid": ingsamples.TEST_OID})
        code, headers, body = stack.submit(bad)
        check(code == 422 and body.get("code") == "ins_invalid" and
              body.get("field") == "patient.ins" and
              headers.get("content-type", "").startswith("application/problem+json"),
              "invalid INS answered %s %s" % (code, body))


def submit_all(stack, envs, threads=8):
    """POSTs every envelope on keep-alive connections; returns {document_id: (status, body)}."""
    def worker(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
        out = {}
        for env in chunk:
            code, _, body = stack.submit(env, conn=conn)
            out[env["document_id"]] = (code, body)
        conn.close()
        return out
    chunks = [envs[i::threads] for i in range(threads)]
    results = {}
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for part in pool.map(worker, chunks):
            results.update(part)
    return results


def assert_exactly_once(prefix, envs):
    rows = psql("SELECT document_id, count(*) FROM document WHERE document_id LIKE '%s%%' "
                "GROUP BY document_id" % prefix)
    counts = {r[0]: int(r[1]) for r in rows}
    missing = [e["document_id"] for e in envs if e["document_id"] not in counts]
    twice = [d for d, n in counts.items() if n != 1]
    check(not missing, "%d documents lost, e.g. %s" % (len(missing), missing[:3]))
    check(not twice, "stored more than once: %s" % twice[:3])
    check(len(counts) == len(envs), "stored %d, want %d" % (len(counts), len(envs)))
    statuses = psql("SELECT s.status, count(*) FROM submission_status s JOIN document d ON "
                    "d.submission_id = s.submission_id WHERE d.document_id LIKE '%s%%' "
                    "GROUP BY s.status" % prefix)
    check(statuses == [["stored", str(len(envs))]], "submission statuses %s" % statuses)


def small_docs(prefix, n, seed):
    return [env for env, _ in ingsamples.generate(seed, n, prefix, mix=(("lab", 1.0),),
                                                  sizes={"lab": (1024, 4096)})]


def scrape(port, path="/metrics"):
    """(status, {series: value}) of a worker's metrics endpoint; comments skipped."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        text = resp.read().decode()
    finally:
        conn.close()
    series = {}
    for line in text.splitlines() if path == "/metrics" else []:
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            series[name] = float(value)
    return resp.status, series


def test_thousand_documents_exactly_once():
    """A thousand documents over two workers, each stored once; the workers' metrics endpoints
    agree with the database."""
    with harness.Stack("thousand") as stack:
        stack.start_gateway()
        ports = [harness.free_port(), harness.free_port()]
        for i, port in enumerate(ports, 1):
            stack.start_worker(i, ING_WORKER_METRICS_LISTEN="127.0.0.1:%d" % port)
        prefix = "E2E-K-" + uuid.uuid4().hex[:8]
        envs = small_docs(prefix, 1000, seed=1000)
        results = submit_all(stack, envs)
        refused = {d: r for d, r in results.items() if r[0] != 202}
        check(not refused, "not accepted: %s" % list(refused.items())[:3])
        wait_until("1000 stored", lambda: harness.stored_count(prefix) >= 1000, 120)
        time.sleep(1)
        assert_exactly_once(prefix, envs)

        # What operators see: the two processes' counters add up to the thousand, every
        # partition is assigned, and the lag falls to zero once everything is stored. The
        # group may still be moving partitions between its eight consumer threads (a
        # cooperative rebalance takes a few rounds): wait for all 12 to be held.
        def caught_up():
            scrapes = [scrape(p)[1] for p in ports]
            lags = [v for s in scrapes for k, v in s.items()
                    if k.startswith("ing_worker_lag_records{")]
            held = sum(v for s in scrapes for k, v in s.items()
                       if k.startswith("ing_worker_assigned_partitions{"))
            return scrapes if lags and all(v == 0 for v in lags) and held == 12 else None
        try:
            scrapes = wait_until("lag 0 and 12 partitions held on both workers", caught_up, 60)
        except harness.Failure as e:
            raise harness.Failure("%s: %s" % (e, [scrape(p)[1] for p in ports]))
        total = lambda name: sum(s.get(name, 0) for s in scrapes)
        stored = total('ing_worker_documents_total{outcome="stored"}')
        check(stored == 1000, "metrics: %s stored, expected 1000" % stored)
        check(total("ing_worker_records_total") == 1000,
              "metrics: records %s" % total("ing_worker_records_total"))
        partitions = sum(v for s in scrapes for k, v in s.items()
                         if k.startswith("ing_worker_assigned_partitions{"))
        check(partitions == 12, "metrics: %s partitions assigned, expected 12" % partitions)
        batches = total("ing_worker_batches_total")
        check(total("ing_worker_batch_seconds_count") == batches > 0,
              "metrics: batch histogram count %s vs batches %s"
              % (total("ing_worker_batch_seconds_count"), batches))
        check(scrape(ports[0], "/healthz")[0] == 200, "worker /healthz")
        check(scrape(ports[0], "/v1/documents")[0] == 404, "worker endpoint: unknown path")


def test_worker_metrics_listen_refused():
    """A malformed worker.metrics_listen is a configuration error (exit 2) found before the
    database is waited for; an address already in use fails the start (exit 1) with the
    reason."""
    with harness.Stack("metricsaddr") as stack:
        worker = os.path.join(harness.BUILD, "workers", "ingest-worker")
        env = dict(stack.env, ING_WORKER_METRICS_LISTEN="9101")
        r = subprocess.run([worker, "-c", harness.WORKER_CONF, "--check-config"], env=env,
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and "worker.metrics_listen must be host:port" in r.stderr,
              "malformed address: rc %d, %s" % (r.returncode, r.stderr.strip()))
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            env["ING_WORKER_METRICS_LISTEN"] = "127.0.0.1:%d" % taken.getsockname()[1]
            r = subprocess.run([worker, "-c", harness.WORKER_CONF], env=env,
                               capture_output=True, text=True, timeout=60)
        check(r.returncode == 1 and "Address already in use" in r.stderr,
              "address in use: rc %d, %s" % (r.returncode, r.stderr.strip()[-300:]))


def test_worker_restart_mid_stream():
    """A worker stopped (SIGKILL, the harshest way) in the middle of a stream and restarted
    resumes: nothing lost, nothing stored twice."""
    with harness.Stack("restart") as stack:
        stack.start_gateway()
        worker = stack.start_worker(1)
        prefix = "E2E-R-" + uuid.uuid4().hex[:8]
        envs = small_docs(prefix, 1000, seed=2000)
        # The first half streams in while the worker runs and is killed mid-stream; the second
        # half arrives while no worker runs, so the kill always lands before the end however
        # fast the pipeline is.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(submit_all, stack, envs[:500], 4)
            wait_until("some stored", lambda: harness.stored_count(prefix) >= 50, 120, 0.02)
            worker.stop(signal.SIGKILL)
            results = pending.result()
        results.update(submit_all(stack, envs[500:], 4))
        killed_at = harness.stored_count(prefix)
        check(all(r[0] == 202 for r in results.values()), "a submission was not accepted")
        check(killed_at < 1000, "nothing was left for the restarted worker (%d)" % killed_at)
        stack.start_worker(2)
        wait_until("1000 stored", lambda: harness.stored_count(prefix) >= 1000, 120)
        time.sleep(1)
        assert_exactly_once(prefix, envs)
        # And a clean stop (SIGTERM) exits 0.
        check(stack.processes[-1].stop() == 0, "worker did not exit 0 on SIGTERM")


if __name__ == "__main__":
    harness.run([test_one_document, test_thousand_documents_exactly_once,
                 test_worker_metrics_listen_refused,
                 test_worker_restart_mid_stream])
