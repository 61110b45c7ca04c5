-- Which IdP certificates a tenant has been warned about (once each, as an event).
CREATE TABLE saml_certificate_warnings (
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    fingerprint  TEXT NOT NULL,
    warned_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, fingerprint)
) STRICT;
