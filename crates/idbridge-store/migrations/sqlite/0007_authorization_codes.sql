-- Authorization codes a sign-in ends with: bound to the client, redirect URI, tenant
-- and user (and, from an OIDC request, its nonce and PKCE challenge); single use,
-- short-lived, stored only as a SHA-256 digest.
CREATE TABLE authorization_codes (
    code_hash              BLOB PRIMARY KEY CHECK (length(code_hash) = 32),
    client_id              BLOB NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    redirect_uri           TEXT NOT NULL,
    tenant_id              BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id                BLOB NOT NULL REFERENCES directory_users(id) ON DELETE CASCADE,
    nonce                  TEXT,
    code_challenge         TEXT,
    auth_time              INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    expires_at             INTEGER NOT NULL,
    consumed_at            INTEGER
) STRICT;
CREATE INDEX authorization_codes_expiry_idx ON authorization_codes (expires_at);
