"""Issue 3, HTTP hardening, through the real gateway, broker and database: chunked request
bodies (single documents and batches, the body limit, bad framing, Content-Length with
Transfer-Encoding), HTTP/1.1 pipelining on one keep-alive connection, the over-cap 503 of
gateway.max_inflight_bytes (Retry-After, nothing lost, accepting again afterwards) and
Expect: 100-continue refused before the body is sent.

Requests are written with raw sockets, byte for byte, so that framing, pipelining and the
moment each byte is sent are what the test says, not what a client library chooses.
"""

import http.client
import json
import os
import socket
import threading
import time
import uuid

import harness
from harness import check, ingsamples, metric, psql, wait_until

FINESS = ingsamples.TEST_FINESS[0]
FINAL = ("stored", "duplicate", "rejected", "refused")
PROBLEM = "application/problem+json"
JSON_CT = [("Content-Type", "application/json")]
EXPECT = JSON_CT + [("Expect", "100-continue")]


def doc(tag, i, size=0, ins=ingsamples.TEST_INS[0]):
    """An envelope and its expected submission id; size pads the content with random bytes."""
    content = ("http %s %d %s " % (tag, i, uuid.uuid4().hex)).encode() + os.urandom(size)
    env = ingsamples.envelope("HTTP-%s-%d" % (tag, i), content, ins=ins)
    return env, ingsamples.submission_id(FINESS, env["document_id"], 1, content)


def bad_doc(tag, i):
    env, _ = doc(tag, i)
    env["patient"] = {"ins": "295109912611199", "oid": ingsamples.TEST_OID}  # wrong INS key
    return env


def request(method, path, body=b"", headers=(), chunked=None, length=None):
    """One request's bytes. chunked: the already-framed body, sent with Transfer-Encoding;
    length: a Content-Length to announce with the head alone (the body is sent later, or not)."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: test"]
    lines += ["%s: %s" % h for h in headers]
    if chunked is not None:
        lines.append("Transfer-Encoding: chunked")
        body = chunked
    elif length is not None:
        lines.append("Content-Length: %d" % length)
        body = b""
    elif body or method == "POST":
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunk_frame(body, size, ext=b"", trailer=b""):
    """body in chunks of `size` bytes (hex sizes, an optional extension on each), then the last
    chunk and an optional trailer section."""
    out = b""
    for k in range(0, len(body), size):
        part = body[k:k + size]
        out += b"%x%s\r\n%s\r\n" % (len(part), ext, part)
    return out + b"0\r\n" + trailer + b"\r\n"


class Raw:
    """A raw HTTP/1.1 connection: bytes go out exactly as given; responses (1xx included) are
    read one at a time, in order, from what the gateway sent."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise harness.Failure("connection closed by the gateway after %r" % self.buf[:200])
        self.buf += data

    def response(self):
        """(status, lower-case headers, body parsed as JSON when it is JSON)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        check(lines[0].startswith("HTTP/1.1 "), "status line %r" % lines[0])
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        n = 0 if status < 200 or status == 204 else int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        if "json" in hdrs.get("content-type", "") and body:
            body = json.loads(body)
        return status, hdrs, body

    def answered_within(self, seconds):
        """True when the gateway sent something (or closed) within `seconds`."""
        if self.buf:
            return True
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(30)
        self.buf += data
        return True

    def at_eof(self):
        """True when the gateway closed its side after what was read."""
        while not self.buf:
            data = self.sock.recv(65536)
            if not data:
                return True
            self.buf += data
        return False

    def close(self):
        self.sock.close()


def check_problem(resp, status, code, what):
    got, hdrs, body = resp
    check(got == status and hdrs.get("content-type", "").startswith(PROBLEM) and
          isinstance(body, dict) and body.get("code") == code and body.get("status") == status,
          "%s: want %d %s, got %d %s %s" % (what, status, code, got, hdrs, body))
    return body


def submission_status(sid):
    rows = psql("SELECT status FROM submission_status WHERE submission_id = '%s'" % sid)
    return rows[0][0] if rows else None


# Bad framing on a chunked request: (name, bytes after the head's last header line, status,
# code). Each is answered before its connection closes.
BAD_FRAMING = [
    ("chunk size not hex", b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400,
     "bad_request"),
    ("empty chunk size", b"Transfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", 400,
     "bad_request"),
    ("chunk size with junk", b"Transfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n", 400,
     "bad_request"),
    ("negative chunk size", b"Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n", 400,
     "bad_request"),
    ("data longer than its size", b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
     400, "bad_request"),
    ("Content-Length with Transfer-Encoding",
     b"Content-Length: 11\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400,
     "bad_request"),
    ("Transfer-Encoding with Content-Length",
     b"Transfer-Encoding: chunked\r\nContent-Length: 11\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400,
     "bad_request"),
    ("a coding other than chunked", b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
     "not_implemented"),
    ("one chunk over the body limit", b"Transfer-Encoding: chunked\r\n\r\n40001\r\nabc", 413,
     "content_too_large"),
]


def test_chunked():
    """Chunked single documents and batches are accepted with their ids; over the body limit
    413, bad framing 400, Content-Length with Transfer-Encoding 400; the gateway goes on."""
    with harness.Stack("http-chunked") as stack:
        limit = 256 * 1024
        stack.env.update({"ING_GATEWAY_MAX_BODY_BYTES": str(limit)})
        stack.start_gateway()
        tag = uuid.uuid4().hex[:8]
        accepted = []

        # One document, in odd-sized chunks with extensions and a trailer, written in pieces.
        env, want = doc(tag, 1, size=20000)
        framed = chunk_frame(json.dumps(env).encode(), 1000 + 7, ext=b";x=1", trailer=b"X-T: 1\r\n")
        raw = request("POST", "/v1/documents", headers=JSON_CT, chunked=framed)
        c = Raw(stack.port)
        for k in range(0, len(raw), 9000):
            c.send(raw[k:k + 9000])
            time.sleep(0.01)
        code, hdrs, body = c.response()
        check(code == 202 and body.get("submission_id") == want and
              hdrs.get("location") == "/v1/submissions/" + want,
              "chunked document: %d %s %s" % (code, hdrs, body))
        accepted.append(want)
        # The same connection goes on after a chunked body.
        c.send(request("GET", "/healthz"))
        code, _, body = c.response()
        check(code == 200 and body.get("status") == "ok", "after a chunked body: %d" % code)
        c.close()

        # Batches, NDJSON and a JSON array, chunked: per-item results in order.
        for form, ctype in (("ndjson", "application/x-ndjson"), ("json", "application/json")):
            items, expect = [], []
            for i in range(5):
                if i == 2:
                    items.append(bad_doc(tag + form, i))
                    expect.append(None)
                else:
                    env, sid = doc(tag + form, i, size=3000)
                    items.append(env)
                    expect.append(sid)
            if form == "ndjson":
                text = b"".join(json.dumps(x).encode() + b"\n" for x in items)
            else:
                text = json.dumps(items).encode()
            c = Raw(stack.port)
            c.send(request("POST", "/v1/documents:batch", headers=[("Content-Type", ctype)],
                           chunked=chunk_frame(text, 4096)))
            code, _, body = c.response()
            c.close()
            check(code == 200, "chunked %s batch: %d %s" % (form, code, body))
            results = body["results"]
            check([r["index"] for r in results] == list(range(5)), "%s: order %s" % (form, results))
            for r, sid in zip(results, expect):
                if sid is None:
                    check(r["status"] == "rejected" and r.get("code") == "ins_invalid" and
                          r.get("field") == "patient.ins", "%s: bad item %s" % (form, r))
                else:
                    check(r["status"] == "accepted" and r.get("submission_id") == sid,
                          "%s: item %s, want %s" % (form, r, sid))
                    accepted.append(sid)
            check(body["accepted"] == 4 and body["rejected"] == 1, "%s: counts %s" % (form, body))

        # Over the body limit in many small chunks: 413 once the body passes it.
        c = Raw(stack.port)
        head = request("POST", "/v1/documents", headers=JSON_CT,
                       chunked=b"")
        try:
            c.send(head)
            for _ in range(limit // 8192 + 4):
                c.send(b"2000\r\n" + b" " * 8192 + b"\r\n")
        except OSError:
            pass  # the gateway may stop reading once it has answered
        check_problem(c.response(), 413, "content_too_large", "chunked body over the limit")
        c.close()

        prefix = b"POST /v1/documents HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        for name, rest, status, code in BAD_FRAMING:
            c = Raw(stack.port)
            c.send(prefix + rest)
            resp = c.response()
            check_problem(resp, status, code, name)
            check(resp[1].get("connection") == "close" and c.at_eof(), "%s: not closed" % name)
            c.close()

        code, _, _ = stack.request("GET", "/healthz")
        check(code == 200, "healthz after the refusals: %d" % code)
        for sid in accepted:
            wait_until("submission row of %s" % sid, lambda s=sid: submission_status(s), 30)


def test_pipelining():
    """Requests written in one send() on one keep-alive connection (more than one read's worth)
    are answered in order, each with its own answer; a final Connection: close ends it."""
    with harness.Stack("http-pipeline") as stack:
        stack.start_gateway()
        tag = uuid.uuid4().hex[:8]
        reqs, expect = [], []  # expect: (status, submission id or problem code)
        for i in range(8):
            env, sid = doc(tag, i, size=8000)
            reqs.append(request("POST", "/v1/documents", json.dumps(env).encode(), JSON_CT))
            expect.append((202, sid))
        reqs.append(request("POST", "/v1/documents", json.dumps(bad_doc(tag, 8)).encode(),
                            JSON_CT))
        expect.append((422, "ins_invalid"))
        env, sid = doc(tag, 9, size=5000)
        reqs.append(request("POST", "/v1/documents", headers=JSON_CT,
                            chunked=chunk_frame(json.dumps(env).encode(), 2048)))
        expect.append((202, sid))
        reqs.append(request("GET", "/healthz"))
        expect.append((200, None))
        reqs.append(request("GET", "/v1/submissions/" + expect[0][1],
                            headers=[("X-Ing-Org", FINESS)]))
        expect.append((200, expect[0][1]))
        reqs.append(request("GET", "/nowhere"))
        expect.append((404, "not_found"))
        reqs.append(request("GET", "/healthz", headers=[("Connection", "close")]))
        expect.append((200, None))
        data = b"".join(reqs)
        check(len(data) > 64 * 1024, "the pipeline is %d bytes, want several reads" % len(data))

        c = Raw(stack.port)
        c.send(data)
        for n, (status, what) in enumerate(expect):
            resp = c.response()
            code, hdrs, body = resp
            where = "response %d: %d %s" % (n, code, body)
            if status >= 400:
                body = check_problem(resp, status, what, where)
                if what == "ins_invalid":
                    check(body.get("field") == "patient.ins", where)
            elif what is None:
                check(code == status and body.get("status") == "ok", where)
            else:
                check(code == status and body.get("submission_id") == what, where)
                if code == 200:  # the submission read back: accepted, or already final
                    check(body.get("status") in ("accepted",) + FINAL, where)
        check(hdrs.get("connection") == "close", "last answer: %s" % hdrs)
        check(c.at_eof(), "the connection stays open after Connection: close")
        c.close()


def test_inflight_cap():
    """gateway.max_inflight_bytes at its 1 MiB minimum, one thread: bodies that do not fit get
    503 + Retry-After before they are read, concurrent load never loses an accepted document,
    and once the load is over the gateway accepts again with nothing left in flight."""
    with harness.Stack("http-inflight") as stack:
        cap = 1 << 20
        stack.env.update({"ING_GATEWAY_THREADS": "1", "ING_GATEWAY_MAX_INFLIGHT_BYTES": str(cap)})
        stack.start_gateway()
        stack.start_worker()
        tag = uuid.uuid4().hex[:8]
        accepted = {}  # submission id -> document id
        # ~395 KB bodies: two fit in 1 MiB (each reserved whole at admission), a third does not.
        size = 296000

        def held_heads(round_no, n):
            """n connections send only their heads; returns who was admitted and who refused."""
            conns, bodies, admitted, refused = [], [], [], []
            for i in range(n):
                env, sid = doc("%s-r%d" % (tag, round_no), i, size=size)
                body = json.dumps(env).encode()
                check(2 * len(body) < cap - 64 * 1024 < 3 * len(body) - 64 * 1024,
                      "body size %d does not fit the test's arithmetic" % len(body))
                c = Raw(stack.port)
                c.send(request("POST", "/v1/documents", headers=JSON_CT, length=len(body)))
                conns.append(c)
                bodies.append((body, sid, env["document_id"]))
                (refused if c.answered_within(0.5) else admitted).append(i)
            return conns, bodies, admitted, refused

        for round_no in range(2):
            conns, bodies, admitted, refused = held_heads(round_no, 5)
            check(admitted == [0, 1] and refused == [2, 3, 4],
                  "round %d: admitted %s, refused %s" % (round_no, admitted, refused))
            for i in refused:
                resp = conns[i].response()
                check_problem(resp, 503, "unavailable", "over the cap")
                check(int(resp[1].get("retry-after", "0")) >= 1, "Retry-After: %s" % (resp[1],))
                check(resp[1].get("connection") == "close", "503 keeps the connection open")
            for i in admitted:
                body, sid, doc_id = bodies[i]
                conns[i].send(body)
                code, _, resp = conns[i].response()
                check(code == 202 and resp.get("submission_id") == sid,
                      "admitted body: %d %s" % (code, resp))
                accepted[sid] = doc_id
            for c in conns:
                c.close()
        check(metric(stack, 'ing_gateway_unavailable_total{reason="inflight_bytes"}') >= 6,
              "503s counted by reason")

        # A chunked body is checked at each growth of its buffer: 503 mid-body while another
        # request holds the room, 413 once it would not fit even alone.
        def chunked_refusal(what, total, status, code):
            c = Raw(stack.port)
            try:
                c.send(request("POST", "/v1/documents", headers=JSON_CT, chunked=b""))
                for _ in range(total // 65536):
                    c.send(b"10000\r\n" + b" " * 65536 + b"\r\n")
            except OSError:
                pass  # the gateway may stop reading once it has answered
            resp = c.response()
            check_problem(resp, status, code, "chunked body " + what)
            check((status == 503) == ("retry-after" in resp[1]), "%s: %s" % (what, resp[1]))
            c.close()

        conns, bodies, admitted, _ = held_heads(8, 1)
        check(admitted == [0], "held request: admitted %s" % admitted)
        chunked_refusal("beside a held request", 700 * 1024, 503, "unavailable")
        body, sid, doc_id = bodies[0]
        conns[0].send(body)
        code, _, resp = conns[0].response()
        check(code == 202 and resp.get("submission_id") == sid, "held: %d %s" % (code, resp))
        accepted[sid] = doc_id
        conns[0].close()
        chunked_refusal("alone over the share", 1536 * 1024, 413, "content_too_large")

        # Concurrent load with a client that resends after Retry-After, as a sender should.
        results, lock = [], threading.Lock()

        def client(k):
            conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
            for i in range(4):
                env, sid = doc("%s-c%d" % (tag, k), i, size=size)
                for _ in range(60):
                    try:
                        code, hdrs, body = stack.request("POST", "/v1/documents", env, conn=conn)
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        continue
                    with lock:
                        results.append((code, hdrs, body))
                        if code == 202:
                            accepted[sid] = env["document_id"]
                    if code != 503:
                        break
                    time.sleep(int(hdrs.get("retry-after", "1")))
            conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        codes = [r[0] for r in results]
        check(set(codes) <= {202, 503}, "answers under load: %s" % sorted(set(codes)))
        check(codes.count(202) == 24, "every document accepted in the end: %s" % codes)
        for code, hdrs, body in results:
            if code == 503:
                check(int(hdrs.get("retry-after", "0")) >= 1 and body.get("code") == "unavailable"
                      and hdrs.get("content-type", "").startswith(PROBLEM),
                      "503 under load: %s %s" % (hdrs, body))

        # After the load: nothing left in flight, and the gateway takes two big bodies again.
        wait_until("bytes in flight back to at most one head buffer",
                   lambda: metric(stack, "ing_gateway_bytes_in_flight") <= 16 * 1024 + 1, 10)
        conns, bodies, admitted, _ = held_heads(9, 2)
        check(admitted == [0, 1], "after the load: admitted %s" % admitted)
        for i in admitted:
            body, sid, doc_id = bodies[i]
            conns[i].send(body)
            code, _, resp = conns[i].response()
            check(code == 202 and resp.get("submission_id") == sid, "after: %d %s" % (code, resp))
            accepted[sid] = doc_id
            conns[i].close()

        # Nothing answered 202 is lost: each reaches its final status, stored once.
        for sid in accepted:
            st = wait_until("final status of %s" % sid,
                            lambda s=sid: submission_status(s) in FINAL and submission_status(s),
                            90)
            check(st == "stored", "%s ended %s" % (sid, st))
        stored = harness.stored_count("HTTP-%s-" % tag)
        check(stored == len(accepted) == 4 + 1 + 24 + 2,
              "%d stored for %d accepted" % (stored, len(accepted)))


def test_expect_continue():
    """Expect: 100-continue: a Content-Length over the body limit or over the whole in-flight
    share (413), or over what is free while another request holds the room (503 +
    Retry-After), is refused on the head alone, with no 100 Continue, so the body is never
    sent; once the room is free the same request gets 100 Continue and then its 202."""
    with harness.Stack("http-expect") as stack:
        limit, cap = 4 << 20, 1 << 20
        stack.env.update({"ING_GATEWAY_THREADS": "1", "ING_GATEWAY_MAX_BODY_BYTES": str(limit),
                          "ING_GATEWAY_MAX_INFLIGHT_BYTES": str(cap)})
        stack.start_gateway()
        tag = uuid.uuid4().hex[:8]
        # Two ~587 KB bodies: each fits the share alone, not both at once.
        (held, held_id), (env, sid) = doc(tag, 1, size=440000), doc(tag, 2, size=440000)
        held_body, body = json.dumps(held).encode(), json.dumps(env).encode()
        check(len(held_body) < cap // 2 + 128 * 1024 and len(held_body) + len(body) > cap,
              "body sizes %d, %d" % (len(held_body), len(body)))
        holder = Raw(stack.port)
        holder.send(request("POST", "/v1/documents", headers=JSON_CT, length=len(held_body)))
        check(not holder.answered_within(0.5), "the held request was refused")
        cases = [("over the body limit", limit + 1, 413, "content_too_large"),
                 ("over the in-flight share", cap + 1, 413, "content_too_large"),
                 ("over what is free now", len(body), 503, "unavailable")]
        for name, length, status, code in cases:
            c = Raw(stack.port)
            t0 = time.monotonic()
            c.send(request("POST", "/v1/documents", headers=EXPECT, length=length))
            resp = c.response()  # a 100 Continue here would fail the status check
            check_problem(resp, status, code, name)
            check(time.monotonic() - t0 < 5, "%s: answered without waiting for the body" % name)
            check(resp[1].get("connection") == "close" and c.at_eof(), "%s: not closed" % name)
            check((status == 503) == (int(resp[1].get("retry-after", "0")) >= 1),
                  "%s: Retry-After %s" % (name, resp[1]))
            c.close()
        holder.send(held_body)
        code, _, resp = holder.response()
        check(code == 202 and resp.get("submission_id") == held_id, "held: %d %s" % (code, resp))
        holder.close()
        # The room is free again: the refused request, resent, is let in.
        c = Raw(stack.port)
        c.send(request("POST", "/v1/documents", headers=EXPECT, length=len(body)))
        code, _, _ = c.response()
        check(code == 100, "a body that fits: %d before the body" % code)
        c.send(body)
        code, _, resp = c.response()
        check(code == 202 and resp.get("submission_id") == sid, "after 100: %d %s" % (code, resp))
        c.close()


if __name__ == "__main__":
    harness.run([test_chunked, test_pipelining, test_inflight_cap, test_expect_continue])
