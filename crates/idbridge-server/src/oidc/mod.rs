//! The OpenID Connect provider's routes: discovery, JWKS, `/oauth/authorize`,
//! `/oauth/token`, `/oauth/userinfo`. The rules are `idbridge_oidc`'s; these handlers
//! look things up, call them, store and answer.
//!
//! An authorization request becomes a SAML SP-initiated sign-in at the tenant's IdP
//! (`saml::start_login`), carrying client, redirect URI, `state`, `nonce`, scope and
//! PKCE challenge in the database. The ACS issues the code bound to all of them;
//! the token endpoint exchanges it once.

mod token;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use idbridge_oidc::authorize::{self, AuthorizeRequest, ClientRefusal, Realm};
use idbridge_oidc::{AuthorizeError, AuthorizeErrorCode};
use uuid::Uuid;

use crate::AppState;
use crate::saml::{FlowError, OidcLogin};

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

fn refusal_page(refusal: &ClientRefusal, headers: &HeaderMap) -> Response {
    let status = match refusal {
        ClientRefusal::UnknownClient => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    FlowError::new(
        status,
        refusal.code(),
        format!("The app's sign-in request cannot be used: {refusal}."),
    )
    .page(headers)
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
    let request = match AuthorizeRequest::parse(query.unwrap_or_default().as_bytes()) {
        Ok(r) => r,
        Err(refusal) => return refusal_page(&refusal, &headers),
    };
    // 1. The client and its redirect URI, before anything is sent anywhere.
    let client = match request.client_id() {
        Err(refusal) => return refusal_page(&refusal, &headers),
        Ok(raw) => match Uuid::parse_str(raw) {
            Err(_) => return refusal_page(&ClientRefusal::UnknownClient, &headers),
            Ok(id) => match state.app.store.client_by_id(id).await {
                Ok(Some(client)) => client,
                Ok(None) => return refusal_page(&ClientRefusal::UnknownClient, &headers),
                Err(e) => return crate::saml::unavailable(e).page(&headers),
            },
        },
    };
    let redirect_uri = match request.check_client(client.redirect_uris.iter().map(|u| u.as_str())) {
        Ok(uri) => uri,
        Err(refusal) => return refusal_page(&refusal, &headers),
    };
    let issuer = state.app.config.public_url.as_str();
    let send_error = |error: AuthorizeError| {
        tracing::info!(error = %error, client_id = %client.id, "authorization request refused");
        match authorize::error_url(&redirect_uri, &error, request.state(), issuer) {
            Some(url) => found(url.as_str()),
            None => FlowError::new(
                StatusCode::BAD_REQUEST,
                "invalid_redirect_uri",
                "The app's redirect URI is not a URL.",
            )
            .page(&headers),
        }
    };
    // 2. Everything else is answered at the redirect URI.
    let valid = match authorize::validate(&request, client.is_public) {
        Ok(v) => v,
        Err(e) => return send_error(e),
    };
    let slug = match &valid.realm {
        Realm::Tenant(slug) => slug.clone(),
        Realm::EmailDomain(domain) => match token::verified_domain_owner(&state, domain).await {
            Ok(Some(tenant)) => tenant.slug,
            Ok(None) => {
                return send_error(AuthorizeError::new(
                    AuthorizeErrorCode::InvalidRequest,
                    format!("no organisation uses single sign-on for {domain}"),
                ));
            }
            Err(e) => {
                tracing::error!(error = %e, "authorize: storage failed");
                return send_error(AuthorizeError::new(
                    AuthorizeErrorCode::TemporarilyUnavailable,
                    "try again in a moment",
                ));
            }
        },
    };
    let login = OidcLogin {
        client_id: client.id,
        redirect_uri: redirect_uri.clone(),
        state: valid.state.clone(),
        nonce: valid.nonce.clone(),
        code_challenge: valid.code_challenge.clone(),
        scope: valid.scopes.join(" "),
    };
    match crate::saml::start_login(&state, slug.as_str(), Some(login), false).await {
        Ok(location) => found(&location),
        Err(flow) => {
            let code = if flow.status == StatusCode::SERVICE_UNAVAILABLE {
                AuthorizeErrorCode::TemporarilyUnavailable
            } else {
                AuthorizeErrorCode::InvalidRequest
            };
            send_error(AuthorizeError::new(
                code,
                format!("{} ({})", flow.message, flow.reason),
            ))
        }
    }
}
