-- The directory: users and groups of each tenant (from SCIM, and later from SAML JIT),
-- the tenant's event feed, and its provisioning log. See the PostgreSQL migration of
-- the same number for the design; conventions as in 0001.

ALTER TABLE tenants ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN user_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN group_count INTEGER NOT NULL DEFAULT 0;

CREATE TABLE directory_users (
    id                  BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id           BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name           TEXT NOT NULL,
    user_name_lower     TEXT NOT NULL,
    external_id         TEXT,
    display_name_lower  TEXT,
    active              INTEGER NOT NULL CHECK (active IN (0, 1)),
    document            TEXT NOT NULL CHECK (json_valid(document)),
    source              TEXT NOT NULL CHECK (source IN ('scim', 'jit')),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX directory_users_user_name_idx ON directory_users (tenant_id, user_name_lower);
CREATE INDEX directory_users_external_id_idx ON directory_users (tenant_id, external_id);
CREATE INDEX directory_users_display_name_idx ON directory_users (tenant_id, display_name_lower);
CREATE INDEX directory_users_updated_idx ON directory_users (tenant_id, updated_at);
CREATE INDEX directory_users_page_idx ON directory_users (tenant_id, id);

CREATE TABLE directory_user_emails (
    user_id      BLOB NOT NULL REFERENCES directory_users(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    tenant_id    BLOB NOT NULL,
    value_lower  TEXT NOT NULL,
    type_lower   TEXT,
    is_primary   INTEGER NOT NULL CHECK (is_primary IN (0, 1)),
    PRIMARY KEY (user_id, position)
) STRICT;
CREATE INDEX directory_user_emails_value_idx ON directory_user_emails (tenant_id, value_lower);

CREATE TABLE directory_groups (
    id                  BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id           BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name        TEXT NOT NULL,
    display_name_lower  TEXT NOT NULL,
    external_id         TEXT,
    document            TEXT NOT NULL CHECK (json_valid(document)),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL
) STRICT;
CREATE INDEX directory_groups_display_name_idx ON directory_groups (tenant_id, display_name_lower);
CREATE INDEX directory_groups_external_id_idx ON directory_groups (tenant_id, external_id);
CREATE INDEX directory_groups_updated_idx ON directory_groups (tenant_id, updated_at);
CREATE INDEX directory_groups_page_idx ON directory_groups (tenant_id, id);

CREATE TABLE directory_group_members (
    group_id     BLOB NOT NULL REFERENCES directory_groups(id) ON DELETE CASCADE,
    member_id    BLOB NOT NULL,
    member_type  TEXT NOT NULL CHECK (member_type IN ('User', 'Group')),
    tenant_id    BLOB NOT NULL,
    PRIMARY KEY (group_id, member_id)
) STRICT;
CREATE INDEX directory_group_members_member_idx ON directory_group_members (member_id);

CREATE TABLE directory_events (
    tenant_id      BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    id             BLOB NOT NULL UNIQUE,
    type           TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_id    BLOB NOT NULL,
    occurred_at    INTEGER NOT NULL,
    data           TEXT NOT NULL CHECK (json_valid(data)),
    PRIMARY KEY (tenant_id, seq)
) STRICT;

CREATE TABLE provisioning_log (
    id             BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id      BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    occurred_at    INTEGER NOT NULL,
    method         TEXT NOT NULL,
    path           TEXT NOT NULL,
    status         INTEGER NOT NULL,
    resource_type  TEXT,
    resource_id    BLOB,
    reason         TEXT,
    request_id     TEXT,
    token_id       BLOB
) STRICT;
CREATE INDEX provisioning_log_tenant_idx ON provisioning_log (tenant_id, id);
