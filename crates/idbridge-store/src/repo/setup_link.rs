//! Setup links, written once for both backends.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, digest, overfetch, page_of};
use crate::db::{Db, FromRow, Row, Ts, query};
use crate::setup_link::{SetupLinkRecord, SetupLinkRepo};
use crate::{Page, PageRequest, Result, Tenant};

/// Every portal request asks this: the unique index on the digest.
pub(crate) const USABLE_SETUP_LINK: &str = "SELECT t.*, l.id AS l_id, l.provider AS l_provider, \
     l.note AS l_note, l.created_at AS l_created_at, l.expires_at AS l_expires_at, \
     l.last_used_at AS l_last_used_at, l.revoked_at AS l_revoked_at, \
     l.return_url AS l_return_url, l.support_email AS l_support_email, \
     l.support_url AS l_support_url \
     FROM setup_links l JOIN tenants t ON t.id = l.tenant_id \
     WHERE l.token_hash = $1 AND l.revoked_at IS NULL AND l.expires_at > $2";

/// A link from its own row (`prefix` empty), or from [`USABLE_SETUP_LINK`]'s
/// (`l_`-prefixed link columns beside the tenant's).
fn link_from_row(row: &impl Row, prefix: &str) -> Result<SetupLinkRecord> {
    let col = |name: &str| format!("{prefix}{name}");
    Ok(SetupLinkRecord {
        id: row.get(&col("id"))?,
        // Joined with the tenant (prefixed link columns), the tenant's own id is it.
        tenant_id: row.get(if prefix.is_empty() { "tenant_id" } else { "id" })?,
        provider: row.get(&col("provider"))?,
        note: row.get(&col("note"))?,
        created_at: row.time(&col("created_at"))?,
        expires_at: row.time(&col("expires_at"))?,
        last_used_at: row.opt_time(&col("last_used_at"))?,
        revoked_at: row.opt_time(&col("revoked_at"))?,
        return_url: row.get(&col("return_url"))?,
        support_email: row.get(&col("support_email"))?,
        support_url: row.get(&col("support_url"))?,
    })
}

impl FromRow for SetupLinkRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        link_from_row(row, "")
    }
}

/// A row of [`USABLE_SETUP_LINK`].
impl FromRow for (SetupLinkRecord, Tenant) {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok((link_from_row(row, "l_")?, Tenant::from_row(row)?))
    }
}

#[async_trait]
impl<D: Db> SetupLinkRepo for SqlStore<D> {
    async fn create_setup_link(
        &self,
        l: &SetupLinkRecord,
        hash: &SecretHash,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // The tenant's foreign key: NotFound when the tenant is gone.
        query::<D>(
            "INSERT INTO setup_links (id, tenant_id, token_hash, provider, note, created_at, \
             expires_at, last_used_at, revoked_at, return_url, support_email, support_url) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, $9, $10)",
        )
        .bind(l.id)
        .bind(l.tenant_id)
        .bind(digest(hash))
        .bind(&l.provider)
        .bind(&l.note)
        .bind(Ts(l.created_at))
        .bind(Ts(l.expires_at))
        .bind(&l.return_url)
        .bind(&l.support_email)
        .bind(&l.support_url)
        .execute(&mut *tx)
        .await?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_setup_links(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<SetupLinkRecord>> {
        let (before, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM setup_links WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |l: &SetupLinkRecord| l.id))
    }

    async fn revoke_setup_link(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "UPDATE setup_links SET revoked_at = coalesce(revoked_at, $3) \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(Ts(now))
        .execute_one(&mut *tx)
        .await?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn usable_setup_link(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<(SetupLinkRecord, Tenant)>> {
        query::<D>(USABLE_SETUP_LINK)
            .bind(digest(hash))
            .bind(Ts(now))
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn touch_setup_link(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        query::<D>("UPDATE setup_links SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(Ts(now))
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }
}
