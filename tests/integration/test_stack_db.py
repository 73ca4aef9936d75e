"""deploy/local/stack db create|drop: what bench/run-suite's storage measure builds on. A
scratch database gets every migration in deploy/migrations, is dropped again, and the stack's
own database can never be dropped this way. In such a database, the day partitions of the
gateway's 'accepted' rows and `ingestctl maintain` (migration 008)."""

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


def maintain_ctl(name, *args):
    env = dict(os.environ, ING_WORKER_DB_URL=harness.PG_URL.rsplit("/", 1)[0] + "/" + name)
    return subprocess.run([harness.INGESTCTL, "-c", harness.WORKER_CONF, "maintain"] + list(args),
                          env=env, capture_output=True, text=True, timeout=60)


def test_accepted_partitions():
    """Migration 008 and `ingestctl maintain`: the gateway's 'accepted' rows go to day
    partitions made ahead of time, old partitions are dropped, never one that still holds a
    submission without a final status, and the DEFAULT partition catches what no partition
    covers. Time passes through the function's `today` argument."""
    name = "test_parts_%s" % uuid.uuid4().hex[:8]
    p = stack_db("create", name)
    check(p.returncode == 0, "create: rc %d %s" % (p.returncode, p.stderr))

    def sql(q):
        rc, out, err = scratch_psql(name, q)
        check(rc == 0, "%s: %s" % (q, err))
        return out

    def accept(sid, day, hour=12):
        sql("INSERT INTO submission_accepted VALUES ('%s', '130000001', 'DOC-%s', 1, "
            "(current_date + %d)::timestamp AT TIME ZONE 'UTC' + interval '%d hours')"
            % (sid, sid, day, hour))
        return sql("SELECT tableoid::regclass FROM submission_accepted WHERE submission_id = "
                   "'%s' ORDER BY received_at DESC LIMIT 1" % sid)

    def finish(sid):
        sql("INSERT INTO submission (submission_id, org_finess, document_id, version, status, "
            "received_at) VALUES ('%s', '130000001', 'DOC-%s', 1, 'refused', now())" % (sid, sid))

    def maintain(today, keep=35, ahead=7):
        out = sql("SELECT action || ' ' || partition_name || ' ' || coalesce(unfinished, -1) "
                  "FROM submission_accepted_maintain(%d, %d, current_date + %d)"
                  % (ahead, keep, today))
        return out.splitlines()

    def day_name(offset):
        return sql("SELECT 'submission_accepted_p' || to_char(current_date + %d, 'YYYYMMDD')"
                   % offset)

    try:
        # Today and the next seven days land in a partition of their own, never the default.
        for day in range(8):
            part = accept("a%d" % day, day)
            check(part != "submission_accepted_default", "day +%d went to %s" % (day, part))
        check(accept("a-1", -1).startswith("submission_accepted_upto_"),
              "yesterday's row is not in the table attached by the migration")
        p = maintain_ctl(name)
        check(p.returncode == 0 and "0 created, 0 dropped" in p.stdout,
              "maintain on a fresh database: rc %d %s %s" % (p.returncode, p.stdout, p.stderr))

        # Fifty days later: the partitions ahead exist, the old ones holding only unfinished
        # submissions are kept and reported; once final, they go.
        actions = maintain(50)
        check("created %s 0" % day_name(50) in actions and
              "created %s 0" % day_name(57) in actions, "days +50..+57 not created: %s" % actions)
        kept = [a for a in actions if a.startswith("kept")]
        check(len(kept) == 7 and any(" submission_accepted_upto_" in a and a.endswith(" 3")
                                     for a in kept),
              "want the attached table (3 unfinished: days -1, 0, +1) and 6 day partitions "
              "kept: %s" % actions)
        for day in range(-1, 8):
            finish("a%d" % day)
        actions = maintain(50)
        dropped = [a for a in actions if a.startswith("dropped")]
        check(len(dropped) == 7 and not any(a.startswith("kept") for a in actions),
              "once final, the old partitions are dropped: %s" % actions)
        check(sql("SELECT count(*) FROM submission_accepted") == "0", "rows left behind")

        # A resent submission in two partitions is one 'accepted' submission, the earliest.
        accept("resent", 53)
        accept("resent", 54)
        rows = sql("SELECT status, received_at::date - current_date FROM submission_status "
                   "WHERE submission_id = 'resent'").splitlines()
        check(rows == ["accepted|53"], "resent submission: %r" % rows)
        finish("resent")

        # No partition covers a day: its rows go to the default partition, a partition for
        # that day is then refused, and old finished rows there are deleted.
        check(accept("future", 80) == "submission_accepted_default", "day +80 not in default")
        actions = maintain(75)
        check("not created: the default partition holds rows of that day %s -1" % day_name(80)
              in actions, "day +80 created over the default's rows: %s" % actions)
        check(accept("old", -40) == "submission_accepted_default", "day -40 not in default")
        p = maintain_ctl(name)
        check(p.returncode == 3 and "1 accepted submissions older than 35 days" in p.stderr,
              "an unfinished old row must make maintain exit 3: rc %d %s %s"
              % (p.returncode, p.stdout, p.stderr))
        finish("old")
        p = maintain_ctl(name)
        check(p.returncode == 0 and "1 old rows deleted" in p.stdout,
              "maintain after the row is final: rc %d %s %s" % (p.returncode, p.stdout, p.stderr))
        check(sql("SELECT count(*) FROM submission_accepted WHERE submission_id = 'old'") == "0",
              "the old finished row is still there")
        p = maintain_ctl(name, "--keep-days", "0")
        check(p.returncode == 2, "--keep-days 0 accepted: rc %d" % p.returncode)
    finally:
        stack_db("drop", name)


if __name__ == "__main__":
    harness.run([test_scratch_database, test_accepted_partitions])
