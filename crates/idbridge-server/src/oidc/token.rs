//! `POST /oauth/token` and `/oauth/userinfo`: OAuth's answers to what the
//! application's provider decided.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_app::sign_in::provider::{self, TokenFailure, UserinfoFailure};
use idbridge_oidc::{TokenError, TokenErrorCode};
use serde_json::json;

use crate::AppState;
use crate::bearer::bearer_token;

/// Largest token request read: a few short parameters.
pub const TOKEN_BODY_LIMIT: usize = 16 * 1024;

/// An OAuth error answer (RFC 6749 §5.2): JSON, never cached, and for a client
/// that failed to authenticate, a `WWW-Authenticate` challenge.
fn oauth_error(error: &TokenError) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        axum::Json(json!({
            "error": error.code.as_str(),
            "error_description": error.description,
        })),
    )
        .into_response();
    if error.code == TokenErrorCode::InvalidClient {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"idbridge\""),
        );
    }
    response
}

fn temporarily_unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(json!({
            "error": "temporarily_unavailable",
            "error_description": "try again in a moment",
        })),
    )
        .into_response()
}

/// `POST /oauth/token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match provider::token(&state.app, &body, authorization).await {
        Ok(tokens) => (
            [
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::PRAGMA, HeaderValue::from_static("no-cache")),
            ],
            axum::Json(json!({
                "access_token": tokens.access_token.expose_secret(),
                "token_type": "Bearer",
                "expires_in": tokens.expires_in,
                "id_token": tokens.id_token,
                "scope": tokens.scope,
            })),
        )
            .into_response(),
        Err(TokenFailure::OAuth(error)) => oauth_error(&error),
        Err(TokenFailure::Unavailable) => temporarily_unavailable(),
    }
}

fn invalid_token(description: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&format!(
                    "Bearer error=\"invalid_token\", error_description=\"{description}\""
                ))
                .unwrap_or(HeaderValue::from_static("Bearer error=\"invalid_token\"")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        axum::Json(json!({ "error": "invalid_token", "error_description": description })),
    )
        .into_response()
}

/// `GET`/`POST /oauth/userinfo` with `Authorization: Bearer <access token>`.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(presented) = bearer_token(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        )
            .into_response();
    };
    match provider::userinfo(&state.app, presented).await {
        Ok(claims) => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            axum::Json(serde_json::Value::Object(claims)),
        )
            .into_response(),
        Err(UserinfoFailure::InvalidToken(why)) => invalid_token(why),
        Err(UserinfoFailure::Unavailable) => temporarily_unavailable(),
    }
}
