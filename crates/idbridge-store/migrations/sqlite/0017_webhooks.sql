-- Webhook endpoints, their per-tenant cursors into the feed, and delivery attempts.
-- See the PostgreSQL migration of the same number for the design.

CREATE TABLE webhook_endpoints (
    id                      BLOB PRIMARY KEY CHECK (length(id) = 16),
    url                     TEXT NOT NULL,
    description             TEXT NOT NULL,
    event_types             TEXT CHECK (event_types IS NULL OR json_valid(event_types)),
    tenant_id               BLOB REFERENCES tenants(id) ON DELETE CASCADE,
    secret                  TEXT NOT NULL,
    previous_secret         TEXT,
    previous_secret_until   INTEGER,
    enabled                 INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant_id);

CREATE TABLE webhook_cursors (
    endpoint_id       BLOB NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    tenant_id         BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    delivered_seq     INTEGER NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('active', 'dead')),
    failures          INTEGER NOT NULL,
    first_failed_at   INTEGER,
    failing_seq       INTEGER,
    next_attempt_at   INTEGER NOT NULL,
    last_attempt_at   INTEGER,
    last_error        TEXT,
    dead_at           INTEGER,
    lease_token       BLOB,
    lease_until       INTEGER,
    PRIMARY KEY (endpoint_id, tenant_id)
) STRICT;
CREATE INDEX webhook_cursors_tenant_idx ON webhook_cursors (tenant_id);

CREATE TABLE webhook_attempts (
    id            BLOB PRIMARY KEY CHECK (length(id) = 16),
    endpoint_id   BLOB NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    event_id      BLOB NOT NULL,
    seq           INTEGER NOT NULL,
    attempt       INTEGER NOT NULL,
    attempted_at  INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    outcome       TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed', 'dead'))
) STRICT;
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_tenant_idx ON webhook_attempts (tenant_id);
CREATE INDEX webhook_attempts_time_idx ON webhook_attempts (attempted_at);
