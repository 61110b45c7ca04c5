//! The vendor's brand (`/branding`): the app's name, accent colour, support contact
//! and return URL the setup portal, the sign-in pages and the invitation e-mail
//! show, and the logo (`/branding/logo`, the image itself as the body).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use idbridge_app::branding::{self, BrandingView, PutBranding};

use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson};

#[utoipa::path(
    get, path = "/branding", tag = "branding",
    responses((status = 200, description = "The branding (every field null: idbridge's own look)", body = BrandingView))
)]
pub async fn get_branding(State(state): State<AppState>) -> Result<Json<BrandingView>, AdminError> {
    Ok(Json(branding::branding(&state.app).await?))
}

#[utoipa::path(
    put, path = "/branding", tag = "branding",
    request_body = PutBranding,
    responses(
        (status = 200, description = "The settings, replaced (a field left out is cleared; the logo is kept)", body = BrandingView),
        (status = 400, description = "A field is not valid (the message says which); nothing was changed", body = ErrorBody),
    )
)]
pub async fn put_branding(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminJson(input): AdminJson<PutBranding>,
) -> Result<Json<BrandingView>, AdminError> {
    Ok(Json(
        branding::set_branding(&state.app, input, &audit).await?,
    ))
}

#[utoipa::path(
    put, path = "/branding/logo", tag = "branding",
    request_body(
        description = "The image itself: PNG, JPEG or WebP (checked by its bytes; never SVG), at most 256 KiB",
        content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp")),
    ),
    responses(
        (status = 200, description = "The logo, replaced", body = BrandingView),
        (status = 400, description = "Not a PNG, JPEG or WebP image, too large, or not the type it was sent as", body = ErrorBody),
    )
)]
pub async fn put_logo(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BrandingView>, AdminError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    Ok(Json(
        branding::set_logo(&state.app, content_type, body.to_vec(), &audit).await?,
    ))
}

#[utoipa::path(
    delete, path = "/branding/logo", tag = "branding",
    responses((status = 200, description = "The logo removed (the app's name shows alone)", body = BrandingView))
)]
pub async fn delete_logo(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
) -> Result<Json<BrandingView>, AdminError> {
    Ok(Json(branding::remove_logo(&state.app, &audit).await?))
}
