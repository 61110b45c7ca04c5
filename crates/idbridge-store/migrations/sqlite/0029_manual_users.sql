-- Users the app creates by hand (the admin API, the console, the CLI): source
-- 'manual'. SQLite cannot change a CHECK constraint, so directory_users is rebuilt
-- as SQLite's documentation prescribes (migrations run with foreign keys off, so
-- dropping the old table cascades to nothing; the references to
-- "directory_users" from emails, memberships and codes name the new table once it
-- is renamed; the migration runner checks that none dangles before committing).
CREATE TABLE directory_users_v2 (
    id                  BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id           BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_name           TEXT NOT NULL,
    user_name_lower     TEXT NOT NULL,
    external_id         TEXT,
    display_name_lower  TEXT,
    active              INTEGER NOT NULL CHECK (active IN (0, 1)),
    document            TEXT NOT NULL CHECK (json_valid(document)),
    source              TEXT NOT NULL CHECK (source IN ('scim', 'jit', 'manual')),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL
) STRICT;
INSERT INTO directory_users_v2 (id, tenant_id, user_name, user_name_lower, external_id,
    display_name_lower, active, document, source, created_at, updated_at, version)
SELECT id, tenant_id, user_name, user_name_lower, external_id,
    display_name_lower, active, document, source, created_at, updated_at, version
FROM directory_users;
DROP TABLE directory_users;
ALTER TABLE directory_users_v2 RENAME TO directory_users;
CREATE UNIQUE INDEX directory_users_user_name_idx ON directory_users (tenant_id, user_name_lower);
CREATE INDEX directory_users_external_id_idx ON directory_users (tenant_id, external_id);
CREATE INDEX directory_users_display_name_idx ON directory_users (tenant_id, display_name_lower);
CREATE INDEX directory_users_updated_idx ON directory_users (tenant_id, updated_at);
CREATE INDEX directory_users_page_idx ON directory_users (tenant_id, id);
