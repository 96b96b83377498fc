-- PostgreSQL twin of sqlite/0005_team_progress.sql (triggers as plpgsql).
-- One counter row per drawn team, one column per task status.
--
-- Teams are drawn per task, so a plan of 20,000 tasks has thousands of
-- distinct officer pairs; kept as (team, status) rows of
-- `oversight_progress` the per-team breakdown read and pivoted several
-- rows per team. Here a whole plan's breakdown is one primary-key range
-- of one row per team. `oversight_progress` keeps the 'stratum' rows
-- only (towns and totals are sums of them).

CREATE TABLE oversight_team_progress (
    plan_id      TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    team_key     TEXT NOT NULL,
    label        TEXT NOT NULL,
    pending      BIGINT NOT NULL,
    incomplete   BIGINT NOT NULL,
    received     BIGINT NOT NULL,
    has_issues   BIGINT NOT NULL,
    returned     BIGINT NOT NULL,
    approved     BIGINT NOT NULL,
    PRIMARY KEY (plan_id, jurisdiction, team_key)
);

INSERT INTO oversight_team_progress
    (plan_id, jurisdiction, team_key, label, pending, incomplete, received, has_issues, returned, approved)
SELECT plan_id, jurisdiction, dim_key, MAX(label),
       CAST(SUM(CASE WHEN status = 'pending' THEN n ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN status = 'incomplete' THEN n ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN status = 'received' THEN n ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN status = 'has_issues' THEN n ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN status = 'returned' THEN n ELSE 0 END) AS BIGINT),
       CAST(SUM(CASE WHEN status = 'approved' THEN n ELSE 0 END) AS BIGINT)
  FROM oversight_progress WHERE dim = 'team'
 GROUP BY plan_id, jurisdiction, dim_key;

DELETE FROM oversight_progress WHERE dim = 'team';

-- The task trigger functions of 0004, with the team rows moved here (the
-- triggers themselves stay). A status change takes one from the old
-- status's column and adds one to the new one's; the old and new keys are
-- the same row unless the task moved.
CREATE OR REPLACE FUNCTION oversight_tasks_ins_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oversight_progress (plan_id, jurisdiction, dim, dim_key, status, label, n)
    VALUES (NEW.plan_id, NEW.jurisdiction, 'stratum', NEW.stratum_id, NEW.status, NEW.stratum_id, 1)
    ON CONFLICT (plan_id, jurisdiction, dim, dim_key, status) DO UPDATE SET n = oversight_progress.n + 1;
    INSERT INTO oversight_team_progress
        (plan_id, jurisdiction, team_key, label, pending, incomplete, received, has_issues, returned, approved)
    VALUES (NEW.plan_id, NEW.jurisdiction, NEW.team_key, NEW.team_label,
        CASE WHEN NEW.status = 'pending' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'incomplete' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'received' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'has_issues' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'returned' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'approved' THEN 1 ELSE 0 END)
    ON CONFLICT (plan_id, jurisdiction, team_key) DO UPDATE SET
        pending = oversight_team_progress.pending + excluded.pending,
        incomplete = oversight_team_progress.incomplete + excluded.incomplete,
        received = oversight_team_progress.received + excluded.received,
        has_issues = oversight_team_progress.has_issues + excluded.has_issues,
        returned = oversight_team_progress.returned + excluded.returned,
        approved = oversight_team_progress.approved + excluded.approved;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION oversight_tasks_del_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_progress SET n = n - 1 WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND dim = 'stratum' AND dim_key = OLD.stratum_id AND status = OLD.status;
    UPDATE oversight_team_progress SET
        pending = pending - (CASE WHEN OLD.status = 'pending' THEN 1 ELSE 0 END),
        incomplete = incomplete - (CASE WHEN OLD.status = 'incomplete' THEN 1 ELSE 0 END),
        received = received - (CASE WHEN OLD.status = 'received' THEN 1 ELSE 0 END),
        has_issues = has_issues - (CASE WHEN OLD.status = 'has_issues' THEN 1 ELSE 0 END),
        returned = returned - (CASE WHEN OLD.status = 'returned' THEN 1 ELSE 0 END),
        approved = approved - (CASE WHEN OLD.status = 'approved' THEN 1 ELSE 0 END)
     WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND team_key = OLD.team_key;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION oversight_tasks_upd_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE oversight_progress SET n = n - 1 WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND dim = 'stratum' AND dim_key = OLD.stratum_id AND status = OLD.status;
    INSERT INTO oversight_progress (plan_id, jurisdiction, dim, dim_key, status, label, n)
    VALUES (NEW.plan_id, NEW.jurisdiction, 'stratum', NEW.stratum_id, NEW.status, NEW.stratum_id, 1)
    ON CONFLICT (plan_id, jurisdiction, dim, dim_key, status) DO UPDATE SET n = oversight_progress.n + 1;
    UPDATE oversight_team_progress SET
        pending = pending - (CASE WHEN OLD.status = 'pending' THEN 1 ELSE 0 END),
        incomplete = incomplete - (CASE WHEN OLD.status = 'incomplete' THEN 1 ELSE 0 END),
        received = received - (CASE WHEN OLD.status = 'received' THEN 1 ELSE 0 END),
        has_issues = has_issues - (CASE WHEN OLD.status = 'has_issues' THEN 1 ELSE 0 END),
        returned = returned - (CASE WHEN OLD.status = 'returned' THEN 1 ELSE 0 END),
        approved = approved - (CASE WHEN OLD.status = 'approved' THEN 1 ELSE 0 END)
     WHERE plan_id = OLD.plan_id AND jurisdiction = OLD.jurisdiction AND team_key = OLD.team_key;
    INSERT INTO oversight_team_progress
        (plan_id, jurisdiction, team_key, label, pending, incomplete, received, has_issues, returned, approved)
    VALUES (NEW.plan_id, NEW.jurisdiction, NEW.team_key, NEW.team_label,
        CASE WHEN NEW.status = 'pending' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'incomplete' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'received' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'has_issues' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'returned' THEN 1 ELSE 0 END,
        CASE WHEN NEW.status = 'approved' THEN 1 ELSE 0 END)
    ON CONFLICT (plan_id, jurisdiction, team_key) DO UPDATE SET
        pending = oversight_team_progress.pending + excluded.pending,
        incomplete = oversight_team_progress.incomplete + excluded.incomplete,
        received = oversight_team_progress.received + excluded.received,
        has_issues = oversight_team_progress.has_issues + excluded.has_issues,
        returned = oversight_team_progress.returned + excluded.returned,
        approved = oversight_team_progress.approved + excluded.approved;
    RETURN NULL;
END;
$$;
