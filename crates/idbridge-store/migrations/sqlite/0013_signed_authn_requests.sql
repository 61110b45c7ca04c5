-- Whether AuthnRequests to the tenant's IdP are signed with its SP key (for IdPs set
-- to require signed requests: Entra ID's "Require verification certificates", Okta's
-- "Signed requests").
ALTER TABLE saml_connections ADD COLUMN sign_authn_requests INTEGER NOT NULL DEFAULT 0;
