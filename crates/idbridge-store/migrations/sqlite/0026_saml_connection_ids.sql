-- More than one SAML connection per tenant: each SAML connection's settings are
-- keyed by its connection id. The tenant's first SAML connection keeps the id it
-- had in `connections` (the tenant's own id), so every existing row, request and
-- URL stays as it was. SQLite cannot change a primary key in place: the table is
-- rebuilt, every column copied.
CREATE TABLE saml_connections_v2 (
    connection_id           BLOB PRIMARY KEY,
    tenant_id               BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    idp_entity_id           TEXT NOT NULL,
    idp_sso_redirect_url    TEXT,
    idp_sso_post_url        TEXT,
    idp_certificates        TEXT NOT NULL,
    metadata_xml            TEXT NOT NULL,
    metadata_url            TEXT,
    metadata_fetched_at     INTEGER,
    want_assertions_signed  INTEGER NOT NULL,
    want_response_signed    INTEGER NOT NULL,
    allow_idp_initiated     INTEGER NOT NULL,
    default_redirect_uri    TEXT,
    clock_skew_seconds      INTEGER NOT NULL,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    metadata_checked_at     INTEGER,
    metadata_error          TEXT,
    default_client_id       BLOB REFERENCES oidc_clients(id) ON DELETE SET NULL,
    email_attributes        TEXT,
    sign_authn_requests     INTEGER NOT NULL DEFAULT 0,
    CHECK (want_assertions_signed OR want_response_signed)
) STRICT;
INSERT INTO saml_connections_v2 (connection_id, tenant_id, idp_entity_id, idp_sso_redirect_url,
    idp_sso_post_url, idp_certificates, metadata_xml, metadata_url, metadata_fetched_at,
    want_assertions_signed, want_response_signed, allow_idp_initiated, default_redirect_uri,
    clock_skew_seconds, created_at, updated_at, metadata_checked_at, metadata_error,
    default_client_id, email_attributes, sign_authn_requests)
SELECT tenant_id, tenant_id, idp_entity_id, idp_sso_redirect_url,
    idp_sso_post_url, idp_certificates, metadata_xml, metadata_url, metadata_fetched_at,
    want_assertions_signed, want_response_signed, allow_idp_initiated, default_redirect_uri,
    clock_skew_seconds, created_at, updated_at, metadata_checked_at, metadata_error,
    default_client_id, email_attributes, sign_authn_requests
FROM saml_connections;
DROP TABLE saml_connections;
ALTER TABLE saml_connections_v2 RENAME TO saml_connections;
CREATE INDEX saml_connections_tenant_idx ON saml_connections (tenant_id);
CREATE INDEX saml_connections_refresh_idx ON saml_connections (metadata_checked_at)
    WHERE metadata_url IS NOT NULL;

-- Which connection an AuthnRequest was sent for: its response must come back to
-- that connection's ACS. NULL: the tenant's first SAML connection.
ALTER TABLE saml_requests ADD COLUMN connection_id BLOB;

-- The connection an access token's sign-in came through (userinfo's `idp`).
ALTER TABLE oidc_access_tokens ADD COLUMN connection_id BLOB;

-- The connection a sign-in came through, in its log row (NULL: before connections,
-- or refused before the connection was known).
ALTER TABLE sign_in_events ADD COLUMN connection_id BLOB;
