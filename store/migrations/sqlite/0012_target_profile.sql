-- What the credit, registration and licensing systems say of a target
-- (信用风险分类, 行业代码, 经营状态), as columns the freeze filters on; the
-- whole entry (licence number included) stays in `data`. Targets imported
-- before were 存续 and unclassified.
ALTER TABLE targets ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE targets ADD COLUMN risk_class TEXT;
ALTER TABLE targets ADD COLUMN industry_code TEXT;
