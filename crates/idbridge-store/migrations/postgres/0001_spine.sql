-- The spine: tenants, the app's OIDC clients, and the bearer credentials that reach
-- the admin API and the SCIM endpoints. Secrets are stored only as SHA-256 digests.

CREATE TABLE tenants (
    id            uuid PRIMARY KEY,
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,63}$'),
    name          text NOT NULL,
    sso_required  boolean NOT NULL DEFAULT false,
    jit_enabled   boolean NOT NULL DEFAULT true,
    default_role  text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE oidc_clients (
    id             uuid PRIMARY KEY,
    name           text NOT NULL,
    redirect_uris  jsonb NOT NULL,
    is_public      boolean NOT NULL,
    secret_hash    bytea UNIQUE CHECK (octet_length(secret_hash) = 32),
    created_at     timestamptz NOT NULL,
    CHECK (is_public = (secret_hash IS NULL))
);

CREATE TABLE scim_tokens (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    description   text,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
-- Listing a tenant's tokens pages by id within the tenant.
CREATE INDEX scim_tokens_tenant_id_idx ON scim_tokens (tenant_id, id);

CREATE TABLE admin_api_keys (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
