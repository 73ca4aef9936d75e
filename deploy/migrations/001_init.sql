-- 001: patient spaces, stored documents and submission statuses (walking skeleton).
-- Applied once, in a transaction, by deploy/local/stack (recorded in schema_migrations).

-- A patient space is created with the first document stored for that INS.
CREATE TABLE patient_space (
    ins         text PRIMARY KEY CHECK (length(ins) = 15),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per stored document version. Content is zstd-compressed (and, from issue 4 on,
-- AES-256-GCM encrypted: key_id and nonce say with which key).
CREATE TABLE document (
    id                  bigserial PRIMARY KEY,
    ins                 text NOT NULL REFERENCES patient_space (ins),
    source_finess       text NOT NULL,
    document_id         text NOT NULL,
    version             integer NOT NULL CHECK (version >= 1),
    submission_id       text NOT NULL UNIQUE,
    type_code           text NOT NULL,
    media_type          text NOT NULL,
    format_code         text,
    title               text,
    author_rpps         text,
    created_at          timestamptz NOT NULL,
    confidentiality     char(1) NOT NULL,
    hidden_from_patient boolean NOT NULL,
    sha256              bytea NOT NULL CHECK (length(sha256) = 32),
    size_bytes          integer NOT NULL,
    compression         text NOT NULL,
    dict_id             integer,
    key_id              text,
    nonce               bytea,
    content             bytea NOT NULL,
    received_at         timestamptz NOT NULL,
    stored_at           timestamptz NOT NULL DEFAULT now(),
    kafka_partition     integer NOT NULL,
    kafka_offset        bigint NOT NULL,
    -- A retried record (redelivery after a crash) can never store a second copy.
    UNIQUE (source_finess, document_id, version)
);
CREATE INDEX document_by_patient ON document (ins, stored_at);

-- What a sender sees through GET /v1/submissions/{id}. The gateway writes 'accepted' once
-- Kafka acknowledged the record; the worker moves it to a final status in the same transaction
-- as the document. A final status is never overwritten.
CREATE TABLE submission (
    submission_id  text PRIMARY KEY,
    org_finess     text NOT NULL,
    document_id    text NOT NULL,
    version        integer NOT NULL,
    status         text NOT NULL
        CHECK (status IN ('accepted', 'stored', 'duplicate', 'rejected', 'refused')),
    code           text,
    detail         text,
    document_ref   bigint REFERENCES document (id),
    received_at    timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
