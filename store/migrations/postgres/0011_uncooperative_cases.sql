-- 不配合检查（情节严重）: a company that refused or obstructed the inspection
-- goes the case path (立案查处). One row per record once the case is filed.
CREATE TABLE uncooperative_cases (
    record_id   TEXT PRIMARY KEY,
    filed_on    TEXT NOT NULL,
    case_no     TEXT NOT NULL,
    filed_by    TEXT NOT NULL,
    filed_at    TEXT NOT NULL
);
