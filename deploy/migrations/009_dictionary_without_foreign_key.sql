-- 009: dictionaries kept by append-only triggers instead of document.dict_id's foreign key
-- (issue 4, storage throughput with a per-type dictionary). Applied by deploy/local/stack in
-- one transaction.
--
-- 005 dropped the other two foreign keys for the same reason and kept this one because it was
-- NULL unless a dictionary is used. Once one is used, every inserted document runs the key's
-- check: a query per row that also takes FOR KEY SHARE on the dictionary's row, the same row
-- for every worker thread (concurrent share locks on a row make a MultiXact). Measured with
-- pgbench, 500-row INSERTs referencing one row: 3.2 us more per row with the key (1 client),
-- 3.8 CPU-us (4 clients), against about 50 us per stored document for PostgreSQL in all.
-- What the key protected against is a dictionary going away or changing its id while a
-- document needs it to be read; nothing in this system deletes or re-keys a dictionary. The
-- statement triggers below refuse that outright, as 005 does for spaces and documents; the
-- worker only ever writes ids it has read from zstd_dictionary.
ALTER TABLE document DROP CONSTRAINT document_dict_id_fkey;

CREATE OR REPLACE FUNCTION refuse_change_of_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %: patient spaces, documents and dictionaries are append-only',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER zstd_dictionary_append_only
    BEFORE DELETE OR TRUNCATE ON zstd_dictionary
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_of_record();
CREATE TRIGGER zstd_dictionary_key_fixed
    BEFORE UPDATE OF id ON zstd_dictionary
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_of_record();
