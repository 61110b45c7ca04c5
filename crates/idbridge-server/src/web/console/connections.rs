//! A tenant's connections: every IdP it signs in with (its SAML connection and its
//! OpenID Connect ones), which domains each serves, which is the default; adding an
//! OpenID Connect connection, changing, testing and removing one.

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idbridge_app::idp_connections::{self, ConnectionChange, ConnectionView};
use idbridge_app::tenants;
use serde::Deserialize;
use serde_json::json;

use super::auth::Signed;
use super::page::{Chrome, ConsoleError, Notice, ok, render, when};
use super::{Site, see_other};
use crate::AppState;
use crate::error::AdminError;

pub struct ConnectionRow {
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    pub domains: String,
    pub default: bool,
    pub issuer: String,
    pub client_id: String,
    pub has_secret: bool,
    pub redirect_uri: String,
    pub acs_url: String,
    pub created_at: String,
}

impl From<ConnectionView> for ConnectionRow {
    fn from(c: ConnectionView) -> Self {
        Self {
            id: c.id.to_string(),
            kind: c.kind,
            name: c.name,
            domains: c.domains.join(", "),
            default: c.default,
            issuer: c.issuer.unwrap_or_default(),
            client_id: c.client_id.unwrap_or_default(),
            has_secret: c.has_client_secret.unwrap_or(false),
            redirect_uri: c.redirect_uri.unwrap_or_default(),
            acs_url: c.acs_url.unwrap_or_default(),
            created_at: when(c.created_at),
        }
    }
}

/// What the "add" form had, to show it again after a refusal (never the secret).
#[derive(Debug, Default, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    domains: String,
    #[serde(default)]
    default: Option<String>,
}

#[derive(Template)]
#[template(path = "console/connections.html")]
struct ConnectionsPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    connections: Vec<ConnectionRow>,
    redirect_uri: String,
    form: AddForm,
    test_login_url: Option<String>,
}

async fn page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    notice: Notice,
) -> Result<ConnectionsPage, ConsoleError> {
    let tenant = tenants::find(&state.app, slug).await?;
    let connections = idp_connections::list(&state.app, slug).await?;
    Ok(ConnectionsPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: format!("{} · Connections", tenant.name),
        notice,
        tab: "connections",
        redirect_uri: state.app.config.public_url.oidc_callback_url(&tenant.slug),
        slug: tenant.slug.to_string(),
        connections: connections.into_iter().map(ConnectionRow::from).collect(),
        form: AddForm::default(),
        test_login_url: None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, ConsoleError> {
    // Fixed messages chosen by a code, so a link cannot make the page say anything.
    let notice = match query.done.as_deref() {
        Some("added") => Notice::Success(
            "Connection added: the issuer's discovery document and keys were fetched and checked."
                .into(),
        ),
        Some("changed") => Notice::Success("Connection changed.".into()),
        Some("removed") => Notice::Success("Connection removed.".into()),
        _ => Notice::None,
    };
    ok(&page(&state, &site, &signed, &slug, notice).await?)
}

/// Refusals the operator can act on are shown on the page, with the form as it
/// was (the secret is not shown again); the rest are errors.
async fn refused(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    error: AdminError,
    mut form: AddForm,
) -> Result<Response, ConsoleError> {
    let status = error.status();
    if status.is_server_error() || status == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let mut page = page(state, site, signed, slug, Notice::Error(error.to_string())).await?;
    form.client_secret.clear();
    page.form = form;
    render(status, &page)
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
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<AddForm>,
) -> Result<Response, ConsoleError> {
    let mut body = json!({
        "type": "oidc",
        "issuer": form.issuer.trim(),
        "client_id": form.client_id.trim(),
        "domains": domain_list(&form.domains),
        "default": form.default.is_some(),
    });
    if !form.name.trim().is_empty() {
        body["name"] = json!(form.name.trim());
    }
    if !form.client_secret.is_empty() {
        body["client_secret"] = json!(form.client_secret);
    }
    match idp_connections::create(&state.app, &slug, body, &signed.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/tenants/{slug}/connections?done=added"),
        )),
        Err(e) => refused(&state, &site, &signed, &slug, e, form).await,
    }
}

/// The "add a SAML connection" form.
#[derive(Debug, Default, Deserialize)]
pub struct AddSamlForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    metadata_url: String,
    #[serde(default)]
    metadata_xml: String,
    #[serde(default)]
    domains: String,
}

pub async fn add_saml(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<AddSamlForm>,
) -> Result<Response, ConsoleError> {
    let (xml, url) =
        idbridge_app::connections::metadata_from_form(&form.metadata_url, &form.metadata_xml, None);
    let mut body = json!({
        "type": "saml",
        "domains": domain_list(&form.domains),
        "idp_metadata_xml": xml,
        "idp_metadata_url": url,
    });
    if !form.name.trim().is_empty() {
        body["name"] = json!(form.name.trim());
    }
    match idp_connections::create(&state.app, &slug, body, &signed.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/tenants/{slug}/connections?done=added"),
        )),
        Err(e) => refused(&state, &site, &signed, &slug, e, AddForm::default()).await,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    domains: String,
    #[serde(default)]
    default: Option<String>,
    /// Empty: keep the stored secret.
    #[serde(default)]
    client_secret: String,
}

pub async fn change(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<ChangeForm>,
) -> Result<Response, ConsoleError> {
    let change = ConnectionChange {
        name: Some(form.name.clone()),
        domains: Some(domain_list(&form.domains)),
        default: Some(form.default.is_some()),
        client_secret: (!form.client_secret.is_empty()).then(|| Some(form.client_secret.clone())),
        ..ConnectionChange::default()
    };
    match idp_connections::update(&state.app, &slug, &id, change, &signed.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/tenants/{slug}/connections?done=changed"),
        )),
        Err(e) => refused(&state, &site, &signed, &slug, e, AddForm::default()).await,
    }
}

pub async fn test(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    match idp_connections::start_test(
        &state.app,
        &slug,
        &id,
        idbridge_app::sign_in::TestFrom::Console,
    )
    .await
    .map_err(AdminError::from)
    {
        Ok(started) => {
            let mut page = page(
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
        Err(e) => refused(&state, &site, &signed, &slug, e, AddForm::default()).await,
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    idp_connections::delete(&state.app, &slug, &id, &signed.audit).await?;
    Ok(see_other(
        &site,
        &format!("/tenants/{slug}/connections?done=removed"),
    ))
}
