-- Consultation (咨询, seed §五(三)): questions officers ask on site and the
-- quality section's answers. The town is the task's target's (the
-- server's), for town leads' scope and the console's filters.
CREATE TABLE questions (
    question_id  TEXT PRIMARY KEY,
    task_id      TEXT NOT NULL,
    officer_id   TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    item_id      TEXT,
    finding_id   TEXT,
    jurisdiction TEXT NOT NULL,
    category     TEXT NOT NULL,
    text         TEXT NOT NULL,
    -- JSON array of the photos' SHA-256 (evidence blobs).
    photos       TEXT NOT NULL,
    asked_at     TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    answer       TEXT,
    basis        TEXT,
    answered_by  TEXT,
    answered_at  TEXT
);
CREATE INDEX questions_waiting ON questions (jurisdiction, answered_at, received_at);
