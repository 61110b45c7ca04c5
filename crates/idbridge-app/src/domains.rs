//! A tenant's email domains: claims proven with a DNS TXT record, the lookup that
//! routes an email to its tenant, the rule that a tenant may require verified
//! domains, and the daily re-check that keeps "verified" true.
//!
//! The re-check: a domain stays verified only while its TXT record is published: a
//! company that lets a domain lapse, or hands it to someone else, must stop routing
//! sign-ins to the tenant. Every process runs it from the background jobs
//! (`jobs::housekeeping`); two processes checking one domain both write the same outcome,
//! and the state change (with its event) happens once, under the claim's row lock.

use crate::audit::Audit;
use idbridge_core::audit::AuditAction;
use idbridge_core::domain::{DnsCheck, DomainName, email_domain, new_verification_token};
use idbridge_store::{DomainCheckOutcome, Page, PageRequest, StoreError, Tenant, TenantDomain};
use serde::Deserialize;
use serde_json::json;
use time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::tenants::find;
use crate::{App, Error, Result};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomain {
    /// An email domain the tenant's users have addresses at. Normalised (trimmed,
    /// lowercased, trailing dot removed, internationalised names to punycode).
    #[schema(example = "example.com")]
    pub domain: String,
}

/// Claims a domain for the tenant, pending until its TXT record is found. Claiming a
/// domain the tenant already claims answers that claim (`false`), token unchanged.
pub async fn add(
    app: &App,
    raw_slug: &str,
    input: AddDomain,
    audit: &Audit,
) -> Result<(TenantDomain, bool)> {
    let tenant = find(app, raw_slug).await?;
    // What people paste: an address, an email address, `https://acme.example/`.
    let domain = DomainName::from_pasted(&input.domain)?;
    if domain.is_public_mail_domain() {
        return Err(Error::PublicMailDomain(domain.to_string()));
    }
    let claim = TenantDomain {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        domain: domain.to_string(),
        verification_token: new_verification_token(),
        verified: false,
        verified_at: None,
        checked_at: None,
        verification_error: None,
        created_at: app.clock.now(),
    };
    let audited = audit.of_tenant(
        claim.created_at,
        AuditAction::DomainAdded,
        &tenant,
        Some(claim.domain.clone()),
        json!({"domain": claim.domain}),
    );
    match app.store.add_domain(&claim, Some(&audited)).await {
        Ok((stored, created)) => {
            if created {
                tracing::info!(tenant = %tenant.slug, %domain, "domain claimed");
            }
            Ok((stored, created))
        }
        Err(StoreError::Conflict(_)) => Err(Error::DomainClaimed(domain.to_string())),
        Err(StoreError::NotFound) => Err(Error::TenantNotFound(tenant.slug.to_string())),
        Err(other) => Err(other.into()),
    }
}

pub async fn list(app: &App, raw_slug: &str, page: PageRequest) -> Result<Page<TenantDomain>> {
    let tenant = find(app, raw_slug).await?;
    Ok(app.store.list_domains(tenant.id, page).await?)
}

/// Asks DNS for the claim's TXT record now and records what it found. A verified
/// domain loses its status only when DNS says the record is not there; a timeout
/// leaves it verified (with the error noted).
pub async fn verify(
    app: &App,
    raw_slug: &str,
    raw_domain: &str,
    audit: &Audit,
) -> Result<TenantDomain> {
    let tenant = find(app, raw_slug).await?;
    let domain = DomainName::parse(raw_domain)?;
    let claim = app
        .store
        .tenant_domain(tenant.id, domain.as_str())
        .await?
        .ok_or(Error::NotFound("domain"))?;
    // Held by another tenant: no DNS answer could change that, so none is asked.
    let holder = app
        .store
        .tenant_for_verified_domain(domain.as_str())
        .await?;
    let check = if holder.is_some_and(|t| t.id != tenant.id) {
        None
    } else {
        Some(app.dns().check(&domain, &claim.verification_token).await)
    };
    let outcome = match check {
        None => DomainCheckOutcome::Failed {
            reason: idbridge_store::CLAIMED_BY_ANOTHER_TENANT,
            unverify: true,
        },
        Some(DnsCheck::Found) => DomainCheckOutcome::Verified,
        Some(other) => DomainCheckOutcome::Failed {
            reason: other.reason().unwrap_or("dns_error"),
            unverify: other.is_definite_absence(),
        },
    };
    let now = app.clock.now();
    let audited = audit.of_tenant(
        now,
        AuditAction::DomainChecked,
        &tenant,
        Some(domain.to_string()),
        json!({ "found": matches!(outcome, DomainCheckOutcome::Verified) }),
    );
    let recorded = app
        .store
        .record_domain_check(tenant.id, domain.as_str(), outcome, now, Some(&audited))
        .await;
    match recorded {
        Ok(_) if check.is_none() => Err(Error::DomainClaimed(domain.to_string())),
        Ok(stored) => {
            tracing::info!(
                tenant = %tenant.slug,
                %domain,
                verified = stored.verified,
                error = stored.verification_error.as_deref(),
                "domain checked"
            );
            Ok(stored)
        }
        Err(StoreError::Conflict(_)) => Err(Error::DomainClaimed(domain.to_string())),
        Err(StoreError::NotFound) => Err(Error::NotFound("domain")),
        Err(other) => Err(other.into()),
    }
}

pub async fn delete(app: &App, raw_slug: &str, raw_domain: &str, audit: &Audit) -> Result<()> {
    let tenant = find(app, raw_slug).await?;
    let domain = DomainName::parse(raw_domain)?;
    let now = app.clock.now();
    let audited = audit.of_tenant(
        now,
        AuditAction::DomainRemoved,
        &tenant,
        Some(domain.to_string()),
        json!({"domain": domain.as_str()}),
    );
    match app
        .store
        .delete_domain(tenant.id, domain.as_str(), now, Some(&audited))
        .await
    {
        Ok(()) => {
            tracing::info!(tenant = %tenant.slug, %domain, "domain removed");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(Error::NotFound("domain")),
        Err(other) => Err(other.into()),
    }
}

/// The tenant a sign-in with `email` belongs to: the one that verified the
/// address's domain (exactly that domain; a subdomain is a domain of its own).
pub async fn tenant_for_email(app: &App, email: &str) -> Result<Option<Tenant>> {
    let domain = email_domain(email)?;
    Ok(app
        .store
        .tenant_for_verified_domain(domain.as_str())
        .await?)
}

/// Whether `tenant_id` is the tenant that verified `domain`. This is the one
/// verified-domain rule: sign-ins and SCIM users of a tenant that requires verified
/// domains, and the ID token's `email_verified`, all ask it.
pub async fn verified_by(
    app: &App,
    tenant_id: Uuid,
    domain: &DomainName,
) -> Result<bool, StoreError> {
    Ok(app
        .store
        .tenant_for_verified_domain(domain.as_str())
        .await?
        .is_some_and(|owner| owner.id == tenant_id))
}

/// Whether `email` is at a domain `tenant_id` verified (false for anything that is
/// not an email address).
pub async fn email_verified_by(
    app: &App,
    tenant_id: Uuid,
    email: &str,
) -> Result<bool, StoreError> {
    match email_domain(email) {
        Ok(domain) => verified_by(app, tenant_id, &domain).await,
        Err(_) => Ok(false),
    }
}

/// How old a verified domain's last check may get before DNS is asked again.
pub const RECHECK_AFTER: Duration = Duration::hours(24);
/// The `verification_error` of a verified domain whose record is gone.
pub const TXT_RECORD_MISSING: &str = "txt_record_missing";
const BATCH: u32 = 50;
/// At most this many per run, so one run of the shared background loop (which also
/// refreshes SAML metadata) stays bounded when DNS is slow: 5 s a domain at worst.
const MAX_PER_RUN: usize = 500;

/// Re-checks the verified domains due now (up to `MAX_PER_RUN`; the rest wait for
/// the next run); returns how many were checked.
pub async fn recheck_due(app: &App) -> Result<usize, StoreError> {
    let mut checked = 0;
    loop {
        let due = app
            .store
            .domains_to_recheck(app.clock.now() - RECHECK_AFTER, BATCH)
            .await?;
        for claim in &due {
            recheck_one(app, claim).await?;
        }
        checked += due.len();
        // Each checked row leaves the due set (its `checked_at` is now), so a short
        // page means none are left.
        if due.len() < BATCH as usize || checked >= MAX_PER_RUN {
            return Ok(checked);
        }
    }
}

async fn recheck_one(app: &App, claim: &TenantDomain) -> Result<(), StoreError> {
    let domain = DomainName::parse(&claim.domain)
        .map_err(|e| StoreError::Corrupt(format!("stored domain {:?}: {e}", claim.domain)))?;
    let check = app.dns().check(&domain, &claim.verification_token).await;
    let outcome = match check {
        DnsCheck::Found => DomainCheckOutcome::Verified,
        absent if absent.is_definite_absence() => DomainCheckOutcome::Failed {
            reason: TXT_RECORD_MISSING,
            unverify: true,
        },
        // DNS did not answer: keep the domain, note why, try again tomorrow.
        other => DomainCheckOutcome::Failed {
            reason: other.reason().unwrap_or("dns_error"),
            unverify: false,
        },
    };
    match app
        .store
        .record_domain_check(
            claim.tenant_id,
            &claim.domain,
            outcome,
            app.clock.now(),
            None,
        )
        .await
    {
        Ok(stored) if !stored.verified => {
            tracing::warn!(
                tenant_id = %claim.tenant_id,
                %domain,
                "verification record gone; the domain is no longer verified"
            );
            Ok(())
        }
        Ok(_) => Ok(()),
        // Deleted by an admin meanwhile.
        Err(StoreError::NotFound) => Ok(()),
        Err(other) => Err(other),
    }
}
