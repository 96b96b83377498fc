-- Instances sharing this database answer a device's pull that has nothing
-- new from memory (store/src/quiet_pulls.rs): they remember each officer's
-- newest feed item and the tokens they checked, and these triggers tell
-- every instance of each change (LISTEN/NOTIFY, delivered at commit).

-- One notification per officer per statement, with the newest seq: a draw
-- inserts thousands of feed rows at once.
CREATE FUNCTION choucha_feed_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT person_id, MAX(seq) AS seq FROM new_rows GROUP BY person_id LOOP
        PERFORM pg_notify('choucha_feed', r.person_id || E'\t' || r.seq::text);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER officer_feed_notify AFTER INSERT ON officer_feed
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION choucha_feed_notify();

-- Any change of a device (its revocation): instances forget its token.
CREATE FUNCTION choucha_device_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('choucha_devices', OLD.token_hash);
    RETURN NULL;
END
$$;

CREATE TRIGGER devices_notify AFTER UPDATE OR DELETE ON devices
    FOR EACH ROW EXECUTE FUNCTION choucha_device_notify();
