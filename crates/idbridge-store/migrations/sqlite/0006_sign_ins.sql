-- Assertions already accepted (replay protection shared by every process, each kept
-- until it could no longer be accepted anyway), and the sign-in log.

CREATE TABLE saml_assertions_seen (
    tenant_id     BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    assertion_id  TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, assertion_id)
) STRICT;
CREATE INDEX saml_assertions_seen_expiry_idx ON saml_assertions_seen (expires_at);

CREATE TABLE sign_in_events (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id    BLOB NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    occurred_at  INTEGER NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason       TEXT,
    detail       TEXT,
    email        TEXT,
    user_id      BLOB,
    test         INTEGER NOT NULL,
    request_id   TEXT
) STRICT;
CREATE INDEX sign_in_events_tenant_idx ON sign_in_events (tenant_id, id);
