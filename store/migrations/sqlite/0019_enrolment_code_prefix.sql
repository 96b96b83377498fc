-- Failed enrolments counted per code prefix (the code's first group) and
-- across all clients too: a code whose first group was seen cannot be
-- guessed from many addresses, and a flood from many addresses is slowed.
ALTER TABLE enrolment_attempts ADD COLUMN code_prefix TEXT;
CREATE INDEX enrolment_attempts_by_prefix ON enrolment_attempts (code_prefix, at);
CREATE INDEX enrolment_attempts_by_time ON enrolment_attempts (at);
