//! Admin API authentication: the operator's bootstrap key (`--admin-api-key`) or an
//! admin key created with `idbridge admin-key create`, stored only as a digest.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use idbridge_core::secret::AdminApiKey;
use uuid::Uuid;

use crate::bearer::{BearerError, bearer_token};
use crate::error::AdminError;
use crate::{AppState, LAST_USED_GRANULARITY};

/// Who is calling the admin API; in request extensions after authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminPrincipal {
    Bootstrap,
    Key(Uuid),
}

pub async fn require_admin(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AdminError> {
    let presented = bearer_token(request.headers()).map_err(|e| match e {
        BearerError::Missing => AdminError::MissingCredentials,
        BearerError::Malformed => AdminError::InvalidCredentials,
    })?;
    let principal = authenticate(&state, presented).await?;
    tracing::Span::current().record("admin", tracing::field::debug(principal));
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

async fn authenticate(state: &AppState, presented: &str) -> Result<AdminPrincipal, AdminError> {
    // Always computed, so a bootstrap-key match costs the same as a miss.
    let is_bootstrap = state
        .config
        .bootstrap_admin_key
        .as_ref()
        .is_some_and(|key| key.matches(presented));
    if is_bootstrap {
        return Ok(AdminPrincipal::Bootstrap);
    }
    let Ok(key) = AdminApiKey::parse(presented) else {
        return Err(AdminError::InvalidCredentials);
    };
    let record = state
        .app
        .store
        .active_admin_key(&key.hash())
        .await?
        .ok_or(AdminError::InvalidCredentials)?;
    let now = state.app.clock.now();
    if record
        .last_used_at
        .is_none_or(|last| now - last >= LAST_USED_GRANULARITY)
    {
        state.app.store.touch_admin_key(record.id, now).await?;
    }
    Ok(AdminPrincipal::Key(record.id))
}
