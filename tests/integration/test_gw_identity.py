"""Identity at the gateway (issue 3): TLS 1.2/1.3 only, client certificates and API keys mapped
to organisations by gateway.orgs, 401 without valid credentials, 403 source_mismatch for a body
of another organisation, submissions visible to their organisation only — and plain HTTP with
loopback trust still working for the other tests.

The test makes its own throwaway CA, server certificate (SAN IP 127.0.0.1) and client
certificates with the openssl CLI in a temporary folder; nothing is kept.
"""

import hashlib
import http.client
import json
import os
import secrets
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
import warnings

import harness
from harness import check, ingsamples

# This test offers TLS 1.1 on purpose, to see the gateway refuse it.
warnings.filterwarnings("ignore", "ssl.TLSVersion.TLSv1_1", DeprecationWarning)

ORG = "750712184"     # the good certificate's and key A's organisation
OTHER = "010780054"   # the other certificate's and key B's organisation
GATEWAY = os.path.join(harness.BUILD, "ingest", "ingest-gateway")
GATEWAY_CONF = os.path.join(harness.ROOT, "config", "local", "gateway.conf")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def fingerprint(pem_path):
    """The README recipe: openssl x509 -in c.pem -outform der | sha256sum."""
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "der"], check=True,
                         capture_output=True, timeout=30).stdout
    return hashlib.sha256(der).hexdigest()


class Pki:
    """A CA, a server certificate for 127.0.0.1, and client certificates, in a temp folder."""

    def __init__(self, folder):
        self.dir = folder
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=ingest test CA", cwd=folder)
        self.ca = self.path("ca.pem")
        self.server = self.issue("server", "127.0.0.1",
                                 "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        self.clients = {name: self.issue(name, "client " + name, "extendedKeyUsage=clientAuth\n")
                        for name in ("good", "unknown", "other")}

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, cn, ext):
        with open(self.path(name + ".ext"), "w") as f:
            f.write(ext)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=self.dir)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", name + ".pem", "-extfile", name + ".ext",
                cwd=self.dir)
        return (self.path(name + ".pem"), self.path(name + ".key"))


def client_context(pki, cert=None, version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.ca)
    if version:
        if version == ssl.TLSVersion.TLSv1_1:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client really offer TLS 1.1
        ctx.minimum_version = ctx.maximum_version = version
    if cert:
        ctx.load_cert_chain(*pki.clients[cert])
    return ctx


def https(port, ctx, method, path, body=None, headers=None):
    """Returns (status, headers dict, parsed JSON body or raw bytes)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        parsed = json.loads(raw) if "json" in resp.getheader("Content-Type", "") and raw else raw
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
    finally:
        conn.close()


def refused(port, ctx):
    """The reason the connection failed before any HTTP answer, or None if one came."""
    try:
        status, _, _ = https(port, ctx, "GET", "/healthz")
        return None if status else "no status"
    except (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected, OSError) as e:
        return "%s: %s" % (type(e).__name__, e)


def envelope(finess, tag):
    doc = ingsamples.envelope("ID-%s-%s" % (tag, uuid.uuid4().hex[:12]),
                              b"identity test " + uuid.uuid4().bytes)
    doc["source"]["finess"] = finess
    return doc


def start_tls_gateway(stack, folder, pki, client_auth, keys, **extra_env):
    """A gateway with TLS and gateway.orgs (no loopback trust) on a port of its own."""
    orgs = os.path.join(folder, "orgs-%s.conf" % client_auth)
    with open(orgs, "w") as f:
        f.write("# test organisations\n")
        f.write("finess %s cert_sha256 %s\n" % (ORG, fingerprint(pki.clients["good"][0])))
        f.write("finess %s cert_sha256 %s\n" % (OTHER, fingerprint(pki.clients["other"][0])))
        for finess, key in keys.items():
            f.write("finess %s api_key_sha256 %s\n" % (finess,
                                                       hashlib.sha256(key.encode()).hexdigest()))
    port = harness.free_port()
    env = dict(stack.env, ING_GATEWAY_LISTEN="127.0.0.1:%d" % port,
               ING_GATEWAY_TRUST_LOOPBACK="false", ING_GATEWAY_ORGS=orgs,
               ING_GATEWAY_TLS_CERT=pki.server[0], ING_GATEWAY_TLS_KEY=pki.server[1],
               ING_GATEWAY_TLS_CLIENT_CA=pki.ca, ING_GATEWAY_TLS_CLIENT_AUTH=client_auth,
               ING_LOG_LEVEL="debug", **extra_env)
    p = harness.Process("gateway-tls-" + client_auth, [GATEWAY, "-c", GATEWAY_CONF], env)
    stack.processes.append(p)
    ctx = client_context(pki, cert="good")

    def healthy():
        if p.proc.poll() is not None:
            raise harness.Failure("gateway exited %s:\n%s" % (p.proc.returncode, p.log_text()))
        try:
            return https(port, ctx, "GET", "/healthz")[0] == 200
        except OSError:
            return False
    harness.wait_until("TLS gateway /healthz", healthy, 30)
    return port


def test_optional_client_certificates():
    key_a, key_b = secrets.token_hex(32), secrets.token_hex(32)
    with tempfile.TemporaryDirectory() as folder, harness.Stack("identity") as stack:
        pki = Pki(folder)
        port = start_tls_gateway(stack, folder, pki, "optional", {ORG: key_a, OTHER: key_b})

        # Protocol versions: 1.2 and 1.3 answer, 1.1 is refused by the server.
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            code, _, _ = https(port, client_context(pki, "good", version), "GET", "/healthz")
            check(code == 200, "%s: /healthz answered %d" % (version.name, code))
        why = refused(port, client_context(pki, "good", ssl.TLSVersion.TLSv1_1))
        check(why is not None, "TLS 1.1 was accepted")
        check("PROTOCOL_VERSION" in why.upper().replace(" ", "_"),
              "TLS 1.1 failed, but not by the server's protocol_version alert: %s" % why)

        good, other = client_context(pki, "good"), client_context(pki, "other")
        unknown, nocert = client_context(pki, "unknown"), client_context(pki)

        # mTLS: the good certificate submits for its own organisation...
        doc = envelope(ORG, "mtls")
        code, hdrs, resp = https(port, good, "POST", "/v1/documents", doc)
        check(code == 202 and resp.get("status") == "accepted", "good cert: %d %s" % (code, resp))
        sid = resp["submission_id"]
        # ... not for another one, alone or in a batch (per item).
        code, hdrs, resp = https(port, good, "POST", "/v1/documents", envelope(OTHER, "mtls"))
        check(code == 403 and resp.get("code") == "source_mismatch"
              and resp.get("field") == "source.finess",
              "good cert, other FINESS: %d %s" % (code, resp))
        code, hdrs, resp = https(port, good, "POST", "/v1/documents:batch",
                                 [envelope(ORG, "batch"), envelope(OTHER, "batch")])
        items = resp.get("results") if isinstance(resp, dict) else None
        check(code == 200 and items and len(items) == 2, "batch: %d %s" % (code, resp))
        check(items[0].get("status") == "accepted", "batch item 0: %s" % items[0])
        check(items[1].get("code") == "source_mismatch" and items[1].get("http_status") == 403,
              "batch item 1: %s" % items[1])

        # An unregistered certificate (valid chain) and no credentials at all: 401.
        for name, ctx in (("unknown cert", unknown), ("no credentials", nocert)):
            code, hdrs, resp = https(port, ctx, "POST", "/v1/documents", envelope(ORG, "x"))
            check(code == 401 and resp.get("code") == "unauthorized"
                  and hdrs.get("www-authenticate", "").startswith("Bearer")
                  and hdrs.get("content-type", "").startswith("application/problem+json"),
                  "%s: %d %s %s" % (name, code, hdrs, resp))
            code, _, resp = https(port, ctx, "GET", "/v1/submissions/" + sid)
            check(code == 401, "%s reading a submission: %d %s" % (name, code, resp))

        # A submission is visible to its organisation only.
        code, _, resp = https(port, good, "GET", "/v1/submissions/" + sid)
        check(code == 200 and resp.get("submission_id") == sid, "owner GET: %d %s" % (code, resp))
        code, _, resp = https(port, other, "GET", "/v1/submissions/" + sid)
        check(code == 404, "other organisation's GET: %d %s" % (code, resp))
        code, _, resp = https(port, nocert, "GET", "/v1/submissions/" + sid,
                              headers={"Authorization": "Bearer " + key_b})
        check(code == 404, "other organisation's key GET: %d %s" % (code, resp))
        code, _, resp = https(port, nocert, "GET", "/v1/submissions/" + sid,
                              headers={"Authorization": "Bearer " + key_a})
        check(code == 200, "owner's key GET: %d %s" % (code, resp))

        # API keys, over TLS without a certificate.
        code, _, resp = https(port, nocert, "POST", "/v1/documents", envelope(ORG, "key"),
                              headers={"Authorization": "Bearer " + key_a})
        check(code == 202, "good key: %d %s" % (code, resp))
        code, _, resp = https(port, nocert, "POST", "/v1/documents", envelope(ORG, "key"),
                              headers={"Authorization": "Bearer " + key_b})
        check(code == 403 and resp.get("code") == "source_mismatch",
              "key of another organisation: %d %s" % (code, resp))
        for bad in ("Bearer " + secrets.token_hex(32), "Bearer " + key_a[:-1], "Basic " + key_a):
            code, hdrs, resp = https(port, nocert, "POST", "/v1/documents", envelope(ORG, "key"),
                                     headers={"Authorization": bad})
            check(code == 401 and resp.get("code") == "unauthorized"
                  and "www-authenticate" in hdrs, "wrong key %r: %d %s" % (bad[:12], code, resp))
        # A key and a certificate of different organisations are refused together.
        code, _, resp = https(port, good, "POST", "/v1/documents", envelope(ORG, "key"),
                              headers={"Authorization": "Bearer " + key_b})
        check(code == 401, "certificate and key disagree: %d %s" % (code, resp))
        # Health and metrics stay open.
        code, _, _ = https(port, nocert, "GET", "/metrics")
        check(code == 200, "/metrics without credentials: %d" % code)


def test_required_client_certificates():
    with tempfile.TemporaryDirectory() as folder, harness.Stack("identity-req") as stack:
        pki = Pki(folder)
        port = start_tls_gateway(stack, folder, pki, "required", {ORG: secrets.token_hex(32)})
        code, _, resp = https(port, client_context(pki, "good"), "POST", "/v1/documents",
                              envelope(ORG, "req"))
        check(code == 202, "required, good cert: %d %s" % (code, resp))
        for name in ("unknown", None):
            why = refused(port, client_context(pki, name))
            check(why is not None, "required, %s certificate: got an HTTP answer" % name)


def read_response(tls):
    """One HTTP/1.1 response (Content-Length framed) from a TLS socket: (status, body)."""
    f = tls.makefile("rb")
    status = int(f.readline().split()[1])
    length = 0
    while True:
        line = f.readline()
        check(line, "connection closed inside a response head")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = f.read(length)
    f.close()
    return status, body


def test_tls_framing():
    """The loop's TLS paths: a body of many TLS records, pipelined requests in one write, a
    response larger than the socket buffer (partial SSL_write), and a client that never sends
    its ClientHello, closed by the header timeout."""
    key = secrets.token_hex(32)
    with tempfile.TemporaryDirectory() as folder, harness.Stack("identity-framing") as stack:
        pki = Pki(folder)
        port = start_tls_gateway(stack, folder, pki, "optional", {ORG: key},
                                 ING_GATEWAY_HEADER_TIMEOUT_MS="1500")
        good = client_context(pki, "good")
        big = ingsamples.envelope("ID-big-" + uuid.uuid4().hex[:12], os.urandom(6 << 20))
        big["source"]["finess"] = ORG
        code, _, resp = https(port, good, "POST", "/v1/documents", big)
        check(code == 202, "6 MiB document over TLS: %d %s" % (code, resp))

        # Three requests in one write; three answers, in order.
        docs = [envelope(ORG, "pipe%d" % i) for i in range(2)]
        raw = b""
        for doc in docs:
            body = json.dumps(doc).encode()
            raw += (b"POST /v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                    + body)
        raw += b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock, \
                good.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            tls.sendall(raw)
            answers = [read_response(tls) for _ in range(3)]
        check([a[0] for a in answers] == [202, 202, 200], "pipelined: %s" % answers)
        check(json.loads(answers[1][1])["submission_id"] != json.loads(answers[0][1])[
            "submission_id"], "pipelined answers are distinct: %s" % answers)

        # A batch whose answer (about 150 KB) exceeds what one write can take.
        batch = [envelope(ORG, "many%d" % i) for i in range(1000)]
        code, _, resp = https(port, good, "POST", "/v1/documents:batch", batch)
        check(code == 200 and resp.get("accepted") == 1000,
              "1000-item batch over TLS: %d %s" % (code, str(resp)[:300]))

        # No ClientHello: the handshake is bounded by the header timeout.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            t0 = time.monotonic()
            try:
                data = sock.recv(1)
            except ConnectionResetError:
                data = b""
            waited = time.monotonic() - t0
        check(data == b"" and 1.0 <= waited < 8, "silent client: %r after %.1fs" % (data, waited))


def test_loadgen_over_tls():
    """bench/ingest-loadgen speaks HTTPS with a client certificate, or with an API key."""
    key = secrets.token_hex(32)
    loadgen = os.path.join(harness.BUILD, "bench", "ingest-loadgen")
    with tempfile.TemporaryDirectory() as folder, harness.Stack("identity-lg") as stack:
        pki = Pki(folder)
        port = start_tls_gateway(stack, folder, pki, "optional", {OTHER: key})
        runs = {"certificate": ["tls_cert=" + pki.clients["good"][0],
                                "tls_key=" + pki.clients["good"][1], "finess=" + ORG],
                "api_key": ["api_key=" + key, "finess=" + OTHER]}
        for name, sets in runs.items():
            out = os.path.join(folder, "lg-" + name)
            argv = [loadgen, "--smoke", "--url", "https://127.0.0.1:%d" % port, "--out", out,
                    "--duration", "3", "--warmup", "1", "--set", "tls_ca=" + pki.ca]
            for kv in sets:
                argv += ["--set", kv]
            run = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                 env={k: v for k, v in stack.env.items()
                                      if not k.startswith("ING_")})
            check(run.returncode == 0, "loadgen over TLS (%s) exited %d:\n%s%s"
                  % (name, run.returncode, run.stdout[-2000:], run.stderr[-2000:]))
            with open(os.path.join(out, "summary.txt")) as f:
                summary = f.read()
            check("errors=0 " in summary and "sent=0 " not in summary,
                  "loadgen over TLS (%s): %s" % (name, summary))
        # Without credentials every request is refused: the run fails.
        run = subprocess.run([loadgen, "--smoke", "--url", "https://127.0.0.1:%d" % port, "--out",
                              os.path.join(folder, "lg-none"), "--duration", "2", "--warmup", "0",
                              "--set", "tls_ca=" + pki.ca], capture_output=True, text=True,
                             timeout=120, env={k: v for k, v in stack.env.items()
                                               if not k.startswith("ING_")})
        check(run.returncode != 0, "loadgen without credentials succeeded:\n%s" % run.stdout)


def test_plain_http_loopback_trust():
    with harness.Stack("identity-plain") as stack:
        stack.start_gateway()  # config/local/gateway.conf: plain HTTP, trust_loopback
        code, _, resp = stack.submit(envelope(OTHER, "plain"))
        check(code == 202, "plain HTTP with loopback trust: %d %s" % (code, resp))
        code, _, resp = stack.request("GET", "/v1/submissions/" + resp["submission_id"],
                                      headers={"X-Ing-Org": ORG})
        check(code == 404, "X-Ing-Org of another organisation: %d %s" % (code, resp))
        # A wrong API key is refused even with loopback trust.
        code, hdrs, resp = stack.request("POST", "/v1/documents", envelope(ORG, "plain"),
                                         headers={"Authorization": "Bearer nope"})
        check(code == 401, "wrong key with loopback trust: %d %s" % (code, resp))
    # Plain HTTP off loopback refuses to start.
    port = harness.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ING_")}
    env.update(ING_GATEWAY_LISTEN="0.0.0.0:%d" % port, ING_GATEWAY_TRUST_LOOPBACK="false",
               ING_GATEWAY_ORGS=os.devnull)
    r = subprocess.run([GATEWAY, "-c", GATEWAY_CONF, "--check-config"], env=env,
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "plain HTTP is allowed only on a loopback address" in r.stderr,
          "plain HTTP on 0.0.0.0: rc=%d %s" % (r.returncode, r.stderr.strip()))


if __name__ == "__main__":
    harness.run([test_optional_client_certificates, test_required_client_certificates,
                 test_tls_framing, test_loadgen_over_tls, test_plain_http_loopback_trust])
