"""Issue 4, concurrency: the same document submitted 100 times at once over 100 connections
with two workers running, the same content under many document ids at once, and versions
arriving out of order. Exactly one copy is stored each time."""

import concurrent.futures
import http.client
import time
import uuid

import harness
from harness import check, ingsamples, psql, wait_until
from test_wk_statuses import doc_rows, submission, unique_content, wait_final


def submit_parallel(stack, envs):
    """POSTs every envelope at once, each on a connection of its own; returns the 202 ids."""
    def one(env):
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=120)
        try:
            code, _, body = stack.submit(env, conn=conn)
            check(code == 202, "POST %s answered %s %s" % (env["document_id"], code, body))
            return body["submission_id"]
        finally:
            conn.close()
    with concurrent.futures.ThreadPoolExecutor(len(envs)) as pool:
        return list(pool.map(one, envs))


def test_hundred_identical_submissions():
    with harness.Stack("same100") as stack:
        stack.start_gateway()
        stack.start_worker(1)
        stack.start_worker(2)
        tag = uuid.uuid4().hex[:8]
        content, _ = unique_content(tag)
        finess = ingsamples.TEST_FINESS[1]
        env = ingsamples.envelope("WK-C100-" + tag, content, finess=finess)
        ids = submit_parallel(stack, [env] * 100)
        check(len(set(ids)) == 1, "%d different submission ids" % len(set(ids)))
        sid = ids[0]
        check(sid == ingsamples.submission_id(finess, env["document_id"], 1, content),
              "not the deterministic id")
        check(wait_final(sid)[0] == "stored", "status %s" % (submission(sid),))
        # Let every one of the 100 records be consumed before counting.
        wait_until("topic drained", lambda: int(psql(
            "SELECT count(*) FROM submission WHERE submission_id = '%s' AND status = 'stored'"
            % sid)[0][0]) == 1, 30)
        time.sleep(3)
        rows = doc_rows(finess, env["document_id"])
        check(len(rows) == 1, "stored %d copies" % len(rows))
        check(submission(sid) == ("stored", "", str(rows[1][0])), "status %s" %
              (submission(sid),))

        # Same content, same patient and type, 30 different document ids, all at once:
        # one stored, the 29 others duplicates linked to it.
        content2, _ = unique_content(tag + "dup")
        envs = [ingsamples.envelope("WK-CDUP-%s-%02d" % (tag, i), content2, finess=finess)
                for i in range(30)]
        ids = submit_parallel(stack, envs)
        finals = [wait_final(s) for s in ids]
        stored = [f for f in finals if f[0] == "stored"]
        dups = [f for f in finals if f[0] == "duplicate"]
        check(len(stored) == 1 and len(dups) == 29, "statuses %s" %
              sorted(f[0] for f in finals))
        check(all(f[2] == stored[0][2] for f in dups), "duplicates not linked to the stored one")
        n = psql("SELECT count(*) FROM document WHERE document_id LIKE 'WK-CDUP-%s-%%'" % tag)
        check(n == [["1"]], "stored copies: %s" % n)


def test_versions_out_of_order():
    """Versions 3, 1, 5, 2, 4 arrive in that order: all kept, only 5 is current."""
    with harness.Stack("order") as stack:
        stack.start_gateway()
        stack.start_worker(1)
        stack.start_worker(2)
        tag = uuid.uuid4().hex[:8]
        finess = ingsamples.TEST_FINESS[2]
        doc = "WK-ORD-" + tag
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
        sids = []
        for v in (3, 1, 5, 2, 4):
            content, _ = unique_content("%s-v%d" % (tag, v))
            code, _, body = stack.submit(ingsamples.envelope(doc, content, version=v,
                                                             finess=finess), conn=conn)
            check(code == 202, "v%d: %s %s" % (v, code, body))
            sids.append(body["submission_id"])
        conn.close()
        finals = [wait_final(s) for s in sids]
        check(all(f[0] == "stored" for f in finals), "statuses %s" % finals)
        rows = doc_rows(finess, doc)
        check(sorted(rows) == [1, 2, 3, 4, 5], "versions %s" % sorted(rows))
        current = [v for v, (_, superseded) in rows.items() if not superseded]
        check(current == [5], "current versions %s" % current)


if __name__ == "__main__":
    harness.run([test_hundred_identical_submissions, test_versions_out_of_order])
