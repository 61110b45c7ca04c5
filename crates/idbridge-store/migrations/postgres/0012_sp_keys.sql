-- Each tenant's SP key pair: the private key (PKCS#8 DER) that decrypts assertions
-- IdPs encrypt to the certificate published in the tenant's SP metadata. One active
-- key per tenant; retired keys still decrypt during a rollover.
CREATE TABLE saml_sp_keys (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    private_key  bytea NOT NULL,
    certificate  bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    not_after    timestamptz NOT NULL,
    retired_at   timestamptz
);
CREATE INDEX saml_sp_keys_tenant_idx ON saml_sp_keys (tenant_id);
CREATE UNIQUE INDEX saml_sp_keys_active_idx ON saml_sp_keys (tenant_id) WHERE retired_at IS NULL;
