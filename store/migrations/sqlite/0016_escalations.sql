-- Escalations (上报, seed §五(三)): problems reported upward at once, the
-- control measures (应急管控) recorded until closed with an outcome, and the
-- alerts sent for them (an outbox: every instance may deliver, each alert
-- is claimed before it is sent, every attempt is logged).
CREATE TABLE escalations (
    escalation_id TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL,
    record_id     TEXT,
    finding_id    TEXT,
    kind          TEXT NOT NULL,
    description   TEXT NOT NULL,
    photos        TEXT NOT NULL,
    -- The task's target's town (the server's, for town leads' scope).
    jurisdiction  TEXT NOT NULL,
    target_name   TEXT NOT NULL,
    raised_by     TEXT NOT NULL,
    raised_at     TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    closed_at     TEXT,
    closed_by     TEXT,
    outcome       TEXT
);
CREATE INDEX escalations_open ON escalations (closed_at, jurisdiction, received_at);

CREATE TABLE escalation_measures (
    escalation_id TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    measure       TEXT NOT NULL,
    owner         TEXT NOT NULL,
    due           TEXT NOT NULL,
    added_by      TEXT NOT NULL,
    added_at      TEXT NOT NULL,
    done_at       TEXT,
    done_by       TEXT,
    result        TEXT,
    PRIMARY KEY (escalation_id, seq)
);

CREATE TABLE alerts (
    alert_id      TEXT PRIMARY KEY,
    escalation_id TEXT NOT NULL,
    channel       TEXT NOT NULL,
    target        TEXT NOT NULL,
    payload       TEXT NOT NULL,
    attempts      INTEGER NOT NULL,
    next_at       TEXT NOT NULL,
    delivered_at  TEXT,
    last_error    TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX alerts_due ON alerts (delivered_at, next_at);

CREATE TABLE alert_attempts (
    alert_id  TEXT NOT NULL,
    attempt   INTEGER NOT NULL,
    at        TEXT NOT NULL,
    ok        INTEGER NOT NULL,
    detail    TEXT NOT NULL,
    PRIMARY KEY (alert_id, attempt)
);
