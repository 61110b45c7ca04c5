//! Where a tenant's OpenID providers send the browser back:
//! `GET /oidc/{slug}/callback`. The rules are
//! [`idbridge_app::sign_in::complete_oidc`]'s; this handler passes the query on
//! and answers with the redirect to the app, the "test connection" result, or the
//! refusal's page.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use idbridge_app::sign_in::{self, SignInOutcome};

use crate::saml::redirect;
use crate::web::flow::{refusal_page, test_refused_page, test_result_page};
use crate::{AppState, rate_limit};

/// The callback is open to anyone and writes a sign-in log row for every refusal,
/// so each client address has a budget on it, as on the ACS.
pub fn router(state: &AppState) -> Router<AppState> {
    let limited = axum::middleware::from_fn_with_state(state.clone(), rate_limit::enforce);
    Router::new().route("/callback", get(callback).layer(limited))
}

async fn callback(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let query = query.unwrap_or_default();
    match sign_in::complete_oidc(&state.app, &slug, query.as_bytes(), request_id).await {
        Ok(SignInOutcome::App { redirect: target }) => {
            redirect(StatusCode::SEE_OTHER, target.as_str())
        }
        Ok(SignInOutcome::Test(result)) => test_result_page(&state.app, &result).await,
        Ok(SignInOutcome::TestRefused(refused)) => {
            test_refused_page(&state.app, &refused, &headers).await
        }
        Err(refusal) => refusal_page(&state.app, &refusal, &headers).await,
    }
}
