//! The provisioning log's failure lines. Successful writes log inside their own
//! transaction; this middleware records every request that failed (with the reason
//! the client was given), so a tenant admin can see why Entra ID or Okta reports an
//! error. Successful reads are not logged: they change nothing and would drown the
//! log.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use idbridge_core::TenantSlug;
use idbridge_store::ProvisioningRecord;
use uuid::Uuid;

use super::ScimTenant;
use super::error::FailureReason;
use super::extract::RequestMeta;
use crate::AppState;

/// The tenant a request was for, as far as known: set by authentication.
#[derive(Clone)]
pub struct LoggedTenant(pub ScimTenant);

pub async fn record_failures(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let meta = RequestMeta::of(&parts);
    let slug = slug_of(&meta.path);
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let reason = response
        .extensions()
        .get::<FailureReason>()
        .map(|r| r.0.clone());
    let (tenant_id, token_id) = match response.extensions().get::<LoggedTenant>() {
        Some(LoggedTenant(t)) => (Some(t.tenant.id), Some(t.token_id)),
        // Refused before authentication: log it under the tenant the path names, if
        // that tenant exists (a wrong token pasted into Entra shows up here).
        None => match slug {
            Some(slug) => (
                state
                    .app
                    .store
                    .tenant_by_slug(&slug)
                    .await
                    .ok()
                    .flatten()
                    .map(|t| t.id),
                None,
            ),
            None => (None, None),
        },
    };
    if let Some(tenant_id) = tenant_id {
        let record = ProvisioningRecord {
            id: Uuid::now_v7(),
            tenant_id,
            occurred_at: state.app.clock.now(),
            method: meta.method,
            path: meta.path,
            status: status.as_u16(),
            resource_type: None,
            resource_id: None,
            reason,
            request_id: meta.request_id,
            token_id,
        };
        if let Err(err) = state.app.store.record_provisioning(&record).await {
            tracing::warn!(error = %err, "could not write a provisioning log line");
        }
    }
    response
}

/// `/scim/v2/{slug}/…` → slug.
fn slug_of(path: &str) -> Option<TenantSlug> {
    let rest = path.split("/scim/v2/").nth(1)?;
    TenantSlug::parse(rest.split('/').next()?).ok()
}
