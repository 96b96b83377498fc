-- Evidence named by something other than a record version: a question's
-- photos, an answer's images, an escalation's photos (each also kept as
-- a JSON list on its row). With `record_blobs` this says, by index, whether
-- any stored thing names a blob: what the per-device quota of unnamed
-- uploads and the collection of unnamed blobs ask.
CREATE TABLE blob_names (
    sha256   TEXT NOT NULL,
    named_by TEXT NOT NULL,
    PRIMARY KEY (sha256, named_by)
);
INSERT INTO blob_names (sha256, named_by)
SELECT DISTINCT j.value, 'question:' || q.question_id FROM questions q, jsonb_array_elements_text(q.photos::jsonb) AS j(value);
INSERT INTO blob_names (sha256, named_by)
SELECT DISTINCT j.value, 'answer:' || q.question_id FROM questions q, jsonb_array_elements_text(q.answer_attachments::jsonb) AS j(value)
 WHERE q.answer_attachments IS NOT NULL;
INSERT INTO blob_names (sha256, named_by)
SELECT DISTINCT j.value, 'escalation:' || e.escalation_id FROM escalations e, jsonb_array_elements_text(e.photos::jsonb) AS j(value);

-- Uploads a device began of blobs nothing named yet: the device's quota
-- counts their declared sizes until something names them, the blob is
-- collected, or the unfinished part is swept.
CREATE TABLE unnamed_uploads (
    device_id  TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    bytes      BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (device_id, sha256)
);
CREATE INDEX unnamed_uploads_by_sha ON unnamed_uploads (sha256);
