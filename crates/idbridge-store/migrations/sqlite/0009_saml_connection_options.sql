-- The client that owns default_redirect_uri, resolved once when the connection is
-- saved (so a sign-in does not search every client's redirect URIs), and the
-- tenant's own order of attributes to take the email from.
ALTER TABLE saml_connections ADD COLUMN default_client_id BLOB REFERENCES oidc_clients(id) ON DELETE SET NULL;
ALTER TABLE saml_connections ADD COLUMN email_attributes TEXT;  -- JSON array; NULL = the default order
