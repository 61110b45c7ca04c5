-- Authorization codes a sign-in ends with: bound to the client, redirect URI, tenant
-- and user (and, from an OIDC request, its nonce and PKCE challenge); single use,
-- short-lived, stored only as a SHA-256 digest.
CREATE TABLE authorization_codes (
    code_hash              bytea PRIMARY KEY CHECK (length(code_hash) = 32),
    client_id              uuid NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    redirect_uri           text NOT NULL,
    tenant_id              uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id                uuid NOT NULL REFERENCES directory_users(id) ON DELETE CASCADE,
    nonce                  text,
    code_challenge         text,
    auth_time              timestamptz NOT NULL,
    created_at             timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL,
    consumed_at            timestamptz
);
CREATE INDEX authorization_codes_expiry_idx ON authorization_codes (expires_at);
