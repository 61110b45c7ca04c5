-- The OpenID Connect provider: authorization requests carried through the SAML
-- round trip, the scope a code grants, access tokens, and ID token signing keys.

-- An OIDC authorization request waiting on its SAML sign-in. NULL client_id: a
-- sign-in no app started (/saml/{slug}/login opened directly, or a test).
ALTER TABLE saml_requests ADD COLUMN client_id BLOB REFERENCES oidc_clients(id) ON DELETE CASCADE;
ALTER TABLE saml_requests ADD COLUMN oauth_state TEXT;
ALTER TABLE saml_requests ADD COLUMN nonce TEXT;
ALTER TABLE saml_requests ADD COLUMN code_challenge TEXT;
ALTER TABLE saml_requests ADD COLUMN scope TEXT;

ALTER TABLE authorization_codes ADD COLUMN scope TEXT NOT NULL DEFAULT 'openid';

-- Opaque bearer tokens for /oauth/userinfo, stored as SHA-256 digests. code_hash
-- ties a token to the code it was exchanged for, so a second use of that code
-- revokes it (RFC 6749 §4.1.2).
CREATE TABLE oidc_access_tokens (
    token_hash   BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    code_hash    BLOB NOT NULL CHECK (length(code_hash) = 32),
    client_id    BLOB NOT NULL REFERENCES oidc_clients(id) ON DELETE CASCADE,
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES directory_users(id) ON DELETE CASCADE,
    scope        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX oidc_access_tokens_code_idx ON oidc_access_tokens (code_hash);
CREATE INDEX oidc_access_tokens_expiry_idx ON oidc_access_tokens (expires_at);

-- ID token signing keys (PKCS#8 DER). One active (retired_at IS NULL) key per
-- algorithm; retired keys stay published until tokens they signed have expired.
CREATE TABLE oidc_signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    private_key  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER
) STRICT;
CREATE UNIQUE INDEX oidc_signing_keys_active_idx ON oidc_signing_keys (algorithm)
    WHERE retired_at IS NULL;
