//! Cross-site request forgery protection for every state-changing console request:
//!
//! 1. `Origin` (or, lacking it, `Referer`) must be the public URL's origin. Browsers
//!    send `Origin` on every cross-origin and every same-origin POST, so a request with
//!    neither is not from a page of ours and is refused.
//! 2. The form field `csrf_token` must equal the session's token, compared in
//!    constant time. The token is a keyed digest of the session token, so it is
//!    unguessable, bound to the session, and never stored.
//!
//! Both are checked for every non-GET route behind the session middleware in one
//! place, so no handler can forget them; a refusal changes nothing and answers 403.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_core::secret::SessionToken;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Site;
use super::auth::Signed;
use super::page::ConsoleError;
use crate::ADMIN_BODY_LIMIT;

/// The name of the hidden field every console form carries.
pub const FIELD: &str = "csrf_token";

/// The session's CSRF token: SHA-256 over a purpose label and the session token.
pub fn token_for_session(session: &SessionToken) -> String {
    derive_token(b"idbridge console csrf token\0", session.expose_secret())
}

/// A form token derived from a secret the browser holds only in an `HttpOnly`
/// cookie: a page can show it, a cross-site page cannot learn it. The label keeps
/// tokens of different purposes apart.
pub(crate) fn derive_token(label: &[u8], secret: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(label);
    digest.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// Constant-time equality; an empty expected value matches nothing.
pub fn tokens_match(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// `Origin` (or, lacking it, `Referer`) names `origin`.
pub(crate) fn is_same_origin(origin: &str, headers: &HeaderMap) -> bool {
    let header_str = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match (header_str(header::ORIGIN), header_str(header::REFERER)) {
        (Some(sent), _) => sent == origin,
        (None, Some(referer)) => referer
            .strip_prefix(origin)
            .is_some_and(|rest| rest.starts_with('/')),
        (None, None) => false,
    }
}

/// The request comes from a page of this console's origin.
pub fn check_origin(site: &Site, headers: &HeaderMap) -> Result<(), ConsoleError> {
    if is_same_origin(&site.origin, headers) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(
            "the request did not come from a page of this console",
        ))
    }
}

/// The first value of `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Middleware: lets safe methods through, checks origin and token on the rest.
pub async fn require_csrf_token(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let (Some(site), Some(signed)) = (
        request.extensions().get::<std::sync::Arc<Site>>().cloned(),
        request.extensions().get::<Signed>().cloned(),
    ) else {
        return ConsoleError::Forbidden("no console session").into_response();
    };
    if let Err(refused) = check_origin(&site, request.headers()) {
        return refused.into_response();
    }
    match with_checked_form_token(request, &signed.csrf_token).await {
        Ok(request) => next.run(request).await,
        Err(FormRefused::TooLarge) => {
            tracing::warn!("console form refused: larger than {ADMIN_BODY_LIMIT} bytes");
            ConsoleError::TooLarge.into_response()
        }
        Err(FormRefused::Token) => {
            tracing::warn!("console form refused: {}", FormRefused::TOKEN_MESSAGE);
            ConsoleError::Forbidden(FormRefused::TOKEN_MESSAGE).into_response()
        }
    }
}

/// Why a form was not let through to its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormRefused {
    /// Over [`ADMIN_BODY_LIMIT`]: said as such (413), not as a token problem.
    TooLarge,
    /// No `csrf_token`, or not this visitor's (403).
    Token,
}

impl FormRefused {
    pub(crate) const TOKEN_MESSAGE: &'static str =
        "the form's security token is missing or out of date";
}

/// Reads the form body, checks its `csrf_token` against `expected` in constant
/// time, and gives the request back whole for the handler.
pub(crate) async fn with_checked_form_token(
    request: Request,
    expected: &str,
) -> Result<Request, FormRefused> {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, ADMIN_BODY_LIMIT).await else {
        return Err(FormRefused::TooLarge);
    };
    // The one file upload (the brand's logo) is multipart; every other form is not.
    let multipart = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let presented = match multipart {
        Some(content_type) => super::multipart::parse(content_type, bytes.clone())
            .await
            .and_then(|fields| fields.into_iter().find(|p| p.name == FIELD))
            .and_then(|p| String::from_utf8(p.bytes.to_vec()).ok())
            .unwrap_or_default(),
        None => form_field(&bytes, FIELD).unwrap_or_default(),
    };
    if !tokens_match(&presented, expected) {
        return Err(FormRefused::Token);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site::new(&idbridge_app::PublicUrl::parse("https://id.example.com/idp").expect("url"))
    }

    #[test]
    fn origin_must_be_the_public_urls() {
        let check = |pairs: &[(header::HeaderName, &str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(name.clone(), value.parse().expect("value"));
            }
            check_origin(&site(), &headers).is_ok()
        };
        assert!(check(&[(header::ORIGIN, "https://id.example.com")]));
        assert!(!check(&[(header::ORIGIN, "https://evil.example")]));
        assert!(!check(&[(header::ORIGIN, "null")]));
        assert!(!check(&[(header::ORIGIN, "http://id.example.com")]));
        assert!(check(&[(
            header::REFERER,
            "https://id.example.com/idp/admin/tenants"
        )]));
        assert!(!check(&[(
            header::REFERER,
            "https://id.example.com.evil.example/"
        )]));
        assert!(!check(&[]));
        // Origin wins over a matching Referer.
        assert!(!check(&[
            (header::ORIGIN, "https://evil.example"),
            (header::REFERER, "https://id.example.com/idp/admin"),
        ]));
    }

    #[test]
    fn tokens_are_bound_to_the_session_and_compared_whole() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        let token = token_for_session(&a);
        assert_eq!(token, token_for_session(&a));
        assert_ne!(token, token_for_session(&b));
        assert!(tokens_match(&token, &token));
        assert!(!tokens_match(&token[..10], &token));
        assert!(!tokens_match("", ""));
        assert_eq!(site().base, "/idp/admin");
        assert_eq!(site().origin, "https://id.example.com");
    }

    #[test]
    fn the_token_is_read_from_the_form() {
        assert_eq!(
            form_field(b"a=1&csrf_token=x%2By&csrf_token=z", FIELD).as_deref(),
            Some("x+y")
        );
        assert_eq!(form_field(b"a=1", FIELD), None);
    }
}
