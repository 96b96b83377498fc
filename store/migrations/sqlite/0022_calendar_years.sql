-- Holiday arrangements entered in the console (节假日安排) for years the
-- build and the deployment's file do not know yet: the weekdays off and
-- the weekend days worked, as JSON lists of YYYY-MM-DD.
CREATE TABLE calendar_years (
    year             INTEGER PRIMARY KEY,
    holidays         TEXT NOT NULL,
    working_weekends TEXT NOT NULL,
    entered_by       TEXT NOT NULL,
    entered_at       TEXT NOT NULL
);
