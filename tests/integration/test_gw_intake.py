"""Issue 3, intake side, through the real gateway, broker and database: mixed batches (JSON and
NDJSON), synchronous submissions (Prefer: wait=N, answered from LISTEN/NOTIFY), per-organisation
rate limits (429 + Retry-After), the broker frozen under load (503 within seconds, nothing
reported accepted that is not stored, recovery), and SIGTERM with requests in flight.

The broker is frozen with SIGSTOP/SIGCONT on the stack's Kafka process (always resumed in a
finally): a proxy would not do, since librdkafka connects to the advertised 127.0.0.1:9092
learnt from metadata. CTest runs this file under RESOURCE_LOCK stack like the others, so no
other test uses the broker meanwhile.
"""

import contextlib
import http.client
import json
import os
import signal
import threading
import time
import uuid

import harness
from harness import check, ingsamples, metric, psql, wait_until

FINESS = ingsamples.TEST_FINESS[0]
FINAL = ("stored", "duplicate", "rejected", "refused")
KAFKA_PID = os.path.join(harness.ROOT, ".local", "state", "run", "kafka.pid")


def doc(tag, i, ins=ingsamples.TEST_INS[0]):
    content = ("intake %s %d %s" % (tag, i, uuid.uuid4().hex)).encode()
    return ingsamples.envelope("INT-%s-%d" % (tag, i), content, ins=ins)


def bad_doc(tag, i):
    d = doc(tag, i)
    d["patient"] = {"ins": "295109912611199", "oid": ingsamples.TEST_OID}  # wrong key
    return d


def final_status(sid):
    rows = psql("SELECT status FROM submission_status WHERE submission_id = '%s'" % sid)
    return rows[0][0] if rows and rows[0][0] in FINAL else None


def test_mixed_batches():
    """Per-item results in order; a bad item never fails its neighbours; valid ones stored."""
    with harness.Stack("intake-batch") as stack:
        stack.start_gateway()
        stack.start_worker()
        tag = uuid.uuid4().hex[:8]
        for form in ("json", "ndjson"):
            items, expect = [], []
            for i in range(8):
                if i % 3 == 1:
                    items.append(bad_doc(tag + form, i))
                    expect.append("rejected")
                elif i % 3 == 2:
                    d = doc(tag + form, i)
                    d["sha256"] = "0" * 64  # hash_mismatch
                    items.append(d)
                    expect.append("rejected")
                else:
                    items.append(doc(tag + form, i))
                    expect.append("accepted")
            if form == "json":
                code, _, body = stack.request("POST", "/v1/documents:batch", items)
            else:
                text = "\n".join(json.dumps(x) for x in items).encode() + b"\n"
                code, _, body = stack.request("POST", "/v1/documents:batch", text,
                                              {"Content-Type": "application/x-ndjson"})
            check(code == 200, "%s batch: %d %s" % (form, code, body))
            results = body["results"]
            check([r["index"] for r in results] == list(range(8)), "%s: order %s" % (form, results))
            check([r["status"] for r in results] == expect,
                  "%s: statuses %s, want %s" % (form, [r["status"] for r in results], expect))
            codes = [r.get("code") for r in results if r["status"] == "rejected"]
            check(set(codes) == {"ins_invalid", "hash_mismatch"}, "%s: codes %s" % (form, codes))
            check(body["accepted"] == expect.count("accepted") and
                  body["rejected"] == expect.count("rejected"), "%s: counts %s" % (form, body))
            for r, item in zip(results, items):
                if r["status"] == "accepted":
                    want = ingsamples.submission_id(FINESS, item["document_id"], 1,
                                                    __import__("base64").b64decode(item["content"]))
                    check(r["submission_id"] == want, "%s: id %s != %s" % (form, r, want))
                    st = wait_until("stored " + r["submission_id"],
                                    lambda s=r["submission_id"]: final_status(s), 60)
                    check(st == "stored", "%s: %s ended %s" % (form, r["submission_id"], st))
            stored = harness.stored_count("INT-%s%s-" % (tag, form))
            check(stored == expect.count("accepted"), "%s: %d stored" % (form, stored))


def test_accepted_rows():
    """A batch of 1,000 gets its 1,000 'accepted' rows (statements of up to 500 rows), document
    ids with array-literal metacharacters intact, and none dropped."""
    odd = ['quote"d', "back\\slash", "comma,brace{}", "sp ace", "NULL"]
    with harness.Stack("intake-accepted") as stack:
        stack.start_gateway()  # no worker: the rows stay 'accepted'
        tag = uuid.uuid4().hex[:8]
        items = [doc(tag, i) for i in range(1000)]
        for i, name in enumerate(odd):
            items[i]["document_id"] = "INT-%s-%s" % (tag, name)
        code, _, body = stack.request("POST", "/v1/documents:batch", items)
        check(code == 200 and body.get("accepted") == 1000, "batch: %d %s" % (code, body))

        def rows():
            got = psql("SELECT count(*) FROM submission_accepted WHERE document_id LIKE "
                       "'INT-%s-%%'" % tag)
            return int(got[0][0]) == 1000
        wait_until("1000 accepted rows", rows, 30)
        for name in odd:
            quoted = ("INT-%s-%s" % (tag, name)).replace("'", "''")
            got = psql("SELECT org_finess, version FROM submission_accepted WHERE document_id = "
                       "'%s'" % quoted)
            check(got == [[FINESS, "1"]], "row of %r: %s" % (name, got))
        check(metric(stack, "ing_gateway_status_rows_dropped_total") == 0, "no row dropped")
        # Sent again (a client's retry): a second row is appended, and the status is one row.
        code, _, again = stack.request("POST", "/v1/documents", items[0])
        sid = body["results"][0]["submission_id"]
        check(code == 202 and again.get("submission_id") == sid, "resent: %d %s" % (code, again))
        wait_until("second accepted row", lambda: psql(
            "SELECT count(*) FROM submission_accepted WHERE submission_id = '%s'" % sid)
            == [["2"]], 30)
        check(psql("SELECT status FROM submission_status WHERE submission_id = '%s'" % sid)
              == [["accepted"]], "status of a resent submission")
        code, _, got = stack.request("GET", "/v1/submissions/%s" % sid)
        check(code == 200 and got.get("status") == "accepted", "GET: %d %s" % (code, got))


def test_producer_queue_full():
    """librdkafka's local queue full (kafka.queue.buffering.max.messages 3; one I/O thread, as
    each thread has a producer of its own), with the broker frozen so that nothing leaves it: a batch of 300 gets its
    first 3 items accepted (after the thaw) and the other 297 'unavailable' (the gateway is
    overloaded, Retry-After); meanwhile a second batch is wholly refused, and a single document
    gets 503, at once. The 3 accepted ones are stored."""
    def batch(items):
        code, hdrs, body = stack.request("POST", "/v1/documents:batch", items)
        check(code == 200, "batch: %d %s" % (code, body))
        return [r["status"] for r in body["results"]], body["results"], hdrs

    with harness.Stack("intake-queue") as stack:
        stack.env.update({"ING_KAFKA_QUEUE_BUFFERING_MAX_MESSAGES": "3",
                          "ING_GATEWAY_THREADS": "1"})
        stack.start_gateway()
        stack.start_worker()
        tag = uuid.uuid4().hex[:8]
        held = {}
        with broker_frozen():
            t = threading.Thread(target=lambda: held.update(
                r=batch([doc(tag, i) for i in range(300)])))
            t.start()
            time.sleep(1)
            t0 = time.monotonic()
            statuses, _, _ = batch([doc(tag + "r", i) for i in range(300)])
            check(statuses == ["unavailable"] * 300, "while 3 are held: %s" % statuses[:5])
            code, hdrs, body = stack.request("POST", "/v1/documents", doc(tag + "s", 0))
            check(code == 503 and hdrs.get("retry-after") and "overloaded" in body["detail"],
                  "single: %d %s %s" % (code, hdrs, body))
            check(time.monotonic() - t0 < 5, "refusals took %.1f s" % (time.monotonic() - t0))
        t.join(60)
        check(held, "no answer to the held batch")
        statuses, results, hdrs = held["r"]
        check(statuses == ["accepted"] * 3 + ["unavailable"] * 297, "statuses %s" % statuses)
        check(all(r["code"] == "unavailable" and "overloaded" in r["detail"]
                  for r in results[3:]), "refused items: %s" % results[3:5])
        check(hdrs.get("retry-after"), "no Retry-After with retriable items: %s" % hdrs)
        check(metric(stack, 'ing_gateway_unavailable_total{reason="producer_queue"}') == 598,
              "producer_queue count")
        for sid in [r["submission_id"] for r in results[:3]]:
            st = wait_until("final status of %s" % sid, lambda s=sid: final_status(s), 60)
            check(st == "stored", "%s ended %s" % (sid, st))

def test_sync_wait():
    """Prefer: wait=10 with a worker -> 200 stored, then 200 duplicate; no worker -> 202 after N."""
    with harness.Stack("intake-sync") as stack:
        stack.start_gateway()
        stack.start_worker()
        tag = uuid.uuid4().hex[:8]
        ins = ingsamples.TEST_INS[2]
        content = ("sync %s" % tag).encode()
        first = ingsamples.envelope("SYNC-%s-a" % tag, content, ins=ins)
        t0 = time.monotonic()
        code, hdrs, body = stack.request("POST", "/v1/documents", first, {"Prefer": "wait=10"})
        check(code == 200 and body.get("status") == "stored",
              "wait=10 with a worker: %d %s" % (code, body))
        check(time.monotonic() - t0 < 10, "answered when stored, not at the deadline")
        check(body["submission_id"] == ingsamples.submission_id(FINESS, first["document_id"], 1,
                                                                 content), "id %s" % body)
        # Same patient, content and type under another document id: duplicate.
        dup = ingsamples.envelope("SYNC-%s-b" % tag, content, ins=ins)
        code, _, body = stack.request("POST", "/v1/documents", dup, {"Prefer": "wait=10"})
        check(code == 200 and body.get("status") == "duplicate", "duplicate: %d %s" % (code, body))
        # The same submission again (a retry): already final, answered from the first read.
        code, _, body = stack.request("POST", "/v1/documents", first, {"Prefer": "wait=10"})
        check(code == 200 and body.get("status") == "stored", "retry: %d %s" % (code, body))
        # An invalid preference is ignored: 202 at once.
        code, _, body = stack.request("POST", "/v1/documents", doc(tag, 9), {"Prefer": "wait=x"})
        check(code == 202, "invalid preference: %d %s" % (code, body))
        check(metric(stack, "ing_gateway_wait_requests_total") >= 2, "waits counted")

    with harness.Stack("intake-sync-noworker") as stack:
        stack.start_gateway()
        t0 = time.monotonic()
        code, hdrs, body = stack.request("POST", "/v1/documents", doc("nw" + uuid.uuid4().hex[:6], 1),
                                         {"Prefer": "wait=3"})
        took = time.monotonic() - t0
        check(code == 202 and body.get("status") == "accepted" and "location" in hdrs,
              "no worker: %d %s" % (code, body))
        check(2.5 <= took < 6, "202 after about 3 s, took %.1f s" % took)


def test_rate_limit():
    """A low per-organisation rate: 429 rate_limited + Retry-After, for documents and batches."""
    with harness.Stack("intake-rate") as stack:
        stack.env.update({"ING_GATEWAY_THREADS": "1", "ING_GATEWAY_ORG_DOCS_PER_S": "1",
                          "ING_GATEWAY_ORG_DOCS_BURST": "3"})
        stack.start_gateway()
        tag = uuid.uuid4().hex[:8]
        codes = []
        for i in range(5):
            code, hdrs, body = stack.submit(doc(tag, i))
            codes.append(code)
            if code == 429:
                check(body.get("code") == "rate_limited" and
                      body.get("status") == 429, "429 body: %s" % body)
                check(int(hdrs.get("retry-after", "0")) >= 1, "Retry-After: %s" % hdrs)
        check(codes[:3] == [202, 202, 202] and 429 in codes[3:],
              "burst of 3 then 429: %s" % codes)
        # Refused before the body is read when the organisation is known from the head.
        code, hdrs, body = stack.request("POST", "/v1/documents", doc(tag, 10),
                                         {"X-Ing-Org": FINESS})
        check(code == 429 and "retry-after" in hdrs, "pre-body check: %d %s" % (code, body))
        # Another organisation is not affected.
        other = ingsamples.envelope("INT-%s-other" % tag, b"other org " + tag.encode(),
                                    finess=ingsamples.TEST_FINESS[1])
        code, _, body = stack.submit(other)
        check(code == 202, "another organisation: %d %s" % (code, body))
        # A batch whose first item cannot pass is refused whole.
        code, hdrs, body = stack.request("POST", "/v1/documents:batch",
                                         [doc(tag, 20), doc(tag, 21)])
        check(code == 429 and body.get("code") == "rate_limited" and "retry-after" in hdrs,
              "batch over the limit: %d %s" % (code, body))
        # After Retry-After the organisation may send again.
        time.sleep(int(hdrs["retry-after"]) + 0.2)
        code, _, body = stack.submit(doc(tag, 30))
        check(code == 202, "after Retry-After: %d %s" % (code, body))
        check(metric(stack, "ing_gateway_rate_limited_total") >= 3, "429s counted")


@contextlib.contextmanager
def broker_frozen():
    """The stack's broker stopped (SIGSTOP) for the with block, always resumed after it."""
    with open(KAFKA_PID) as f:
        pid = int(f.read().strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        # SIGSTOP takes effect per thread (a thread inside a system call stops when it
        # returns): wait until every thread of the broker says it is stopped.
        def stopped():
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                        return False
            return True
        wait_until("broker stopped", stopped, 10, 0.01)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_broker_frozen_under_load():
    """Broker frozen: 503 + Retry-After within seconds; every 202'd id stored after recovery."""
    with harness.Stack("intake-broker") as stack:
        stack.env.update({"ING_GATEWAY_REQUEST_TIMEOUT_MS": "3000",
                          "ING_KAFKA_MESSAGE_TIMEOUT_MS": "2500"})
        stack.start_gateway()
        stack.start_worker()
        tag = uuid.uuid4().hex[:8]
        accepted, outcomes, lock = [], [], threading.Lock()
        stop = threading.Event()

        def client(k):
            conn = None
            i = 0
            while not stop.is_set():
                d = doc("%s-%d" % (tag, k), i)
                i += 1
                t0 = time.monotonic()
                try:
                    conn = conn or http.client.HTTPConnection("127.0.0.1", stack.port, timeout=20)
                    code, hdrs, body = stack.request("POST", "/v1/documents", d, conn=conn)
                except (OSError, http.client.HTTPException):
                    conn = None
                    continue
                with lock:
                    outcomes.append((time.monotonic(), code, time.monotonic() - t0,
                                     hdrs.get("retry-after")))
                    if code == 202:
                        accepted.append(body["submission_id"])
                time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(2)
        frozen_at = time.monotonic()
        with broker_frozen():
            time.sleep(10)
        resumed_at = time.monotonic()
        time.sleep(8)
        stop.set()
        for t in threads:
            t.join(30)
        during = [o for o in outcomes if frozen_at + 1 < o[0] < resumed_at]
        after = [o for o in outcomes if o[0] > resumed_at + 4]
        check(any(o[1] == 202 for o in outcomes if o[0] < frozen_at), "202s before the freeze")
        unavailable = [o for o in during if o[1] == 503]
        check(unavailable, "no 503 while the broker was frozen: %s" % during[:5])
        check(all(o[3] and int(o[3]) >= 1 for o in unavailable), "503 without Retry-After")
        check(all(o[2] < 6 for o in unavailable),
              "503 within seconds: slowest %.1f s" % max(o[2] for o in unavailable))
        check(after and all(o[1] == 202 for o in after),
              "full recovery: %s" % [o[1] for o in after][:20])
        # Nothing reported accepted that was not delivered: every 202'd id ends up stored.
        for sid in accepted:
            st = wait_until("final status of %s" % sid, lambda s=sid: final_status(s), 60)
            check(st == "stored", "%s ended %s" % (sid, st))


def test_sigterm_in_flight():
    """SIGTERM with requests in flight (held in flight by a frozen broker): each gets its answer,
    202 or 503, and the gateway exits 0."""
    with harness.Stack("intake-term") as stack:
        stack.env.update({"ING_GATEWAY_REQUEST_TIMEOUT_MS": "5000"})
        gw = stack.start_gateway()
        tag = uuid.uuid4().hex[:8]
        results, sent, lock = [], [], threading.Lock()

        def client(k):
            conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
            try:
                conn.request("POST", "/v1/documents", json.dumps(doc(tag, k)).encode(),
                             {"Content-Type": "application/json"})
                with lock:
                    sent.append(k)
                code = conn.getresponse().status
            except (OSError, http.client.HTTPException) as e:
                code = repr(e)
            with lock:
                results.append(code)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
        with broker_frozen():
            for t in threads:
                t.start()
            wait_until("20 requests sent", lambda: len(sent) == 20, 10, 0.02)
            time.sleep(0.3)  # read by the gateway, waiting for their delivery reports
            check(not results, "answered before the broker returned: %s" % results)
            gw.proc.send_signal(signal.SIGTERM)
            time.sleep(1)
        for t in threads:
            t.join(30)
        rc = gw.proc.wait(30)
        check(rc == 0, "gateway exited %s" % rc)
        check(len(results) == 20 and all(c in (202, 503) for c in results),
              "every in-flight request answered 202 or 503: %s" % results)


def test_slow_body():
    """Slowloris: a body dripping under gateway.min_body_rate_bytes_per_s after the grace gets 408;
    a fast one on the same settings is accepted."""
    import socket
    with harness.Stack("intake-slow") as stack:
        stack.env.update({"ING_GATEWAY_BODY_RATE_GRACE_MS": "1000"})
        stack.start_gateway()
        s = socket.create_connection(("127.0.0.1", stack.port))
        s.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n")
        s.settimeout(0.3)
        t0, out = time.monotonic(), b""
        while not out and time.monotonic() - t0 < 8:
            try:
                s.sendall(b" " * 10)
                out = s.recv(4096)
            except socket.timeout:
                pass
        took = time.monotonic() - t0
        s.close()
        check(out.startswith(b"HTTP/1.1 408 "), "slow body: %r" % out[:80])
        check(0.9 <= took < 4, "408 soon after the grace: %.1f s" % took)
        check(metric(stack, 'ing_gateway_request_timeouts_total{reason="slow_body"}') == 1,
              "slow-body 408 counted")
        code, _, body = stack.submit(doc(uuid.uuid4().hex[:8], 1))
        check(code == 202, "a normal upload: %d %s" % (code, body))


def test_readyz():
    """/readyz is 503 while the thread's unacknowledged records are over the high-water mark
    (broker frozen) and back to 200 once they are acknowledged; 503 with no broker reachable
    even when nothing was produced; the 503s by reason are counted."""
    with harness.Stack("intake-ready") as stack:
        stack.env.update({"ING_GATEWAY_THREADS": "1",
                          "ING_GATEWAY_KAFKA_HIGH_WATER_BYTES": "1048576"})
        stack.start_gateway()
        tag = uuid.uuid4().hex[:8]
        big = [ingsamples.envelope("INT-%s-big-%d" % (tag, i), os.urandom(700 * 1024))
               for i in range(2)]
        codes = []
        threads = [threading.Thread(target=lambda d=d: codes.append(stack.submit(d)[0]))
                   for d in big]
        with broker_frozen():
            for t in threads:
                t.start()

            def backlog():
                code, _, body = stack.request("GET", "/readyz")
                return code == 503 and "high-water" in body.get("detail", "")
            wait_until("readyz 503 over the high-water mark", backlog, 5, 0.05)
            code, hdrs, _ = stack.submit(doc(tag, 1))
            check(code == 503 and "retry-after" in hdrs, "over the high-water mark: %d" % code)
            check(metric(stack, 'ing_gateway_unavailable_total{reason="kafka_backlog"}') >= 1,
                  "503 counted by reason")
        for t in threads:
            t.join(30)
        check(codes == [202, 202], "the held documents: %s" % codes)
        wait_until("ready again", lambda: stack.request("GET", "/readyz")[0] == 200, 10)
    with harness.Stack("intake-nobroker") as stack:
        stack.env.update({"ING_GATEWAY_THREADS": "1",
                          "ING_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:%d" % harness.free_port()})
        stack.start_gateway(ready=False)

        def no_broker():
            code, _, body = stack.request("GET", "/readyz")
            return code == 503 and "broker" in body.get("detail", "")
        wait_until("readyz 503 without a reachable broker", no_broker, 10)
        time.sleep(2.5)  # statistics reports keep it so while nothing is produced
        check(no_broker(), "still 503 after the statistics reports")


if __name__ == "__main__":
    harness.run([test_mixed_batches, test_accepted_rows, test_producer_queue_full, test_sync_wait,
                 test_rate_limit,
                 test_broker_frozen_under_load, test_sigterm_in_flight, test_slow_body,
                 test_readyz])
