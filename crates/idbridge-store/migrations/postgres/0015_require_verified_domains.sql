-- Per tenant: refuse SAML sign-ins and SCIM users whose email domain the tenant has
-- not verified (a defence against a tenant's IdP asserting someone else's users).
ALTER TABLE tenants ADD COLUMN require_verified_domains boolean NOT NULL DEFAULT false;
