//! The admin API's one error type and its one mapping to the wire:
//! `{"error": "<snake_case code>", "message": "<human text>"}` with a fitting status.
//!
//! A 5xx never carries internal details: the cause is logged (inside the request's
//! span, so with its request id) and the client gets a generic message.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_core::InvalidSlug;
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
    #[error("{0}")]
    InvalidRequest(String),
    #[error("invalid tenant slug: {0}")]
    InvalidSlug(#[from] InvalidSlug),
    #[error("the cursor was not issued by this list, or is damaged")]
    InvalidCursor,
    #[error("no tenant has the slug {0:?}")]
    TenantNotFound(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a tenant with the slug {0:?} already exists")]
    TenantExists(String),
    #[error("the IdP metadata cannot be used: {0}")]
    InvalidMetadata(#[from] idbridge_saml::MetadataError),
    #[error("the IdP metadata URL could not be fetched: {0}")]
    MetadataFetch(String),
    #[error("invalid domain: {0}")]
    InvalidDomain(#[from] idbridge_core::domain::InvalidDomain),
    #[error(
        "{0} is a public mail provider's domain: anyone can have an address there, so no \
         tenant can claim it"
    )]
    PublicMailDomain(String),
    #[error("the domain {0} is verified by another tenant")]
    DomainClaimed(String),
    #[error("invalid email address: {0}")]
    InvalidEmail(#[from] idbridge_core::domain::InvalidEmail),
    #[error("no route for this method and path")]
    NoRoute,
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("unusable webhook URL: {0}")]
    InvalidWebhookUrl(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AdminError {
    pub fn status(&self) -> StatusCode {
        use AdminError::*;
        match self {
            MissingCredentials | InvalidCredentials => StatusCode::UNAUTHORIZED,
            MalformedJson(_) | InvalidBody(_) | InvalidRequest(_) | InvalidSlug(_)
            | InvalidCursor | InvalidMetadata(_) | MetadataFetch(_) | InvalidDomain(_)
            | PublicMailDomain(_) | InvalidEmail(_) | InvalidWebhookUrl(_) => {
                StatusCode::BAD_REQUEST
            }
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            TenantNotFound(_) | NotFound(_) | NoRoute => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            TenantExists(_) | DomainClaimed(_) => StatusCode::CONFLICT,
            Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            InvalidSlug(_) => "invalid_slug",
            InvalidCursor => "invalid_cursor",
            TenantNotFound(_) => "tenant_not_found",
            NotFound(_) => "not_found",
            TenantExists(_) => "tenant_exists",
            InvalidMetadata(_) => "invalid_metadata",
            MetadataFetch(_) => "metadata_fetch_failed",
            InvalidDomain(_) => "invalid_domain",
            PublicMailDomain(_) => "public_mail_domain",
            DomainClaimed(_) => idbridge_store::CLAIMED_BY_ANOTHER_TENANT,
            InvalidEmail(_) => "invalid_email",
            InvalidWebhookUrl(_) => "invalid_webhook_url",
            NoRoute => "no_route",
            MethodNotAllowed => "method_not_allowed",
            Unavailable(_) => "unavailable",
            Internal(_) => "internal_error",
        }
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        AdminError::Internal(Box::new(err))
    }
}

/// Storage failures the handler did not map to something more specific.
impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            err if err.is_unavailable() => AdminError::Unavailable(err),
            other => AdminError::internal(other),
        }
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
                AdminError::Unavailable(_) => self.to_string(),
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
