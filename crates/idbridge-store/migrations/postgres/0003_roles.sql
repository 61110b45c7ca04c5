-- App roles: the operator's role names in priority order, and each tenant's mapping
-- of IdP role values and group names to them.

CREATE TABLE app_roles (
    name      text PRIMARY KEY,
    position  bigint NOT NULL
);

ALTER TABLE tenants ADD COLUMN role_policy text NOT NULL DEFAULT 'highest'
    CHECK (role_policy IN ('highest', 'all'));

CREATE TABLE tenant_role_mappings (
    tenant_id  uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    position   bigint NOT NULL,
    source     text NOT NULL CHECK (source IN ('role', 'group')),
    value      text NOT NULL,
    role       text NOT NULL,
    PRIMARY KEY (tenant_id, position)
);
