//! Extractors whose rejections are admin-API errors, so a malformed body, path or
//! query gets the same `{"error","message"}` shape as every other refusal.

use axum::body::Bytes;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use http::request::Parts;
use idbridge_app::audit::Audit;
use idbridge_app::credentials::AdminPrincipal;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::client_address::{TrustedProxies, client_address};
use crate::error::AdminError;

/// A JSON body read as axum's `Json` reads it, refused when a string or member
/// name in it holds U+0000 (`\u0000`): no admin API field takes one, and PostgreSQL
/// stores none in text (such a body would have been a 500 there).
#[derive(Debug)]
pub struct AdminJson<T>(pub T);

impl<S, T> FromRequest<S> for AdminJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = body_bytes(Request::from_parts(parts.clone(), body), state).await?;
        Ok(Self(json_of(parts, bytes, state).await?))
    }
}

/// A buffered body read as axum's `Json` reads it (so content-type checks and
/// error classification are those of every JSON endpoint), then refused if it
/// holds U+0000.
async fn json_of<S: Send + Sync, T: DeserializeOwned>(
    parts: Parts,
    bytes: Bytes,
    state: &S,
) -> Result<T, AdminError> {
    let request = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
    let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
    if idbridge_core::json::text_holds_nul(&bytes) {
        return Err(AdminError::InvalidRequest(
            "the body holds U+0000 (NUL), which no field may".to_owned(),
        ));
    }
    Ok(value)
}

/// The request's whole body, within the admin API's limit.
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AdminError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::PayloadTooLarge {
                limit: crate::ADMIN_BODY_LIMIT,
            }
        } else {
            AdminError::InvalidRequest(rejection.body_text())
        }
    })
}

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AdminError))]
pub struct AdminPath<T>(pub T);

/// A query read as axum's `Query` reads it, refused when a parameter holds
/// U+0000 (`%00`), as [`AdminJson`] refuses a body holding it.
#[derive(Debug)]
pub struct AdminQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AdminQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        if urlencoded_holds_nul(parts.uri.query().unwrap_or("").as_bytes()) {
            return Err(AdminError::InvalidRequest(
                "the query holds U+0000 (NUL), which no parameter may".to_owned(),
            ));
        }
        Ok(Self(value))
    }
}

/// Whether `application/x-www-form-urlencoded` text (a form body, a query)
/// decodes to text holding U+0000: `%00` (a literal `%` is always `%25`, so no
/// other text reads so), or a raw NUL byte.
pub(crate) fn urlencoded_holds_nul(text: &[u8]) -> bool {
    text.contains(&0) || text.windows(3).any(|w| w == b"%00")
}

/// A JSON body that may be absent altogether: an empty body is `None`, anything
/// else must be JSON of the expected shape. (`curl -X POST` with no `-d` sends an
/// empty body, and for endpoints whose every field is optional that should work.)
#[derive(Debug)]
pub struct OptionalAdminJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalAdminJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = body_bytes(Request::from_parts(parts.clone(), body), state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        Ok(Self(Some(json_of(parts, bytes, state).await?)))
    }
}

/// Who is making an admin API change, and from where: the admin key the request
/// authenticated with and the client's address (through `--trusted-proxies`), for
/// the audit log.
#[derive(Debug, Clone)]
pub struct AdminAudit(pub Audit);

impl FromRequestParts<AppState> for AdminAudit {
    type Rejection = AdminError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // `require_admin` runs before every admin handler and leaves the principal.
        let principal = parts
            .extensions
            .get::<AdminPrincipal>()
            .copied()
            .ok_or(AdminError::MissingCredentials)?;
        let client = request_client(
            &parts.extensions,
            &parts.headers,
            &state.config.trusted_proxies,
        );
        Ok(Self(principal.audit(Some(client.to_string()))))
    }
}

/// The client's address: the peer, or what `trusted` proxies say of it. `serve`
/// always provides the peer; a router driven without it (an in-process test) gets
/// the unspecified address.
pub fn request_client(
    extensions: &http::Extensions,
    headers: &http::HeaderMap,
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    let forwarded_for: Vec<&str> = if trusted.is_empty() {
        Vec::new()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            // A value that is not text is garbage, which stops the walk there.
            .map(|value| value.to_str().unwrap_or(""))
            .collect()
    };
    client_address(peer, &forwarded_for, trusted)
}
