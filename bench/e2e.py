#!/usr/bin/env python3
"""Submit-to-stored latency of a loadgen run, resolved in PostgreSQL after the run.

ingest-loadgen records every Nth accepted submission (e2e_sample) into OUT/e2e_samples.tsv.
This script asks the database, through `psql` as a subprocess (so loadgen never links
libpq), for document.stored_at - submission.received_at of those submissions, polling until
each has a final status or the timeout passes, then writes OUT/e2e.json and re-renders
OUT/report.html. Standard library only.

Usage: bench/e2e.py OUT_DIR [--pg-url URL] [--timeout SECONDS]
       (default URL: $ING_PG_URL, else the local stack's database)
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

FINAL = {"stored", "duplicate", "rejected", "refused"}
DEFAULT_URL = "postgresql://ingest:ingest@127.0.0.1:55432/ingest"


def query(url, ids):
    """{submission_id: (status, e2e_ms or None)} for the ids with a final status."""
    out = {}
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        ids_array = "{%s}" % ",".join(chunk)
        # Final statuses only: the view's 'accepted' branch is then pruned when planned, and
        # each other branch is one index scan over the ids (a join would not reach the
        # indexes through the view). For a stored document, updated_at is its stored_at.
        sql = ("SELECT submission_id, status, CASE WHEN status = 'stored' THEN "
               "extract(epoch FROM (updated_at - received_at)) * 1000 END "
               "FROM submission_status WHERE submission_id = ANY('%s'::text[]) "
               "AND status <> 'accepted'" % ids_array)
        res = subprocess.run(["psql", url, "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                              "-c", sql], capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise SystemExit("e2e.py: psql failed: %s" % res.stderr.strip())
        for line in res.stdout.splitlines():
            sid, status, ms = line.split("\t")
            out[sid] = (status, float(ms) if ms else None)
    return out


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1)
    return sorted_values[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--pg-url", default=os.environ.get("ING_PG_URL", DEFAULT_URL))
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    ids = []
    with open(os.path.join(args.out_dir, "e2e_samples.tsv")) as f:
        next(f)
        for line in f:
            sid = line.split("\t")[0]
            if re.fullmatch(r"[0-9a-f]{32}", sid):
                ids.append(sid)
    deadline = time.monotonic() + args.timeout
    found = {}
    while True:
        found = query(args.pg_url, ids) if ids else {}
        pending = [s for s in ids if found.get(s, ("", None))[0] not in FINAL]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    lat = sorted(ms for status, ms in found.values() if status == "stored" and ms is not None)
    statuses = {}
    for status, _ in found.values():
        statuses[status] = statuses.get(status, 0) + 1
    result = {
        "source": "PostgreSQL: document.stored_at - submission.received_at (psql)",
        "sampled": len(ids),
        "resolved": len(lat),
        "unknown": len(ids) - len(found),
        "statuses": statuses,
        "latency_ms": {
            "p50": percentile(lat, 50), "p90": percentile(lat, 90), "p99": percentile(lat, 99),
            "max": lat[-1] if lat else 0.0, "mean": sum(lat) / len(lat) if lat else 0.0,
        } if lat else {},
    }
    with open(os.path.join(args.out_dir, "e2e.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "report.py"), args.out_dir], check=False)
    return 0 if lat or not ids else 1


if __name__ == "__main__":
    sys.exit(main())
