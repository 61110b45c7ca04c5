//! The tenant admin's setup portal at `/setup`: what a tenant's IT admin opens from
//! a setup link the operator sent, with no idbridge account, to connect the
//! tenant's identity provider step by step (single sign-on, provisioning, domains),
//! guided in the words of Microsoft Entra ID's, Okta's or a generic SAML/SCIM
//! console.
//!
//! - The link (`/setup?token=idb_setup_…`) is exchanged at once for an `HttpOnly`,
//!   `SameSite=Lax` cookie holding the same token, and the browser is sent to the
//!   clean `/setup`, so the token leaves the address bar; the answers at the
//!   token's address say `Referrer-Policy: no-referrer`, so it never leaves in a
//!   `Referer` either.
//! - Every request looks the token's digest up again (`visit.rs`): revoking or
//!   expiring the link ends every portal visit opened with it at once, and the
//!   tenant comes only from the link, never from the request, so a link of one
//!   tenant cannot name another.
//! - Every form carries a token derived from the link token and an `Origin` of the
//!   public URL, checked in one place for every POST (the console's CSRF rules).
//! - Handlers are thin: they call the same service functions as the admin API and
//!   the console, so the portal validates exactly as they do.

mod brand;
mod domains;
mod finish;
mod oidc;
mod overview;
mod page;
mod provisioning;
mod sso;
mod visit;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use page::{BrandChrome, PortalError};

use crate::{ADMIN_BODY_LIMIT, AppState};

/// Where the portal lives, derived once from the public URL.
#[derive(Debug, Clone)]
pub struct Site {
    /// The public URL's path prefix followed by `/setup`.
    pub base: String,
    /// Where the console's stylesheet and script are served (the portal uses the
    /// same ones; they need no session).
    pub assets: String,
    /// `scheme://host[:port]` of the public URL: what `Origin` must say.
    pub origin: String,
    /// The public URL is https: the cookie is `Secure` and `__Host-` prefixed.
    pub secure: bool,
}

impl Site {
    pub fn new(public_url: &idbridge_app::PublicUrl) -> Self {
        let console = crate::web::console::Site::new(public_url);
        let prefix = console
            .base
            .strip_suffix("/admin")
            .unwrap_or_default()
            .to_owned();
        Self {
            base: format!("{prefix}/setup"),
            assets: format!("{}/static", console.base),
            origin: console.origin,
            secure: console.secure,
        }
    }

    pub fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.base)
    }

    /// The public URL's path prefix (empty at the root).
    pub fn prefix(&self) -> &str {
        self.base.strip_suffix("/setup").unwrap_or_default()
    }
}

/// The portal's routes, relative to `/setup`.
pub fn router(state: &AppState) -> Router<AppState> {
    let site = Arc::new(Site::new(&state.app.config.public_url));
    let with_link = Router::new()
        .route("/sso", get(sso::show).post(sso::save))
        .route("/sso/test", post(sso::test))
        .route("/oidc", get(oidc::show).post(oidc::add))
        .route("/oidc/{id}/test", post(oidc::test))
        .route("/oidc/{id}/secret", post(oidc::replace_secret))
        .route("/oidc/{id}/remove", post(oidc::remove))
        .route("/provisioning", get(provisioning::show))
        .route("/provisioning/tokens", post(provisioning::generate))
        .route(
            "/provisioning/tokens/{id}/revoke",
            post(provisioning::revoke),
        )
        .route("/domains", get(domains::show).post(domains::add))
        .route("/domains/{domain}/verify", post(domains::verify))
        .route("/domains/{domain}/remove", post(domains::remove))
        .route("/finish", post(finish::finish))
        .route("/done", get(finish::done))
        .route("/leave", post(visit::leave))
        .route_layer(from_fn_with_state(state.clone(), visit::require_link));
    Router::new()
        // The link itself, and the overview it leads to.
        .route("/", get(overview::open_or_show))
        // The vendor's brand: public, cached for good (the version is in the URL).
        .route("/brand.css", get(brand::stylesheet))
        .route("/brand/logo", get(brand::logo))
        .merge(with_link)
        .fallback(|| async { PortalError::NotFound })
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .layer(from_fn(scope_assets))
        .layer(Extension(site))
        .layer(from_fn(security_headers))
}

/// Error pages are made far from any handler; they find the stylesheet here.
async fn scope_assets(
    Extension(site): Extension<Arc<Site>>,
    request: Request,
    next: Next,
) -> Response {
    page::ASSETS
        .scope(site.assets.clone(), next.run(request))
        .await
}

/// The console's page headers. The referrer policy is `same-origin`, not
/// `no-referrer`: under `no-referrer` a browser sends `Origin: null` with a form
/// post, and the origin check refuses it. No page that renders carries the link's
/// token in its address (opening the link redirects at once, and answers that do
/// render there say `no-referrer` themselves: [`visit::open`]).
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    crate::web::console::set_page_headers(response.headers_mut(), "same-origin");
    response
}

/// A 303 to a portal path (after a form, so a reload does not post it again).
fn see_other(site: &Site, rest: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, site.path(rest))]).into_response()
}
