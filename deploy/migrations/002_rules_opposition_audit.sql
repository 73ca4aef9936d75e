-- 002: what issue 4's status rules need (shared/DOMAIN.md, "What happens to a document"):
-- patient opposition, version history, duplicate detection, and an audit trail of operators'
-- actions on health data. Applied by deploy/local/stack in one transaction.

-- Opposition: a patient who objected gets no document stored (status `refused`). A row may
-- exist for an opposed patient who never had a document: ingestctl patient oppose creates it.
ALTER TABLE patient_space
    ADD COLUMN opposed            boolean NOT NULL DEFAULT false,
    ADD COLUMN opposed_changed_at timestamptz;

-- Versions: every version of (source_finess, document_id) is kept; the highest one is current
-- and the others are superseded. A lower version arriving late is stored as history.
ALTER TABLE document
    ADD COLUMN superseded boolean NOT NULL DEFAULT false;

-- Duplicates: same patient + same content + same type under another document_id.
CREATE INDEX document_by_content ON document (ins, sha256, type_code);

-- Every operator action on a patient or a document (ingestctl), who and when.
CREATE TABLE audit (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL,
    action        text NOT NULL
        CHECK (action IN ('patient_oppose', 'patient_unoppose', 'document_show')),
    ins           text,
    submission_id text,
    detail        text
);
CREATE INDEX audit_by_ins ON audit (ins, at);
