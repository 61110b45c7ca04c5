//! The vendor's brand as files: the accent stylesheet (`/setup/brand.css`) and the
//! logo (`/setup/brand/logo`), both from the portal's own origin, so the pages'
//! `style-src 'self'` and `img-src 'self'` allow them with no inline style. Their
//! addresses carry a version (the colour, the image's hash), so they are cached for
//! good and a change is a new address.

use crate::web::Query;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::page::PortalError;
use crate::AppState;

const FOREVER: &str = "public, max-age=31536000, immutable";

/// `?v=`: the version a page asked for. Only the current one is answered (and
/// cached for good): any other would put today's file in caches under an address a
/// later colour or logo will have.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct Version {
    v: Option<String>,
}

pub(super) async fn stylesheet(
    State(state): State<AppState>,
    Query(version): Query<Version>,
) -> Result<Response, PortalError> {
    let brand = idbridge_app::branding::brand(&state.app).await?;
    let (Some(css), Some(current)) = (brand.stylesheet(), brand.style_version()) else {
        return Err(PortalError::NotFound);
    };
    if version.v.as_deref() != Some(current.as_str()) {
        return Err(PortalError::NotFound);
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, FOREVER),
        ],
        css,
    )
        .into_response())
}

pub(super) async fn logo(
    State(state): State<AppState>,
    Query(version): Query<Version>,
) -> Result<Response, PortalError> {
    let Some(logo) = idbridge_app::branding::logo(&state.app).await? else {
        return Err(PortalError::NotFound);
    };
    if version.v.as_deref() != Some(logo.meta.hash.as_str()) {
        return Err(PortalError::NotFound);
    }
    let content_type = HeaderValue::from_str(&logo.meta.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let mut response = (StatusCode::OK, logo.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(FOREVER));
    Ok(response)
}
