-- Images the quality section sends with an answer (JSON array of SHA-256).
ALTER TABLE questions ADD COLUMN answer_attachments TEXT;
