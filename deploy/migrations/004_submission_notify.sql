-- 004: tell the gateways when a submission reaches its final status (issue 3, `Prefer: wait=N`).
-- Each gateway I/O thread LISTENs on `submission_final` with its status connection and answers
-- the requests waiting for that submission id with one read of its row, instead of polling.
-- NOTIFY is transactional: the notification leaves at the worker's COMMIT, so a gateway that
-- reads the row then sees the final status. Applied by deploy/local/stack in one transaction.

CREATE FUNCTION submission_notify_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The payload is the submission id only (32 hex digits): never a patient identifier.
    IF NEW.status <> 'accepted'
       AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
        PERFORM pg_notify('submission_final', NEW.submission_id);
    END IF;
    RETURN NULL;
END;
$$;

-- The worker writes a final status either as an INSERT (it came before the gateway's
-- 'accepted' row) or as the UPDATE of ON CONFLICT DO UPDATE: both fire.
CREATE TRIGGER submission_final_notify
    AFTER INSERT OR UPDATE OF status ON submission
    FOR EACH ROW EXECUTE FUNCTION submission_notify_final();
