//! The scheduled re-check of verified domains. A domain stays verified only while
//! its TXT record is published: a company that lets a domain lapse, or hands it to
//! someone else, must stop routing sign-ins to the tenant. Every process runs it
//! from the background loop ([`crate::saml::refresh::run`]); two processes checking
//! one domain both write the same outcome, and the state change (with its event)
//! happens once, under the claim's row lock.

use idbridge_core::domain::{DnsCheck, DomainName};
use idbridge_store::{DomainCheckOutcome, StoreError, TenantDomain};
use time::Duration;

use crate::AppState;

/// How old a verified domain's last check may get before DNS is asked again.
pub const RECHECK_AFTER: Duration = Duration::hours(24);
/// The `verification_error` of a verified domain whose record is gone.
pub const TXT_RECORD_MISSING: &str = "txt_record_missing";
const BATCH: u32 = 50;
/// At most this many per run, so one run of the shared background loop (which also
/// refreshes SAML metadata) stays bounded when DNS is slow: 5 s a domain at worst.
const MAX_PER_RUN: usize = 500;

/// Re-checks the verified domains due now (up to [`MAX_PER_RUN`]; the rest wait for
/// the next run); returns how many were checked.
pub async fn recheck_due(state: &AppState) -> Result<usize, StoreError> {
    let mut checked = 0;
    loop {
        let due = state
            .app
            .store
            .domains_to_recheck(state.app.clock.now() - RECHECK_AFTER, BATCH)
            .await?;
        for claim in &due {
            recheck_one(state, claim).await?;
        }
        checked += due.len();
        // Each checked row leaves the due set (its `checked_at` is now), so a short
        // page means none are left.
        if due.len() < BATCH as usize || checked >= MAX_PER_RUN {
            return Ok(checked);
        }
    }
}

async fn recheck_one(state: &AppState, claim: &TenantDomain) -> Result<(), StoreError> {
    let domain = DomainName::parse(&claim.domain)
        .map_err(|e| StoreError::Corrupt(format!("stored domain {:?}: {e}", claim.domain)))?;
    let check = state
        .app
        .domains
        .check(&domain, &claim.verification_token)
        .await;
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
    match state
        .app
        .store
        .record_domain_check(
            claim.tenant_id,
            &claim.domain,
            outcome,
            state.app.clock.now(),
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
