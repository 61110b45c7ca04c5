//! The webhook claim's recent scope as SQLite must be asked it; everything else
//! about webhooks is `repo::webhook`.

use crate::repo::webhook::{any_due, claim};

/// The due pairs of [`crate::ClaimScope::Recent`], driven from what happened
/// lately, each found by an index: feed events after `$5` (the events' UUIDv7 ids
/// are time-ordered; `directory_events.id` is unique, so indexed) and cursors that
/// came due after `$6` (`webhook_cursors_next_attempt_idx`: retries, replays). Each
/// `CROSS JOIN` makes SQLite loop over its left side first, so an idle poll reads
/// two empty index ranges and never walks the tenants. `$1` is now, `$4` the limit.
macro_rules! due_recently {
    () => {
        "SELECT p.endpoint_id, p.tenant_id FROM ( \
           SELECT e.id AS endpoint_id, t.id AS tenant_id, t.event_seq \
           FROM (SELECT tenant_id FROM directory_events WHERE id > $5 \
                 UNION SELECT tenant_id FROM webhook_cursors \
                   WHERE next_attempt_at > $6 AND next_attempt_at <= $1) k \
           CROSS JOIN tenants t ON t.id = k.tenant_id \
           CROSS JOIN webhook_endpoints e \
             ON e.enabled = 1 AND (e.tenant_id IS NULL OR e.tenant_id = t.id) \
         ) p \
         LEFT JOIN webhook_cursors c ON c.endpoint_id = p.endpoint_id AND c.tenant_id = p.tenant_id \
         WHERE p.event_seq > coalesce(c.delivered_seq, 0) \
           AND (c.endpoint_id IS NULL OR (c.state = 'active' AND c.next_attempt_at <= $1 \
                AND (c.lease_until IS NULL OR c.lease_until <= $1))) \
         ORDER BY coalesce(c.next_attempt_at, 0) LIMIT $4"
    };
}

pub(super) const ANY_DUE_RECENTLY: &str = any_due!(due_recently!());
pub(super) const CLAIM_DUE_RECENTLY: &str = claim!(due_recently!());
