//! A tenant's SAML connection: the values the IdP admin copies, the IdP's metadata
//! (URL or pasted XML), the options, certificates with their expiry, and "test
//! connection".

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::auth::Signed;
use super::page::{Chrome, ConsoleError, Notice, ok, render, when, when_opt};
use super::{Site, see_other};
use crate::AppState;
use crate::web::fields::{FieldError, metadata_problem};
use idbridge_app::connections::{self, PutSamlConnection, SamlConnectionView};
use idbridge_app::setup_links::Provider;
use idbridge_app::tenants;

use crate::error::AdminError;

pub struct CertificateRow {
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    pub fingerprint: String,
    pub expires_soon: bool,
}

#[derive(Template)]
#[template(path = "console/saml.html")]
struct SamlPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    saml: SamlConnectionView,
    certificates: Vec<CertificateRow>,
    metadata_fetched_at: String,
    sp_certificate_not_after: String,
    email_attributes: String,
    default_redirect_uri: String,
    /// The test sign-in just started, to open in a new tab.
    test_login_url: Option<String>,
    /// What the metadata form held, kept after a refusal.
    metadata_url: String,
    metadata_xml: String,
    /// A refusal of the metadata, said beside the field it came from.
    field_error: Option<FieldError>,
}

impl SamlPage {
    /// The error of the field `id`, if it has one (for the template).
    fn error_of(&self, id: &str) -> Option<&str> {
        self.field_error
            .as_ref()
            .filter(|e| e.field == id)
            .map(|e| e.text.as_str())
    }
}

async fn saml_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    notice: Notice,
) -> Result<SamlPage, ConsoleError> {
    let tenant = tenants::find(&state.app, slug).await?;
    let saml = SamlConnectionView::new(
        &state.app,
        &connections::get(&state.app, tenant.clone()).await?,
    );
    Ok(SamlPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: format!("{} · SAML", tenant.name),
        notice,
        tab: "saml",
        slug: tenant.slug.to_string(),
        certificates: saml
            .idp_certificates
            .iter()
            .map(|c| CertificateRow {
                subject: c.subject.clone(),
                not_before: when(c.not_before),
                not_after: when(c.not_after),
                fingerprint: c.sha256_fingerprint.clone(),
                expires_soon: c.expires_soon,
            })
            .collect(),
        metadata_fetched_at: when_opt(saml.idp_metadata_fetched_at),
        sp_certificate_not_after: when_opt(
            saml.sp_encryption_certificate.as_ref().map(|c| c.not_after),
        ),
        email_attributes: saml.email_attributes.join("\n"),
        default_redirect_uri: saml.default_redirect_uri.clone().unwrap_or_default(),
        test_login_url: None,
        metadata_url: saml.idp_metadata_url.clone().unwrap_or_default(),
        metadata_xml: String::new(),
        field_error: None,
        saml,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    saved: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, ConsoleError> {
    let notice = if query.saved.is_some() {
        Notice::Success("SAML connection saved.".into())
    } else {
        Notice::None
    };
    ok(&saml_page(&state, &site, &signed, &slug, notice).await?)
}

/// The connection form. Unticked checkboxes are absent, so each toggle is "present
/// or not"; empty text fields mean "leave as it is".
#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    metadata_url: String,
    #[serde(default)]
    metadata_xml: String,
    want_assertions_signed: Option<String>,
    want_response_signed: Option<String>,
    sign_authn_requests: Option<String>,
    allow_idp_initiated: Option<String>,
    #[serde(default)]
    default_redirect_uri: String,
    #[serde(default)]
    email_attributes: String,
    #[serde(default)]
    clock_skew_seconds: String,
}

pub async fn save(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<SaveForm>,
) -> Result<Response, ConsoleError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let current = state
        .app
        .store
        .saml_connection(tenant.id)
        .await
        .map_err(crate::AdminError::from)?;
    let (idp_metadata_xml, idp_metadata_url) = connections::metadata_from_form(
        &form.metadata_url,
        &form.metadata_xml,
        current.as_ref().and_then(|c| c.metadata_url.as_deref()),
    );
    let email_attributes: Vec<String> = form
        .email_attributes
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let defaults: Vec<String> = idbridge_saml::claims::EMAIL_ATTRIBUTES
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    let clock_skew_seconds = match form.clock_skew_seconds.trim() {
        "" => None,
        raw => Some(raw.parse::<u32>().map_err(|_| {
            crate::AdminError::InvalidRequest(format!(
                "clock skew {raw:?} is not a whole number of seconds"
            ))
        })?),
    };
    let input = PutSamlConnection {
        idp_metadata_xml,
        idp_metadata_url,
        want_assertions_signed: Some(form.want_assertions_signed.is_some()),
        want_response_signed: Some(form.want_response_signed.is_some()),
        sign_authn_requests: Some(form.sign_authn_requests.is_some()),
        allow_idp_initiated: Some(form.allow_idp_initiated.is_some()),
        default_redirect_uri: {
            let uri = form.default_redirect_uri.trim();
            (!uri.is_empty()).then(|| uri.to_owned())
        },
        // The default order shown back unchanged stays "the default".
        email_attributes: Some(if email_attributes == defaults {
            Vec::new()
        } else {
            email_attributes
        }),
        default_role: None,
        clock_skew_seconds,
    };
    let saved = connections::put(&state.app, &slug, input, &signed.audit).await;
    // A refusal of the metadata is said beside the field it came from, in the same
    // words the setup portal uses.
    let field_error = saved.as_ref().err().and_then(|e| {
        metadata_problem(e, Provider::Generic).map(|text| FieldError {
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
        Ok(_) => Ok(see_other(&site, &format!("/tenants/{slug}/saml?saved=1"))),
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let notice = match &field_error {
                Some(_) => {
                    Notice::Error("The metadata could not be used: see its field below.".into())
                }
                None => Notice::Error(e.to_string()),
            };
            let mut page = saml_page(&state, &site, &signed, &slug, notice).await?;
            page.metadata_url = form.metadata_url;
            page.metadata_xml = form.metadata_xml;
            page.field_error = field_error;
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// Starts a test sign-in and shows the link to open; the IdP's answer lands on the
/// SAML test result page.
pub async fn test(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
) -> Result<Response, ConsoleError> {
    match connections::start_test(&state.app, &slug, idbridge_app::sign_in::TestFrom::Console).await
    {
        Ok(started) => {
            let mut page = saml_page(
                &state,
                &site,
                &signed,
                &slug,
                Notice::Success(format!(
                    "Test sign-in ready until {}. Open the link, sign in at the identity \
                     provider, and the result page shows what it sent.",
                    when(started.expires_at)
                )),
            )
            .await?;
            page.test_login_url = Some(started.login_url);
            ok(&page)
        }
        Err(idbridge_app::Error::NotFound("SAML connection")) => {
            let page = saml_page(
                &state,
                &site,
                &signed,
                &slug,
                Notice::Error(
                    "Connect the identity provider first: save its metadata below.".into(),
                ),
            )
            .await?;
            render(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e.into()),
    }
}
