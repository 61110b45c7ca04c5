//! The webhook claim's recent scope as PostgreSQL must be asked it; everything
//! else about webhooks is `repo::webhook`.

use crate::repo::webhook::{any_due, claim};

/// Starts from what happened lately, as on SQLite: tenants with feed events after
/// `$5` and cursors that came due after `$6`. Each `LATERAL … OFFSET 0` (the
/// `OFFSET` keeps the planner from flattening it into an ordinary join) is a loop
/// over the rows before it, whatever the statistics say: without that, a fresh or
/// never-analysed table invites a hash join over every tenant and cursor. An idle
/// poll reads two empty index ranges. `$1` is now, `$4` the limit.
macro_rules! due_recently {
    () => {
        "SELECT p.endpoint_id, p.tenant_id FROM ( \
           SELECT e.id AS endpoint_id, t.id AS tenant_id, t.event_seq \
           FROM (SELECT tenant_id FROM directory_events WHERE id > $5 \
                 UNION SELECT tenant_id FROM webhook_cursors \
                   WHERE next_attempt_at > $6 AND next_attempt_at <= $1) k \
           CROSS JOIN LATERAL (SELECT id, event_seq FROM tenants \
             WHERE id = k.tenant_id OFFSET 0) t \
           CROSS JOIN LATERAL (SELECT id FROM webhook_endpoints \
             WHERE enabled AND (tenant_id IS NULL OR tenant_id = t.id) OFFSET 0) e \
         ) p \
         LEFT JOIN LATERAL (SELECT * FROM webhook_cursors w \
           WHERE w.endpoint_id = p.endpoint_id AND w.tenant_id = p.tenant_id OFFSET 0) c ON true \
         WHERE p.event_seq > coalesce(c.delivered_seq, 0) \
           AND (c.endpoint_id IS NULL OR (c.state = 'active' AND c.next_attempt_at <= $1 \
                AND (c.lease_until IS NULL OR c.lease_until <= $1))) \
         ORDER BY c.next_attempt_at NULLS FIRST LIMIT $4"
    };
}

pub(super) const ANY_DUE_RECENTLY: &str = any_due!(due_recently!());
pub(super) const CLAIM_DUE_RECENTLY: &str = claim!(due_recently!());
