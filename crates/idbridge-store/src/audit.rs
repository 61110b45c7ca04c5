//! The audit log: who changed what, through which door, and when. Each record is
//! written in the transaction of the change it records (a failed change leaves no
//! record, and no change is without one); the table refuses updates.

use async_trait::async_trait;
use idbridge_core::audit::{ActorKind, AuditAction};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Page, PageRequest, Result};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    /// The admin key's id (`bootstrap` for `--admin-api-key`), the operator's id, the
    /// setup link's id, or the CLI's OS user.
    pub id: Option<String>,
}

/// One change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// UUIDv7: the log's order and its cursor.
    pub id: Uuid,
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub action: AuditAction,
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    /// What was changed, when it is not the tenant itself (a user's id, a domain, …).
    pub target: Option<String>,
    /// The client address the change came from (none for the CLI).
    pub ip: Option<String>,
    /// A summary of the change, secrets redacted.
    pub changes: Value,
}

/// Which records to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub tenant_slug: Option<String>,
    pub actor_kind: Option<ActorKind>,
    pub actor_id: Option<String>,
    pub action: Option<AuditAction>,
}

#[async_trait]
pub trait AuditRepo {
    /// Records, newest first; `page.after` continues below that record.
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>>;
    /// Deletes the records older than `before` (the retention setting); how many.
    async fn sweep_audit(&self, before: OffsetDateTime) -> Result<u64>;
}
