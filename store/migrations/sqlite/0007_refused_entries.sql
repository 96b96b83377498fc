-- An entry taken into a device's log whose payload was refused on its
-- merits (a record that does not match its task, an amendment of a version
-- not returned): the chain goes on past it, nothing of it is applied, and a
-- retry is answered with the same refusal. NULL: applied.
ALTER TABLE device_log ADD COLUMN refused TEXT;

-- One current version per record, enforced by the database: of two
-- amendments racing for the same returned version, the second fails here
-- (and is refused) instead of leaving two current versions.
CREATE UNIQUE INDEX records_one_current ON records (record_id) WHERE superseded = 0;
