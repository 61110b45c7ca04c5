-- More guides for setup links: Google Workspace, OneLogin, JumpCloud, PingOne and
-- Microsoft AD FS beside Entra ID, Okta and the generic one.
ALTER TABLE setup_links DROP CONSTRAINT setup_links_provider_check;
ALTER TABLE setup_links ADD CONSTRAINT setup_links_provider_check
    CHECK (provider IN ('entra', 'okta', 'google', 'onelogin', 'jumpcloud', 'pingone', 'adfs', 'generic'));
