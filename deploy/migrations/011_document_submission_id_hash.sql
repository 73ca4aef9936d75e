-- 011: document.submission_id found through a hash index instead of a unique b-tree (issue 4,
-- storage; README's known limit). Applied by deploy/local/stack in one transaction.
--
-- The unique constraint added nothing: a submission id is a hash of (organisation,
-- document_id, version, sha256), the worker checks that a record's id is derived so and that
-- its source is its organisation, and (source_finess, document_id, version) is unique already.
-- Two documents with one submission id would break that key first. What stays is a question,
-- "which document has this id" (GET /v1/submissions/{id}, Prefer: wait, the status view): an
-- equality lookup, which a hash index answers holding a 4-byte hash per row instead of the
-- 32-character id, with no collation comparisons on insert.
-- ingest-benchtool copy-rows (100,000 stored rows in one COPY, alternating): PostgreSQL 14.4 and
-- 12.9 us per row with the b-tree, 11.2 and 11.3 with the hash index; 7.5 against 4.7 MB.
-- Keys spread over the whole index either way, so it still outgrows memory some day, later.
ALTER TABLE document DROP CONSTRAINT document_submission_id_key;
CREATE INDEX document_by_submission ON document USING hash (submission_id);
