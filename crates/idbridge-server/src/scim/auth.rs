//! SCIM token authentication, on the hot path of every SCIM request: the presented
//! token's SHA-256 digest is looked up through a unique index, and the tenant it
//! belongs to must be the tenant in the path. Revocation is a database write, so it
//! takes effect at once on every idbridge process.

use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use idbridge_core::TenantSlug;
use idbridge_core::secret::ScimToken;
use uuid::Uuid;

use super::error::ScimProblem;
use super::log::LoggedTenant;
use crate::bearer::bearer_token;
use crate::{AppState, LAST_USED_GRANULARITY};

/// The tenant a SCIM request is for, once its token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTenant {
    pub tenant_id: Uuid,
    pub slug: TenantSlug,
    pub token_id: Uuid,
    /// Users must have emails at domains the tenant verified.
    pub require_verified_domains: bool,
}

pub async fn require_scim_token(
    State(state): State<AppState>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ScimProblem> {
    // One answer for every failure, so a caller learns nothing about which tenants
    // exist or which tokens were once valid.
    let slug = params.get("slug").ok_or_else(ScimProblem::unauthorized)?;
    let presented = bearer_token(request.headers()).map_err(|_| ScimProblem::unauthorized())?;
    let token = ScimToken::parse(presented).map_err(|_| ScimProblem::unauthorized())?;
    let active = state
        .app
        .store
        .active_scim_token(&token.hash())
        .await?
        .ok_or_else(ScimProblem::unauthorized)?;
    if active.tenant_slug.as_str() != slug {
        tracing::warn!(token_id = %active.token_id, "SCIM token used on another tenant's URL");
        return Err(ScimProblem::unauthorized());
    }
    let now = state.app.clock.now();
    if active
        .last_used_at
        .is_none_or(|last| now - last >= LAST_USED_GRANULARITY)
    {
        state
            .app
            .store
            .touch_scim_token(active.token_id, now)
            .await?;
    }
    let tenant = ScimTenant {
        tenant_id: active.tenant_id,
        slug: active.tenant_slug,
        token_id: active.token_id,
        require_verified_domains: active.require_verified_domains,
    };
    request.extensions_mut().insert(tenant.clone());
    let mut response = next.run(request).await;
    response.extensions_mut().insert(LoggedTenant(tenant));
    Ok(response)
}
