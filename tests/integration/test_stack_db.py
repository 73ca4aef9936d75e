"""deploy/local/stack db create|drop: what bench/run-suite's storage measure builds on. A
scratch database gets every migration in deploy/migrations, is dropped again, and the stack's
own database can never be dropped this way. In such a database, the week partitions of the
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
    """Migration 008 and `ingestctl maintain`: the gateway's 'accepted' rows go to week
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

    def at(day, hour=12):
        return ("(current_date + %d)::timestamp AT TIME ZONE 'UTC' + interval '%d hours'"
                % (day, hour))

    def accept(sid, day):
        sql("INSERT INTO submission_accepted VALUES ('%s', '130000001', 'DOC-%s', 1, %s)"
            % (sid, sid, at(day)))
        return sql("SELECT tableoid::regclass FROM submission_accepted WHERE submission_id = "
                   "'%s' ORDER BY received_at DESC LIMIT 1" % sid)

    def route(day):
        """The partition a row of that day goes to, without leaving it there."""
        part = sql("WITH i AS (INSERT INTO submission_accepted VALUES ('probe', '130000001', "
                   "'DOC-probe', 1, %s) RETURNING tableoid) SELECT tableoid::regclass FROM i"
                   % at(day))
        sql("DELETE FROM submission_accepted WHERE submission_id = 'probe'")
        return part

    def finish(sid):
        sql("INSERT INTO submission (submission_id, org_finess, document_id, version, status, "
            "received_at) VALUES ('%s', '130000001', 'DOC-%s', 1, 'refused', now())" % (sid, sid))

    def maintain(today, keep=35, ahead=7):
        out = sql("SELECT action || '|' || partition_name || '|' || coalesce(unfinished, -1) "
                  "FROM submission_accepted_maintain(%d, %d, current_date + %d)"
                  % (ahead, keep, today))
        return [line.split("|") for line in out.splitlines()]

    def week_of(day):
        return sql("SELECT 'submission_accepted_w' || to_char(date_trunc('week', "
                   "(current_date + %d)::timestamp), 'YYYYMMDD')" % day)

    try:
        # Today and the next seven days land in a partition of their own, never the default.
        for day in range(8):
            part = accept("a%d" % day, day)
            check(part != "submission_accepted_default", "day +%d went to %s" % (day, part))
        check(accept("a-1", -1).startswith("submission_accepted_upto_"),
              "yesterday's row is not in the table attached by the migration")
        p = maintain_ctl(name)
        check(p.returncode == 0 and " dropped, 0 kept" in p.stdout,
              "maintain on a fresh database: rc %d %s %s" % (p.returncode, p.stdout, p.stderr))

        # Fifty days later: the weeks ahead exist, the old partitions holding unfinished
        # submissions are kept and reported; once those are final, they go.
        actions = maintain(50)
        for day in (50, 57):
            check(route(day) == week_of(day), "day +%d goes to %s, want %s (%s)"
                  % (day, route(day), week_of(day), actions))
        kept = [a for a in actions if a[0].startswith("kept")]
        check(sum(int(a[2]) for a in kept) == 9 and
              any(a[1].startswith("submission_accepted_upto_") for a in kept) and
              not any(a[0] == "dropped" and a[2] != "0" for a in actions),
              "want the 9 unfinished rows of days -1..+7 kept where they are: %s" % actions)
        for day in range(-1, 8):
            finish("a%d" % day)
        actions = maintain(50)
        dropped = [a for a in actions if a[0] == "dropped"]
        check(len(dropped) == len(kept) and not any(a[0].startswith("kept") for a in actions),
              "once final, the old partitions are dropped: %s" % actions)
        check(sql("SELECT count(*) FROM submission_accepted") == "0", "rows left behind")

        # A resent submission in two partitions is one 'accepted' submission, the earliest.
        accept("resent", 53)
        accept("resent", 60)
        rows = sql("SELECT status, received_at::date - current_date FROM submission_status "
                   "WHERE submission_id = 'resent'").splitlines()
        check(rows == ["accepted|53"], "resent submission: %r" % rows)
        finish("resent")

        # No partition covers a week: its rows go to the default partition, a partition for
        # that week is then refused, and old finished rows there are deleted.
        check(accept("future", 80) == "submission_accepted_default", "day +80 not in default")
        actions = maintain(80, ahead=0)
        check(["not created: the default partition holds rows of that week", week_of(80), "-1"]
              in actions, "the week of day +80 created over the default's rows: %s" % actions)
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
