-- Directories (名录库), plans, draws and tasks. Shipped migrations are never
-- edited; changes go in a new file. Times are RFC 3339 UTC text so that the
-- same values sort and compare the same on SQLite and PostgreSQL.

CREATE TABLE jurisdictions (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE imports (
    import_id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    total_rows  BIGINT NOT NULL,
    inserted    BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    unchanged   BIGINT NOT NULL,
    rejected    BIGINT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE targets (
    category     TEXT NOT NULL,
    target_key   TEXT NOT NULL,
    name         TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    address      TEXT,
    lat          DOUBLE PRECISION,
    lon          DOUBLE PRECISION,
    issuer       TEXT,
    issuer_uscc  TEXT,
    data         TEXT NOT NULL,
    row_hash     TEXT NOT NULL,
    version      BIGINT NOT NULL,
    import_id    BIGINT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (category, target_key)
);
CREATE INDEX targets_by_name ON targets (category, name);

-- Every replaced version of a target, as JSON of the domain type.
CREATE TABLE target_history (
    category     TEXT NOT NULL,
    target_key   TEXT NOT NULL,
    version      BIGINT NOT NULL,
    data         TEXT NOT NULL,
    replaced_at  TEXT NOT NULL,
    replaced_by_import BIGINT,
    PRIMARY KEY (category, target_key, version)
);

CREATE TABLE officers (
    credential_no TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    unit          TEXT NOT NULL,
    domains       TEXT NOT NULL,
    enforcement   BIGINT NOT NULL,
    data          TEXT NOT NULL,
    row_hash      TEXT NOT NULL,
    version       BIGINT NOT NULL,
    import_id     BIGINT,
    updated_at    TEXT NOT NULL
);

CREATE TABLE officer_history (
    credential_no TEXT NOT NULL,
    version       BIGINT NOT NULL,
    data          TEXT NOT NULL,
    replaced_at   TEXT NOT NULL,
    replaced_by_import BIGINT,
    PRIMARY KEY (credential_no, version)
);

CREATE TABLE experts (
    expert_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    domains       TEXT NOT NULL,
    data          TEXT NOT NULL,
    row_hash      TEXT NOT NULL,
    version       BIGINT NOT NULL,
    import_id     BIGINT,
    updated_at    TEXT NOT NULL
);

CREATE TABLE expert_history (
    expert_id     TEXT NOT NULL,
    version       BIGINT NOT NULL,
    data          TEXT NOT NULL,
    replaced_at   TEXT NOT NULL,
    replaced_by_import BIGINT,
    PRIMARY KEY (expert_id, version)
);

CREATE TABLE recusals (
    person      TEXT NOT NULL,
    target_key  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (person, target_key)
);

CREATE TABLE plans (
    plan_id       TEXT PRIMARY KEY,
    spec          TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    frozen_at     TEXT,
    snapshot_hash TEXT,
    -- Officer and expert pools and recusals as frozen (JSON).
    pool          TEXT
);

CREATE TABLE plan_candidates (
    plan_id      TEXT NOT NULL,
    stratum_pos  BIGINT NOT NULL,
    pos          BIGINT NOT NULL,
    target_key   TEXT NOT NULL,
    category     TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    PRIMARY KEY (plan_id, stratum_pos, pos)
);

CREATE TABLE draws (
    draw_id         TEXT PRIMARY KEY,
    plan_id         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    algorithm       BIGINT NOT NULL,
    snapshot_hash   TEXT NOT NULL,
    seed            TEXT NOT NULL,
    seed_entered_by TEXT NOT NULL,
    seed_entered_at TEXT NOT NULL,
    supersedes      TEXT,
    reason          TEXT,
    UNIQUE (plan_id, seq)
);

CREATE TABLE tasks (
    task_id           TEXT PRIMARY KEY,
    draw_id           TEXT NOT NULL,
    seq               BIGINT NOT NULL,
    stratum_id        TEXT NOT NULL,
    category          TEXT NOT NULL,
    target_key        TEXT NOT NULL,
    checklist_id      TEXT NOT NULL,
    checklist_version BIGINT NOT NULL,
    due               TEXT,
    team              TEXT NOT NULL
);
CREATE INDEX tasks_by_draw ON tasks (draw_id, seq);

CREATE TABLE task_members (
    task_id    TEXT NOT NULL,
    person_id  TEXT NOT NULL,
    role       TEXT NOT NULL,
    PRIMARY KEY (task_id, person_id)
);
CREATE INDEX task_members_by_person ON task_members (person_id);

CREATE TABLE admin_tokens (
    token_hash  TEXT PRIMARY KEY,
    label       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
