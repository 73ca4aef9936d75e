-- 007: the gateway's 'accepted' rows in a table of their own (issue 3, gateway throughput).
-- Applied by deploy/local/stack in one transaction.
--
-- The gateway wrote 'accepted' with INSERT ... ON CONFLICT (submission_id) DO NOTHING into
-- `submission`, so as never to overwrite a final status a worker had written first. The
-- conflict check is a full unique-index probe before each insert: in the produce benchmark it
-- was a third of PostgreSQL's CPU per accepted document, which runs on the same cores as the
-- gateway and the broker. Since 006 a reader decides the status (the view submission_status),
-- so the 'accepted' row no longer has to lose a race in the table itself:
--
-- * the gateway appends to `submission_accepted`, plain inserts without any conflict check. A
--   resent submission (a client retry) appends a second row: harmless, the view shows the
--   first;
-- * its index is a hash index: lookups are by submission id only, and inserting a random
--   128-bit key costs one bucket, not a descent comparing text. Nothing here is unique, so
--   two gateways never wait on each other's rows, and the gateway no longer sorts its rows by
--   id to avoid the deadlocks that waiting caused;
-- * `submission_status` shows 'accepted' only for a submission with no document and no
--   `submission` row. Rows written into `submission` by a gateway older than this migration
--   still show through its second branch.
--
-- Measured (20 s, 128 connections, 8 KB lab reports, fresh database): PostgreSQL's CPU per
-- accepted document went from 18.6-19.1 µs to 9.7-11.1 µs; with a b-tree index instead of the
-- hash index, 13.5 µs.

CREATE TABLE submission_accepted (
    submission_id text NOT NULL,
    org_finess    text NOT NULL,
    document_id   text NOT NULL,
    version       integer NOT NULL,
    received_at   timestamptz NOT NULL
);
CREATE INDEX submission_accepted_by_id ON submission_accepted USING hash (submission_id);

COMMENT ON TABLE submission_accepted IS
    'The gateway''s acknowledgements, appended once Kafka has a record: read submission_status (migration 007)';

CREATE OR REPLACE VIEW submission_status AS
    SELECT d.submission_id, d.source_finess AS org_finess, d.document_id, d.version,
           'stored'::text AS status, NULL::text AS code, NULL::text AS detail,
           d.id AS document_ref, d.received_at, d.stored_at AS updated_at
      FROM document d
    UNION ALL
    SELECT s.submission_id, s.org_finess, s.document_id, s.version, s.status, s.code, s.detail,
           s.document_ref, s.received_at, s.updated_at
      FROM submission s
     WHERE NOT EXISTS (SELECT 1 FROM document d WHERE d.submission_id = s.submission_id)
    UNION ALL
    SELECT a.submission_id, a.org_finess, a.document_id, a.version, 'accepted'::text, NULL::text,
           NULL::text, NULL::bigint, a.received_at, a.received_at
      FROM submission_accepted a
     WHERE NOT EXISTS (SELECT 1 FROM document d WHERE d.submission_id = a.submission_id)
       AND NOT EXISTS (SELECT 1 FROM submission s WHERE s.submission_id = a.submission_id)
       -- One row per resent submission: the first in the table. Probed per row through the
       -- hash index; a DISTINCT ON here would sort the whole table under any join.
       AND NOT EXISTS (SELECT 1 FROM submission_accepted o
                        WHERE o.submission_id = a.submission_id AND o.ctid < a.ctid);

COMMENT ON COLUMN submission.status IS
    'a final status that stored nothing (duplicate, refused, rejected); accepted only in rows written before migration 007. A stored document''s status is its document row: read submission_status';
