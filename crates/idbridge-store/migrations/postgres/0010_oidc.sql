-- The OpenID Connect provider: authorization requests carried through the SAML
-- round trip, the scope a code grants, access tokens, and ID token signing keys.

-- An OIDC authorization request waiting on its SAML sign-in. NULL client_id: a
-- sign-in no app started (/saml/{slug}/login opened directly, or a test).
ALTER TABLE saml_requests ADD COLUMN client_id uuid REFERENCES oidc_clients(id) ON DELETE CASCADE;
ALTER TABLE saml_requests ADD COLUMN oauth_state text;
ALTER TABLE saml_requests ADD COLUMN nonce text;
ALTER TABLE saml_requests ADD COLUMN code_challenge text;
ALTER TABLE saml_requests ADD COLUMN scope text;

ALTER TABLE authorization_codes ADD COLUMN scope text NOT NULL DEFAULT 'openid';

-- Opaque bearer tokens for /oauth/userinfo, stored as SHA-256 digests. code_hash
-- ties a token to the code it was exchanged for, so a second use of that code
-- revokes it (RFC 6749 §4.1.2).
CREATE TABLE oidc_access_tokens (
    token_hash   bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    code_hash    bytea NOT NULL CHECK (octet_length(code_hash) = 32),
    client_id    uuid NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES directory_users(id) ON DELETE CASCADE,
    scope        text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX oidc_access_tokens_code_idx ON oidc_access_tokens (code_hash);
CREATE INDEX oidc_access_tokens_expiry_idx ON oidc_access_tokens (expires_at);

-- ID token signing keys (PKCS#8 DER). One active (retired_at IS NULL) key per
-- algorithm; retired keys stay published until tokens they signed have expired.
CREATE TABLE oidc_signing_keys (
    kid          text PRIMARY KEY,
    algorithm    text NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    private_key  bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    retired_at   timestamptz
);
CREATE UNIQUE INDEX oidc_signing_keys_active_idx ON oidc_signing_keys (algorithm)
    WHERE retired_at IS NULL;
