//! The vendor's brand (`/admin/branding`): the settings form, the logo upload (a
//! multipart form: the console's one file upload) and a preview of the portal's
//! top bar. Each form is one service call ([`idbridge_app::branding`]), so a refused
//! form changes nothing and the rules are the API's.

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::auth::Signed;
use super::multipart;
use super::page::{Chrome, ConsoleError, Notice, ok, render};
use super::{Site, see_other};
use crate::AppState;
use crate::error::AdminError;
use crate::web::portal::BrandChrome;
use idbridge_app::branding::{self, PutBranding};

#[derive(Template)]
#[template(path = "console/branding.html")]
struct BrandingPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    form: FormValues,
    /// The preview: the portal's top bar as it would look.
    brand: BrandChrome,
    /// Black or white: the text colour on the accent.
    accent_text: String,
    has_logo: bool,
}

/// What the settings form holds (kept after a refusal).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FormValues {
    #[serde(default)]
    app_name: String,
    #[serde(default)]
    accent_color: String,
    #[serde(default)]
    support_email: String,
    #[serde(default)]
    support_url: String,
    #[serde(default)]
    return_url: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

async fn branding_page(
    state: &AppState,
    signed: &Signed,
    site: &Site,
    notice: Notice,
    kept: Option<FormValues>,
) -> Result<BrandingPage, ConsoleError> {
    let view = branding::branding(&state.app)
        .await
        .map_err(AdminError::from)?;
    let brand = branding::brand(&state.app)
        .await
        .map_err(AdminError::from)?;
    let portal = crate::web::portal::Site::new(&state.app.config.public_url);
    let form = kept.unwrap_or_else(|| FormValues {
        app_name: view.app_name.clone().unwrap_or_default(),
        accent_color: view.accent_color.clone().unwrap_or_default(),
        support_email: view.support_email.clone().unwrap_or_default(),
        support_url: view.support_url.clone().unwrap_or_default(),
        return_url: view.return_url.clone().unwrap_or_default(),
    });
    Ok(BrandingPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: "Branding".into(),
        notice,
        form,
        brand: BrandChrome::new(&brand, &portal),
        accent_text: view.accent_text_color.unwrap_or_default(),
        has_logo: view.logo.is_some(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, ConsoleError> {
    let notice = match query.done.as_deref() {
        Some("saved") => Notice::Success("Branding saved. The portal shows it now.".into()),
        Some("logo") => Notice::Success("Logo uploaded.".into()),
        Some("logo-removed") => Notice::Success("Logo removed.".into()),
        _ => Notice::None,
    };
    ok(&branding_page(&state, &signed, &site, notice, None).await?)
}

async fn refused(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    error: AdminError,
    kept: Option<FormValues>,
) -> Result<Response, ConsoleError> {
    if error.status() != StatusCode::BAD_REQUEST {
        return Err(error.into());
    }
    let page = branding_page(state, signed, site, Notice::Error(error.to_string()), kept).await?;
    render(StatusCode::BAD_REQUEST, &page)
}

pub async fn save(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<FormValues>,
) -> Result<Response, ConsoleError> {
    let input = PutBranding {
        app_name: Some(form.app_name.clone()),
        accent_color: Some(form.accent_color.clone()),
        support_email: Some(form.support_email.clone()),
        support_url: Some(form.support_url.clone()),
        return_url: Some(form.return_url.clone()),
    };
    match branding::set_branding(&state.app, input, &signed.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(&site, "/branding?done=saved")),
        Err(e) => refused(&state, &site, &signed, e, Some(form)).await,
    }
}

/// The logo form: `multipart/form-data` with the file in `logo`.
pub async fn upload_logo(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let file = multipart::parse(content_type, body)
        .await
        .and_then(|parts| parts.into_iter().find(|p| p.name == "logo"))
        .filter(|p| !p.bytes.is_empty());
    let Some(file) = file else {
        let e = AdminError::InvalidRequest("choose a PNG, JPEG or WebP image to upload".into());
        return refused(&state, &site, &signed, e, None).await;
    };
    // The bytes decide the type; a browser's guess (often octet-stream) does not.
    match branding::set_logo(&state.app, None, file.bytes.to_vec(), &signed.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(&site, "/branding?done=logo")),
        Err(e) => refused(&state, &site, &signed, e, None).await,
    }
}

pub async fn remove_logo(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
) -> Result<Response, ConsoleError> {
    branding::remove_logo(&state.app, &signed.audit)
        .await
        .map_err(AdminError::from)?;
    Ok(see_other(&site, "/branding?done=logo-removed"))
}
