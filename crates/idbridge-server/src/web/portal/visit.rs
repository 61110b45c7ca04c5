//! A visit to the portal: the setup link's token in a cookie, looked up on every
//! request.
//!
//! The cookie holds the link's own token rather than a session of its own, so the
//! link's state in the database is the only state: revoke or expire the link and
//! the next request is refused, on every process. It is `SameSite=Lax` (not
//! `Strict`): the link arrives by email or chat, so the first page is a cross-site
//! navigation, and a `Strict` cookie set by its answer would be withheld from the
//! redirect that follows. Lax cookies still never ride a cross-site POST, and every
//! POST also needs the form token and a same-origin `Origin`.

use std::net::IpAddr;

use crate::extract::request_client;
use idbridge_app::audit::Audit;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use idbridge_core::secret::SetupLinkToken;
use idbridge_store::Tenant;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::page::PortalError;
use super::{Site, see_other};
use crate::AppState;
use crate::web::console::csrf;
use idbridge_app::setup_links::{self, Provider};
use idbridge_app::shown_once::ShownOnceKey;

/// Keeps portal form tokens apart from the console's.
const CSRF_LABEL: &[u8] = b"idbridge setup portal csrf token\0";

/// Whose visit this is, in the request's extensions behind [`require_link`].
#[derive(Debug, Clone)]
pub struct Visitor {
    pub link_id: Uuid,
    /// The link's tenant: the only tenant this visit can read or change.
    pub tenant: Tenant,
    /// The guide the operator chose for the link.
    pub provider: Provider,
    pub expires_at: OffsetDateTime,
    /// Derived from the link token; every form carries it back.
    pub csrf_token: String,
    /// The link and the client address, for the audit log.
    pub audit: Audit,
    /// Derived from the link token: seals what a page shows once.
    pub shown_once: Arc<ShownOnceKey>,
    /// The vendor's brand, with the link's overrides.
    pub brand: idbridge_app::branding::Brand,
}

fn cookie_name(site: &Site) -> &'static str {
    // `__Host-`: only this host, path `/`, Secure; nothing else can set or shadow it.
    if site.secure {
        "__Host-idbridge_setup"
    } else {
        "idbridge_setup"
    }
}

/// `Set-Cookie` for the visit; `max_age` zero deletes it.
fn cookie(site: &Site, value: &str, max_age: Duration) -> HeaderValue {
    let path = if site.secure { "/" } else { site.base.as_str() };
    let secure = if site.secure { "; Secure" } else { "" };
    let value = format!(
        "{}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(site),
        max_age.whole_seconds().max(0)
    );
    // A token's characters and a public-URL path are all valid header bytes.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The link a token names, if it is still usable; refreshes its last use at most
/// once a minute.
async fn visitor_for(
    state: &AppState,
    raw: &str,
    client: IpAddr,
) -> Result<Option<Visitor>, PortalError> {
    let Ok(token) = SetupLinkToken::parse(raw) else {
        return Ok(None);
    };
    let Some(visit) = setup_links::visit(&state.app, &token).await? else {
        return Ok(None);
    };
    Ok(Some(Visitor {
        link_id: visit.link_id,
        provider: visit.provider,
        expires_at: visit.expires_at,
        csrf_token: csrf::derive_token(CSRF_LABEL, token.expose_secret()),
        shown_once: Arc::new(ShownOnceKey::derive(token.expose_secret())),
        audit: Audit::setup_link(visit.link_id, Some(client.to_string())),
        tenant: visit.tenant,
        brand: visit.brand,
    }))
}

/// The visit the request's cookie names.
pub(super) async fn current_visitor(
    state: &AppState,
    site: &Site,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<Visitor, PortalError> {
    let raw = crate::web::console::read_cookie(headers, cookie_name(site));
    match raw {
        None => Err(PortalError::NoLink),
        Some(raw) => visitor_for(state, raw, client)
            .await?
            .ok_or(PortalError::LinkNotValid),
    }
}

/// Opens a link: the token moves into the cookie and the browser to the clean
/// address. A link that is not usable is refused (and any older visit ended).
/// Every answer here is at the token's address, so none sends a referrer.
pub(super) async fn open(state: &AppState, site: &Site, raw: &str) -> Response {
    let mut response = open_link(state, site, raw).await;
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn open_link(state: &AppState, site: &Site, raw: &str) -> Response {
    // Opening a link changes nothing, so no address is recorded for it.
    match visitor_for(state, raw, IpAddr::from([0, 0, 0, 0])).await {
        Ok(Some(visitor)) => {
            tracing::info!(tenant = %visitor.tenant.slug, link_id = %visitor.link_id, "setup link opened");
            let lifetime = visitor.expires_at - state.app.clock.now();
            let mut response = see_other(site, "");
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie(site, raw, lifetime));
            response
        }
        Ok(None) => {
            tracing::info!("setup link refused: unknown, expired or revoked");
            ended(site, PortalError::LinkNotValid)
        }
        Err(e) => e.into_response(),
    }
}

/// A refusal that also deletes the cookie, so the browser stops sending it.
fn ended(site: &Site, error: PortalError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie(site, "", Duration::ZERO));
    response
}

/// Lets requests of a usable link through with [`Visitor`] in their extensions,
/// after checking origin and form token on every POST; refuses everyone else.
pub async fn require_link(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(site) = request.extensions().get::<Arc<Site>>().cloned() else {
        return PortalError::NotFound.into_response();
    };
    let client = request_client(
        request.extensions(),
        request.headers(),
        &state.config.trusted_proxies,
    );
    let visitor = match current_visitor(&state, &site, request.headers(), client).await {
        Ok(visitor) => visitor,
        Err(e @ PortalError::LinkNotValid) => return ended(&site, e),
        Err(e) => return e.into_response(),
    };
    let mut request = if matches!(*request.method(), Method::GET | Method::HEAD) {
        request
    } else {
        if !csrf::is_same_origin(&site.origin, request.headers()) {
            return PortalError::Forbidden("the request did not come from a page of this portal")
                .into_response();
        }
        match csrf::with_checked_form_token(request, &visitor.csrf_token).await {
            Ok(request) => request,
            Err(csrf::FormRefused::TooLarge) => {
                tracing::warn!(link_id = %visitor.link_id, "setup portal form refused: too large");
                return PortalError::TooLarge.into_response();
            }
            Err(csrf::FormRefused::Token) => {
                let why = csrf::FormRefused::TOKEN_MESSAGE;
                tracing::warn!(link_id = %visitor.link_id, "setup portal form refused: {why}");
                return PortalError::Forbidden(why).into_response();
            }
        }
    };
    request.extensions_mut().insert(visitor);
    next.run(request).await
}

/// "Leave": ends this browser's visit (the link itself still works until it
/// expires or is revoked).
pub async fn leave(Extension(site): Extension<Arc<Site>>) -> Response {
    ended(&site, PortalError::Left)
}
