//! Tenant domains on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, overfetch, tenant_from_row, uuid_of};
use crate::domain::domain_event;
use crate::{
    CLAIMED_BY_ANOTHER_TENANT, DomainCheckOutcome, DomainCounts, DomainRepo, Page, PageRequest,
    Result, StoreError, Tenant, TenantDomain, WriteContext,
};

/// Every sign-in by email asks this (login_hint, /api/v1/lookup).
pub(super) const TENANT_FOR_VERIFIED_DOMAIN: &str = "SELECT t.* FROM tenant_domains d \
     JOIN tenants t ON t.id = d.tenant_id WHERE d.domain = $1 AND d.verified";
/// The scheduled re-check's pick; the partial index holds verified rows only.
pub(super) const DOMAINS_TO_RECHECK: &str = "SELECT * FROM tenant_domains \
     WHERE verified AND checked_at < $1 ORDER BY checked_at LIMIT $2";

fn domain_from_row(row: &PgRow) -> Result<TenantDomain> {
    Ok(TenantDomain {
        id: uuid_of(row, "id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        domain: row.try_get("domain")?,
        verification_token: row.try_get("verification_token")?,
        verified: row.try_get("verified")?,
        verified_at: row.try_get("verified_at")?,
        checked_at: row.try_get("checked_at")?,
        verification_error: row.try_get("verification_error")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Whether a tenant other than `tenant_id` holds `domain` verified.
async fn verified_elsewhere(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    domain: &str,
) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM tenant_domains WHERE domain = $1 AND verified AND tenant_id <> $2",
    )
    .bind(domain)
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?
        > 0)
}

#[async_trait]
impl DomainRepo for PostgresStore {
    async fn add_domain(&self, d: &TenantDomain) -> Result<(TenantDomain, bool)> {
        let mut tx = self.pool.begin().await?;
        if verified_elsewhere(&mut tx, d.tenant_id, &d.domain).await? {
            return Err(StoreError::Conflict(
                "the domain is verified by another tenant",
            ));
        }
        let inserted = sqlx::query(
            "INSERT INTO tenant_domains (id, tenant_id, domain, verification_token, verified, \
             verified_at, checked_at, verification_error, created_at) \
             VALUES ($1, $2, $3, $4, false, NULL, NULL, NULL, $5) \
             ON CONFLICT (tenant_id, domain) DO NOTHING",
        )
        .bind(d.id)
        .bind(d.tenant_id)
        .bind(&d.domain)
        .bind(&d.verification_token)
        .bind(d.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let row = sqlx::query("SELECT * FROM tenant_domains WHERE tenant_id = $1 AND domain = $2")
            .bind(d.tenant_id)
            .bind(&d.domain)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((domain_from_row(&row)?, inserted))
    }

    async fn tenant_domain(&self, tenant_id: Uuid, domain: &str) -> Result<Option<TenantDomain>> {
        sqlx::query("SELECT * FROM tenant_domains WHERE tenant_id = $1 AND domain = $2")
            .bind(tenant_id)
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(domain_from_row)
            .transpose()
    }

    async fn list_domains(&self, tenant_id: Uuid, page: PageRequest) -> Result<Page<TenantDomain>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM tenant_domains WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) \
             ORDER BY id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(domain_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |d| {
            d.id
        }))
    }

    async fn domain_counts(&self, tenant_id: Uuid) -> Result<DomainCounts> {
        let row = sqlx::query(
            "SELECT count(*) AS total, count(*) FILTER (WHERE verified) AS verified \
             FROM tenant_domains WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(DomainCounts {
            total: row.try_get::<i64, _>("total")?.try_into().unwrap_or(0),
            verified: row.try_get::<i64, _>("verified")?.try_into().unwrap_or(0),
        })
    }

    async fn delete_domain(
        &self,
        tenant_id: Uuid,
        domain: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "DELETE FROM tenant_domains WHERE tenant_id = $1 AND domain = $2 RETURNING *",
        )
        .bind(tenant_id)
        .bind(domain)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let removed = domain_from_row(&row)?;
        if removed.verified {
            // The app may have routed sign-ins by this domain: tell it they stop.
            let ctx = WriteContext {
                now,
                events: vec![domain_event(&removed, false, Some("deleted"))],
                log: None,
            };
            super::directory::finish_write(&mut tx, tenant_id, &ctx, Vec::new(), 0, 0).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn tenant_for_verified_domain(&self, domain: &str) -> Result<Option<Tenant>> {
        sqlx::query(TENANT_FOR_VERIFIED_DOMAIN)
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(tenant_from_row)
            .transpose()
    }

    async fn record_domain_check(
        &self,
        tenant_id: Uuid,
        domain: &str,
        outcome: DomainCheckOutcome<'_>,
        now: OffsetDateTime,
    ) -> Result<TenantDomain> {
        let mut tx = self.pool.begin().await?;
        // FOR UPDATE: two checks of one claim (an admin and the re-check) apply in turn.
        let current = sqlx::query(
            "SELECT * FROM tenant_domains WHERE tenant_id = $1 AND domain = $2 FOR UPDATE",
        )
        .bind(tenant_id)
        .bind(domain)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(domain_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound)?;
        let mut claimed = false;
        let (verified, verified_at, error, event) = match outcome {
            DomainCheckOutcome::Verified if current.verified => {
                (true, current.verified_at, None, None)
            }
            DomainCheckOutcome::Verified => {
                // Another tenant verifying the same domain at this very moment is not
                // seen here: the unique index then makes the later UPDATE wait for the
                // earlier transaction and fail (a Conflict) once that one commits.
                if verified_elsewhere(&mut tx, tenant_id, domain).await? {
                    claimed = true;
                    (false, None, Some(CLAIMED_BY_ANOTHER_TENANT), None)
                } else {
                    (
                        true,
                        Some(now),
                        None,
                        Some(domain_event(&current, true, None)),
                    )
                }
            }
            DomainCheckOutcome::Failed { reason, unverify } if current.verified && !unverify => {
                (true, current.verified_at, Some(reason), None)
            }
            DomainCheckOutcome::Failed { reason, .. } => (
                false,
                None,
                Some(reason),
                current
                    .verified
                    .then(|| domain_event(&current, false, Some(reason))),
            ),
        };
        let row = sqlx::query(
            "UPDATE tenant_domains SET verified = $3, verified_at = $4, checked_at = $5, \
             verification_error = $6 WHERE tenant_id = $1 AND domain = $2 RETURNING *",
        )
        .bind(tenant_id)
        .bind(domain)
        .bind(verified)
        .bind(verified_at)
        .bind(now)
        .bind(error)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(event) = event {
            let ctx = WriteContext {
                now,
                events: vec![event],
                log: None,
            };
            super::directory::finish_write(&mut tx, tenant_id, &ctx, Vec::new(), 0, 0).await?;
        }
        tx.commit().await?;
        if claimed {
            return Err(StoreError::Conflict(
                "the domain is verified by another tenant",
            ));
        }
        domain_from_row(&row)
    }

    async fn domains_to_recheck(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<TenantDomain>> {
        sqlx::query(DOMAINS_TO_RECHECK)
            .bind(checked_before)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(domain_from_row)
            .collect()
    }
}
