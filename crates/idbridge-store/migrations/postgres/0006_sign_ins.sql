-- Assertions already accepted (replay protection shared by every process, each kept
-- until it could no longer be accepted anyway), and the sign-in log.

CREATE TABLE saml_assertions_seen (
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    assertion_id  text NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, assertion_id)
);
CREATE INDEX saml_assertions_seen_expiry_idx ON saml_assertions_seen (expires_at);

CREATE TABLE sign_in_events (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    occurred_at  timestamptz NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason       text,
    detail       text,
    email        text,
    user_id      uuid,
    test         boolean NOT NULL,
    request_id   text
);
CREATE INDEX sign_in_events_tenant_idx ON sign_in_events (tenant_id, id);
