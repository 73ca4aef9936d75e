-- 006: a stored document is its own final status (issue 4, storage throughput). Applied by
-- deploy/local/stack in one transaction.
--
-- Until now the worker wrote the status 'stored' into `submission` for every document it
-- stored: the same transaction wrote the document row, then a status row that said so (an
-- UPDATE of the gateway's 'accepted' row, or an INSERT when the gateway's write had not
-- happened). That second write, its index entry and the row trigger's transition table cost
-- PostgreSQL about a third of its time per stored document (storage benchmark: 70 -> 50 µs per
-- row). The document row already says everything the status said: its submission id (unique),
-- organisation, document id, version, id and times. So:
--
-- * the worker no longer writes a status for a document it stores; `submission` holds the
--   gateway's 'accepted' rows and the final statuses that store nothing (duplicate, refused,
--   rejected);
-- * `submission_status` is what every reader uses (the gateway's GET and `Prefer: wait`,
--   ingestctl, tests, benchmarks): 'stored' for a submission whose document exists, otherwise
--   its `submission` row. A submission whose document exists was stored, whatever its
--   `submission` row says: 'accepted' written by the gateway, or 'stored' written by a worker
--   before this migration;
-- * the worker sends the `submission_final` notifications itself, in the transaction that
--   decides the statuses, instead of the triggers of 005 on `submission` (which no longer sees
--   stored documents). A worker from before this migration still writes its statuses, which
--   the view reads, but no longer wakes a waiting request: that request gets its 202 when its
--   wait ends. Upgrade the workers with the migration.

DROP TRIGGER submission_final_notify_insert ON submission;
DROP TRIGGER submission_final_notify_update ON submission;
DROP FUNCTION submission_notify_inserted();
DROP FUNCTION submission_notify_updated();

-- Both branches keep their own index when filtered by submission id (document's unique key,
-- submission's primary key): reading one status is three index probes.
CREATE VIEW submission_status AS
    SELECT d.submission_id, d.source_finess AS org_finess, d.document_id, d.version,
           'stored'::text AS status, NULL::text AS code, NULL::text AS detail,
           d.id AS document_ref, d.received_at, d.stored_at AS updated_at
      FROM document d
    UNION ALL
    SELECT s.submission_id, s.org_finess, s.document_id, s.version, s.status, s.code, s.detail,
           s.document_ref, s.received_at, s.updated_at
      FROM submission s
     WHERE NOT EXISTS (SELECT 1 FROM document d WHERE d.submission_id = s.submission_id);

COMMENT ON VIEW submission_status IS
    'A submission''s status as its sender sees it: read this, not the submission table (migration 006)';
COMMENT ON COLUMN submission.status IS
    'accepted (gateway) or a final status that stored nothing; a stored document''s status is its document row: read submission_status';
