"""deploy/local/stack db create|drop: what bench/run-suite's storage measure builds on. A
scratch database gets every migration in deploy/migrations, is dropped again, and the stack's
own database can never be dropped this way."""

import glob
import os
import subprocess
import uuid

import harness
from harness import check

STACK = os.path.join(harness.ROOT, "deploy", "local", "stack")


def stack_db(*args):
    return subprocess.run([STACK, "db"] + list(args), capture_output=True, text=True, timeout=120)


def scratch_psql(name, sql):
    url = harness.PG_URL.rsplit("/", 1)[0] + "/" + name
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def test_scratch_database():
    name = "test_scratch_%s" % uuid.uuid4().hex[:8]
    p = stack_db("create", name)
    check(p.returncode == 0, "create: rc %d %s" % (p.returncode, p.stderr))
    try:
        migrations = sorted(os.path.basename(f).split("_")[0] for f in
                            glob.glob(os.path.join(harness.ROOT, "deploy", "migrations",
                                                   "[0-9][0-9][0-9]_*.sql")))
        rc, out, err = scratch_psql(name, "SELECT version FROM schema_migrations ORDER BY 1")
        check(rc == 0 and out.split() == migrations, "migrations %r, want %r (%s)"
              % (out, migrations, err))
        rc, out, _ = scratch_psql(name, "SELECT count(*) FROM document")
        check(rc == 0 and out == "0", "a fresh database holds documents: %r" % out)
        again = stack_db("create", name)
        check(again.returncode == 0 and "0 applied" in again.stderr,
              "second create is not a no-op: %s" % again.stderr)
    finally:
        p = stack_db("drop", name)
    check(p.returncode == 0, "drop: rc %d %s" % (p.returncode, p.stderr))
    rc, _, err = scratch_psql(name, "SELECT 1")
    check(rc != 0 and "does not exist" in err, "still there after drop: %s" % err)
    for bad in ("ingest", "postgres", "template1", "Bad-Name", "x; DROP TABLE document"):
        p = stack_db("drop", bad)
        check(p.returncode != 0, "drop %r was accepted" % bad)
    rows = harness.psql("SELECT count(*) FROM schema_migrations")
    check(int(rows[0][0]) == len(migrations), "the stack's database lost its migrations: %s"
          % rows)


if __name__ == "__main__":
    harness.run([test_scratch_database])
