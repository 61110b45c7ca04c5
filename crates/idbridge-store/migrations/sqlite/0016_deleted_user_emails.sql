-- Addresses of users SCIM deleted, per tenant: a SAML sign-in at one of them is
-- refused (`user_deleted`) instead of creating the user again just in time.
-- Only SCIM creating a user at the address again brings it back.
CREATE TABLE deleted_user_emails (
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email_lower  TEXT NOT NULL,
    deleted_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, email_lower)
) STRICT;
