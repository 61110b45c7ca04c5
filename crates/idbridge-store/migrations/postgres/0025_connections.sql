-- Connections: a tenant's identity providers, any number of them, each SAML or
-- OpenID Connect, with the email domains it serves and at most one default.
--
-- The tenant's first SAML connection keeps its settings in saml_connections (the
-- routes /api/v1/tenants/{slug}/saml and /saml/{slug}/... are unchanged); its row
-- here has the tenant's own id, so it is found without a lookup. Every existing
-- SAML connection gets that row now.
CREATE TABLE connections (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind                 text NOT NULL CHECK (kind IN ('saml', 'oidc')),
    name                 text NOT NULL,
    domains              jsonb NOT NULL DEFAULT '[]',   -- JSON array of domain names
    is_default           boolean NOT NULL DEFAULT false,
    -- OpenID Connect: the issuer (discovery at {issuer}/.well-known/openid-configuration),
    -- the client registered there, its secret sealed with the operator's secret key
    -- (AES-256-GCM, see docs/operator-guide.md), and the scopes asked for.
    issuer               text,
    client_id            text,
    client_secret        bytea,
    scopes               jsonb,                        -- JSON array
    -- The issuer's discovery document and JWKS as last fetched (JSON), shared by
    -- every process.
    provider_cache       jsonb,
    provider_fetched_at  timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CHECK (kind = 'saml' OR (issuer IS NOT NULL AND client_id IS NOT NULL))
);
CREATE INDEX connections_tenant_idx ON connections (tenant_id, created_at);
CREATE UNIQUE INDEX connections_default_idx ON connections (tenant_id) WHERE is_default;

INSERT INTO connections (id, tenant_id, kind, name, domains, is_default, created_at, updated_at)
SELECT tenant_id, tenant_id, 'saml', 'SAML', '[]', false, created_at, updated_at FROM saml_connections;

-- An upstream OpenID Connect sign-in in flight: found by the digest of the state
-- sent to the IdP (whichever process receives the callback), consumed once. It
-- carries the app's authorization request as saml_requests does.
CREATE TABLE oidc_flows (
    state_hash      bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    connection_id   uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    nonce           text NOT NULL,
    code_verifier   text NOT NULL,
    test            boolean NOT NULL,
    redirect_uri    text,
    client_id       uuid REFERENCES oidc_clients(id) ON DELETE CASCADE,
    oauth_state     text,
    app_nonce       text,
    code_challenge  text,
    scope           text,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX oidc_flows_expiry_idx ON oidc_flows (expires_at);

-- Which connection a code's sign-in came through (NULL: before connections).
ALTER TABLE authorization_codes ADD COLUMN connection_id uuid;
