-- PostgreSQL twin of sqlite/0004_oversight.sql (triggers as plpgsql).
-- Oversight: the facts the console filters and counts by (tasks and sealed
-- records with their town, team, stratum and dates), counters kept by
-- triggers so the dashboard never scans, proof-of-duty photo hashes,
-- findings with their follow-up, and the public disclosure register.
--
-- `records` (0002) stays the source of truth; `oversight_records` is a
-- projection of it written by `oversight::index`, and a trigger on
-- `records` mirrors every review-state change into it, so whichever code
-- path approves, returns or supersedes a record, the console's view follows.

CREATE TABLE oversight_draws (
    draw_id     TEXT PRIMARY KEY,
    indexed_at  TEXT NOT NULL
);

-- One row per task of a current draw. status: 'pending' (nothing received)
-- or the review state of the task's latest record.
CREATE TABLE oversight_tasks (
    task_id      TEXT PRIMARY KEY,
    plan_id      TEXT NOT NULL,
    draw_id      TEXT NOT NULL,
    stratum_id   TEXT NOT NULL,
    category     TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    team_key     TEXT NOT NULL,
    team_label   TEXT NOT NULL,
    target_key   TEXT NOT NULL,
    status       TEXT NOT NULL
);
CREATE INDEX oversight_tasks_by_draw ON oversight_tasks (draw_id);
CREATE INDEX oversight_tasks_by_plan_town ON oversight_tasks (plan_id, jurisdiction, category, status);

-- Tasks per (plan, town, dimension, key, status); dimension is 'stratum'
-- or 'team'. Town totals and plan totals are sums of the stratum rows, so a
-- town lead's dashboard is the same query with the town fixed. Maintained
-- by the triggers below only.
CREATE TABLE oversight_progress (
    plan_id      TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    dim          TEXT NOT NULL,
    dim_key      TEXT NOT NULL,
    status       TEXT NOT NULL,
    label        TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (plan_id, dim, jurisdiction, dim_key, status)
);
-- Every plan's rows of one dimension (the all-plans dashboard).
CREATE INDEX oversight_progress_by_dim ON oversight_progress (dim, plan_id);

CREATE FUNCTION oversight_tasks_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oversight_progress (plan_id, jurisdiction, dim, dim_key, status, label, n) VALUES
        (NEW.plan_id, NEW.jurisdiction, 'stratum', NEW.stratum_id, NEW.status, NEW.stratum_id, 1),
        (NEW.plan_id, NEW.jurisdiction, 'team', NEW.team_key, NEW.status, NEW.team_label, 1)
    ON CONFLICT (plan_id, jurisdiction, dim, dim_key, status) DO UPDATE SET n = oversight_progress.n + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_tasks_ins AFTER INSERT ON oversight_tasks
    FOR EACH ROW
    EXECUTE FUNCTION oversight_tasks_ins_fn();

CREATE FUNCTION oversight_tasks_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_progress SET n = n - 1 WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND dim = 'stratum' AND dim_key = OLD.stratum_id AND status = OLD.status;
    UPDATE oversight_progress SET n = n - 1 WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND dim = 'team' AND dim_key = OLD.team_key AND status = OLD.status;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_tasks_del AFTER DELETE ON oversight_tasks
    FOR EACH ROW
    EXECUTE FUNCTION oversight_tasks_del_fn();

CREATE FUNCTION oversight_tasks_upd_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_progress SET n = n - 1 WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND dim = 'stratum' AND dim_key = OLD.stratum_id AND status = OLD.status;
    UPDATE oversight_progress SET n = n - 1 WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND dim = 'team' AND dim_key = OLD.team_key AND status = OLD.status;
    INSERT INTO oversight_progress (plan_id, jurisdiction, dim, dim_key, status, label, n) VALUES
        (NEW.plan_id, NEW.jurisdiction, 'stratum', NEW.stratum_id, NEW.status, NEW.stratum_id, 1),
        (NEW.plan_id, NEW.jurisdiction, 'team', NEW.team_key, NEW.status, NEW.team_label, 1)
    ON CONFLICT (plan_id, jurisdiction, dim, dim_key, status) DO UPDATE SET n = oversight_progress.n + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_tasks_upd AFTER UPDATE OF status ON oversight_tasks
    FOR EACH ROW
    WHEN (OLD.status <> NEW.status)
    EXECUTE FUNCTION oversight_tasks_upd_fn();

-- One row per sealed record version. state: the record's review state, or
-- 'superseded' once an amendment replaced the version.
CREATE TABLE oversight_records (
    record_id       TEXT NOT NULL,
    version         TEXT NOT NULL,
    task_id         TEXT NOT NULL,
    plan_id         TEXT NOT NULL,
    stratum_id      TEXT NOT NULL,
    category        TEXT NOT NULL,
    jurisdiction    TEXT NOT NULL,
    team_key        TEXT NOT NULL,
    team_label      TEXT NOT NULL,
    target_key      TEXT NOT NULL,
    target_name     TEXT NOT NULL,
    inspection_date TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    state           TEXT NOT NULL,
    findings        BIGINT NOT NULL,
    -- Proof-of-duty flags as last computed, and 1 while some photo could
    -- not be checked yet (its blob has not arrived).
    duty_flags      BIGINT NOT NULL,
    duty_pending    BIGINT NOT NULL,
    -- 1 while a (not withdrawn) result of the record is public.
    disclosed       BIGINT NOT NULL,
    PRIMARY KEY (record_id, version)
);
-- The review queue: filters on town / team / state / date, keyset-ordered
-- by (inspection_date, record_id, version). One index per filter shape.
CREATE INDEX oversight_records_by_date ON oversight_records (inspection_date, record_id, version);
CREATE INDEX oversight_records_by_state ON oversight_records (state, inspection_date, record_id, version);
CREATE INDEX oversight_records_by_town_state ON oversight_records (jurisdiction, state, inspection_date, record_id, version);
CREATE INDEX oversight_records_by_town ON oversight_records (jurisdiction, inspection_date, record_id, version);
CREATE INDEX oversight_records_by_team ON oversight_records (team_key, inspection_date, record_id, version);
CREATE INDEX oversight_records_by_task ON oversight_records (task_id);
CREATE INDEX oversight_records_by_received ON oversight_records (received_at);
CREATE INDEX oversight_records_duty_pending ON oversight_records (duty_pending, state);
-- What is due for publication: current, not yet public, oldest first.
CREATE INDEX oversight_records_undisclosed ON oversight_records (disclosed, inspection_date, state);
-- Catching up with records the hook was not called for (see oversight::index).
CREATE INDEX records_by_received ON records (received_at);

CREATE FUNCTION oversight_records_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_tasks SET status = NEW.state WHERE task_id = NEW.task_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_records_ins AFTER INSERT ON oversight_records
    FOR EACH ROW
    WHEN (NEW.state <> 'superseded')
    EXECUTE FUNCTION oversight_records_ins_fn();

CREATE FUNCTION oversight_records_upd_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_tasks SET status = NEW.state WHERE task_id = NEW.task_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_records_upd AFTER UPDATE OF state ON oversight_records
    FOR EACH ROW
    WHEN (NEW.state <> 'superseded' AND OLD.state <> NEW.state)
    EXECUTE FUNCTION oversight_records_upd_fn();

CREATE FUNCTION oversight_mirror_state_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_records
       SET state = CASE WHEN NEW.superseded <> 0 THEN 'superseded' ELSE NEW.state END
     WHERE record_id = NEW.record_id AND version = NEW.version;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_mirror_state AFTER UPDATE OF state, superseded ON records
    FOR EACH ROW
    EXECUTE FUNCTION oversight_mirror_state_fn();

-- Perceptual hashes of photos (64-bit DCT pHash), computed once per blob.
-- b0..b4 are the hash cut into five bands: two hashes within Hamming
-- distance 4 agree on at least one band, so near-duplicates are found by
-- five indexed equality lookups instead of a scan.
CREATE TABLE photo_hashes (
    sha256      TEXT PRIMARY KEY,
    phash       BIGINT,
    b0          BIGINT,
    b1          BIGINT,
    b2          BIGINT,
    b3          BIGINT,
    b4          BIGINT,
    error       TEXT,
    computed_at TEXT NOT NULL
);
CREATE INDEX photo_hashes_b0 ON photo_hashes (b0);
CREATE INDEX photo_hashes_b1 ON photo_hashes (b1);
CREATE INDEX photo_hashes_b2 ON photo_hashes (b2);
CREATE INDEX photo_hashes_b3 ON photo_hashes (b3);
CREATE INDEX photo_hashes_b4 ON photo_hashes (b4);

-- Findings of the current version of each record, with their follow-up.
-- kind: fixed_on_site, rectification_order, case_filed,
-- transferred_to_judicial, transferred_to_discipline, notice_to_department.
-- closed: 1 when nothing more is expected (fixed, rectified, transferred).
CREATE TABLE oversight_findings (
    finding_id    TEXT PRIMARY KEY,
    record_id     TEXT NOT NULL,
    version       TEXT NOT NULL,
    task_id       TEXT NOT NULL,
    plan_id       TEXT NOT NULL,
    jurisdiction  TEXT NOT NULL,
    category      TEXT NOT NULL,
    item_id       TEXT NOT NULL,
    description   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    order_no      TEXT,
    deadline      TEXT,
    reference     TEXT,
    organ         TEXT,
    followed_up_on TEXT,
    outcome       TEXT,
    closed        BIGINT NOT NULL,
    -- 1 once the console recorded follow-up: an amended record then no
    -- longer overwrites the disposition.
    managed       BIGINT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX oversight_findings_by_record ON oversight_findings (record_id);
CREATE INDEX oversight_findings_open ON oversight_findings (kind, closed, deadline);
CREATE INDEX oversight_findings_by_town ON oversight_findings (jurisdiction, kind, closed, deadline);
CREATE INDEX oversight_findings_by_plan ON oversight_findings (plan_id, kind, closed, deadline);

-- Findings per (plan, town, target category, checklist item, disposition).
CREATE TABLE oversight_finding_counts (
    plan_id      TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    category     TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (plan_id, jurisdiction, category, item_id, kind)
);

CREATE FUNCTION oversight_findings_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oversight_finding_counts (plan_id, jurisdiction, category, item_id, kind, n)
    VALUES (NEW.plan_id, NEW.jurisdiction, NEW.category, NEW.item_id, NEW.kind, 1)
    ON CONFLICT (plan_id, jurisdiction, category, item_id, kind) DO UPDATE SET n = oversight_finding_counts.n + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_findings_ins AFTER INSERT ON oversight_findings
    FOR EACH ROW
    EXECUTE FUNCTION oversight_findings_ins_fn();

CREATE FUNCTION oversight_findings_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_finding_counts SET n = n - 1
     WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND category = OLD.category AND item_id = OLD.item_id AND kind = OLD.kind;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_findings_del AFTER DELETE ON oversight_findings
    FOR EACH ROW
    EXECUTE FUNCTION oversight_findings_del_fn();

CREATE FUNCTION oversight_findings_upd_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_finding_counts SET n = n - 1
     WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND category = OLD.category AND item_id = OLD.item_id AND kind = OLD.kind;
    INSERT INTO oversight_finding_counts (plan_id, jurisdiction, category, item_id, kind, n)
    VALUES (NEW.plan_id, NEW.jurisdiction, NEW.category, NEW.item_id, NEW.kind, 1)
    ON CONFLICT (plan_id, jurisdiction, category, item_id, kind) DO UPDATE SET n = oversight_finding_counts.n + 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER oversight_findings_upd AFTER UPDATE OF kind, item_id ON oversight_findings
    FOR EACH ROW
    WHEN (OLD.kind <> NEW.kind OR OLD.item_id <> NEW.item_id)
    EXECUTE FUNCTION oversight_findings_upd_fn();

-- Every follow-up step recorded in the console, append-only.
CREATE TABLE followup_actions (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id  TEXT NOT NULL,
    action      TEXT NOT NULL,
    data        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX followup_actions_by_finding ON followup_actions (finding_id, seq);

-- The public register (一公开). A result is never deleted: an overturned
-- one is withdrawn and stays visible as withdrawn.
CREATE TABLE disclosures (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id         TEXT NOT NULL,
    version           TEXT NOT NULL,
    target_key        TEXT NOT NULL,
    target_name       TEXT NOT NULL,
    uscc              TEXT,
    matter            TEXT NOT NULL,
    inspection_date   TEXT NOT NULL,
    authority         TEXT NOT NULL,
    result            TEXT NOT NULL,
    deadline          TEXT NOT NULL,
    published_at      TEXT NOT NULL,
    published_by      TEXT NOT NULL,
    withdrawn_at      TEXT,
    withdrawn_by      TEXT,
    withdrawal_reason TEXT
);
-- At most one live (not withdrawn) result per record is enforced in code;
-- a withdrawn one stays beside a corrected one.
CREATE INDEX disclosures_by_record ON disclosures (record_id);
