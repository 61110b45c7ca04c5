-- The webhooks list shows, per endpoint, how many tenants are retrying and how many
-- are dead. Only pairs in trouble are indexed, so the count reads those few rows,
-- not a row per tenant; the query repeats the predicate word for word (SQLite uses
-- a partial index only then).
CREATE INDEX webhook_cursors_trouble_idx ON webhook_cursors (endpoint_id, state)
    WHERE state = 'dead' OR failures > 0;
