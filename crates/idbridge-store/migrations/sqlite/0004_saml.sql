-- SAML: each tenant's IdP connection, and the AuthnRequests in flight (so that any
-- process can match a response to the request it answers, once).

CREATE TABLE saml_connections (
    tenant_id               BLOB PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    idp_entity_id           TEXT NOT NULL,
    idp_sso_redirect_url    TEXT,
    idp_sso_post_url        TEXT,
    idp_certificates        TEXT NOT NULL,   -- JSON array of base64 DER
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
    CHECK (want_assertions_signed OR want_response_signed)
) STRICT;

CREATE TABLE saml_requests (
    id            TEXT PRIMARY KEY,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    relay_state   TEXT NOT NULL,
    redirect_uri  TEXT,
    test          INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX saml_requests_expiry_idx ON saml_requests (expires_at);
