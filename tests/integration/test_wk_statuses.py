"""Issue 4 through the real gateway and worker: every final status of shared/DOMAIN.md
("What happens to a document"), dead letters with their reason, opposition, encryption at rest
(no plaintext in the database, `ingestctl document show` reads it back, audited) and per-type
zstd dictionaries.

Helpers used by the other test_wk_*.py files live here too.
"""

import os
import random
import subprocess
import tempfile
import time
import uuid

import harness
from harness import check, ingsamples, psql, wait_until

FINAL = ("stored", "duplicate", "rejected", "refused")


def ctl(stack, *args, check_rc=True, timeout=60):
    """Runs ingestctl with the test's environment; returns (rc, stdout, stderr)."""
    p = subprocess.run([harness.INGESTCTL, "-c", harness.WORKER_CONF] + list(args),
                       env=stack.env, capture_output=True, text=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise harness.Failure("ingestctl %s exited %d: %s" % (" ".join(args), p.returncode,
                                                             p.stderr.strip()))
    return p.returncode, p.stdout, p.stderr


def submission(sid):
    """(status, code, document_ref) of a submission row, or None."""
    rows = psql("SELECT status, COALESCE(code, ''), COALESCE(document_ref::text, '') "
                "FROM submission_status WHERE submission_id = '%s'" % sid)
    return tuple(rows[0]) if rows else None


def wait_final(sid, timeout=60):
    def final():
        row = submission(sid)
        return row if row and row[0] in FINAL else None
    return wait_until("final status of %s" % sid, final, timeout)


def submit_ok(stack, env, conn=None):
    code, _, body = stack.submit(env, conn=conn)
    check(code == 202, "POST %s answered %s %s" % (env["document_id"], code, body))
    return body["submission_id"]


def unique_content(tag, size=2048, seed=None):
    """A lab report carrying a marker that appears nowhere else."""
    rng = random.Random(seed if seed is not None else tag)
    marker = ("MARKER-%s-%s" % (tag, uuid.uuid4().hex)).encode()
    body = ingsamples.lab_report_xml(rng, size)
    return body.replace(b"<structuredBody>", b"<structuredBody><!-- " + marker + b" -->", 1), \
        marker


def doc_rows(finess, document_id):
    """{version: (id, superseded)} of a document's stored versions."""
    rows = psql("SELECT version, id, superseded FROM document WHERE source_finess = '%s' "
                "AND document_id = '%s'" % (finess, document_id))
    return {int(v): (int(i), s == "t") for v, i, s in rows}


def patient_show(stack, ins):
    """ingestctl patient show, parsed: {"space", "opposed", "count", "documents": {(document_id,
    version): {column: value}}} (documents in the order printed)."""
    _, out, _ = ctl(stack, "patient", "show", ins)
    lines = out.splitlines()
    head = dict(line.split(": ", 1) for line in lines if ": " in line and "\t" not in line)
    check(head.get("patient") == ins, "patient show printed:\n%s" % out)
    rows = [line.split("\t") for line in lines if "\t" in line]
    docs = {}
    if rows:
        names = rows[0]
        for r in rows[1:]:
            d = dict(zip(names, r))
            docs[(d["document_id"], int(d["version"]))] = d
    return {"space": head.get("space", ""), "opposed": head.get("opposed", ""),
            "count": head.get("documents", ""), "documents": docs}


def dlq_lines(stack, n=100):
    _, out, _ = ctl(stack, "dlq", "tail", stack.dlq, str(n))
    return [dict(kv.split("=", 1) for kv in line.split("\t")) for line in out.splitlines()]


def test_every_status():
    with harness.Stack("statuses") as stack:
        stack.start_gateway()
        stack.start_worker()
        tag = uuid.uuid4().hex[:8]
        ins = harness.ingsamples.TEST_INS[1]
        finess = ingsamples.TEST_FINESS[0]
        markers = []

        # valid, new -> stored
        content, marker = unique_content(tag + "a")
        markers.append(marker)
        doc_a = "WK-ST-%s-A" % tag
        env_a = ingsamples.envelope(doc_a, content, ins=ins, finess=finess)
        sid_a = submit_ok(stack, env_a)
        check(wait_final(sid_a)[0] == "stored", "A: %s" % (submission(sid_a),))
        ref_a = int(submission(sid_a)[2])
        # A stored document is its own status (migration 006): nobody wrote a status row (the
        # gateway appends to submission_accepted, migration 007).
        raw = psql("SELECT status FROM submission WHERE submission_id = '%s'" % sid_a)
        check(raw == [], "a status row for a stored document: %s" % raw)
        # A 'stored' row from a worker older than 006 does not make the submission appear twice.
        psql("INSERT INTO submission (submission_id, org_finess, document_id, version, status, "
             "document_ref, received_at) VALUES ('%s', '%s', '%s', 1, 'stored', %d, now()) "
             "ON CONFLICT (submission_id) DO UPDATE SET status = 'stored', document_ref = %d"
             % (sid_a, finess, doc_a, ref_a, ref_a))
        check(psql("SELECT count(*), min(status) FROM submission_status WHERE submission_id = "
                   "'%s'" % sid_a) == [["1", "stored"]], "view with an old 'stored' row")

        # exact retry -> same id, same status, no second copy
        sid_again = submit_ok(stack, env_a)
        check(sid_again == sid_a, "retry got another id %s" % sid_again)
        time.sleep(1.5)
        check(submission(sid_a) == ("stored", "", str(ref_a)), "retry changed %s" %
              (submission(sid_a),))
        check(len(doc_rows(finess, doc_a)) == 1, "retry stored a second copy")

        # same patient + content + type, other document_id -> duplicate linked to the first
        env_b = ingsamples.envelope("WK-ST-%s-B" % tag, content, ins=ins, finess=finess)
        sid_b = submit_ok(stack, env_b)
        check(wait_final(sid_b) == ("duplicate", "", str(ref_a)),
              "B: %s, want duplicate of %d" % (submission(sid_b), ref_a))
        check(not doc_rows(finess, env_b["document_id"]), "duplicate was stored")

        # same document_id + version, other content -> rejected version_conflict + dead letter
        other, marker = unique_content(tag + "a2")
        markers.append(marker)
        sid_c = submit_ok(stack, ingsamples.envelope(doc_a, other, ins=ins, finess=finess))
        check(wait_final(sid_c)[:2] == ("rejected", "version_conflict"),
              "conflict: %s" % (submission(sid_c),))
        dead = wait_until("the dead letter", lambda: [d for d in dlq_lines(stack)
                                                      if d.get("ing-reason") ==
                                                      "version_conflict"], 30)
        check(len(dead) == 1 and dead[0].get("ing-stage") == "store" and
              dead[0].get("ing-topic") == stack.topic, "dead letter %s" % dead)
        check(len(doc_rows(finess, doc_a)) == 1, "the conflicting version was stored")

        # higher version -> stored, the older one superseded
        v2, marker = unique_content(tag + "a-v2")
        markers.append(marker)
        sid_v2 = submit_ok(stack, ingsamples.envelope(doc_a, v2, version=2, ins=ins,
                                                      finess=finess))
        check(wait_final(sid_v2)[0] == "stored", "v2: %s" % (submission(sid_v2),))
        rows = doc_rows(finess, doc_a)
        check(rows[1][1] is True and rows[2][1] is False, "after v2: %s" % rows)

        # lower version than the current one -> stored as history, current unchanged
        doc_h = "WK-ST-%s-H" % tag
        h3, m3 = unique_content(tag + "h3")
        h2, m2 = unique_content(tag + "h2")
        markers += [m3, m2]
        sid_h3 = submit_ok(stack, ingsamples.envelope(doc_h, h3, version=3, ins=ins,
                                                      finess=finess))
        check(wait_final(sid_h3)[0] == "stored", "h3 %s" % (submission(sid_h3),))
        sid_h2 = submit_ok(stack, ingsamples.envelope(doc_h, h2, version=2, ins=ins,
                                                      finess=finess))
        check(wait_final(sid_h2)[0] == "stored", "h2 %s" % (submission(sid_h2),))
        rows = doc_rows(finess, doc_h)
        check(rows[2][1] is True and rows[3][1] is False, "history: %s" % rows)

        # patient show: every stored version of the patient's documents, with its state
        space = patient_show(stack, ins)
        for key, state in {(doc_a, 1): "superseded", (doc_a, 2): "current",
                           (doc_h, 3): "current", (doc_h, 2): "superseded"}.items():
            check(space["documents"].get(key, {}).get("state") == state,
                  "patient show %s: %s" % (key, space["documents"].get(key)))
        check(space["opposed"].startswith("no"), "patient show: %s" % space)
        check(space["documents"][(doc_a, 2)]["submission_id"] == sid_v2, "show: %s" % space)

        # patient opposed -> refused, never stored; unopposed -> stored
        opposed_ins = ingsamples.synthetic_ins(random.Random(tag))
        space = patient_show(stack, opposed_ins)
        check(space["space"].startswith("none") and space["count"] == "0 (0 current)",
              "a new patient's space: %s" % space)
        ctl(stack, "patient", "oppose", opposed_ins)
        try:
            d1, marker = unique_content(tag + "o1")
            markers.append(marker)
            env_o = ingsamples.envelope("WK-ST-%s-O1" % tag, d1, ins=opposed_ins, finess=finess)
            sid_o = submit_ok(stack, env_o)
            check(wait_final(sid_o)[:2] == ("refused", "patient_opposed"),
                  "opposed: %s" % (submission(sid_o),))
            check(not doc_rows(finess, env_o["document_id"]), "stored for an opposed patient")
            space = patient_show(stack, opposed_ins)
            check(space["opposed"].startswith("yes") and not space["documents"],
                  "opposed patient's space: %s" % space)
        finally:
            ctl(stack, "patient", "unoppose", opposed_ins)
        d2, marker = unique_content(tag + "o2")
        markers.append(marker)
        sid_o2 = submit_ok(stack, ingsamples.envelope("WK-ST-%s-O2" % tag, d2, ins=opposed_ins,
                                                      finess=finess))
        check(wait_final(sid_o2)[0] == "stored", "after unoppose: %s" % (submission(sid_o2),))
        # ...but the document refused while opposed, resent unchanged, is a retry: same id,
        # still refused, still not stored (opposition is not lifted retroactively).
        check(submit_ok(stack, env_o) == sid_o, "resent refused document: other id")
        time.sleep(3)
        check(submission(sid_o)[:2] == ("refused", "patient_opposed"),
              "resent refused document: %s" % (submission(sid_o),))
        check(not doc_rows(finess, env_o["document_id"]), "refused document stored when resent")
        space = patient_show(stack, opposed_ins)
        check(space["opposed"].startswith("no") and space["count"] == "1 (1 current)" and
              list(space["documents"]) == [("WK-ST-%s-O2" % tag, 1)],
              "space after the opposition was lifted: %s" % space)
        shows = psql("SELECT count(*) FROM audit WHERE action = 'patient_show' AND ins = '%s'"
                     % opposed_ins)
        check(shows == [["3"]], "patient show audit rows: %s" % shows)
        rc, _, err = ctl(stack, "patient", "show", opposed_ins[:-1] + "x", check_rc=False)
        check(rc == 2 and "not a valid INS" in err, "show of a bad INS: rc %d %s" % (rc, err))

        # a validation failure is answered by the gateway at once, nothing reaches Kafka
        bad = dict(env_a, document_id="WK-ST-%s-BAD" % tag,
                   patient={"ins": "295109912611199", "oid": ingsamples.TEST_OID})
        code, _, body = stack.submit(bad)
        check(code == 422 and body.get("code") == "ins_invalid", "bad INS %s %s" % (code, body))

        # only the version conflict was dead-lettered
        reasons = sorted(d.get("ing-reason") for d in dlq_lines(stack))
        check(reasons == ["version_conflict"], "dead letters %s" % reasons)

        # encryption at rest: the column holds no plaintext, key id and nonce are set
        for m in markers:
            hits = psql("SELECT count(*) FROM document WHERE position('\\x%s'::bytea in content)"
                        " > 0" % m.hex())
            check(hits == [["0"]], "plaintext marker %s found in document.content" % m)
            hits = psql("SELECT count(*) FROM zstd_dictionary WHERE position('\\x%s'::bytea in "
                        "dict) > 0" % m.hex())
            check(hits == [["0"]], "plaintext marker found in a dictionary")
        rows = psql("SELECT count(*) FROM document WHERE source_finess = '%s' AND document_id "
                    "LIKE 'WK-ST-%s-%%' AND (key_id IS NULL OR length(nonce) <> 12)"
                    % (finess, tag))
        check(rows == [["0"]], "documents without key id or nonce: %s" % rows)
        # Compressed only would hide a marker in Huffman-coded literals: the bytes must not even
        # be a zstd frame (magic 28 b5 2f fd) once sealed.
        rows = psql("SELECT count(*) FROM document WHERE source_finess = '%s' AND document_id "
                    "LIKE 'WK-ST-%s-%%' AND substring(content from 1 for 4) = '\\x28b52ffd'"
                    % (finess, tag))
        check(rows == [["0"]], "documents stored as a bare zstd frame: %s" % rows)

        # document show: metadata only, content only with --out, audited
        rc, out, _ = ctl(stack, "document", "show", sid_a)
        check(marker.decode() not in out and "verified: decrypted" in out and
              "document_id: %s" % doc_a in out, "show printed:\n%s" % out)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "doc")
            ctl(stack, "document", "show", sid_a, "--out", path)
            with open(path, "rb") as f:
                check(f.read() == content, "--out content differs")
            check(os.stat(path).st_mode & 0o777 == 0o600, "--out file mode")
            rc, _, err = ctl(stack, "document", "show", sid_a, "--out", path, check_rc=False)
            check(rc == 1 and "never overwritten" in err, "--out overwrote: %s" % err)
        audits = psql("SELECT count(*) FROM audit WHERE action = 'document_show' AND "
                      "submission_id = '%s'" % sid_a)
        check(int(audits[0][0]) >= 3, "audit rows %s" % audits)
        rc, _, err = ctl(stack, "document", "show", sid_o, check_rc=False)
        check(rc == 1, "show of a refused submission: rc %d %s" % (rc, err))


def test_dictionary_used_and_readable():
    """A dictionary trained from files is picked up by a running worker (refresh 1 s), its id
    recorded per document, and the document reads back through it."""
    type_code = "57833-6"  # prescriptions (FHIR JSON)
    with harness.Stack("dict") as stack, tempfile.TemporaryDirectory() as d:
        rng = random.Random(uuid.uuid4().hex)
        for i in range(200):
            with open(os.path.join(d, "s%03d.json" % i), "wb") as f:
                f.write(ingsamples.fhir_json(rng, rng.randrange(2048, 8192)))
        _, out, _ = ctl(stack, "dict", "train", "--type-code", type_code, "--from-dir", d,
                        "--size", "16384")
        dict_id = int(out.split()[1])
        check(psql("SELECT type_code FROM zstd_dictionary WHERE id = %d" % dict_id) ==
              [[type_code]], "dictionary row")
        check(psql("SELECT count(*) FROM audit WHERE action = 'dict_train' AND detail LIKE "
                   "'dict_id=%d %%'" % dict_id) == [["1"]], "dict_train audit row")
        stack.env["ING_WORKER_DICT_REFRESH_S"] = "1"
        stack.start_gateway()
        stack.start_worker()
        content = ingsamples.fhir_json(rng, 6000)
        env = ingsamples.envelope("WK-DICT-" + uuid.uuid4().hex[:8], content, kind="fhir")
        sid = submit_ok(stack, env)
        check(wait_final(sid)[0] == "stored", "stored: %s" % (submission(sid),))
        got = psql("SELECT dict_id FROM document WHERE submission_id = '%s'" % sid)
        # Another test run may have trained a newer one meanwhile: any dictionary of the type.
        newest = psql("SELECT max(id) FROM zstd_dictionary WHERE type_code = '%s'" % type_code)
        check(got and got[0][0] and int(got[0][0]) >= dict_id and
              int(got[0][0]) <= int(newest[0][0]), "dict_id %s, trained %d" % (got, dict_id))
        with tempfile.TemporaryDirectory() as o:
            path = os.path.join(o, "doc")
            _, out, _ = ctl(stack, "document", "show", sid, "--out", path)
            with open(path, "rb") as f:
                check(f.read() == content, "read back through the dictionary differs")
            check("dict_id: %s" % got[0][0] in out, "show: %s" % out)


def test_record_is_append_only():
    """Migrations 005 and 009: patient spaces, documents and zstd dictionaries can be neither
    deleted nor re-keyed, by any role, while ordinary writes (a new version marking the previous
    one superseded) go on. For dictionaries this replaces document.dict_id's foreign key: a
    document compressed with one cannot be read without it."""
    refused = [
        "DELETE FROM document WHERE id = (SELECT min(id) FROM document)",
        "DELETE FROM document WHERE false",
        "TRUNCATE document",
        "UPDATE document SET ins = ins WHERE id = (SELECT min(id) FROM document)",
        "UPDATE document SET id = id WHERE false",
        "DELETE FROM patient_space WHERE ins = (SELECT min(ins) FROM patient_space)",
        "TRUNCATE patient_space CASCADE",
        "UPDATE patient_space SET ins = ins WHERE false",
        "DELETE FROM zstd_dictionary WHERE id = (SELECT min(id) FROM zstd_dictionary)",
        "DELETE FROM zstd_dictionary WHERE false",
        "TRUNCATE zstd_dictionary",
        "UPDATE zstd_dictionary SET id = id WHERE false",
    ]
    before = psql("SELECT count(*) FROM document")
    for sql in refused:
        # Rolled back even if it were not refused: the test never destroys what it checks.
        p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", harness.PG_URL,
                            "-c", "BEGIN; %s; ROLLBACK" % sql], capture_output=True, text=True)
        check(p.returncode != 0 and "append-only" in p.stderr,
              "%s: rc %d %s" % (sql, p.returncode, p.stderr.strip()))
    check(psql("SELECT count(*) FROM document") >= before, "documents went away")
    # What the worker does to existing rows is still allowed (inside a transaction rolled back).
    out = psql("BEGIN; UPDATE document SET superseded = superseded WHERE id = (SELECT min(id) "
               "FROM document); UPDATE patient_space SET opposed = opposed WHERE ins = (SELECT "
               "min(ins) FROM patient_space); ROLLBACK")
    check(out == [], "ordinary updates refused: %s" % out)


def test_reads_use_indexes():
    """The reads that the dropped indexes served still go through one. A reader of a patient's
    space (their documents, newest first) through document_by_content, whose leading column is
    ins (migration 010 dropped document_by_patient); a status read by submission id through the
    hash index of migration 011, which replaced the unique b-tree."""
    rows = psql("SELECT ins, submission_id FROM document ORDER BY id LIMIT 1")
    check(rows, "no stored document to read")
    ins, sid = rows[0]
    reads = {
        "document_by_content": "SELECT id, type_code, stored_at FROM document WHERE ins = '%s' "
                               "ORDER BY stored_at DESC, id DESC" % ins,
        "document_by_submission": "SELECT status FROM submission_status "
                                  "WHERE submission_id = '%s'" % sid,
    }
    for index, query in reads.items():
        # A test database is small enough for a sequential scan to win; what matters is that
        # an index exists for when it is not.
        plan = "\n".join(r[0] for r in psql("SET enable_seqscan = off; EXPLAIN (COSTS OFF) "
                                             + query))
        check(index in plan, "%s is not read through %s:\n%s" % (query, index, plan))

if __name__ == "__main__":
    harness.run([test_every_status, test_dictionary_used_and_readable,
                 test_record_is_append_only, test_reads_use_indexes])
