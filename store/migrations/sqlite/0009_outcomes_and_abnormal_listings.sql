-- What became of each record version's task (`shared::outcome::OutcomeKind`:
-- normal, unreachable, activity_not_found, closed, uncooperative). Records
-- sealed before outcomes existed were all walk-throughs.
ALTER TABLE oversight_records ADD COLUMN outcome TEXT NOT NULL DEFAULT 'normal';
CREATE INDEX oversight_records_by_outcome ON oversight_records (outcome, state);

-- 经营异常名录: a company that could not be reached at its registered
-- address is listed by the bureau (企业经营异常名录管理暂行办法), within 10
-- working days in practice. One row per record once the listing is done.
CREATE TABLE abnormal_listings (
    record_id   TEXT PRIMARY KEY,
    listed_on   TEXT NOT NULL,
    decision_no TEXT NOT NULL,
    listed_by   TEXT NOT NULL,
    listed_at   TEXT NOT NULL
);
