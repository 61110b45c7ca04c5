//! Scheduled re-reading of IdP metadata that came from a URL. Entra ID and Okta
//! publish a new signing certificate in their metadata before they start using it;
//! re-reading daily picks it up with no admin action, and the previous certificate
//! stays valid alongside it as long as the IdP lists both.
//!
//! Every idbridge process runs the loop. Two processes refreshing the same
//! connection fetch the same document and write the same row: harmless. The write
//! applies only while the connection still uses the URL that was fetched, so an
//! admin's change made during a fetch is never overwritten.

use std::time::Duration as StdDuration;

use idbridge_saml::{Certificate, metadata};
use idbridge_store::{FetchedMetadata, SamlConnection};
use time::Duration;

use crate::AppState;

/// How old fetched metadata may get before it is fetched again.
pub const REFRESH_AFTER: Duration = Duration::hours(24);
/// How often each process looks for connections due.
pub const CHECK_EVERY: StdDuration = StdDuration::from_secs(15 * 60);
const BATCH: u32 = 50;

/// Refreshes every connection due now; returns how many were tried.
pub async fn refresh_due(state: &AppState) -> Result<usize, idbridge_store::StoreError> {
    let now = state.app.clock.now();
    let due = state
        .app
        .store
        .saml_connections_to_refresh(now - REFRESH_AFTER, BATCH)
        .await?;
    for connection in &due {
        refresh_one(state, connection).await?;
    }
    Ok(due.len())
}

async fn refresh_one(
    state: &AppState,
    connection: &SamlConnection,
) -> Result<(), idbridge_store::StoreError> {
    let Some(url) = &connection.metadata_url else {
        return Ok(());
    };
    let outcome = fetch(state, url).await;
    let now = state.app.clock.now();
    match &outcome {
        Ok(_) => tracing::info!(tenant_id = %connection.tenant_id, "IdP metadata refreshed"),
        Err(error) => tracing::warn!(
            tenant_id = %connection.tenant_id,
            %error,
            "IdP metadata refresh failed; the last good metadata stays in use"
        ),
    }
    state
        .app
        .store
        .record_metadata_refresh(
            connection.tenant_id,
            url,
            outcome.as_ref().map_err(String::as_str),
            now,
        )
        .await
}

async fn fetch(state: &AppState, url: &str) -> Result<FetchedMetadata, String> {
    let bytes = state
        .app
        .fetcher
        .get(url, idbridge_saml::xml::METADATA_LIMITS.max_bytes)
        .await
        .map_err(|e| format!("fetch failed: {e}"))?;
    let xml = String::from_utf8(bytes).map_err(|_| "the document is not UTF-8".to_owned())?;
    let idp = metadata::parse(&xml).map_err(|e| format!("unusable metadata: {e}"))?;
    if idp.sso_redirect_url.is_none() {
        return Err("the IdP no longer offers an HTTP-Redirect SingleSignOnService".into());
    }
    Ok(FetchedMetadata {
        idp_entity_id: idp.entity_id,
        idp_sso_redirect_url: idp.sso_redirect_url,
        idp_sso_post_url: idp.sso_post_url,
        idp_certificates: idp
            .signing_certificates
            .iter()
            .map(Certificate::to_base64)
            .collect(),
        metadata_xml: xml,
    })
}

/// Certificates that end within this long are reported (API flag and one event).
pub const EXPIRY_WARNING: Duration = Duration::days(30);

/// Appends a `saml.certificate_expiring` event to the feed of every tenant whose
/// IdP certificates include one that ends within [`EXPIRY_WARNING`], once per
/// certificate. An IdP that publishes its next certificate early gets it picked up
/// by the refresh; this is for the admins of IdPs (or pasted metadata) that do not.
pub async fn warn_expiring(state: &AppState) -> Result<usize, idbridge_store::StoreError> {
    let now = state.app.clock.now();
    let mut warned = 0;
    let mut after = None;
    loop {
        let page = state.app.store.saml_connections_after(after, BATCH).await?;
        let Some(last) = page.last() else {
            return Ok(warned);
        };
        after = Some(last.tenant_id);
        for connection in &page {
            for certificate in connection
                .idp_certificates
                .iter()
                .filter_map(|b64| Certificate::from_base64(b64).ok())
                .filter(|c| c.expires_within(now, EXPIRY_WARNING))
            {
                let event = idbridge_store::NewEvent {
                    kind: idbridge_core::EventKind::SamlCertificateExpiring,
                    resource_type: idbridge_core::EventResource::SamlConnection,
                    resource_id: connection.tenant_id,
                    data: serde_json::json!({
                        "certificate": {
                            "subject": certificate.subject,
                            "sha256_fingerprint": certificate.sha256_fingerprint,
                            "not_after": certificate.not_after.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                        },
                        "idp_entity_id": connection.idp_entity_id,
                    }),
                };
                if state
                    .app
                    .store
                    .warn_certificate_expiring(
                        connection.tenant_id,
                        &certificate.sha256_fingerprint,
                        &event,
                        now,
                    )
                    .await?
                {
                    tracing::warn!(
                        tenant_id = %connection.tenant_id,
                        fingerprint = %certificate.sha256_fingerprint,
                        "an IdP signing certificate expires within 30 days"
                    );
                    warned += 1;
                }
            }
        }
    }
}

/// Every [`CHECK_EVERY`] until the task is dropped: [`refresh_due`], [`warn_expiring`],
/// the daily re-check of verified domains ([`crate::domains::recheck_due`]), and
/// removal of expired AuthnRequests, replay records and authorization codes (kept off
/// the sign-in path, where each would cost a statement per request), and of webhook
/// attempt records older than [`crate::webhooks::ATTEMPTS_KEPT_FOR`].
pub async fn run(state: AppState) {
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        if let Err(error) = refresh_due(&state).await {
            tracing::warn!(%error, "IdP metadata refresh: storage failed");
        }
        if let Err(error) = warn_expiring(&state).await {
            tracing::warn!(%error, "certificate expiry check: storage failed");
        }
        if let Err(error) = crate::domains::recheck_due(&state).await {
            tracing::warn!(%error, "domain re-check: storage failed");
        }
        if let Err(error) = state.app.store.sweep_expired(state.app.clock.now()).await {
            tracing::warn!(%error, "sweeping expired SAML state failed");
        }
        let now = state.app.clock.now();
        let retired_before = now - crate::oidc::keys::RETIRED_KEY_PUBLISHED_FOR;
        if let Err(error) = state.app.store.sweep_oidc(now, retired_before).await {
            tracing::warn!(%error, "sweeping expired access tokens failed");
        }
        let attempts_before = now - crate::webhooks::ATTEMPTS_KEPT_FOR;
        if let Err(error) = state
            .app
            .store
            .sweep_webhook_attempts(attempts_before)
            .await
        {
            tracing::warn!(%error, "sweeping old webhook attempts failed");
        }
    }
}
