-- The JWS algorithm of a client's ID tokens (OIDC Dynamic Client Registration's
-- `id_token_signed_response_alg`): RS256 unless the app asks for ES256.
ALTER TABLE oidc_clients ADD COLUMN id_token_alg text NOT NULL DEFAULT 'RS256'
    CHECK (id_token_alg IN ('RS256', 'ES256'));
