//! The provisioning log's failure lines. Successful writes log inside their own
//! transaction; this middleware records every request that failed (with the reason
//! the client was given), so a tenant admin can see why Entra ID or Okta reports an
//! error. Successful reads are not logged: they change nothing and would drown the
//! log.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use idbridge_app::directory::{self, FailedCaller};
use idbridge_core::TenantSlug;

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
    // Who sent it, for the limit on log lines of callers not known.
    let client = state
        .scim_refusal_limiter
        .as_deref()
        .map(|limiter| limiter.client(request.extensions(), request.headers()));
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
    let caller = match response.extensions().get::<LoggedTenant>() {
        Some(LoggedTenant(t)) => FailedCaller::Known {
            tenant_id: t.tenant.id,
            token_id: t.token_id,
        },
        None => match slug {
            Some(slug) => FailedCaller::Path(slug),
            None => return response,
        },
    };
    // A caller not known (a bad token) is logged within the client address's
    // budget only: past it the answer is the same, and no row is written.
    if let FailedCaller::Path(_) = caller
        && let (Some(limiter), Some(client)) = (state.scim_refusal_limiter.as_deref(), client)
        && !limiter.allows(client)
    {
        state.metrics.count_scim_refusal_not_logged();
        return response;
    }
    directory::log_failed_request(
        &state.app,
        caller,
        (meta.method, meta.path, meta.request_id),
        status.as_u16(),
        reason,
    )
    .await;
    response
}

/// `/scim/v2/{slug}/…` → slug.
fn slug_of(path: &str) -> Option<TenantSlug> {
    let rest = path.split("/scim/v2/").nth(1)?;
    TenantSlug::parse(rest.split('/').next()?).ok()
}
