-- Dispatchers listen on `notifier_deliveries` (src/delivery/mod.rs) to send a
-- delivery as soon as it is due. The server notifies them at commit whenever a
-- row becomes due now: a new pending row, or an update that makes one due (a
-- digest turned off releases what it held, an operator retries a delivery).
-- The dispatcher's own updates do not wake it: a claim leaves the row as due as
-- it was, and a retry is due later, which the poll interval covers. Notifications
-- with the same payload in one transaction are delivered once.
CREATE FUNCTION wake_dispatchers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('notifier_deliveries', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER deliveries_wake_on_insert
    AFTER INSERT ON deliveries
    FOR EACH ROW WHEN (NEW.state = 'pending' AND NEW.next_attempt_at <= now())
    EXECUTE FUNCTION wake_dispatchers();

CREATE TRIGGER deliveries_wake_on_due
    AFTER UPDATE OF state, next_attempt_at ON deliveries
    FOR EACH ROW WHEN (NEW.state = 'pending' AND NEW.next_attempt_at <= now()
                       AND (OLD.state <> 'pending' OR OLD.next_attempt_at > now()))
    EXECUTE FUNCTION wake_dispatchers();
