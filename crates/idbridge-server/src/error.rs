//! The admin API's one error type and its one mapping to the wire:
//! `{"error": "<snake_case code>", "message": "<human text>"}` with a fitting status.
//!
//! A 5xx never carries internal details: the cause is logged (inside the request's
//! span, so with its request id) and the client gets a generic message.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_app::Error as AppError;
use idbridge_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    #[error("missing admin API key: send `Authorization: Bearer <key>`")]
    MissingCredentials,
    #[error("the admin API key is not valid")]
    InvalidCredentials,
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("request body does not have the expected fields: {0}")]
    InvalidBody(String),
    #[error("request body must be JSON, sent with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A path or query the router could not read.
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no route for this method and path")]
    NoRoute,
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// What the application said.
    #[error(transparent)]
    App(#[from] AppError),
}

impl AdminError {
    pub fn status(&self) -> StatusCode {
        use AdminError::*;
        match self {
            MissingCredentials | InvalidCredentials => StatusCode::UNAUTHORIZED,
            MalformedJson(_) | InvalidBody(_) | InvalidRequest(_) => StatusCode::BAD_REQUEST,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            NoRoute => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            App(e) => app_status(e),
        }
    }

    /// The machine-readable code: unique per variant, stable, `snake_case`.
    pub fn code(&self) -> &'static str {
        use AdminError::*;
        match self {
            MissingCredentials => "missing_credentials",
            InvalidCredentials => "invalid_credentials",
            MalformedJson(_) => "malformed_json",
            InvalidBody(_) => "invalid_body",
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge { .. } => "payload_too_large",
            InvalidRequest(_) => "invalid_request",
            NoRoute => "no_route",
            MethodNotAllowed => "method_not_allowed",
            App(e) => e.reason(),
        }
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        AdminError::App(AppError::internal(err))
    }
}

/// The status of each application error, for every surface that answers with one.
pub fn app_status(error: &AppError) -> StatusCode {
    match error {
        AppError::Invalid(_)
        | AppError::InvalidSlug(_)
        | AppError::InvalidCursor
        | AppError::InvalidMetadata(_)
        | AppError::MetadataFetch(_)
        | AppError::InvalidDomain(_)
        | AppError::PublicMailDomain(_)
        | AppError::InvalidEmail(_)
        | AppError::InvalidWebhookUrl(_) => StatusCode::BAD_REQUEST,
        AppError::TenantNotFound(_) | AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::TenantExists(_)
        | AppError::DomainClaimed(_)
        | AppError::UserExists(_)
        | AppError::ManagedByScim
        | AppError::Busy(_) => StatusCode::CONFLICT,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Storage failures the handler did not map to something more specific.
impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        AdminError::App(err.into())
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable error code, e.g. `tenant_exists`.
    #[schema(example = "tenant_exists")]
    pub error: &'static str,
    /// What went wrong, for a human.
    pub message: String,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            // The cause stays in the log; the request id ties the two together.
            tracing::error!(error = %self, cause = ?std::error::Error::source(&self), "request failed");
            match &self {
                AdminError::App(AppError::Unavailable(_)) => self.to_string(),
                _ => "internal error; the server log has the details for this request id".into(),
            }
        } else {
            self.to_string()
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.code(),
                message,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"idbridge-admin\""),
            );
        }
        response
    }
}

impl From<JsonRejection> for AdminError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => AdminError::MalformedJson(e.body_text()),
            JsonRejection::JsonDataError(e) => AdminError::InvalidBody(e.body_text()),
            JsonRejection::MissingJsonContentType(_) => AdminError::UnsupportedMediaType,
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                AdminError::PayloadTooLarge {
                    limit: crate::ADMIN_BODY_LIMIT,
                }
            }
            other => AdminError::InvalidRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for AdminError {
    fn from(rejection: PathRejection) -> Self {
        AdminError::InvalidRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for AdminError {
    fn from(rejection: QueryRejection) -> Self {
        AdminError::InvalidRequest(rejection.body_text())
    }
}
