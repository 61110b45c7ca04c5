//! SCIM token authentication, on the hot path of every SCIM request: the presented
//! token's SHA-256 digest is looked up through a unique index, and the tenant it
//! belongs to must be the tenant in the path. Revocation is a database write, so it
//! takes effect at once on every idbridge process.

use axum::extract::{Path, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use idbridge_app::credentials::{self, PresentedScimToken};

use super::error::ScimProblem;
use super::log::LoggedTenant;
use crate::AppState;
use crate::bearer::bearer_token;

pub async fn require_scim_token(
    State(state): State<AppState>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ScimProblem> {
    // One answer for every failure, so a caller learns nothing about which tenants
    // exist or which tokens were once valid.
    let slug = params.get("slug").ok_or_else(ScimProblem::unauthorized)?;
    let presented = bearer_token(request.headers())
        .ok()
        .and_then(PresentedScimToken::parse)
        .ok_or_else(ScimProblem::unauthorized)?;
    if checks_its_own_token(&request) {
        request.extensions_mut().insert(presented);
        return Ok(next.run(request).await);
    }
    let tenant = credentials::authenticate_scim(&state.app, slug, presented)
        .await?
        .ok_or_else(ScimProblem::unauthorized)?;
    request.extensions_mut().insert(tenant.clone());
    let mut response = next.run(request).await;
    response.extensions_mut().insert(LoggedTenant(tenant));
    Ok(response)
}

/// Whether the request's handler checks the token itself, in the statement that
/// reads its answer: `GET /Users` (`users::list_users`), the lookup IdPs send
/// before each write, and `GET /Users/{id}` (`users::get_user`), Okta's read
/// before it updates a user. Those handlers are given the token as presented
/// ([`PresentedScimToken`]), never a checked caller, and refuse it themselves;
/// every other handler takes a checked caller and fails closed without one. (The
/// path is the nested router's, the tenant's prefix taken off; a GET route answers
/// HEAD too. `/Users/.search` is the one other route below `/Users/`, and no id
/// starts with a dot.)
fn checks_its_own_token(request: &Request) -> bool {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return false;
    }
    let path = request.uri().path();
    path == "/Users"
        || path
            .strip_prefix("/Users/")
            .is_some_and(|id| !id.is_empty() && !id.starts_with('.') && !id.contains('/'))
}
