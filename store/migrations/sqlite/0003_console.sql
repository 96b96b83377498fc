-- The supervisor console: people who log in, their sessions, what they
-- changed (audit log), and login attempts (rate limiting).

CREATE TABLE console_users (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    -- The town/street a town-office lead is limited to; NULL otherwise.
    jurisdiction  TEXT,
    -- Argon2id, PHC string format (salt and parameters included).
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    disabled_at   TEXT
);

-- Only the SHA-256 of a session token is stored: a copy of the database
-- does not let anyone log in.
CREATE TABLE console_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES console_users (user_id),
    -- Per-session token every POST form must carry.
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_id);

-- Append-only: every change made through the console.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object      TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT
);
CREATE INDEX audit_log_by_object ON audit_log (object);

CREATE TABLE login_attempts (
    username    TEXT NOT NULL,
    client      TEXT NOT NULL,
    at          TEXT NOT NULL,
    succeeded   INTEGER NOT NULL
);
CREATE INDEX login_attempts_by_user ON login_attempts (username, at);
CREATE INDEX login_attempts_by_client ON login_attempts (client, at);
