-- The town report (镇街报告, seed §五(四)): per plan and town, the town
-- office's 监督检查情况、存在问题 report to the quality section, due by the
-- plan's report_due. The figures are frozen (JSON) when it is submitted.
ALTER TABLE plans ADD COLUMN report_due TEXT;

CREATE TABLE town_reports (
    plan_id        TEXT NOT NULL,
    town           TEXT NOT NULL,
    -- draft | submitted | returned
    state          TEXT NOT NULL,
    analysis       TEXT NOT NULL,
    measures       TEXT NOT NULL,
    figures        TEXT,
    signed_by      TEXT,
    submitted_at   TEXT,
    return_comment TEXT,
    returned_by    TEXT,
    returned_at    TEXT,
    updated_by     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (plan_id, town)
);
