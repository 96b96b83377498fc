-- The bureau's signing key (Ed25519 seed, hex) for the manifests of the
-- files it sends to other systems. One row, made by whichever instance
-- signs first; every instance then signs with the same key.
CREATE TABLE signing_key (
    id          SMALLINT PRIMARY KEY CHECK (id = 1),
    seed        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
