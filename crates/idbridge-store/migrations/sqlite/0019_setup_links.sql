-- Setup links for a tenant's IT admin. See the PostgreSQL migration of the same
-- number for the design.
CREATE TABLE setup_links (
    id            BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    provider      TEXT NOT NULL CHECK (provider IN ('entra', 'okta', 'generic')),
    note          TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX setup_links_tenant_idx ON setup_links (tenant_id, id);
