"""Demo driver: submits synthetic documents to the running local stack and reports.

Shows both sides a sender sees: accepted documents (202 with a submission id, then `stored`)
and refused ones (problem+json with the machine code and the field). Standard library only.
"""

import concurrent.futures
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "samples"))
import ingsamples  # noqa: E402

GATEWAY = urllib.parse.urlparse(os.environ.get("ING_GATEWAY_URL", "http://127.0.0.1:8080"))
PG_URL = os.environ.get("ING_PG_URL", "postgresql://ingest:ingest@127.0.0.1:55432/ingest")
METRICS_URLS = [u for u in os.environ.get("ING_WORKER_METRICS_URLS", "").split(",") if u]
INGESTCTL = os.path.join(ROOT, "build", "release", "workers", "ingestctl")
WORKER_CONF = os.path.join(ROOT, "config", "local", "worker.conf")
# The stack's own variables: ingestctl would take ING_* for settings it does not have.
STACK_VARS = ("ING_BROKERS", "ING_PG_URL", "ING_GATEWAY_URL", "ING_WORKER_METRICS_URLS",
              "KAFKA_LIBS")


def psql(sql):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", PG_URL, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def post_all(envs, threads=4):
    def send(chunk):
        conn = http.client.HTTPConnection(GATEWAY.hostname, GATEWAY.port, timeout=60)
        out = []
        for env in chunk:
            conn.request("POST", "/v1/documents", body=json.dumps(env),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            out.append((env, resp.status, json.loads(resp.read() or b"{}")))
        conn.close()
        return out
    results = []
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for part in pool.map(send, [envs[i::threads] for i in range(threads)]):
            results.extend(part)
    return results


def scrape(url):
    """{series: value} of a worker's Prometheus text, or None when it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    series = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            series[name] = float(value)
    return series


def print_patient_space(ins, lines=8):
    """What an operator sees of one patient's space: `ingestctl patient show` (audited)."""
    env = {k: v for k, v in os.environ.items() if k not in STACK_VARS}
    p = subprocess.run([INGESTCTL, "-c", WORKER_CONF, "patient", "show", ins], env=env,
                       capture_output=True, text=True, timeout=60)
    print("\nWhat an operator sees of one space (ingestctl patient show %s, audited):" % ins)
    if p.returncode != 0:
        print("  failed: %s" % p.stderr.strip())
        return
    out = p.stdout.splitlines()
    for line in out[:lines]:
        print("  " + line)
    if len(out) > lines:
        print("  ... %d more documents" % (len(out) - lines))


def print_workers_view():
    """What operations see on each worker's /metrics: counts since the worker started."""
    if not METRICS_URLS:
        return
    print("\nWhat operators see on the workers' /metrics (counts since each worker started; "
          "just after a start, the group may still be moving partitions between them):")
    for url in METRICS_URLS:
        s = scrape(url)
        if s is None:
            print("  %s: no answer" % url)
            continue
        pick = lambda prefix: sum(v for k, v in s.items() if k.startswith(prefix))
        count = s.get("ing_worker_batch_seconds_count", 0)
        print("  %s: %d stored, %d duplicate, %d refused, %d rejected, %d dead-lettered, "
              "lag %d, %d partitions, %d batches averaging %.0f ms"
              % (url, pick('ing_worker_documents_total{outcome="stored"'),
                 pick('ing_worker_documents_total{outcome="duplicate"'),
                 pick('ing_worker_documents_total{outcome="refused"'),
                 pick('ing_worker_documents_total{outcome="rejected"'),
                 pick("ing_worker_dead_lettered_total"), pick("ing_worker_lag_records"),
                 pick("ing_worker_assigned_partitions"), count,
                 1000 * s.get("ing_worker_batch_seconds_sum", 0) / max(count, 1)))


def main():
    count = int(sys.argv[1])
    run = uuid.uuid4().hex[:8]
    prefix = "DEMO-%s" % run
    print("demo: generating %d synthetic documents (lab reports, PDFs, FHIR prescriptions)"
          % count)
    docs = [env for env, _ in ingsamples.generate(42, count, prefix)]
    raw_bytes = sum(len(e["content"]) * 3 // 4 for e in docs)

    t0 = time.monotonic()
    results = post_all(docs)
    t_accepted = time.monotonic() - t0
    accepted = [r for r in results if r[1] == 202]
    print("demo: %d of %d accepted by the gateway in %.2fs (%.0f documents/s, %.1f MB/s)"
          % (len(accepted), count, t_accepted, count / t_accepted, raw_bytes / t_accepted / 1e6))
    for env, status, body in results:
        if status != 202:
            print("demo:   refused %s: %s %s" % (env["document_id"], status, body))

    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline:
        stored = int(psql("SELECT count(*) FROM document WHERE document_id LIKE '%s-%%'"
                          % prefix)[0][0])
        if stored >= len(accepted):
            break
        time.sleep(0.2)
    t_stored = time.monotonic() - t0
    print("demo: %d stored in their patients' spaces %.2fs after the first submission"
          % (stored, t_stored))

    print("\nWhat was stored (this run):")
    print("  %-9s %-24s %6s %12s %12s %6s" % ("type", "media type", "docs", "bytes",
                                              "stored bytes", "ratio"))
    for row in psql("SELECT type_code, media_type, count(*), sum(size_bytes), "
                    "sum(length(content)) FROM document WHERE document_id LIKE '%s-%%' "
                    "GROUP BY 1, 2 ORDER BY 1" % prefix):
        t, m, n, size, comp = row[0], row[1], int(row[2]), int(row[3]), int(row[4])
        print("  %-9s %-24s %6d %12d %12d %6.2f" % (t, m, n, size, comp, size / max(comp, 1)))
    print("\nPatient spaces holding this run's documents:")
    spaces = psql("SELECT ins, count(*) FROM document WHERE document_id LIKE '%s-%%' "
                  "GROUP BY ins ORDER BY ins" % prefix)
    for ins, n in spaces:
        print("  INS %s (test identifier): %s documents" % (ins, n))
    if spaces:
        print_patient_space(spaces[0][0])

    sid = accepted[0][2]["submission_id"] if accepted else None
    if sid:
        conn = http.client.HTTPConnection(GATEWAY.hostname, GATEWAY.port, timeout=10)
        conn.request("GET", "/v1/submissions/" + sid)
        resp = conn.getresponse()
        print("\nGET /v1/submissions/%s -> %d %s" % (sid, resp.status, resp.read().decode()))

    print("\nWhat a sender sees for bad input:")
    content = b"Compte rendu de consultation\n"
    bad = [
        ("INS with a wrong key", dict(ingsamples.envelope(prefix + "-BAD1", content),
                                      patient={"ins": "295109912611199",
                                               "oid": ingsamples.TEST_OID})),
        ("retired type code", dict(ingsamples.envelope(prefix + "-BAD2", content),
                                   type_code="11528-7")),
        ("content that does not match its hash",
         dict(ingsamples.envelope(prefix + "-BAD3", content), sha256="0" * 64)),
    ]
    for what, env in bad:
        _, status, body = post_all([env], 1)[0]
        print("  %-38s -> %d %s/%s: %s" % (what, status, body.get("code"), body.get("field"),
                                           body.get("detail")))
    print_workers_view()
    ok = stored >= len(accepted) == count
    print("\ndemo: %s" % ("all documents stored" if ok else "NOT all documents were stored"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
