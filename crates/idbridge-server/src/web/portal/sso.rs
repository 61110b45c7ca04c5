//! Step 1, single sign-on: the values to paste into the identity provider, the
//! IdP's metadata to give idbridge, and "test connection".

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::overview::{LastSignIn, last_sign_in};
use super::page::{Chrome, GuideForm, PortalError, choose_guide, ok, render};
use super::visit::Visitor;
use super::{Site, see_other};
use crate::AppState;
use crate::web::fields::{FieldError, metadata_problem};
use idbridge_app::connections::{self, PutSamlConnection, SamlConnectionView};
use idbridge_app::setup_links::Provider;

use crate::error::AdminError;
use crate::web::console::page::{Notice, when};

#[derive(Template)]
#[template(path = "portal/sso.html")]
struct SsoPage {
    chrome: Chrome,
    title: &'static str,
    notice: Notice,
    saml: SamlConnectionView,
    /// The IdP's certificates' soonest expiry.
    certificate_expiry: Option<String>,
    certificate_expires_soon: bool,
    last_sign_in: Option<LastSignIn>,
    /// The test sign-in just started, to open in a new tab.
    test_login_url: Option<String>,
    /// What the metadata form held, kept after a refusal.
    metadata_url: String,
    metadata_xml: String,
    /// A refusal of what was typed into one of the metadata fields, said beside it.
    field_error: Option<FieldError>,
}

impl SsoPage {
    /// The error of the field `id`, if it has one (for the template).
    fn error_of(&self, id: &str) -> Option<&str> {
        self.field_error
            .as_ref()
            .filter(|e| e.field == id)
            .map(|e| e.text.as_str())
    }
}

async fn sso_page(
    state: &AppState,
    site: &Site,
    visitor: &Visitor,
    guide: Provider,
    notice: Notice,
) -> Result<SsoPage, PortalError> {
    let saml = SamlConnectionView::new(
        &state.app,
        &connections::get(&state.app, visitor.tenant.clone()).await?,
    );
    let soonest = saml.idp_certificates.iter().min_by_key(|c| c.not_after);
    Ok(SsoPage {
        chrome: Chrome::new(site, visitor, guide, "sso"),
        title: "Single sign-on",
        notice,
        certificate_expiry: soonest.map(|c| when(c.not_after)),
        certificate_expires_soon: soonest.is_some_and(|c| c.expires_soon),
        last_sign_in: last_sign_in(state, visitor).await?,
        test_login_url: None,
        metadata_url: saml.idp_metadata_url.clone().unwrap_or_default(),
        metadata_xml: String::new(),
        field_error: None,
        saml,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    guide: Option<String>,
    saved: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(query.guide.as_deref(), &visitor);
    let notice = if query.saved.is_some() {
        Notice::Success(
            "Saved: idbridge has the identity provider's metadata. Test the connection below."
                .into(),
        )
    } else {
        Notice::None
    };
    ok(&sso_page(&state, &site, &visitor, guide, notice).await?)
}

/// The metadata form, and the three choices a tenant admin may make (signing
/// requirements and IdP-initiated sign-in); the rest is the operator's.
#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    guide: String,
    #[serde(default)]
    metadata_url: String,
    #[serde(default)]
    metadata_xml: String,
    want_assertions_signed: Option<String>,
    want_response_signed: Option<String>,
    allow_idp_initiated: Option<String>,
}

pub async fn save(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<SaveForm>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(Some(&form.guide), &visitor);
    let slug = visitor.tenant.slug.as_str();
    let current = state
        .app
        .store
        .saml_connection(visitor.tenant.id)
        .await
        .map_err(crate::AdminError::from)?;
    let (idp_metadata_xml, idp_metadata_url) = connections::metadata_from_form(
        &form.metadata_url,
        &form.metadata_xml,
        current.as_ref().and_then(|c| c.metadata_url.as_deref()),
    );
    let input = PutSamlConnection {
        idp_metadata_xml,
        idp_metadata_url,
        want_assertions_signed: Some(form.want_assertions_signed.is_some()),
        want_response_signed: Some(form.want_response_signed.is_some()),
        sign_authn_requests: None,
        allow_idp_initiated: Some(form.allow_idp_initiated.is_some()),
        default_redirect_uri: None,
        email_attributes: None,
        default_role: None,
        clock_skew_seconds: None,
    };
    let saved = connections::put(&state.app, slug, input, &visitor.audit).await;
    // A refusal of the metadata is said beside the field it came from.
    let field_error = saved.as_ref().err().and_then(|e| {
        metadata_problem(e, guide).map(|text| FieldError {
            field: if form.metadata_xml.trim().is_empty() {
                "metadata_url"
            } else {
                "metadata_xml"
            },
            text,
        })
    });
    match saved
        .map(|c| SamlConnectionView::new(&state.app, &c))
        .map_err(AdminError::from)
    {
        Ok(_) => {
            tracing::info!(tenant = %slug, link_id = %visitor.link_id, "setup portal saved the SAML connection");
            Ok(see_other(
                &site,
                &format!("/sso?guide={}&saved=1", guide.as_str()),
            ))
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let notice = match &field_error {
                Some(_) => Notice::Error(
                    "idbridge could not use the metadata: see the field below.".into(),
                ),
                None => Notice::Error(e.to_string()),
            };
            let mut page = sso_page(&state, &site, &visitor, guide, notice).await?;
            page.metadata_url = form.metadata_url;
            page.metadata_xml = form.metadata_xml;
            page.field_error = field_error;
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// Starts a test sign-in and shows the link to open; the IdP's answer lands on the
/// SAML test result page, which shows every claim or the exact refusal.
pub async fn test(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<GuideForm>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(Some(&form.guide), &visitor);
    match connections::start_test(
        &state.app,
        visitor.tenant.slug.as_str(),
        idbridge_app::sign_in::TestFrom::Portal,
    )
    .await
    {
        Ok(started) => {
            let notice = Notice::Success(format!(
                "Test sign-in ready until {}. Open it, sign in at the identity provider, \
                 and the result page shows what it sent.",
                when(started.expires_at)
            ));
            let mut page = sso_page(&state, &site, &visitor, guide, notice).await?;
            page.test_login_url = Some(started.login_url);
            ok(&page)
        }
        Err(idbridge_app::Error::NotFound("SAML connection")) => {
            let notice = Notice::Error(
                "Give idbridge the identity provider's metadata first (step 3 below).".into(),
            );
            let page = sso_page(&state, &site, &visitor, guide, notice).await?;
            render(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e.into()),
    }
}
