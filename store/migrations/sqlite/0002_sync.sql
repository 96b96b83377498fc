-- Devices, their append-only logs, the record projection, blobs, returns,
-- and the per-officer change feed that devices pull.

CREATE TABLE enrolment_codes (
    code_hash   TEXT PRIMARY KEY,
    officer_id  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    device_id   TEXT
);

CREATE TABLE devices (
    device_id    TEXT PRIMARY KEY,
    officer_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    enrolled_at  TEXT NOT NULL,
    revoked_at   TEXT
);

-- Each device's log exactly as pushed; never updated or deleted.
CREATE TABLE device_log (
    device_id   TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    entry_id    TEXT NOT NULL UNIQUE,
    hash        TEXT NOT NULL,
    prev_hash   TEXT,
    kind        TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    entry       TEXT NOT NULL,
    PRIMARY KEY (device_id, idx)
);

-- Sealed record versions (projection of Sealed/Amended entries).
CREATE TABLE records (
    record_id   TEXT NOT NULL,
    version     TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    replaces    TEXT,
    superseded  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    missing     TEXT NOT NULL,
    flags       TEXT NOT NULL,
    record      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
);
CREATE INDEX records_by_task ON records (task_id);

CREATE TABLE record_blobs (
    record_id  TEXT NOT NULL,
    version    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    PRIMARY KEY (record_id, version, sha256)
);
CREATE INDEX record_blobs_by_sha ON record_blobs (sha256);

-- Blobs that arrived and verified.
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    bytes      INTEGER NOT NULL,
    stored_at  TEXT NOT NULL
);

CREATE TABLE returns (
    record_id     TEXT NOT NULL,
    version       TEXT NOT NULL,
    comment       TEXT NOT NULL,
    item_comments TEXT NOT NULL,
    returned_by   TEXT NOT NULL,
    returned_at   TEXT NOT NULL,
    PRIMARY KEY (record_id, version)
);

CREATE TABLE officer_feed (
    seq         INTEGER PRIMARY KEY,
    person_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    ref_id      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX officer_feed_by_person ON officer_feed (person_id, seq);
