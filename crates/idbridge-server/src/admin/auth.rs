//! Admin API authentication: the operator's bootstrap key (`--admin-api-key`) or an
//! admin key created with `idbridge admin-key create`, stored only as a digest.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use idbridge_app::credentials::{self, AdminPrincipal};

use crate::AppState;
use crate::bearer::{BearerError, bearer_token};
use crate::error::AdminError;

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
    credentials::authenticate_admin(
        &state.app,
        state.config.bootstrap_admin_key.as_ref(),
        presented,
    )
    .await?
    .ok_or(AdminError::InvalidCredentials)
}
