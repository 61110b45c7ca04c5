//! The OpenID Connect provider's routes: discovery, JWKS, `/oauth/authorize`,
//! `/oauth/token`, `/oauth/userinfo`. What they decide is the application's
//! ([`idbridge_app::sign_in::provider`]); these handlers read the request and say the
//! answer in OAuth's words (a redirect, a page, or a JSON error).

mod token;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use idbridge_app::sign_in::SignInRefusal;
use idbridge_app::sign_in::provider::{self, AuthorizeFailure};
use idbridge_oidc::authorize::ClientRefusal;

use crate::AppState;
use crate::web::flow::FlowError;

/// `/oauth/authorize` is open to anyone and stores an AuthnRequest, so each client
/// address has a budget on it ([`crate::rate_limit`]), shared with the SAML routes.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth/jwks", get(jwks))
        .route(
            "/oauth/authorize",
            get(authorize).layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::rate_limit::enforce,
            )),
        )
        .route(
            "/oauth/token",
            axum::routing::post(token::token).layer(axum::extract::DefaultBodyLimit::max(
                token::TOKEN_BODY_LIMIT,
            )),
        )
        .route(
            "/oauth/userinfo",
            get(token::userinfo).post(token::userinfo),
        )
}

/// Public documents that change rarely: caches may keep them briefly.
fn public_json(value: serde_json::Value, max_age: u32) -> Response {
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_str(&format!("public, max-age={max_age}"))
                .unwrap_or(HeaderValue::from_static("no-cache")),
        )],
        axum::Json(value),
    )
        .into_response()
}

async fn discovery(State(state): State<AppState>) -> Response {
    public_json(
        idbridge_oidc::discovery::document(state.app.config.public_url.as_str()),
        3600,
    )
}

async fn jwks(State(state): State<AppState>) -> Response {
    match idbridge_app::keys::jwks(&state.app).await {
        // Short: a rotation's new key must reach relying parties soon.
        Ok(doc) => public_json(doc, 300),
        Err(e) => {
            tracing::error!(error = %e, "JWKS unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "signing keys unavailable").into_response()
        }
    }
}

async fn client_refusal_page(
    app: &idbridge_app::App,
    refusal: &ClientRefusal,
    headers: &HeaderMap,
) -> Response {
    let status = match refusal {
        ClientRefusal::UnknownClient => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    FlowError::new(
        status,
        refusal.code(),
        format!("The app's sign-in request cannot be used: {refusal}."),
    )
    .page(app, headers)
    .await
}

fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, value),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /oauth/authorize`.
async fn authorize(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    match provider::authorize(&state.app, query.as_bytes()).await {
        Ok(location) => found(&location),
        Err(AuthorizeFailure::Client(refusal)) => {
            client_refusal_page(&state.app, &refusal, &headers).await
        }
        Err(AuthorizeFailure::Redirect(url)) => found(url.as_str()),
        Err(AuthorizeFailure::RedirectUriNotUrl) => {
            FlowError::new(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                "The app's redirect URI is not a URL.",
            )
            .page(&state.app, &headers)
            .await
        }
        Err(AuthorizeFailure::Unavailable) => {
            FlowError::from(&SignInRefusal::Unavailable)
                .page(&state.app, &headers)
                .await
        }
    }
}
