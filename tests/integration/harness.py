"""Integration-test harness: the real Kafka broker and PostgreSQL of deploy/local/stack, and
this build's gateway and worker binaries, each test on a topic and consumer group of its own.

Standard library only. Configuration comes from the environment that tests/run and CTest set:
ING_BUILD_DIR (the build whose binaries are tested), ING_PG_URL, ING_BROKERS.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "samples"))
import ingsamples  # noqa: E402  (shared sample generator)

BUILD = os.environ.get("ING_BUILD_DIR", os.path.join(ROOT, "build", "release"))
PG_URL = os.environ.get("ING_PG_URL", "postgresql://ingest:ingest@127.0.0.1:55432/ingest")
BROKERS = os.environ.get("ING_BROKERS", "127.0.0.1:9092")
LOG_DIR = os.environ.get("ING_TEST_LOG_DIR", os.path.join(BUILD, "test-logs"))
# Workers seal documents with a keyring: the tests use one of their own, created once per build
# directory (never committed, never the stack's).
KEYRING = os.environ.get("ING_TEST_KEYRING", os.path.join(BUILD, "test-keyring"))
INGESTCTL = os.path.join(BUILD, "workers", "ingestctl")
WORKER_CONF = os.path.join(ROOT, "config", "local", "worker.conf")


class Failure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql):
    """Runs one statement, returns rows as lists of strings."""
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                          PG_URL, "-c", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def metric(stack, series):
    """The value of one /metrics series of a gateway (name with its labels, as rendered)."""
    code, _, raw = stack.request("GET", "/metrics")
    check(code == 200, "/metrics: %d" % code)
    for line in raw.decode().splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise Failure("no series %s in /metrics" % series)


def wait_until(what, predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class Process:
    """A gateway or worker process with its log file; stopped with SIGTERM at the end."""

    def __init__(self, name, argv, env):
        os.makedirs(LOG_DIR, exist_ok=True)
        self.name = name
        self.log_path = os.path.join(LOG_DIR, "%s-%s.log" % (name, uuid.uuid4().hex[:6]))
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=ROOT)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("%s did not stop within %ss after %s" % (self.name, timeout, sig))
        self.log.close()
        return self.proc.returncode

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Stack:
    """One test's pipeline: its own topic, dead-letter topic, consumer group and gateway port."""

    def __init__(self, name):
        tag = "%s-%s" % (name, uuid.uuid4().hex[:8])
        self.topic = "ing.test.%s" % tag
        self.dlq = "ing.test.%s.dlq" % tag
        self.group = "ing-test-%s" % tag
        self.port = free_port()
        self.url_host = "127.0.0.1"
        # The stack's env file (ING_BROKERS...) is for scripts, not for our programs,
        # which would read ING_KAFKA_* as librdkafka properties.
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("ING_BROKERS", "ING_PG_URL", "ING_GATEWAY_URL",
                                 "ING_WORKER_METRICS_URLS")}
        self.env.update({
            "ING_GATEWAY_LISTEN": "127.0.0.1:%d" % self.port,
            "ING_GATEWAY_TOPIC": self.topic,
            "ING_WORKER_TOPIC": self.topic,
            "ING_WORKER_DLQ_TOPIC": self.dlq,
            "ING_WORKER_GROUP": self.group,
            "ING_KAFKA_BOOTSTRAP_SERVERS": BROKERS,
            "ING_WORKER_KEYRING": KEYRING,
        })
        if not os.path.exists(KEYRING):
            subprocess.run([INGESTCTL, "-c", WORKER_CONF, "keyring", "init", KEYRING],
                           env=self.env, check=True, capture_output=True, timeout=30)
        self.processes = []
        subprocess.run([os.path.join(BUILD, "workers", "ingestctl"), "-c",
                        os.path.join(ROOT, "config", "local", "worker.conf"), "topics", "create"],
                       env=self.env, check=True, capture_output=True, timeout=60)

    def start_gateway(self, ready=True):
        """Starts a gateway and waits, as a load balancer would, until /readyz answers 200
        (Kafka and its status database connected); ready=False: only /healthz (the process
        is up)."""
        p = Process("gateway", [os.path.join(BUILD, "ingest", "ingest-gateway"), "-c",
                                os.path.join(ROOT, "config", "local", "gateway.conf")], self.env)
        self.processes.append(p)
        path = "/readyz" if ready else "/healthz"

        def up():
            if p.proc.poll() is not None:
                raise Failure("gateway exited %s:\n%s" % (p.proc.returncode, p.log_text()))
            try:
                return self.request("GET", path)[0] == 200
            except OSError:
                return False
        wait_until("gateway " + path, up, 30)
        return p

    def start_worker(self, worker_id=1, **extra_env):
        # A killed worker's partitions move once its session expires: keep that short here.
        env = dict(self.env, ING_WORKER_ID=str(worker_id), ING_KAFKA_SESSION_TIMEOUT_MS="6000",
                   **extra_env)
        p = Process("worker%d" % worker_id, [os.path.join(BUILD, "workers", "ingest-worker"),
                                             "-c", os.path.join(ROOT, "config", "local",
                                                                "worker.conf")], env)
        self.processes.append(p)
        return p

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict, parsed JSON body or raw bytes)."""
        own = conn is None
        conn = conn or http.client.HTTPConnection(self.url_host, self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            hdrs = {"Content-Type": "application/json"} if data is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            ctype = resp.getheader("Content-Type", "")
            parsed = json.loads(raw) if "json" in ctype and raw else raw
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
        finally:
            if own:
                conn.close()

    def submit(self, env, conn=None):
        return self.request("POST", "/v1/documents", env, conn=conn)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(test_failed=exc_type is not None)
        return False

    def close(self, test_failed=False):
        """Stops every process; a process that did not stop cleanly fails the test, unless
        the test has already failed (its own error is the one to report)."""
        errors = []
        for p in reversed(self.processes):
            try:
                rc = p.stop()
                if rc not in (0, -signal.SIGKILL):
                    errors.append("%s exited %s (log %s)" % (p.name, rc, p.log_path))
            except Failure as e:
                errors.append(str(e))
        if not test_failed:
            check(not errors, "; ".join(errors))


def stored_count(prefix):
    return int(psql("SELECT count(*) FROM document WHERE document_id LIKE '%s%%'" % prefix)[0][0])


def run(tests):
    """Runs the named test functions, prints one line each and a closing summary line."""
    passed = failed = 0
    for fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print("PASS %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
        except Exception as e:  # noqa: BLE001 — any exception is a failed test
            failed += 1
            print("FAIL %s (%.1fs): %s: %s" % (fn.__name__, time.monotonic() - t0,
                                               type(e).__name__, e), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)
