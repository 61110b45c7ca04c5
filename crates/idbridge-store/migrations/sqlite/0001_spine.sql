-- The spine: tenants, the app's OIDC clients, and the bearer credentials that reach
-- the admin API and the SCIM endpoints. Secrets are stored only as SHA-256 digests.
--
-- SQLite conventions (see ARCHITECTURE.md): ids are 16-byte UUID blobs, timestamps are
-- INTEGER microseconds since the Unix epoch (UTC) so that they order and compare
-- correctly in SQL, booleans are 0/1, JSON is TEXT.

CREATE TABLE tenants (
    id            BLOB PRIMARY KEY CHECK (length(id) = 16),
    slug          TEXT NOT NULL UNIQUE
                  CHECK (length(slug) BETWEEN 1 AND 63 AND slug NOT GLOB '*[^a-z0-9-]*'),
    name          TEXT NOT NULL,
    sso_required  INTEGER NOT NULL DEFAULT 0 CHECK (sso_required IN (0, 1)),
    jit_enabled   INTEGER NOT NULL DEFAULT 1 CHECK (jit_enabled IN (0, 1)),
    default_role  TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE oidc_clients (
    id             BLOB PRIMARY KEY CHECK (length(id) = 16),
    name           TEXT NOT NULL,
    redirect_uris  TEXT NOT NULL CHECK (json_valid(redirect_uris)),
    is_public      INTEGER NOT NULL CHECK (is_public IN (0, 1)),
    secret_hash    BLOB UNIQUE CHECK (length(secret_hash) = 32),
    created_at     INTEGER NOT NULL,
    CHECK (is_public = (secret_hash IS NULL))
) STRICT;

CREATE TABLE scim_tokens (
    id            BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    description   TEXT,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) STRICT;
CREATE INDEX scim_tokens_tenant_id_idx ON scim_tokens (tenant_id, id);

CREATE TABLE admin_api_keys (
    id            BLOB PRIMARY KEY CHECK (length(id) = 16),
    name          TEXT NOT NULL,
    key_hash      BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
) STRICT;
