-- 003: per-type zstd dictionaries (issue 4). `ingestctl dict train` stores one; workers
-- compress each document with the newest dictionary of its type_code and record its id in
-- document.dict_id (a column of 001). Applied by deploy/local/stack in one transaction.

-- A dictionary trained from stored documents is made of pieces of them (patients' names,
-- results): it is sealed with the keyring exactly like a document (AES-256-GCM, key_id and
-- nonce beside it, the additional data binding it to its id and type_code), never kept in
-- clear.
CREATE TABLE zstd_dictionary (
    id          serial PRIMARY KEY,
    type_code   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    dict        bytea NOT NULL,
    key_id      text NOT NULL,
    nonce       bytea NOT NULL CHECK (length(nonce) = 12),
    size_bytes  integer NOT NULL,
    samples     integer NOT NULL
);
-- The newest dictionary of a type code.
CREATE INDEX zstd_dictionary_newest ON zstd_dictionary (type_code, id DESC);

-- A document compressed with a dictionary cannot be read without it: a dictionary that any
-- document uses can never be deleted. NOT VALID then VALIDATE: no long lock on a big table.
ALTER TABLE document
    ADD CONSTRAINT document_dict_id_fkey FOREIGN KEY (dict_id) REFERENCES zstd_dictionary (id)
    NOT VALID;
ALTER TABLE document VALIDATE CONSTRAINT document_dict_id_fkey;

-- Training from the database reads stored documents: an operator action on health data.
ALTER TABLE audit DROP CONSTRAINT audit_action_check;
ALTER TABLE audit ADD CONSTRAINT audit_action_check
    CHECK (action IN ('patient_oppose', 'patient_unoppose', 'document_show', 'dict_train'));
