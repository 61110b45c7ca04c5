-- Connections: a tenant's identity providers, any number of them, each SAML or
-- OpenID Connect, with the email domains it serves and at most one default.
--
-- The tenant's first SAML connection keeps its settings in saml_connections (the
-- routes /api/v1/tenants/{slug}/saml and /saml/{slug}/... are unchanged); its row
-- here has the tenant's own id, so it is found without a lookup. Every existing
-- SAML connection gets that row now.
CREATE TABLE connections (
    id                   BLOB PRIMARY KEY,
    tenant_id            BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind                 TEXT NOT NULL CHECK (kind IN ('saml', 'oidc')),
    name                 TEXT NOT NULL,
    domains              TEXT NOT NULL DEFAULT '[]',   -- JSON array of domain names
    is_default           INTEGER NOT NULL DEFAULT 0,
    -- OpenID Connect: the issuer (discovery at {issuer}/.well-known/openid-configuration),
    -- the client registered there, its secret sealed with the operator's secret key
    -- (AES-256-GCM, see docs/operator-guide.md), and the scopes asked for.
    issuer               TEXT,
    client_id            TEXT,
    client_secret        BLOB,
    scopes               TEXT,                         -- JSON array
    -- The issuer's discovery document and JWKS as last fetched (JSON), shared by
    -- every process.
    provider_cache       TEXT,
    provider_fetched_at  INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    CHECK (kind = 'saml' OR (issuer IS NOT NULL AND client_id IS NOT NULL))
) STRICT;
CREATE INDEX connections_tenant_idx ON connections (tenant_id, created_at);
CREATE UNIQUE INDEX connections_default_idx ON connections (tenant_id) WHERE is_default = 1;

INSERT INTO connections (id, tenant_id, kind, name, domains, is_default, created_at, updated_at)
SELECT tenant_id, tenant_id, 'saml', 'SAML', '[]', 0, created_at, updated_at FROM saml_connections;

-- An upstream OpenID Connect sign-in in flight: found by the digest of the state
-- sent to the IdP (whichever process receives the callback), consumed once. It
-- carries the app's authorization request as saml_requests does.
CREATE TABLE oidc_flows (
    state_hash      BLOB PRIMARY KEY CHECK (length(state_hash) = 32),
    tenant_id       BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    connection_id   BLOB NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    nonce           TEXT NOT NULL,
    code_verifier   TEXT NOT NULL,
    test            INTEGER NOT NULL,
    redirect_uri    TEXT,
    client_id       BLOB REFERENCES oidc_clients(id) ON DELETE CASCADE,
    oauth_state     TEXT,
    app_nonce       TEXT,
    code_challenge  TEXT,
    scope           TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX oidc_flows_expiry_idx ON oidc_flows (expires_at);

-- Which connection a code's sign-in came through (NULL: before connections).
ALTER TABLE authorization_codes ADD COLUMN connection_id BLOB;
