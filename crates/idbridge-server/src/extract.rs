//! Extractors whose rejections are admin-API errors, so a malformed body, path or
//! query gets the same `{"error","message"}` shape as every other refusal.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use serde::de::DeserializeOwned;

use crate::error::AdminError;

#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(AdminError))]
pub struct AdminJson<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AdminError))]
pub struct AdminPath<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AdminError))]
pub struct AdminQuery<T>(pub T);

/// A JSON body that may be absent altogether: an empty body is `None`, anything
/// else must be JSON of the expected shape. (`curl -X POST` with no `-d` sends an
/// empty body, and for endpoints whose every field is optional that should work.)
#[derive(Debug)]
pub struct OptionalAdminJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalAdminJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| {
                if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                    AdminError::PayloadTooLarge {
                        limit: crate::ADMIN_BODY_LIMIT,
                    }
                } else {
                    AdminError::InvalidRequest(rejection.body_text())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        // Hand the buffered body to axum's `Json`, so content-type checks and error
        // classification are exactly those of every other JSON endpoint.
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let AdminJson(value) = AdminJson::<T>::from_request(request, state).await?;
        Ok(Self(Some(value)))
    }
}
