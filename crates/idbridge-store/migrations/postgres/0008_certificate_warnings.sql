-- Which IdP certificates a tenant has been warned about (once each, as an event).
CREATE TABLE saml_certificate_warnings (
    tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    fingerprint  text NOT NULL,
    warned_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, fingerprint)
);
