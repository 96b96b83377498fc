-- The checklists' FAQ (常见问题): answered questions the quality section
-- made guidance for every officer, numbered per checklist.
CREATE TABLE faq (
    faq_id       TEXT PRIMARY KEY,
    checklist_id TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    question     TEXT NOT NULL,
    answer       TEXT NOT NULL,
    basis        TEXT,
    published_by TEXT NOT NULL,
    published_at TEXT NOT NULL,
    UNIQUE (checklist_id, seq)
);
