//! SCIM errors on the wire (RFC 7644 §3.12), and how storage failures become them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_app::directory::DirectoryError;
use idbridge_scim::{ScimError, ScimType};
use idbridge_store::StoreError;
use serde::Serialize;

use super::SCIM_CONTENT_TYPE;

/// A failed SCIM request, ready to answer. Its detail also goes to the tenant's
/// provisioning log (see `log.rs`), so it must never carry a secret.
#[derive(Debug)]
pub struct ScimProblem(pub ScimError);

/// Put in response extensions so the provisioning log can say why a request failed.
#[derive(Debug, Clone)]
pub struct FailureReason(pub String);

impl From<ScimError> for ScimProblem {
    fn from(err: ScimError) -> Self {
        Self(err)
    }
}

impl From<StoreError> for ScimProblem {
    fn from(err: StoreError) -> Self {
        Self(match err {
            StoreError::NotFound => ScimError::not_found("resource not found"),
            StoreError::Conflict(what) => ScimError::uniqueness(what),
            StoreError::VersionMismatch => {
                ScimError::precondition_failed("the resource was changed by another request")
            }
            StoreError::InvalidReference(id) => {
                ScimError::invalid_value(format!("{id} is not a user or group of this tenant"))
            }
            StoreError::InvalidQuery(detail) => {
                ScimError::bad_request(ScimType::InvalidFilter, detail)
            }
            cause if cause.is_unavailable() => {
                tracing::warn!(error = %cause, "SCIM request: database unavailable");
                ScimError::new(
                    503,
                    None,
                    "the service is temporarily unavailable; retry later",
                )
            }
            other => {
                tracing::error!(error = %other, "SCIM request failed in storage");
                ScimError::new(500, None, INTERNAL)
            }
        })
    }
}

/// An answer that could not be written (a value JSON cannot hold).
impl From<serde_json::Error> for ScimProblem {
    fn from(err: serde_json::Error) -> Self {
        tracing::error!(error = %err, "SCIM answer could not be written");
        Self(ScimError::new(500, None, INTERNAL))
    }
}

/// The directory's refusals in SCIM's words: each variant's `scimType` and status.
impl From<DirectoryError> for ScimProblem {
    fn from(err: DirectoryError) -> Self {
        let detail = err.to_string();
        match err {
            DirectoryError::Request(e) => Self(e),
            DirectoryError::NotFound(_) => Self(ScimError::not_found(detail)),
            DirectoryError::PreconditionFailed => Self(ScimError::precondition_failed(detail)),
            DirectoryError::UserNameTaken(_) | DirectoryError::GroupNameTaken(_) => {
                Self(ScimError::uniqueness(detail))
            }
            DirectoryError::NotAnEmail(_) | DirectoryError::DomainNotVerified(_) => {
                Self(ScimError::invalid_value(detail))
            }
            DirectoryError::Busy(_) => Self(ScimError::new(409, None, detail)),
            DirectoryError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "SCIM request failed");
                Self(ScimError::new(500, None, INTERNAL))
            }
        }
    }
}

/// Failures of the application's other operations (authentication).
impl From<idbridge_app::Error> for ScimProblem {
    fn from(err: idbridge_app::Error) -> Self {
        match err {
            idbridge_app::Error::Unavailable(e) => e.into(),
            other => {
                tracing::error!(error = %other, "SCIM request failed");
                Self(ScimError::new(500, None, INTERNAL))
            }
        }
    }
}

const INTERNAL: &str = "internal error; the server log has the details for this request id";

impl ScimProblem {
    pub fn unauthorized() -> Self {
        Self(ScimError::new(
            401,
            None,
            "a valid SCIM bearer token for this tenant is required",
        ))
    }
}

pub fn scim_json(status: StatusCode, body: &impl Serialize) -> Response {
    scim_json_text(status, json(body))
}

/// `body`'s JSON text.
pub fn json(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// A SCIM answer whose JSON text is written already.
pub fn scim_json_text(status: StatusCode, text: Vec<u8>) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    response
}

impl IntoResponse for ScimProblem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = scim_json(status, &self.0.to_json());
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"idbridge-scim\""),
            );
        }
        response
            .extensions_mut()
            .insert(FailureReason(match self.0.scim_type {
                Some(t) => format!("{}: {}", t.as_str(), self.0.detail),
                None => self.0.detail.clone(),
            }));
        response
    }
}
