-- Partial uploads kept in the database, so that any server instance can
-- take the next chunk of an upload another one started (scale-out on
-- PostgreSQL). `held` is the durable offset; the chunks tile [0, held).
-- A single SQLite server keeps its part files on local disk instead and
-- leaves these tables empty.
CREATE TABLE upload_parts (
    blob_sha256 TEXT PRIMARY KEY,
    held        BIGINT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE upload_chunks (
    blob_sha256  TEXT NOT NULL,
    start_offset BIGINT NOT NULL,
    bytes        BLOB NOT NULL,
    PRIMARY KEY (blob_sha256, start_offset)
);

-- Enrolment attempts by client address, so the limit on guessing codes
-- holds across all server instances.
CREATE TABLE enrolment_attempts (
    client    TEXT NOT NULL,
    at        TEXT NOT NULL,
    succeeded INTEGER NOT NULL
);
CREATE INDEX enrolment_attempts_by_client ON enrolment_attempts (client, at);
