-- SAML: each tenant's IdP connection, and the AuthnRequests in flight (so that any
-- process can match a response to the request it answers, once).

CREATE TABLE saml_connections (
    tenant_id               uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    idp_entity_id           text NOT NULL,
    idp_sso_redirect_url    text,
    idp_sso_post_url        text,
    idp_certificates        jsonb NOT NULL,   -- array of base64 DER
    metadata_xml            text NOT NULL,
    metadata_url            text,
    metadata_fetched_at     timestamptz,
    want_assertions_signed  boolean NOT NULL,
    want_response_signed    boolean NOT NULL,
    allow_idp_initiated     boolean NOT NULL,
    default_redirect_uri    text,
    clock_skew_seconds      bigint NOT NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    CHECK (want_assertions_signed OR want_response_signed)
);

CREATE TABLE saml_requests (
    id            text PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    relay_state   text NOT NULL,
    redirect_uri  text,
    test          boolean NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX saml_requests_expiry_idx ON saml_requests (expires_at);
