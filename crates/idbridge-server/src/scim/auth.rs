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

use super::ScimError;
use crate::bearer::bearer_token;
use crate::{AppState, LAST_USED_GRANULARITY};

/// The tenant a SCIM request is for, once its token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTenant {
    pub tenant_id: Uuid,
    pub slug: TenantSlug,
    pub token_id: Uuid,
}

pub async fn require_scim_token(
    State(state): State<AppState>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ScimError> {
    // One message for every failure, so a caller learns nothing about which tenants
    // exist or which tokens were once valid.
    const REFUSED: &str = "a valid SCIM bearer token for this tenant is required";
    let slug = params
        .get("slug")
        .ok_or_else(|| ScimError::not_found("no tenant in the path"))?;
    let presented =
        bearer_token(request.headers()).map_err(|_| ScimError::unauthorized(REFUSED))?;
    let token = ScimToken::parse(presented).map_err(|_| ScimError::unauthorized(REFUSED))?;
    let active = state
        .store
        .active_scim_token(&token.hash())
        .await?
        .ok_or_else(|| ScimError::unauthorized(REFUSED))?;
    if active.tenant_slug.as_str() != slug {
        tracing::warn!(token_id = %active.token_id, "SCIM token used on another tenant's URL");
        return Err(ScimError::unauthorized(REFUSED));
    }
    let now = state.clock.now();
    if active
        .last_used_at
        .is_none_or(|last| now - last >= LAST_USED_GRANULARITY)
    {
        state.store.touch_scim_token(active.token_id, now).await?;
    }
    request.extensions_mut().insert(ScimTenant {
        tenant_id: active.tenant_id,
        slug: active.tenant_slug,
        token_id: active.token_id,
    });
    Ok(next.run(request).await)
}
