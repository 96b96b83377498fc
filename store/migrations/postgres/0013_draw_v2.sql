-- Draw algorithm version 2 (docs/draw.md): the frozen candidates carry
-- their credit-risk class; the targets an upstream list assigns and the
-- targets excluded as recently inspected are frozen with the plan; a task
-- of an assigned target names its list; one seat of a drawn team can be
-- replaced, each replacement an immutable amendment of the draw.
ALTER TABLE plan_candidates ADD COLUMN risk_class TEXT;
ALTER TABLE tasks ADD COLUMN source TEXT;

CREATE TABLE plan_assigned (
    plan_id      TEXT NOT NULL,
    pos          BIGINT NOT NULL,
    target_key   TEXT NOT NULL,
    category     TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    source       TEXT NOT NULL,
    PRIMARY KEY (plan_id, pos)
);

CREATE TABLE plan_excluded (
    plan_id      TEXT NOT NULL,
    pos          BIGINT NOT NULL,
    target_key   TEXT NOT NULL,
    category     TEXT NOT NULL,
    -- The date of its latest current inspection record (YYYY-MM-DD).
    inspected    TEXT NOT NULL,
    PRIMARY KEY (plan_id, pos)
);

-- seq is the r of docs/draw.md's replacement rule (1, 2, … per draw).
CREATE TABLE draw_replacements (
    draw_id      TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    task_id      TEXT NOT NULL,
    target_key   TEXT NOT NULL,
    category     TEXT NOT NULL,
    leaving      TEXT NOT NULL,
    joining_id   TEXT NOT NULL,
    joining_name TEXT NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (draw_id, seq)
);
