-- Secrets shown once. See the PostgreSQL migration of the same number for the design.
CREATE TABLE shown_once (
    id          BLOB PRIMARY KEY CHECK (length(id) = 16),
    sealed      BLOB NOT NULL CHECK (length(sealed) <= 4096),
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX shown_once_expiry_idx ON shown_once (expires_at);
