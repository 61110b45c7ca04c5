//! Setup links on PostgreSQL.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, one_row_affected, overfetch, tenant_from_row, uuid_of};
use crate::setup_link::{SetupLinkRecord, SetupLinkRepo};
use crate::{Page, PageRequest, Result, StoreError, Tenant};

/// Every portal request asks this: the unique index on the digest.
pub(super) const USABLE_SETUP_LINK: &str = "SELECT t.*, l.id AS l_id, l.provider AS l_provider, \
     l.note AS l_note, l.created_at AS l_created_at, l.expires_at AS l_expires_at, \
     l.last_used_at AS l_last_used_at, l.revoked_at AS l_revoked_at \
     FROM setup_links l JOIN tenants t ON t.id = l.tenant_id \
     WHERE l.token_hash = $1 AND l.revoked_at IS NULL AND l.expires_at > $2";

fn link_from_row(row: &PgRow, prefix: &str) -> Result<SetupLinkRecord> {
    let col = |name: &str| format!("{prefix}{name}");
    Ok(SetupLinkRecord {
        id: uuid_of(row, &col("id"))?,
        // Joined with the tenant (prefixed link columns), the tenant's own id is it.
        tenant_id: uuid_of(row, if prefix.is_empty() { "tenant_id" } else { "id" })?,
        provider: row.try_get(col("provider").as_str())?,
        note: row.try_get(col("note").as_str())?,
        created_at: row.try_get(col("created_at").as_str())?,
        expires_at: row.try_get(col("expires_at").as_str())?,
        last_used_at: row.try_get(col("last_used_at").as_str())?,
        revoked_at: row.try_get(col("revoked_at").as_str())?,
    })
}

#[async_trait]
impl SetupLinkRepo for PostgresStore {
    async fn create_setup_link(&self, l: &SetupLinkRecord, hash: &SecretHash) -> Result<()> {
        sqlx::query(
            "INSERT INTO setup_links (id, tenant_id, token_hash, provider, note, created_at, \
             expires_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)",
        )
        .bind(l.id)
        .bind(l.tenant_id)
        .bind(hash.as_bytes().as_slice())
        .bind(&l.provider)
        .bind(&l.note)
        .bind(l.created_at)
        .bind(l.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|err| match err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            other => StoreError::from(other),
        })?;
        Ok(())
    }

    async fn list_setup_links(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<SetupLinkRecord>> {
        let (before, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM setup_links WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|row| link_from_row(row, ""))
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |l| {
            l.id
        }))
    }

    async fn revoke_setup_link(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        let result = sqlx::query(
            "UPDATE setup_links SET revoked_at = coalesce(revoked_at, $3) \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        one_row_affected(result)
    }

    async fn usable_setup_link(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<(SetupLinkRecord, Tenant)>> {
        let Some(row) = sqlx::query(USABLE_SETUP_LINK)
            .bind(hash.as_bytes().as_slice())
            .bind(now)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((link_from_row(&row, "l_")?, tenant_from_row(&row)?)))
    }

    async fn touch_setup_link(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE setup_links SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
