-- More than one SAML connection per tenant: each SAML connection's settings are
-- keyed by its connection id. The tenant's first SAML connection keeps the id it
-- has in `connections` (the tenant's own id), so every existing row, request and
-- URL stays as it was.
ALTER TABLE saml_connections ADD COLUMN connection_id uuid;
UPDATE saml_connections SET connection_id = tenant_id;
ALTER TABLE saml_connections ALTER COLUMN connection_id SET NOT NULL;
ALTER TABLE saml_connections DROP CONSTRAINT saml_connections_pkey;
ALTER TABLE saml_connections ADD PRIMARY KEY (connection_id);
CREATE INDEX saml_connections_tenant_idx ON saml_connections (tenant_id);

-- Which connection an AuthnRequest was sent for: its response must come back to
-- that connection's ACS. NULL: the tenant's first SAML connection.
ALTER TABLE saml_requests ADD COLUMN connection_id uuid;

-- The connection an access token's sign-in came through (userinfo's `idp`).
ALTER TABLE oidc_access_tokens ADD COLUMN connection_id uuid;

-- The connection a sign-in came through, in its log row (NULL: before connections,
-- or refused before the connection was known).
ALTER TABLE sign_in_events ADD COLUMN connection_id uuid;
