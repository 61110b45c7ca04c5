//! Single sign-on with OpenID Connect: the IdP app to create (in the words of
//! Entra ID's, Okta's and Google's consoles), the Redirect URI to register there,
//! the form that makes the connection, and "test connection" for each one.

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idbridge_app::idp_connections::{self, ConnectionView};
use serde::Deserialize;
use serde_json::json;

use super::page::{Chrome, PortalError, choose_guide, ok, render};
use super::visit::Visitor;
use super::{Site, see_other};
use crate::AppState;
use crate::error::AdminError;
use crate::web::console::page::{Notice, when};

/// Whose console the OpenID Connect steps are worded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcGuide {
    Entra,
    Okta,
    Google,
    Generic,
}

impl OidcGuide {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "entra" => Some(Self::Entra),
            "okta" => Some(Self::Okta),
            "google" => Some(Self::Google),
            "generic" => Some(Self::Generic),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entra => "entra",
            Self::Okta => "okta",
            Self::Google => "google",
            Self::Generic => "generic",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Entra => "Microsoft Entra ID (OpenID Connect)",
            Self::Okta => "Okta (OIDC app)",
            Self::Google => "Google Workspace",
            Self::Generic => "Another OpenID provider",
        }
    }

    /// What the issuer looks like at this provider.
    pub fn issuer_example(self) -> &'static str {
        match self {
            Self::Entra => "https://login.microsoftonline.com/{Directory (tenant) ID}/v2.0",
            Self::Okta => "https://{your Okta domain}",
            Self::Google => "https://accounts.google.com",
            Self::Generic => "https://idp.example.com",
        }
    }

    const ALL: [OidcGuide; 4] = [Self::Entra, Self::Okta, Self::Google, Self::Generic];
}

pub struct GuideChoice {
    pub id: &'static str,
    pub name: &'static str,
    pub chosen: bool,
}

pub struct ConnectionRow {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub domains: String,
}

impl From<ConnectionView> for ConnectionRow {
    fn from(c: ConnectionView) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name,
            issuer: c.issuer.unwrap_or_default(),
            domains: c.domains.join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "portal/oidc.html")]
struct OidcPage {
    chrome: Chrome,
    title: &'static str,
    notice: Notice,
    idp: &'static str,
    idp_name: &'static str,
    issuer_example: &'static str,
    guides: Vec<GuideChoice>,
    redirect_uri: String,
    connections: Vec<ConnectionRow>,
    test_login_url: Option<String>,
    form: AddForm,
}

/// What the form held, shown again after a refusal (never the secret).
#[derive(Debug, Default, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    idp: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    domains: String,
}

async fn oidc_page(
    state: &AppState,
    site: &Site,
    visitor: &Visitor,
    idp: OidcGuide,
    notice: Notice,
) -> Result<OidcPage, PortalError> {
    let slug = visitor.tenant.slug.as_str();
    let connections = idp_connections::list(&state.app, slug)
        .await
        .map_err(AdminError::from)?;
    Ok(OidcPage {
        chrome: Chrome::new(site, visitor, choose_guide(None, visitor), "sso"),
        title: "Single sign-on (OpenID Connect)",
        notice,
        idp: idp.as_str(),
        idp_name: idp.name(),
        issuer_example: idp.issuer_example(),
        guides: OidcGuide::ALL
            .iter()
            .map(|g| GuideChoice {
                id: g.as_str(),
                name: g.name(),
                chosen: *g == idp,
            })
            .collect(),
        redirect_uri: state
            .app
            .config
            .public_url
            .oidc_callback_url(&visitor.tenant.slug),
        connections: connections
            .into_iter()
            .filter(|c| c.kind == "oidc")
            .map(ConnectionRow::from)
            .collect(),
        test_login_url: None,
        form: AddForm::default(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    idp: Option<String>,
    saved: Option<String>,
    removed: Option<String>,
}

fn guide_of(raw: Option<&str>) -> OidcGuide {
    raw.and_then(OidcGuide::parse).unwrap_or(OidcGuide::Entra)
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PortalError> {
    let notice = if query.saved.is_some() {
        Notice::Success(
            "Connected: idbridge read the provider's discovery document and keys. Test the connection below."
                .into(),
        )
    } else if query.removed.is_some() {
        Notice::Success("Connection removed: sign-ins no longer go through it.".into())
    } else {
        Notice::None
    };
    let idp = guide_of(query.idp.as_deref());
    ok(&oidc_page(&state, &site, &visitor, idp, notice).await?)
}

fn domain_list(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn add(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Form(mut form): Form<AddForm>,
) -> Result<Response, PortalError> {
    let idp = guide_of(Some(&form.idp));
    let slug = visitor.tenant.slug.as_str();
    let mut body = json!({
        "type": "oidc",
        "name": idp.name(),
        "issuer": form.issuer.trim(),
        "client_id": form.client_id.trim(),
        "domains": domain_list(&form.domains),
    });
    if !form.client_secret.is_empty() {
        body["client_secret"] = json!(form.client_secret);
    }
    match idp_connections::create(&state.app, slug, body, &visitor.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(c) => {
            tracing::info!(tenant = %slug, link_id = %visitor.link_id, connection = %c.id, "setup portal added an OpenID Connect connection");
            Ok(see_other(
                &site,
                &format!("/oidc?idp={}&saved=1", idp.as_str()),
            ))
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let mut page =
                oidc_page(&state, &site, &visitor, idp, Notice::Error(e.to_string())).await?;
            form.client_secret.clear();
            page.form = form;
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TestForm {
    #[serde(default)]
    idp: String,
}

/// Starts a test sign-in through the connection `id` and shows the link to open.
pub async fn test(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> Result<Response, PortalError> {
    let idp = guide_of(Some(&form.idp));
    match idp_connections::start_test(
        &state.app,
        visitor.tenant.slug.as_str(),
        &id,
        idbridge_app::sign_in::TestFrom::Portal,
    )
    .await
    .map_err(AdminError::from)
    {
        Ok(started) => {
            let notice = Notice::Success(format!(
                "Test sign-in ready until {}. Open it, sign in at the identity provider, \
                 and the result page shows what it sent.",
                when(started.expires_at)
            ));
            let mut page = oidc_page(&state, &site, &visitor, idp, notice).await?;
            page.test_login_url = Some(started.login_url);
            ok(&page)
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let page =
                oidc_page(&state, &site, &visitor, idp, Notice::Error(e.to_string())).await?;
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// The portal's own OpenID Connect connection `id` of the visitor's tenant, or not
/// found (the portal changes only those; SAML is the SSO step's).
async fn own_oidc(state: &AppState, visitor: &Visitor, id: &str) -> Result<(), PortalError> {
    let c = idp_connections::get(&state.app, visitor.tenant.slug.as_str(), id)
        .await
        .map_err(AdminError::from)?;
    if c.kind == "oidc" {
        Ok(())
    } else {
        Err(PortalError::NotFound)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SecretForm {
    #[serde(default)]
    idp: String,
    #[serde(default)]
    client_secret: String,
}

/// A new client secret (Entra ID's expire): replaces the sealed one.
pub async fn replace_secret(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    Form(form): Form<SecretForm>,
) -> Result<Response, PortalError> {
    let idp = guide_of(Some(&form.idp));
    own_oidc(&state, &visitor, &id).await?;
    let change = idp_connections::ConnectionChange {
        client_secret: Some(Some(form.client_secret)),
        ..idp_connections::ConnectionChange::default()
    };
    match idp_connections::update(
        &state.app,
        visitor.tenant.slug.as_str(),
        &id,
        change,
        &visitor.audit,
    )
    .await
    .map_err(AdminError::from)
    {
        Ok(_) => {
            tracing::info!(tenant = %visitor.tenant.slug, link_id = %visitor.link_id, connection = %id, "setup portal replaced a client secret");
            let page = oidc_page(
                &state,
                &site,
                &visitor,
                idp,
                Notice::Success(
                    "The new client secret is stored; the old one is no longer used.".into(),
                ),
            )
            .await?;
            ok(&page)
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let page =
                oidc_page(&state, &site, &visitor, idp, Notice::Error(e.to_string())).await?;
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes the connection; sign-ins no longer go through it.
pub async fn remove(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> Result<Response, PortalError> {
    let idp = guide_of(Some(&form.idp));
    own_oidc(&state, &visitor, &id).await?;
    idp_connections::delete(
        &state.app,
        visitor.tenant.slug.as_str(),
        &id,
        &visitor.audit,
    )
    .await
    .map_err(AdminError::from)?;
    tracing::info!(tenant = %visitor.tenant.slug, link_id = %visitor.link_id, connection = %id, "setup portal removed a connection");
    Ok(see_other(
        &site,
        &format!("/oidc?idp={}&removed=1", idp.as_str()),
    ))
}
