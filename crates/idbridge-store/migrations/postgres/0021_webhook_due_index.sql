-- A recent webhook poll asks for cursors that came due in the last few minutes
-- (retries, replays) by range on next_attempt_at, instead of walking every pair.
CREATE INDEX webhook_cursors_next_attempt_idx ON webhook_cursors (next_attempt_at);
