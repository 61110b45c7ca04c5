//! Email domains a tenant claims and proves with a DNS TXT record.

use async_trait::async_trait;
use idbridge_core::{EventKind, EventResource};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{NewEvent, Page, PageRequest, Result, Tenant};

/// A tenant's claim on an email domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDomain {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Normalised (`idbridge_core::domain::DomainName`): lowercase ASCII, no
    /// trailing dot.
    pub domain: String,
    /// The random part of the TXT value. Published in DNS, so no secret.
    pub verification_token: String,
    pub verified: bool,
    /// When the domain became verified; `None` while it is not.
    pub verified_at: Option<OffsetDateTime>,
    /// The last DNS check, by an admin or the scheduled re-check.
    pub checked_at: Option<OffsetDateTime>,
    /// What the last check found wrong (`txt_record_not_found`, `nxdomain`,
    /// `dns_timeout`, `txt_record_missing`, `claimed_by_another_tenant`, …); `None`
    /// after a success. A verified domain keeps `verified` through a check that could
    /// not reach DNS, with the error noted here.
    pub verification_error: Option<String>,
    pub created_at: OffsetDateTime,
}

/// How many domains a tenant claims and how many of them are verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DomainCounts {
    pub total: u64,
    pub verified: u64,
}

/// What a DNS check concluded, as [`DomainRepo::record_domain_check`] applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainCheckOutcome<'a> {
    /// The proof is in DNS: the domain becomes (or stays) verified.
    Verified,
    /// No proof. `unverify` takes a verified domain away (the record is really
    /// gone); without it a verified domain stays verified (DNS did not answer) and
    /// only `reason` is noted.
    Failed { reason: &'a str, unverify: bool },
}

/// The `verification_error` written when another tenant holds the domain verified.
pub const CLAIMED_BY_ANOTHER_TENANT: &str = "claimed_by_another_tenant";

/// The `domain.verified` / `domain.unverified` event for the tenant's feed.
pub(crate) fn domain_event(
    domain: &TenantDomain,
    verified: bool,
    reason: Option<&str>,
) -> NewEvent {
    NewEvent {
        kind: if verified {
            EventKind::DomainVerified
        } else {
            EventKind::DomainUnverified
        },
        resource_type: EventResource::Domain,
        resource_id: domain.id,
        data: serde_json::json!({
            "domain": {
                "domain": domain.domain,
                "verified": verified,
                "reason": reason,
            }
        }),
    }
}

#[async_trait]
pub trait DomainRepo {
    /// Claims `domain.domain` for `domain.tenant_id`, pending. If the tenant already
    /// claims it, the stored claim (with its original token) is returned and `false`;
    /// a new claim returns `true`. [`crate::StoreError::Conflict`] if another tenant
    /// holds the domain verified; [`crate::StoreError::NotFound`] if the tenant is gone.
    async fn add_domain(
        &self,
        domain: &TenantDomain,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<(TenantDomain, bool)>;
    async fn tenant_domain(&self, tenant_id: Uuid, domain: &str) -> Result<Option<TenantDomain>>;
    /// The tenant's domains in id (creation) order.
    async fn list_domains(&self, tenant_id: Uuid, page: PageRequest) -> Result<Page<TenantDomain>>;
    async fn domain_counts(&self, tenant_id: Uuid) -> Result<DomainCounts>;
    /// Removes the claim; a verified one leaves a `domain.unverified` event.
    /// [`crate::StoreError::NotFound`] if the tenant has no such claim.
    async fn delete_domain(
        &self,
        tenant_id: Uuid,
        domain: &str,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;
    /// The tenant that holds `domain` verified, if any. `domain` is normalised
    /// (lowercase ASCII, no trailing dot): the OIDC `login_hint` and
    /// `/api/v1/lookup` call this on every sign-in, an indexed lookup.
    async fn tenant_for_verified_domain(&self, domain: &str) -> Result<Option<Tenant>>;
    /// Applies a DNS check's outcome to the tenant's claim and, in the same
    /// transaction, appends `domain.verified` or `domain.unverified` to the tenant's
    /// feed when the verified state changes. Verifying a domain another tenant holds
    /// verified records [`CLAIMED_BY_ANOTHER_TENANT`] on this claim and returns
    /// [`crate::StoreError::Conflict`]. [`crate::StoreError::NotFound`] if the claim
    /// is gone.
    async fn record_domain_check(
        &self,
        tenant_id: Uuid,
        domain: &str,
        outcome: DomainCheckOutcome<'_>,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<TenantDomain>;
    /// Verified domains last checked before `checked_before`, oldest check first.
    async fn domains_to_recheck(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<TenantDomain>>;
}
