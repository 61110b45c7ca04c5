//! The operator console at `/admin`: server-rendered pages (askama templates under
//! `templates/console/`) over the same admin operations as the API and the CLI
//! (the `idbridge_app` operations), so validation is identical everywhere.
//!
//! - Sign-in with an operator's email and password (argon2id, `idbridge_app::operators`); the
//!   session is a random token in an `HttpOnly`, `SameSite=Strict` cookie, stored only
//!   as a digest in the database, so every process knows every session (`auth.rs`).
//! - Every state-changing request carries the session's CSRF token in a form field
//!   and an `Origin` (or `Referer`) of the public URL (`csrf.rs`).
//! - Every answer carries `Cache-Control: no-store`, a CSP that allows no inline
//!   script or style, `X-Frame-Options: DENY` and `Referrer-Policy: same-origin`.
//! - Handlers are thin: parse the form, call the service, render or redirect.

mod audit;
mod auth;
mod branding;
mod connections;
pub(crate) mod csrf;
mod directory;
pub(crate) mod domains;
mod multipart;
pub(crate) mod page;
mod roles;
mod saml;
pub(crate) mod scim;
mod setup_links;
mod tenants;
mod users;
mod webhooks;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

pub(crate) use auth::read_cookie;
pub use idbridge_app::operators::{ABSOLUTE_LIFETIME, IDLE_TIMEOUT};
pub use page::ConsoleError;

use crate::{ADMIN_BODY_LIMIT, AppState};

/// Where the console lives and how its cookies are set, derived once from the public
/// URL.
#[derive(Debug, Clone)]
pub struct Site {
    /// Path of the console's root as the browser sees it: the public URL's path
    /// prefix followed by `/admin`.
    pub base: String,
    /// `scheme://host[:port]` of the public URL: what `Origin` must say.
    pub origin: String,
    /// The public URL is https: cookies are `Secure` and `__Host-` prefixed.
    pub secure: bool,
}

impl Site {
    pub fn new(public_url: &idbridge_app::PublicUrl) -> Self {
        // PublicUrl was parsed at start-up; it always parses again.
        let parsed = url::Url::parse(public_url.as_str()).ok();
        let prefix = parsed
            .as_ref()
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Self {
            base: format!("{prefix}/admin"),
            origin: parsed
                .as_ref()
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default(),
            secure: parsed.is_some_and(|u| u.scheme() == "https"),
        }
    }

    pub fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.base)
    }
}

/// The console's routes, relative to `/admin`.
pub fn router(state: &AppState) -> Router<AppState> {
    let site = Arc::new(Site::new(&state.app.config.public_url));
    let signed_in = Router::new()
        .route("/", get(home))
        .route("/logout", post(auth::logout))
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route("/tenants/{slug}", get(tenants::show).post(tenants::update))
        .route("/tenants/{slug}/saml", get(saml::show).post(saml::save))
        .route("/tenants/{slug}/saml/test", post(saml::test))
        .route(
            "/tenants/{slug}/connections",
            get(connections::show).post(connections::add),
        )
        .route(
            "/tenants/{slug}/connections/saml",
            post(connections::add_saml),
        )
        .route(
            "/tenants/{slug}/connections/{id}",
            post(connections::change),
        )
        .route(
            "/tenants/{slug}/connections/{id}/test",
            post(connections::test),
        )
        .route(
            "/tenants/{slug}/connections/{id}/remove",
            post(connections::remove),
        )
        .route(
            "/tenants/{slug}/users",
            get(directory::users).post(users::create),
        )
        .route("/tenants/{slug}/users/{id}/delete", post(users::delete))
        .route(
            "/tenants/{slug}/users/{id}/{action}",
            post(users::set_active),
        )
        .route("/audit-log", get(audit::show))
        .route("/tenants/{slug}/groups", get(directory::groups))
        .route("/tenants/{slug}/groups/{id}", get(directory::group))
        .route("/tenants/{slug}/sign-ins", get(directory::sign_ins))
        .route("/tenants/{slug}/provisioning", get(directory::provisioning))
        .route("/tenants/{slug}/scim", get(scim::show))
        .route("/tenants/{slug}/scim/tokens", post(scim::generate))
        .route(
            "/tenants/{slug}/scim/tokens/{id}/revoke",
            post(scim::revoke),
        )
        .route(
            "/tenants/{slug}/domains",
            get(domains::show).post(domains::add),
        )
        .route(
            "/tenants/{slug}/domains/{domain}/verify",
            post(domains::verify),
        )
        .route(
            "/tenants/{slug}/domains/{domain}/remove",
            post(domains::remove),
        )
        .route("/tenants/{slug}/roles", get(roles::show))
        .route("/tenants/{slug}/roles/mappings", post(roles::save_mappings))
        .route(
            "/tenants/{slug}/roles/default",
            post(roles::save_default_role),
        )
        .route(
            "/tenants/{slug}/roles/app-roles",
            post(roles::save_app_roles),
        )
        .route(
            "/tenants/{slug}/setup-links",
            get(setup_links::show).post(setup_links::create),
        )
        .route(
            "/tenants/{slug}/setup-links/{id}/revoke",
            post(setup_links::revoke),
        )
        .route("/branding", get(branding::show).post(branding::save))
        .route("/branding/logo", post(branding::upload_logo))
        .route("/branding/logo/remove", post(branding::remove_logo))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::show).post(webhooks::update))
        .route("/webhooks/{id}/rotate-secret", post(webhooks::rotate))
        .route("/webhooks/{id}/replay", post(webhooks::replay))
        .route(
            "/webhooks/{id}/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
        // Layers run outside in: the session is found first, then the CSRF token
        // checked against it.
        .route_layer(from_fn(csrf::require_csrf_token))
        .route_layer(from_fn_with_state(state.clone(), auth::require_session));
    Router::new()
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/static/console.css", get(stylesheet))
        .route("/static/console.js", get(script))
        .merge(signed_in)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .layer(from_fn(scope_error_base))
        .layer(Extension(site))
        .layer(from_fn(security_headers))
}

/// Error pages are made far from any handler; they find the console's path here.
async fn scope_error_base(
    Extension(site): Extension<Arc<Site>>,
    request: Request,
    next: Next,
) -> Response {
    page::ERROR_BASE
        .scope(site.base.clone(), next.run(request))
        .await
}

async fn home(Extension(site): Extension<Arc<Site>>) -> Redirect {
    Redirect::to(&site.path("/tenants"))
}

async fn not_found() -> ConsoleError {
    ConsoleError::NotFound
}

/// The one stylesheet and the one script, embedded in the binary.
const STYLESHEET: &str = include_str!("../../../static/console.css");
const SCRIPT: &str = include_str!("../../../static/console.js");

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// Scripts, styles and images only from the console itself (no inline code at all),
/// forms only to it, and no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    set_page_headers(response.headers_mut(), "same-origin");
    response
}

/// The headers of every HTML answer of the console and the setup portal: never
/// cached, no inline code, never framed, and the given referrer policy unless the
/// handler chose a stricter one for this answer (the portal's answers at a link's
/// address send none at all).
pub(crate) fn set_page_headers(headers: &mut HeaderMap, referrer_policy: &'static str) {
    // A handler may say an answer is cacheable (the brand's versioned files).
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static(referrer_policy));
}

/// A 303 to a console path (after a form, so a reload does not post it again).
pub(crate) fn see_other(site: &Site, rest: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, site.path(rest))]).into_response()
}
