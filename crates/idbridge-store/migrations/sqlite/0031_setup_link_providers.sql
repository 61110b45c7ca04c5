-- More guides for setup links (see the PostgreSQL migration of the same number).
-- SQLite cannot change a CHECK constraint, so setup_links is rebuilt as SQLite's
-- documentation prescribes (migrations run with foreign keys off; nothing refers
-- to setup_links). It keeps the columns 0030 added (return_url, support_email,
-- support_url).
CREATE TABLE setup_links_v2 (
    id            BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    provider      TEXT NOT NULL CHECK (provider IN ('entra', 'okta', 'google', 'onelogin', 'jumpcloud', 'pingone', 'adfs', 'generic')),
    note          TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER,
    return_url    TEXT,
    support_email TEXT,
    support_url   TEXT
) STRICT;
INSERT INTO setup_links_v2 (id, tenant_id, token_hash, provider, note, created_at,
    expires_at, last_used_at, revoked_at, return_url, support_email, support_url)
SELECT id, tenant_id, token_hash, provider, note, created_at,
    expires_at, last_used_at, revoked_at, return_url, support_email, support_url
FROM setup_links;
DROP TABLE setup_links;
ALTER TABLE setup_links_v2 RENAME TO setup_links;
CREATE INDEX setup_links_tenant_idx ON setup_links (tenant_id, id);
