-- The mail outbox. See the PostgreSQL migration of the same number for the design.
CREATE TABLE mail_outbox (
    id               BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id        BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('invitation')),
    recipient        TEXT NOT NULL,
    user_id          BLOB NOT NULL CHECK (length(user_id) = 16),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_attempt_at  INTEGER,
    last_error       TEXT,
    lease_owner      BLOB,
    leased_until     INTEGER,
    subject          TEXT,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER
) STRICT;
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX mail_outbox_tenant_idx ON mail_outbox (tenant_id, id);
CREATE UNIQUE INDEX mail_outbox_pending_idx ON mail_outbox (user_id, kind) WHERE state = 'pending';
