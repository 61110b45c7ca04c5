-- The directory: users and groups of each tenant (from SCIM, and later from SAML JIT),
-- the tenant's event feed, and its provisioning log.
--
-- A resource is stored as its canonical SCIM document (jsonb) plus the columns that
-- filters and lookups use, each with an index: an `eq` lookup on userName, externalId,
-- emails.value or displayName costs the same at a million users as at a thousand.
-- Case-insensitive attributes have a `_lower` column, lowercased by idbridge (Unicode
-- rules, identical on both backends).

ALTER TABLE tenants ADD COLUMN event_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN user_count bigint NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN group_count bigint NOT NULL DEFAULT 0;

CREATE TABLE directory_users (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name           text NOT NULL,
    user_name_lower     text NOT NULL,
    external_id         text,
    display_name_lower  text,
    active              boolean NOT NULL,
    document            jsonb NOT NULL,
    source              text NOT NULL CHECK (source IN ('scim', 'jit')),
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    version             bigint NOT NULL
);
CREATE UNIQUE INDEX directory_users_user_name_idx ON directory_users (tenant_id, user_name_lower);
CREATE INDEX directory_users_external_id_idx ON directory_users (tenant_id, external_id);
CREATE INDEX directory_users_display_name_idx ON directory_users (tenant_id, display_name_lower);
CREATE INDEX directory_users_updated_idx ON directory_users (tenant_id, updated_at);
CREATE INDEX directory_users_page_idx ON directory_users (tenant_id, id);

CREATE TABLE directory_user_emails (
    user_id      uuid NOT NULL REFERENCES directory_users(id) ON DELETE CASCADE,
    position     bigint NOT NULL,
    tenant_id    uuid NOT NULL,
    value_lower  text NOT NULL,
    type_lower   text,
    is_primary   boolean NOT NULL,
    PRIMARY KEY (user_id, position)
);
CREATE INDEX directory_user_emails_value_idx ON directory_user_emails (tenant_id, value_lower);

CREATE TABLE directory_groups (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    display_name        text NOT NULL,
    display_name_lower  text NOT NULL,
    external_id         text,
    document            jsonb NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    version             bigint NOT NULL
);
CREATE INDEX directory_groups_display_name_idx ON directory_groups (tenant_id, display_name_lower);
CREATE INDEX directory_groups_external_id_idx ON directory_groups (tenant_id, external_id);
CREATE INDEX directory_groups_updated_idx ON directory_groups (tenant_id, updated_at);
CREATE INDEX directory_groups_page_idx ON directory_groups (tenant_id, id);

-- A member is a user or a group of the same tenant; it cannot be a foreign key to
-- both, so deleting a user or group removes its memberships explicitly.
CREATE TABLE directory_group_members (
    group_id     uuid NOT NULL REFERENCES directory_groups(id) ON DELETE CASCADE,
    member_id    uuid NOT NULL,
    member_type  text NOT NULL CHECK (member_type IN ('User', 'Group')),
    tenant_id    uuid NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX directory_group_members_member_idx ON directory_group_members (member_id);

-- The feed: per tenant, a gapless sequence assigned under the tenant row's lock, so a
-- reader paging with `after=<seq>` never skips an event committed late.
CREATE TABLE directory_events (
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    seq            bigint NOT NULL,
    id             uuid NOT NULL UNIQUE,
    type           text NOT NULL,
    resource_type  text NOT NULL,
    resource_id    uuid NOT NULL,
    occurred_at    timestamptz NOT NULL,
    data           jsonb NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE TABLE provisioning_log (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    occurred_at    timestamptz NOT NULL,
    method         text NOT NULL,
    path           text NOT NULL,
    status         bigint NOT NULL,
    resource_type  text,
    resource_id    uuid,
    reason         text,
    request_id     text,
    token_id       uuid
);
CREATE INDEX provisioning_log_tenant_idx ON provisioning_log (tenant_id, id);
