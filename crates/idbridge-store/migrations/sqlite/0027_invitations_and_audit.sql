-- Invitations: with invite_new_users on, each user created afterwards (SCIM, by
-- hand, or at sign-in) gets a user.invited event (and an e-mail when SMTP is set).
ALTER TABLE tenants ADD COLUMN invite_new_users INTEGER NOT NULL DEFAULT 0;

-- The audit log: every change made through the admin API, the console, the setup
-- portal and the CLI, written in the transaction of the change it records.
-- Append-only: no UPDATE is accepted; rows leave only by the retention sweep.
-- tenant_id has no foreign key on purpose: a tenant's deletion is itself recorded,
-- and its history must outlive it.
CREATE TABLE audit_log (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),   -- UUIDv7: time-ordered
    at           INTEGER NOT NULL,
    actor_kind   TEXT NOT NULL CHECK (actor_kind IN ('admin_key', 'operator', 'setup_link', 'cli')),
    actor_id     TEXT,
    action       TEXT NOT NULL,
    tenant_id    BLOB,
    tenant_slug  TEXT,
    target       TEXT,
    ip           TEXT,
    changes      TEXT NOT NULL CHECK (json_valid(changes))
) STRICT;
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_slug, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
