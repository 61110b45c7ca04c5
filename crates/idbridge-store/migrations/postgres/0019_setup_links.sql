-- Setup links: what the operator sends a tenant's IT admin, who opens it with no
-- idbridge account to configure that one tenant's SAML, SCIM and domains. The link
-- carries a 256-bit random token; only its digest is stored, so a link can expire
-- and be revoked (a signed, stateless link could not be).
CREATE TABLE setup_links (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- Which guide the portal opens with: entra, okta or generic.
    provider      text NOT NULL CHECK (provider IN ('entra', 'okta', 'generic')),
    note          text,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX setup_links_tenant_idx ON setup_links (tenant_id, id);
