-- App roles: the operator's role names in priority order, and each tenant's mapping
-- of IdP role values and group names to them.

CREATE TABLE app_roles (
    name      TEXT PRIMARY KEY,
    position  INTEGER NOT NULL
) STRICT;

ALTER TABLE tenants ADD COLUMN role_policy TEXT NOT NULL DEFAULT 'highest'
    CHECK (role_policy IN ('highest', 'all'));

CREATE TABLE tenant_role_mappings (
    tenant_id  BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('role', 'group')),
    value      TEXT NOT NULL,
    role       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, position)
) STRICT;
