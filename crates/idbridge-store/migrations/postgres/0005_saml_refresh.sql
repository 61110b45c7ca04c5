-- Scheduled refresh of metadata fetched from a URL: when it was last tried, and what
-- went wrong if it failed (the connection keeps its last good metadata).
ALTER TABLE saml_connections ADD COLUMN metadata_checked_at timestamptz;
ALTER TABLE saml_connections ADD COLUMN metadata_error text;
CREATE INDEX saml_connections_refresh_idx ON saml_connections (metadata_checked_at)
    WHERE metadata_url IS NOT NULL;
