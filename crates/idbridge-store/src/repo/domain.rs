//! Tenant domains, written once for both backends.

use super::audit::insert_audit_opt;
use crate::AuditRecord;
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, append_to_feed, overfetch, page_of};
use crate::db::{Db, FromRow, Row, Scalar, Ts, query};
use crate::domain::domain_event;
use crate::{
    CLAIMED_BY_ANOTHER_TENANT, DomainCheckOutcome, DomainCounts, DomainRepo, Page, PageRequest,
    Result, StoreError, Tenant, TenantDomain,
};

/// The statements each backend spells its own way, as constants of the backend's
/// `domain` module (which its [`Db`] implementation names): `verified` is how the
/// backend writes "the claim is verified", word for word as its partial indexes
/// do, and `lock` what the check's read of a claim appends to lock it.
macro_rules! statements {
    (verified: $verified:literal, lock: $lock:literal $(,)?) => {
        /// Every sign-in by email asks this (login_hint, /api/v1/lookup).
        pub(crate) const TENANT_FOR_VERIFIED_DOMAIN: &str = concat!(
            "SELECT t.* FROM tenant_domains d \
             JOIN tenants t ON t.id = d.tenant_id WHERE d.domain = $1 AND d.",
            $verified
        );
        /// The scheduled re-check's pick; the partial index holds verified rows only.
        pub(crate) const DOMAINS_TO_RECHECK: &str = concat!(
            "SELECT * FROM tenant_domains WHERE ",
            $verified,
            " AND checked_at < $1 ORDER BY checked_at LIMIT $2"
        );
        /// How many tenants other than `$2` hold domain `$1` verified.
        pub(crate) const VERIFIED_ELSEWHERE: &str = concat!(
            "SELECT count(*) FROM tenant_domains WHERE domain = $1 AND ",
            $verified,
            " AND tenant_id <> $2"
        );
        /// The claim a DNS check applies to, read inside the check's transaction.
        pub(crate) const DOMAIN_TO_CHECK: &str = concat!(
            "SELECT * FROM tenant_domains WHERE tenant_id = $1 AND domain = $2",
            $lock
        );
    };
}
pub(crate) use statements;

impl FromRow for TenantDomain {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(TenantDomain {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            domain: row.get("domain")?,
            verification_token: row.get("verification_token")?,
            verified: row.get("verified")?,
            verified_at: row.opt_time("verified_at")?,
            checked_at: row.opt_time("checked_at")?,
            verification_error: row.get("verification_error")?,
            created_at: row.time("created_at")?,
        })
    }
}

impl FromRow for DomainCounts {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(DomainCounts {
            total: row.get::<i64>("total")?.try_into().unwrap_or(0),
            verified: row.get::<i64>("verified")?.try_into().unwrap_or(0),
        })
    }
}

/// Whether a tenant other than `tenant_id` holds `domain` verified.
async fn verified_elsewhere<D: Db>(
    conn: &mut D::Connection,
    tenant_id: Uuid,
    domain: &str,
) -> Result<bool> {
    let Scalar(count): Scalar<i64> = query::<D>(D::DOMAIN_VERIFIED_ELSEWHERE)
        .bind(domain)
        .bind(tenant_id)
        .fetch_one(conn)
        .await?;
    Ok(count > 0)
}

#[async_trait]
impl<D: Db> DomainRepo for SqlStore<D> {
    async fn add_domain(
        &self,
        d: &TenantDomain,
        audit: Option<&AuditRecord>,
    ) -> Result<(TenantDomain, bool)> {
        let mut tx = self.begin().await?;
        if verified_elsewhere::<D>(&mut tx, d.tenant_id, &d.domain).await? {
            return Err(StoreError::Conflict(
                "the domain is verified by another tenant",
            ));
        }
        let inserted = query::<D>(
            "INSERT INTO tenant_domains (id, tenant_id, domain, verification_token, verified, \
             verified_at, checked_at, verification_error, created_at) \
             VALUES ($1, $2, $3, $4, FALSE, NULL, NULL, NULL, $5) \
             ON CONFLICT (tenant_id, domain) DO NOTHING",
        )
        .bind(d.id)
        .bind(d.tenant_id)
        .bind(&d.domain)
        .bind(&d.verification_token)
        .bind(Ts(d.created_at))
        .execute(&mut tx)
        .await?
            == 1;
        let stored =
            query::<D>("SELECT * FROM tenant_domains WHERE tenant_id = $1 AND domain = $2")
                .bind(d.tenant_id)
                .bind(&d.domain)
                .fetch_one(&mut tx)
                .await?;
        // Claiming a domain the tenant already claims changes nothing: no record.
        if inserted {
            insert_audit_opt::<D>(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok((stored, inserted))
    }

    async fn tenant_domain(&self, tenant_id: Uuid, domain: &str) -> Result<Option<TenantDomain>> {
        query::<D>("SELECT * FROM tenant_domains WHERE tenant_id = $1 AND domain = $2")
            .bind(tenant_id)
            .bind(domain)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn list_domains(&self, tenant_id: Uuid, page: PageRequest) -> Result<Page<TenantDomain>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM tenant_domains WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) \
             ORDER BY id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |d: &TenantDomain| d.id))
    }

    async fn domain_counts(&self, tenant_id: Uuid) -> Result<DomainCounts> {
        query::<D>(
            "SELECT count(*) AS total, count(*) FILTER (WHERE verified) AS verified \
             FROM tenant_domains WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_one(&mut *self.read().await?)
        .await
    }

    async fn delete_domain(
        &self,
        tenant_id: Uuid,
        domain: &str,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let removed: TenantDomain = query::<D>(
            "DELETE FROM tenant_domains WHERE tenant_id = $1 AND domain = $2 RETURNING *",
        )
        .bind(tenant_id)
        .bind(domain)
        .fetch_one(&mut tx)
        .await?;
        if removed.verified {
            // The app may have routed sign-ins by this domain: tell it they stop.
            let event = domain_event(&removed, false, Some("deleted"));
            append_to_feed::<D>(&mut tx, tenant_id, now, vec![event]).await?;
        }
        insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tenant_for_verified_domain(&self, domain: &str) -> Result<Option<Tenant>> {
        query::<D>(D::TENANT_FOR_VERIFIED_DOMAIN)
            .bind(domain)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn record_domain_check(
        &self,
        tenant_id: Uuid,
        domain: &str,
        outcome: DomainCheckOutcome<'_>,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<TenantDomain> {
        let mut tx = self.begin().await?;
        // Two checks of one claim (an admin and the re-check) apply in turn: the
        // read locks the row on PostgreSQL, and SQLite's transaction holds the
        // file's write lock (see `Db::DOMAIN_TO_CHECK`).
        let current: TenantDomain = query::<D>(D::DOMAIN_TO_CHECK)
            .bind(tenant_id)
            .bind(domain)
            .fetch_one(&mut tx)
            .await?;
        let mut claimed = false;
        let (verified, verified_at, error, event) = match outcome {
            DomainCheckOutcome::Verified if current.verified => {
                (true, current.verified_at, None, None)
            }
            DomainCheckOutcome::Verified => {
                // On SQLite this is checked inside the write lock, so no other
                // verification slips in between (the unique index would refuse it
                // anyway). On PostgreSQL another tenant verifying the same domain at
                // this very moment is not seen here: the unique index then makes the
                // later UPDATE wait for the earlier transaction and fail (a Conflict)
                // once that one commits.
                if verified_elsewhere::<D>(&mut tx, tenant_id, domain).await? {
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
        let checked: TenantDomain = query::<D>(
            "UPDATE tenant_domains SET verified = $3, verified_at = $4, checked_at = $5, \
             verification_error = $6 WHERE tenant_id = $1 AND domain = $2 RETURNING *",
        )
        .bind(tenant_id)
        .bind(domain)
        .bind(verified)
        .bind(verified_at.map(Ts))
        .bind(Ts(now))
        .bind(error)
        .fetch_one(&mut tx)
        .await?;
        if let Some(event) = event {
            append_to_feed::<D>(&mut tx, tenant_id, now, vec![event]).await?;
        }
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        if claimed {
            return Err(StoreError::Conflict(
                "the domain is verified by another tenant",
            ));
        }
        Ok(checked)
    }

    async fn domains_to_recheck(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<TenantDomain>> {
        query::<D>(D::DOMAINS_TO_RECHECK)
            .bind(Ts(checked_before))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.read().await?)
            .await
    }
}
