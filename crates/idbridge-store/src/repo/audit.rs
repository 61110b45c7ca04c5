//! The audit log, written once for both backends.

use async_trait::async_trait;
use idbridge_core::audit::{ActorKind, AuditAction};
use sqlx::types::Json;
use time::OffsetDateTime;

use super::{SqlStore, overfetch, page_of};
use crate::audit::{Actor, AuditFilter, AuditRecord, AuditRepo};
use crate::db::{Db, FromRow, Row, Ts, query};
use crate::{Page, PageRequest, Result};

impl FromRow for AuditRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(AuditRecord {
            id: row.get("id")?,
            at: row.time("at")?,
            actor: Actor {
                kind: row.parsed("actor_kind", ActorKind::parse)?,
                id: row.get("actor_id")?,
            },
            action: row.parsed("action", AuditAction::parse)?,
            tenant_id: row.get("tenant_id")?,
            tenant_slug: row.get("tenant_slug")?,
            target: row.get("target")?,
            ip: row.get("ip")?,
            changes: row.json("changes")?,
        })
    }
}

/// Appends `record` on `conn`, inside the caller's transaction.
pub(crate) async fn insert_audit<D: Db>(
    conn: &mut D::Connection,
    record: &AuditRecord,
) -> Result<()> {
    query::<D>(
        "INSERT INTO audit_log (id, at, actor_kind, actor_id, action, tenant_id, tenant_slug, \
         target, ip, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(record.id)
    .bind(Ts(record.at))
    .bind(record.actor.kind.as_str())
    .bind(&record.actor.id)
    .bind(record.action.as_str())
    .bind(record.tenant_id)
    .bind(&record.tenant_slug)
    .bind(&record.target)
    .bind(&record.ip)
    .bind(Json(&record.changes))
    .execute(conn)
    .await?;
    Ok(())
}

/// [`insert_audit`] when there is a record.
pub(crate) async fn insert_audit_opt<D: Db>(
    conn: &mut D::Connection,
    record: Option<&AuditRecord>,
) -> Result<()> {
    match record {
        Some(record) => insert_audit::<D>(conn, record).await,
        None => Ok(()),
    }
}

#[async_trait]
impl<D: Db> AuditRepo for SqlStore<D> {
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM audit_log WHERE ($1 IS NULL OR id < $1) \
             AND ($2 IS NULL OR tenant_slug = $2) AND ($3 IS NULL OR actor_kind = $3) \
             AND ($4 IS NULL OR actor_id = $4) AND ($5 IS NULL OR action = $5) \
             ORDER BY id DESC LIMIT $6",
        )
        .bind(after)
        .bind(&filter.tenant_slug)
        .bind(filter.actor_kind.map(ActorKind::as_str))
        .bind(&filter.actor_id)
        .bind(filter.action.map(AuditAction::as_str))
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |r: &AuditRecord| r.id))
    }

    async fn sweep_audit(&self, before: OffsetDateTime) -> Result<u64> {
        query::<D>("DELETE FROM audit_log WHERE at < $1")
            .bind(Ts(before))
            .execute(&mut *self.write().await?)
            .await
    }
}
