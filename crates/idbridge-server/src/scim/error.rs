//! SCIM errors on the wire (RFC 7644 §3.12).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::SCIM_CONTENT_TYPE;

#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            scim_type: None,
            detail: detail.into(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            scim_type: None,
            detail: detail.into(),
        }
    }

    pub fn unavailable() -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            scim_type: None,
            detail: "the service is temporarily unavailable; retry later".into(),
        }
    }

    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            scim_type: None,
            detail: "internal error; the server log has the details for this request id".into(),
        }
    }
}

impl From<idbridge_store::StoreError> for ScimError {
    fn from(err: idbridge_store::StoreError) -> Self {
        tracing::error!(error = %err, "SCIM request failed in storage");
        match err {
            idbridge_store::StoreError::Unavailable(_) => ScimError::unavailable(),
            _ => ScimError::internal(),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    schemas: [&'static str; 1],
    /// RFC 7644 makes `status` a string.
    status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    scim_type: Option<&'a str>,
    detail: &'a str,
}

pub fn scim_json(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    response
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
            status: self.status.as_u16().to_string(),
            scim_type: self.scim_type,
            detail: &self.detail,
        };
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"idbridge-scim\""),
            );
        }
        response
    }
}
