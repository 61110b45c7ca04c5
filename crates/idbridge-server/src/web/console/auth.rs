//! Operator sign-in, the session cookie, and sign-out.
//!
//! A session is a random 256-bit token (`idb_sess_…`) in a cookie; the database holds
//! only its SHA-256 digest (the rules are [`idbridge_app::operators`]: an absolute
//! end and an idle limit). Signing in always makes a new token (and ends the one the
//! browser had), so a token planted before sign-in is worthless.

use std::net::IpAddr;
use std::sync::Arc;

use crate::web::Form;
use askama::Template;
use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_app::audit::Audit;
use idbridge_app::operators::{self, ABSOLUTE_LIFETIME, ActiveSession};
use idbridge_app::shown_once::ShownOnceKey;
use idbridge_core::secret::{SessionToken, random_bytes};
use secrecy::SecretString;
use serde::Deserialize;
use time::Duration;

use super::page::{Chrome, ConsoleError, render};
use super::{Site, csrf, see_other};
use crate::AppState;
use crate::extract::request_client;

/// The sign-in form's own CSRF cookie lives this long (the time to type a password).
const LOGIN_FORM_LIFETIME: Duration = Duration::hours(1);

/// The signed-in operator, in the request's extensions behind [`require_session`].
#[derive(Debug, Clone)]
pub struct Signed {
    pub operator_email: String,
    /// The operator and the client address, for the audit log.
    pub audit: Audit,
    /// Derived from the session token; every form carries it back.
    pub csrf_token: String,
    /// Derived from the session token: seals what a page shows once.
    pub shown_once: Arc<ShownOnceKey>,
    session: ActiveSession,
}

fn session_cookie_name(site: &Site) -> &'static str {
    // `__Host-` makes the browser refuse the cookie unless it is Secure, has no
    // Domain and has Path=/, so no sibling host or path can set or shadow it.
    if site.secure {
        "__Host-idbridge_console"
    } else {
        "idbridge_console"
    }
}

fn login_cookie_name(site: &Site) -> &'static str {
    if site.secure {
        "__Host-idbridge_console_login"
    } else {
        "idbridge_console_login"
    }
}

/// `Set-Cookie` for one of the console's cookies; `max_age` zero deletes it.
fn cookie(site: &Site, name: &str, value: &str, max_age: Duration) -> HeaderValue {
    // `__Host-` requires Path=/ (a browser drops it otherwise); without it the
    // cookie is sent to the console's paths only.
    let path = if site.secure { "/" } else { site.base.as_str() };
    let secure = if site.secure { "; Secure" } else { "" };
    let value = format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age.whole_seconds()
    );
    // Names, base64url values and a public-URL path are all valid header bytes.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of the cookie `name`, from every `Cookie` header.
pub(crate) fn read_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The session the request's cookie names, if it is still going; refreshes its
/// last-seen time (at most once a minute, so most requests only read).
async fn current_session(
    state: &AppState,
    site: &Site,
    headers: &HeaderMap,
    client: IpAddr,
) -> Result<Option<Signed>, ConsoleError> {
    let Some(raw) = read_cookie(headers, session_cookie_name(site)) else {
        return Ok(None);
    };
    let Ok(token) = SessionToken::parse(raw) else {
        return Ok(None);
    };
    let Some(session) = operators::session(&state.app, &token)
        .await
        .map_err(crate::AdminError::from)?
    else {
        return Ok(None);
    };
    Ok(Some(Signed {
        operator_email: session.operator_email.clone(),
        audit: Audit::operator(&session.operator_email, Some(client.to_string())),
        csrf_token: csrf::token_for_session(&token),
        shown_once: Arc::new(ShownOnceKey::derive(token.expose_secret())),
        session,
    }))
}

/// Lets signed-in requests through with [`Signed`] in their extensions; sends
/// everyone else to the sign-in page (a POST changes nothing on the way).
pub async fn require_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(site) = request.extensions().get::<Arc<Site>>().cloned() else {
        return ConsoleError::NotFound.into_response();
    };
    let client = request_client(
        request.extensions(),
        request.headers(),
        &state.config.trusted_proxies,
    );
    match current_session(&state, &site, request.headers(), client).await {
        Ok(Some(signed)) => {
            request.extensions_mut().insert(signed);
            next.run(request).await
        }
        Ok(None) => see_other(&site, "/login"),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    chrome: Chrome,
    title: &'static str,
    email: String,
    error: Option<&'static str>,
}

/// A fresh sign-in form with its CSRF cookie (double submit: the form field must
/// equal the cookie, which another site can neither read nor set).
fn login_page(
    site: &Site,
    status: StatusCode,
    email: String,
    error: Option<&'static str>,
) -> Result<Response, ConsoleError> {
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let page = LoginPage {
        chrome: Chrome {
            base: site.base.clone(),
            operator: None,
            csrf_token: token.clone(),
        },
        title: "Sign in",
        email,
        error,
    };
    let mut response = render(status, &page)?;
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(site, login_cookie_name(site), &token, LOGIN_FORM_LIFETIME),
    );
    Ok(response)
}

pub async fn login_form(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let signed_in = current_session(&state, &site, &headers, IpAddr::from([0, 0, 0, 0]))
        .await?
        .is_some();
    if signed_in {
        return Ok(see_other(&site, "/tenants"));
    }
    login_page(&site, StatusCode::OK, String::new(), None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    /// Moved into a `SecretString` at once; the form type has no `Debug`.
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

const WRONG_CREDENTIALS: &str = "The email address or the password is not right.";

pub async fn login(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    csrf::check_origin(&site, &headers)?;
    let expected = read_cookie(&headers, login_cookie_name(&site)).unwrap_or("");
    if !csrf::tokens_match(&form.csrf_token, expected) {
        return Err(ConsoleError::Forbidden(
            "the sign-in form has expired or did not come from this console",
        ));
    }
    let previous = read_cookie(&headers, session_cookie_name(&site))
        .and_then(|raw| SessionToken::parse(raw).ok());
    let signed_in = operators::sign_in(
        &state.app,
        &form.email,
        SecretString::from(form.password),
        previous.as_ref(),
    )
    .await
    .map_err(crate::AdminError::from)?;
    let Some(token) = signed_in else {
        return login_page(
            &site,
            StatusCode::UNAUTHORIZED,
            form.email.trim().chars().take(254).collect(),
            Some(WRONG_CREDENTIALS),
        );
    };

    let mut response = see_other(&site, "/tenants");
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookie(
            &site,
            session_cookie_name(&site),
            token.expose_secret(),
            ABSOLUTE_LIFETIME,
        ),
    );
    headers.append(
        header::SET_COOKIE,
        cookie(&site, login_cookie_name(&site), "", Duration::ZERO),
    );
    Ok(response)
}

/// Ends the session in the database (so on every process at once) and clears the
/// cookie.
pub async fn logout(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
) -> Result<Response, ConsoleError> {
    operators::sign_out(&state.app, &signed.session)
        .await
        .map_err(crate::AdminError::from)?;
    let mut response = see_other(&site, "/login");
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(&site, session_cookie_name(&site), "", Duration::ZERO),
    );
    Ok(response)
}
