-- Admin tokens get a lifecycle: each is named for the person who holds
-- it, says who issued it, expires, and records who revoked it. Tokens
-- issued before this had none of that: they expire thirty days from now,
-- which leaves time to issue named ones.
ALTER TABLE admin_tokens ADD COLUMN issued_by TEXT;
ALTER TABLE admin_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE admin_tokens ADD COLUMN revoked_by TEXT;
UPDATE admin_tokens
   SET expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+30 days'),
       issued_by = 'cli'
 WHERE expires_at IS NULL;
