//! The pages a browser sees when a SAML flow cannot go on: a status, a
//! machine-readable reason, a sentence for a human, and the request id that ties the
//! page to the server's log. Never a stack trace, never the SAML message itself.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_app::sign_in::{SignInRefusal, TestResult};

/// A refusal in a browser flow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct FlowError {
    pub status: StatusCode,
    /// Stable, `snake_case`: what the sign-in log records (`tenant_not_found`, …).
    pub reason: &'static str,
    pub message: String,
}

impl FlowError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }

    /// The page, carrying the request id taken from `headers`.
    pub fn page(&self, headers: &HeaderMap) -> Response {
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let page = ErrorPage {
            message: &self.message,
            reason: self.reason,
            request_id,
        };
        html(self.status, &page)
    }
}

impl From<&SignInRefusal> for FlowError {
    fn from(refusal: &SignInRefusal) -> Self {
        FlowError::new(
            refusal_status(refusal),
            refusal.reason(),
            refusal.to_string(),
        )
    }
}

#[derive(Template)]
#[template(path = "flow/error.html")]
struct ErrorPage<'a> {
    message: &'a str,
    reason: &'a str,
    request_id: &'a str,
}

#[derive(Template)]
#[template(path = "flow/test_result.html")]
struct TestResultPage<'a> {
    result: &'a TestResult,
}

#[derive(Template)]
#[template(path = "flow/saml_post.html")]
struct SamlPostPage<'a> {
    form: &'a idbridge_app::sign_in::SamlPostForm,
}

/// The HTTP-POST binding's page: a form that posts the AuthnRequest to the IdP,
/// submitted by a script from this origin (no inline script), with a button when
/// scripts are off.
pub fn saml_post_page(form: &idbridge_app::sign_in::SamlPostForm) -> Response {
    let mut response = html(StatusCode::OK, &SamlPostPage { form });
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; form-action https: http:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// The script that submits [`saml_post_page`]'s form.
pub const SAML_POST_SCRIPT: &str = "document.getElementById('saml-post').submit();\n";

/// What an admin sees at the end of "test connection".
pub fn test_result_page(result: &TestResult) -> Response {
    html(StatusCode::OK, &TestResultPage { result })
}

/// A flow page: HTML, never cached (it may name a user or a reference).
fn html(status: StatusCode, page: &impl Template) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "rendering a sign-in page failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The status each refusal is answered with.
pub fn refusal_status(refusal: &SignInRefusal) -> StatusCode {
    match refusal {
        SignInRefusal::TenantNotFound
        | SignInRefusal::SamlNotConfigured
        | SignInRefusal::UnknownConnection => StatusCode::NOT_FOUND,
        SignInRefusal::IdpSsoUrlMissing
        | SignInRefusal::IdpSsoUrlInvalid(_)
        | SignInRefusal::NoRedirectUri
        | SignInRefusal::RedirectUriUnregistered
        | SignInRefusal::RedirectUriInvalid(_) => StatusCode::CONFLICT,
        SignInRefusal::Response {
            reason: "signature_invalid" | "signature_missing",
            ..
        }
        | SignInRefusal::IdpInitiatedRefused
        | SignInRefusal::EmailDomainNotVerified(_)
        | SignInRefusal::UserInactive
        | SignInRefusal::UserNotProvisioned
        | SignInRefusal::UserDeleted
        | SignInRefusal::IdpError { .. }
        | SignInRefusal::EmailNotVerifiedByIdp
        | SignInRefusal::HostedDomainNotVerified(_) => StatusCode::FORBIDDEN,
        SignInRefusal::UserBusy | SignInRefusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        SignInRefusal::ProviderUnreachable(_) | SignInRefusal::TokenRefused(_) => {
            StatusCode::BAD_GATEWAY
        }
        SignInRefusal::SecretUnavailable => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}
