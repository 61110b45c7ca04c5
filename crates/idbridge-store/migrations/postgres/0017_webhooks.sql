-- Webhook endpoints the operator registers, and how far each has got in each
-- tenant's feed. The feed (directory_events, appended in the transaction of every
-- change) is the outbox: delivery reads it in seq order, so nothing needs writing
-- on the change's path and nothing is lost while a receiver is down.

CREATE TABLE webhook_endpoints (
    id                      uuid PRIMARY KEY,
    url                     text NOT NULL,
    description             text NOT NULL,
    -- NULL: every event type; else a JSON array of types and `prefix.*` patterns.
    event_types             jsonb,
    -- NULL: every tenant.
    tenant_id               uuid REFERENCES tenants(id) ON DELETE CASCADE,
    -- Signing needs the key itself, so unlike tokens it cannot be a digest.
    secret                  text NOT NULL,
    -- The secret before the last rotation, still signing alongside until then.
    previous_secret         text,
    previous_secret_until   timestamptz,
    enabled                 boolean NOT NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant_id);

-- One row per (endpoint, tenant) that has had anything to deliver; a missing row
-- means "from the start of the feed" (a tenant created after the endpoint). Rows
-- for the tenants that exist when an endpoint is created start at their current
-- position, so a new endpoint does not receive history.
CREATE TABLE webhook_cursors (
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    -- Every event up to here was delivered (or did not match the endpoint's types).
    delivered_seq     bigint NOT NULL,
    state             text NOT NULL CHECK (state IN ('active', 'dead')),
    -- Consecutive failed attempts at the event after delivered_seq.
    failures          integer NOT NULL,
    first_failed_at   timestamptz,
    failing_seq       bigint,
    next_attempt_at   timestamptz NOT NULL,
    last_attempt_at   timestamptz,
    last_error        text,
    dead_at           timestamptz,
    -- A worker's claim: only the holder of the token may deliver or record progress,
    -- until lease_until (a crashed worker's claim simply expires).
    lease_token       uuid,
    lease_until       timestamptz,
    PRIMARY KEY (endpoint_id, tenant_id)
);
CREATE INDEX webhook_cursors_tenant_idx ON webhook_cursors (tenant_id);

-- Every delivery attempt, for the operator (API and console). Swept after 30 days.
CREATE TABLE webhook_attempts (
    id            uuid PRIMARY KEY,
    endpoint_id   uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    event_id      uuid NOT NULL,
    seq           bigint NOT NULL,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL,
    duration_ms   integer NOT NULL,
    status_code   integer,
    error         text,
    outcome       text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'dead'))
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_tenant_idx ON webhook_attempts (tenant_id);
CREATE INDEX webhook_attempts_time_idx ON webhook_attempts (attempted_at);
