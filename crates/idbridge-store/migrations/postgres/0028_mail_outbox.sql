-- The mail outbox: e-mail idbridge owes someone (today: invitations to users created
-- while their tenant has invite_new_users on), queued in the transaction of the
-- change that calls for it, and sent by a background job of any process.
--
-- A row holds the facts the message is made from (who, about which user, what
-- kind); the message itself is rendered from the templates when it is sent, so
-- queuing it cannot fail on a template or a setting, and the write that queues it
-- does no rendering. What was sent is remembered by its subject.
--
-- Delivery: a worker claims due rows with a lease (lease_owner, leased_until), so
-- two processes never send the same row at once (FOR UPDATE SKIP LOCKED here; the
-- single writer on SQLite). A failed attempt is scheduled again with backoff;
-- after the retry period the row is 'failed'. 'cancelled': the user was deleted or
-- deactivated before it went out.
CREATE TABLE mail_outbox (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('invitation')),
    recipient        text NOT NULL,
    -- The directory user it is about. No foreign key: the record of what was sent
    -- outlives the user.
    user_id          uuid NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'cancelled')),
    -- Attempts started (a claim counts one).
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_attempt_at  timestamptz,
    -- Why the last attempt failed: the SMTP server's answer or the connection
    -- error, cut short; never a credential.
    last_error       text,
    lease_owner      uuid,
    leased_until     timestamptz,
    -- The subject of the message that went out.
    subject          text,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz
);
-- What is due: only pending rows are indexed (a claim's predicate word for word).
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE state = 'pending';
-- A tenant's mail, newest first (UUIDv7 ids are time-ordered).
CREATE INDEX mail_outbox_tenant_idx ON mail_outbox (tenant_id, id);
-- At most one pending message of a kind per user: queuing it again is a no-op.
CREATE UNIQUE INDEX mail_outbox_pending_idx ON mail_outbox (user_id, kind) WHERE state = 'pending';
