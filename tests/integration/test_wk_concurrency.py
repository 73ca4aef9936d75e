"""Issue 4, concurrency: the same document submitted 100 times at once over 100 connections
with two workers running, the same content under many document ids at once, and versions
arriving out of order. Exactly one copy is stored each time."""

import concurrent.futures
import http.client
import subprocess
import time
import uuid

import harness
from harness import check, ingsamples, psql, wait_until
from test_wk_statuses import (dlq_lines, doc_rows, submission, submit_ok, unique_content,
                              wait_final)


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
            "SELECT count(*) FROM submission_status WHERE submission_id = '%s' AND status = 'stored'"
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


def test_same_document_across_partitions():
    """The same document (source, id, version, content) sent at once for each test patient:
    its records are keyed by INS, so they land on different partitions and consumers, which
    race to insert one key. The loser's COPY fails on the unique key and its batch is
    decided again: one copy stored, every submission (one id: it does not depend on the
    patient) stored, nothing dead-lettered. Twenty rounds, so the race really happens."""
    with harness.Stack("race") as stack:
        stack.start_gateway()
        stack.start_worker(1)
        stack.start_worker(2)
        tag = uuid.uuid4().hex[:8]
        finess = ingsamples.TEST_FINESS[0]
        envs, docs = [], []
        for r in range(20):
            content, _ = unique_content("%s-%d" % (tag, r))
            doc = "WK-RACE-%s-%02d" % (tag, r)
            docs.append(doc)
            envs += [ingsamples.envelope(doc, content, finess=finess, ins=ins)
                     for ins in ingsamples.TEST_INS]
        ids = submit_parallel(stack, envs)
        check(len(set(ids)) == len(docs), "%d ids for %d documents" % (len(set(ids)), len(docs)))
        for sid in set(ids):
            check(wait_final(sid)[0] == "stored", "status %s" % (submission(sid),))
        time.sleep(3)  # every record consumed, the losers' batches retried
        for doc in docs:
            rows = doc_rows(finess, doc)
            check(len(rows) == 1, "%s stored %d times" % (doc, len(rows)))
        check(dlq_lines(stack) == [], "dead letters: %s" % dlq_lines(stack)[:2])


def test_key_inserted_meanwhile():
    """The race of two workers on one document key, made deterministic: a transaction stands
    in for the other worker, inserting the key (with other content) and committing only once
    the worker's COPY waits on it. The COPY then fails on the unique key; the batch is rolled
    back, not dead-lettered, and decided again with fresh facts: version_conflict."""
    with harness.Stack("meanwhile") as stack:
        stack.start_gateway()
        worker = stack.start_worker(1)
        tag = uuid.uuid4().hex[:8]
        finess = ingsamples.TEST_FINESS[1]
        doc = "WK-MEANWHILE-" + tag
        content, _ = unique_content(tag)
        other = psql_session()
        other.stdin.write(
            "BEGIN;\nINSERT INTO document (ins, source_finess, document_id, version, "
            "submission_id, type_code, media_type, created_at, confidentiality, "
            "hidden_from_patient, sha256, size_bytes, compression, content, received_at, "
            "kafka_partition, kafka_offset) VALUES ('%s', '%s', '%s', 1, '%s', '11502-2', "
            "'text/xml', now(), 'N', false, sha256('other'), 5, 'zstd', 'x', now(), 0, 0);\n"
            % (ingsamples.TEST_INS[0], finess, doc, uuid.uuid4().hex))
        other.stdin.flush()
        sid = submit_ok(stack, ingsamples.envelope(doc, content, finess=finess))

        def copy_waiting():
            rows = psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                        "'ingest-worker' AND wait_event_type = 'Lock' AND query LIKE 'COPY%'")
            return rows[0][0] != "0"
        try:
            wait_until("the worker's COPY waiting on the other insert", copy_waiting, 30)
        finally:
            other.stdin.write("COMMIT;\n")
            other.stdin.close()
            other.wait(timeout=30)
        check(wait_final(sid)[:2] == ("rejected", "version_conflict"),
              "status %s" % (submission(sid),))
        check(len(doc_rows(finess, doc)) == 1, "rows %s" % doc_rows(finess, doc))
        log = worker.log_text()
        check("SQLSTATE 23505" in log and "batch rolled back" in log,
              "no rolled-back batch in the worker's log")
        reasons = [d.get("ing-reason") for d in dlq_lines(stack)]
        check(reasons == ["version_conflict"], "dead letters %s" % reasons)


def psql_session():
    """A psql reading statements from a pipe: a transaction held open across steps."""
    return subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", harness.PG_URL],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


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


def test_rules_within_one_batch():
    """The rules between records of one batch, decided before any of them is in the database
    (the worker's overlay of its own batch on the facts): every record is in Kafka before the
    only worker starts, and one patient means one partition, so its first poll holds them all.
    Content repeated under another document id is a duplicate of the first; versions 2 then 1
    of a document are both stored, 2 current; a version sent again with other content is
    rejected; an exact resubmission is the same stored submission."""
    with harness.Stack("batchrules") as stack:
        stack.start_gateway()
        tag = uuid.uuid4().hex[:8]
        ins, finess = ingsamples.TEST_INS[3], ingsamples.TEST_FINESS[1]

        def env(doc, content=None, version=1):
            content = content or unique_content("%s-%s-%d" % (tag, doc, version))[0]
            return ingsamples.envelope("WK-BATCH-%s-%s" % (tag, doc), content, version=version,
                                       ins=ins, finess=finess)

        same, _ = unique_content(tag + "-same")
        first = env("A", same)
        envs = [first, env("B", same), env("V", version=2), env("V"), env("C"), env("C"), first]
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
        sids = []
        for e in envs:
            code, _, body = stack.submit(e, conn=conn)
            check(code == 202, "%s: %s %s" % (e["document_id"], code, body))
            sids.append(body["submission_id"])
        conn.close()
        check(sids[-1] == sids[0], "a resubmission got another id")
        stack.start_worker(1)
        finals = [wait_final(s) for s in sids]
        statuses = [f[0] for f in finals]
        check(statuses == ["stored", "duplicate", "stored", "stored", "stored", "rejected",
                           "stored"], "statuses %s" % statuses)
        check(finals[1][2] == finals[0][2], "B is a duplicate of %s, want A's %s"
              % (finals[1][2], finals[0][2]))
        check(finals[5][1] == "version_conflict", "C again: %s" % (finals[5],))
        rows = doc_rows(finess, envs[2]["document_id"])
        check({v: s for v, (_, s) in rows.items()} == {1: True, 2: False},
              "versions of V (version: superseded): %s" % rows)
        check(len(doc_rows(finess, first["document_id"])) == 1, "A stored twice")


if __name__ == "__main__":
    harness.run([test_hundred_identical_submissions, test_same_document_across_partitions,
                 test_key_inserted_meanwhile, test_versions_out_of_order,
                 test_rules_within_one_batch])
