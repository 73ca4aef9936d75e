-- 008: the gateway's 'accepted' rows partitioned by week, so that old ones can go.
-- Applied by deploy/local/stack in one transaction.
--
-- submission_accepted only ever grew: one row per accepted document, 20 million a month at
-- national volume, under a random-key index that sooner or later outgrows memory (README,
-- "Known limit"). A row matters while its document waits for a final status, minutes in
-- practice; after that the view submission_status ignores it. So:
--
-- * submission_accepted is partitioned by received_at, one partition per UTC week from Monday
--   (submission_accepted_wYYYYMMDD, its Monday), created ahead of time by
--   submission_accepted_maintain() (`ingestctl maintain`, daily);
-- * the table as it was becomes the partition of everything received before the Monday after
--   tomorrow: no row moves, its hash index becomes that partition's;
-- * a DEFAULT partition takes the rows of a week nobody created a partition for, so an insert
--   never fails because maintenance did not run;
-- * submission_accepted_maintain() drops a partition once its last day is keep_days old, but
--   never one that still holds a submission without a final status: that row is the only
--   record that Kafka accepted a document no worker has stored. It is reported instead.
--
-- Weeks, not days: a lookup by submission id (GET, Prefer: wait) probes every partition's hash
-- index, since nothing in an id says when it was received. 45 day partitions made a prepared
-- lookup cost about 0.9 ms; with the defaults here there are about 9. A week of national
-- volume (about 5 million rows) keeps its hash index in memory.

ALTER TABLE submission_accepted RENAME TO submission_accepted_upto;
ALTER INDEX submission_accepted_by_id RENAME TO submission_accepted_upto_by_id;

CREATE TABLE submission_accepted (
    submission_id text NOT NULL,
    org_finess    text NOT NULL,
    document_id   text NOT NULL,
    version       integer NOT NULL,
    received_at   timestamptz NOT NULL
) PARTITION BY RANGE (received_at);
CREATE INDEX submission_accepted_by_id ON submission_accepted USING hash (submission_id);
CREATE TABLE submission_accepted_default PARTITION OF submission_accepted DEFAULT;

COMMENT ON TABLE submission_accepted IS
    'The gateway''s acknowledgements, appended once Kafka has a record, one partition per UTC week: read submission_status (migration 007), maintain with submission_accepted_maintain() (migration 008)';

-- The old table covers everything before the Monday after tomorrow (a gateway's clock may run
-- a little ahead). The CHECK proves the bound with one scan, so ATTACH need not scan again.
DO $$
DECLARE
    bound date := date_trunc('week', (now() AT TIME ZONE 'UTC')::date::timestamp
                                     + interval '1 day')::date + 7;
BEGIN
    EXECUTE format('ALTER TABLE submission_accepted_upto ADD CONSTRAINT upto_bound '
                   'CHECK (received_at < %L::timestamptz)', bound::text || ' 00:00:00+00');
    EXECUTE format('ALTER TABLE submission_accepted ATTACH PARTITION submission_accepted_upto '
                   'FOR VALUES FROM (MINVALUE) TO (%L)', bound::text || ' 00:00:00+00');
    ALTER TABLE submission_accepted_upto DROP CONSTRAINT upto_bound;
    EXECUTE format('ALTER TABLE submission_accepted_upto RENAME TO %I',
                   'submission_accepted_upto_' || to_char(bound, 'YYYYMMDD'));
END
$$;

-- One call: the missing partitions of the weeks of days today .. today + days_ahead are
-- created; partitions whose upper bound is at least keep_days before today are dropped unless
-- they hold an unfinished submission (no document, no submission row); rows of the DEFAULT
-- partition that old and finished are deleted. One row per thing done or refused. `today` is
-- for tests. Dropping a partition locks submission_accepted for a moment: the gateway's
-- inserts and lookups wait for it (DETACH ... CONCURRENTLY cannot run inside a function).
CREATE FUNCTION submission_accepted_maintain(days_ahead integer DEFAULT 7,
                                             keep_days integer DEFAULT 35,
                                             today date DEFAULT (now() AT TIME ZONE 'UTC')::date)
RETURNS TABLE (action text, partition_name text, row_count bigint, unfinished bigint)
LANGUAGE plpgsql AS $$
DECLARE
    week date;
    name text;
    cutoff timestamptz := ((today - keep_days)::text || ' 00:00:00+00')::timestamptz;
    part record;
    unfinished_sql constant text :=
        'SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM document d '
        'WHERE d.submission_id = a.submission_id) AND NOT EXISTS (SELECT 1 FROM submission s '
        'WHERE s.submission_id = a.submission_id)) FROM %I a WHERE a.received_at < $1';
BEGIN
    IF days_ahead < 0 OR keep_days < 1 THEN
        RAISE EXCEPTION 'days_ahead must be >= 0 and keep_days >= 1';
    END IF;
    -- Two runs at once would race on the same CREATE and DROP statements.
    PERFORM pg_advisory_xact_lock(hashtext('submission_accepted_maintain'));

    FOR week IN SELECT DISTINCT date_trunc('week', d)::date
                  FROM generate_series(today::timestamp, (today + days_ahead)::timestamp,
                                       interval '1 day') d
                 ORDER BY 1 LOOP
        name := 'submission_accepted_w' || to_char(week, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        BEGIN
            EXECUTE format('CREATE TABLE %I PARTITION OF submission_accepted '
                           'FOR VALUES FROM (%L) TO (%L)', name,
                           week::text || ' 00:00:00+00', (week + 7)::text || ' 00:00:00+00');
            action := 'created'; partition_name := name; row_count := 0; unfinished := 0;
            RETURN NEXT;
        EXCEPTION
            -- Another partition covers part of that week (the one attached by this migration).
            WHEN invalid_object_definition THEN NULL;
            -- The DEFAULT partition holds rows of that week: they stay there.
            WHEN check_violation THEN
                action := 'not created: the default partition holds rows of that week';
                partition_name := name; row_count := NULL; unfinished := NULL;
                RETURN NEXT;
        END;
    END LOOP;

    FOR part IN
        SELECT c.relname,
               substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')
                   ::timestamptz AS upper_bound
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'submission_accepted'::regclass
           AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
         ORDER BY 2
    LOOP
        CONTINUE WHEN part.upper_bound > cutoff;
        EXECUTE format(unfinished_sql, part.relname) INTO row_count, unfinished
            USING part.upper_bound;
        partition_name := part.relname;
        IF unfinished = 0 THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            action := 'dropped';
        ELSE
            action := 'kept: submissions without a final status';
        END IF;
        RETURN NEXT;
    END LOOP;

    EXECUTE format(unfinished_sql, 'submission_accepted_default') INTO row_count, unfinished
        USING cutoff;
    IF row_count > 0 THEN
        DELETE FROM submission_accepted_default a
         WHERE a.received_at < cutoff
           AND (EXISTS (SELECT 1 FROM document d WHERE d.submission_id = a.submission_id)
                OR EXISTS (SELECT 1 FROM submission s WHERE s.submission_id = a.submission_id));
        action := 'trimmed'; partition_name := 'submission_accepted_default';
        row_count := row_count - unfinished;
        RETURN NEXT;
    END IF;
END
$$;

SELECT count(*) FROM submission_accepted_maintain();

-- The view read the renamed table (views hold the table, not its name). The first row of a
-- resent submission is now the earliest received, ties broken by partition and position:
-- ctid alone does not order rows of different partitions.
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
       AND NOT EXISTS (SELECT 1 FROM submission_accepted o
                        WHERE o.submission_id = a.submission_id
                          AND (o.received_at, o.tableoid, o.ctid)
                              < (a.received_at, a.tableoid, a.ctid));
