//! The pages a browser sees when a SAML flow cannot go on: a status, a
//! machine-readable reason, a sentence for a human, and the request id that ties the
//! page to the server's log. Never a stack trace, never the SAML message itself.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_app::App;
use idbridge_app::sign_in::{SignInRefusal, TestFrom, TestRefused, TestResult};
use idbridge_core::TenantSlug;
use uuid::Uuid;

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

    /// The page, in the app's brand (its name, logo, colour, support contact and
    /// the way back to it), carrying the request id taken from `headers`.
    pub async fn page(&self, app: &App, headers: &HeaderMap) -> Response {
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        // A 503 is the database's refusal: asking it for the brand would only wait out
        // the pool's timeout a second time. A brand that cannot be read otherwise
        // leaves the page in idbridge's look too.
        let brand = if self.status == StatusCode::SERVICE_UNAVAILABLE {
            idbridge_app::branding::Brand::default()
        } else {
            idbridge_app::branding::brand(app).await.unwrap_or_default()
        };
        self.render(&app.config.public_url, &brand, request_id)
    }

    /// The page in idbridge's own look, read from nothing: for refusals that must
    /// cost no database read (the rate limiter's).
    pub fn page_unbranded(
        &self,
        public_url: &idbridge_app::PublicUrl,
        headers: &HeaderMap,
    ) -> Response {
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        self.render(
            public_url,
            &idbridge_app::branding::Brand::default(),
            request_id,
        )
    }

    fn render(
        &self,
        public_url: &idbridge_app::PublicUrl,
        brand: &idbridge_app::branding::Brand,
        request_id: &str,
    ) -> Response {
        let site = crate::web::portal::Site::new(public_url);
        let page = ErrorPage {
            message: &self.message,
            reason: self.reason,
            request_id,
            stylesheet: public_url.join("/admin/static/console.css"),
            brand: crate::web::portal::BrandChrome::new(brand, &site),
        };
        test_page(html(self.status, &page))
    }
}

/// [`FlowError::page`] of a refusal.
pub async fn refusal_page(app: &App, refusal: &SignInRefusal, headers: &HeaderMap) -> Response {
    FlowError::from(refusal).page(app, headers).await
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
    stylesheet: String,
    brand: crate::web::portal::BrandChrome,
}

#[derive(Template)]
#[template(path = "flow/test_result.html")]
struct TestResultPage<'a> {
    result: &'a TestResult,
    chrome: TestChrome,
}

#[derive(Template)]
#[template(path = "flow/test_refused.html")]
struct TestRefusedPage<'a> {
    refused: &'a TestRefused,
    request_id: &'a str,
    chrome: TestChrome,
}

/// What the two "test connection" pages share: the console's stylesheet and script,
/// and the way back to where the test was started.
struct TestChrome {
    stylesheet: String,
    script: String,
    /// The setup portal's or the console's page of the connection; `None` for a
    /// test started through the admin API.
    back: Option<String>,
    /// The app's name ("idbridge" with no branding) and its logo and accent.
    brand: crate::web::portal::BrandChrome,
    /// The page's title and heading.
    heading: &'static str,
    tenant: String,
}

impl TestChrome {
    async fn new(
        app: &App,
        heading: &'static str,
        from: TestFrom,
        tenant: &TenantSlug,
        connection: Option<Uuid>,
    ) -> Self {
        let url = |path: &str| app.config.public_url.join(path);
        let back = match (from, connection) {
            (TestFrom::Portal, None) => Some(url("/setup/sso")),
            (TestFrom::Portal, Some(_)) => Some(url("/setup/oidc")),
            (TestFrom::Console, None) => Some(url(&format!("/admin/tenants/{tenant}/saml"))),
            (TestFrom::Console, Some(_)) => {
                Some(url(&format!("/admin/tenants/{tenant}/connections")))
            }
            (TestFrom::Api, _) => None,
        };
        // A brand that cannot be read now leaves the page in idbridge's look.
        let brand = idbridge_app::branding::brand(app).await.unwrap_or_default();
        let site = crate::web::portal::Site::new(&app.config.public_url);
        Self {
            brand: crate::web::portal::BrandChrome::new(&brand, &site),
            stylesheet: url("/admin/static/console.css"),
            script: url("/admin/static/console.js"),
            back,
            heading,
            tenant: tenant.to_string(),
        }
    }
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
pub async fn test_result_page(app: &App, result: &TestResult) -> Response {
    let chrome = TestChrome::new(
        app,
        "Test connection succeeded",
        result.from,
        &result.tenant,
        result.connection,
    )
    .await;
    test_page(html(StatusCode::OK, &TestResultPage { result, chrome }))
}

/// What an admin sees when "test connection" is refused: why, and what to change
/// in the IdP's console. The status is the refusal's, as for any sign-in.
pub async fn test_refused_page(app: &App, refused: &TestRefused, headers: &HeaderMap) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let chrome = TestChrome::new(
        app,
        "Test connection failed",
        refused.from,
        &refused.tenant,
        refused.connection,
    )
    .await;
    let status = refusal_status(&refused.refusal);
    let page = TestRefusedPage {
        refused,
        request_id,
        chrome,
    };
    test_page(html(status, &page))
}

/// The console's page headers (its CSP, no framing, nosniff, never cached), and no
/// referrer: an OIDC test's page (and a refusal's) is drawn at the callback address,
/// code in it.
fn test_page(mut response: Response) -> Response {
    crate::web::console::set_page_headers(response.headers_mut(), "no-referrer");
    response
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
