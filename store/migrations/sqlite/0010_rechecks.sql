-- 复查: the follow-up visit of a rectification order, done by the team in
-- the field. One task per (inspection task, order number), made when the
-- order is first seen (a record sealed with it, or the console recording
-- it); the team's officers get it through their feed.
CREATE TABLE recheck_tasks (
    recheck_id  TEXT PRIMARY KEY,
    task_id     TEXT NOT NULL,
    order_no    TEXT NOT NULL,
    deadline    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    -- The 复查 record that completed it, and when it was received.
    done_record TEXT,
    done_at     TEXT,
    UNIQUE (task_id, order_no)
);
CREATE INDEX recheck_tasks_open ON recheck_tasks (done_at, deadline);

-- 复查 records as sealed on the tablet, taken once each.
CREATE TABLE recheck_records (
    record_id    TEXT PRIMARY KEY,
    recheck_id   TEXT NOT NULL REFERENCES recheck_tasks (recheck_id),
    device_id    TEXT NOT NULL,
    version      TEXT NOT NULL,
    inspected_on TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE INDEX recheck_records_by_task ON recheck_records (recheck_id);

-- What an order requires (整改要求), for the 复查 task; the case number of
-- a case filed, kept beside a transfer's reference (both can happen to one
-- finding); and when a transferred finding is next checked (加强后续监管).
ALTER TABLE oversight_findings ADD COLUMN requirements TEXT;
ALTER TABLE oversight_findings ADD COLUMN case_no TEXT;
ALTER TABLE oversight_findings ADD COLUMN next_check TEXT;
