//! Step 2, provisioning: the SCIM Tenant URL, a Secret Token generated here and
//! shown once, the app's roles and the mapping that carries them, and the tenant's
//! tokens (revocable).

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use idbridge_store::PageRequest;
use serde::Deserialize;
use uuid::Uuid;

use super::page::{Chrome, GuideForm, PortalError, choose_guide, ok};
use super::visit::Visitor;
use super::{Site, see_other};
use crate::AppState;
use crate::web::Shown;
use crate::web::console::page::Notice;
use crate::web::console::scim::TokenRow;
use idbridge_app::credentials::{self, CreateScimToken};
use idbridge_app::setup_links::Provider;
use idbridge_app::shown_once;
use idbridge_app::views::{List, ScimTokenCreated, ScimTokenView};

/// The tenant's tokens, newest first (a tenant has a handful).
pub async fn tokens(state: &AppState, slug: &str) -> Result<Vec<ScimTokenView>, PortalError> {
    Ok(List::from_page(
        credentials::list_scim_tokens(&state.app, slug, PageRequest::first(100)).await?,
        ScimTokenView::from,
    )
    .data)
}

#[derive(Template)]
#[template(path = "portal/provisioning.html")]
struct ProvisioningPage {
    chrome: Chrome,
    title: &'static str,
    notice: Notice,
    tenant_url: String,
    tokens: Vec<TokenRow>,
    /// The app's role values, highest priority first (what Entra's app roles'
    /// "Value" must say).
    app_roles: Vec<String>,
    default_role: String,
    /// The token just generated: on this one answer only.
    new_token: Option<String>,
}

async fn provisioning_page(
    state: &AppState,
    site: &Site,
    visitor: &Visitor,
    guide: Provider,
    notice: Notice,
) -> Result<ProvisioningPage, PortalError> {
    let slug = visitor.tenant.slug.as_str();
    Ok(ProvisioningPage {
        chrome: Chrome::new(site, visitor, guide, "provisioning"),
        title: "Provisioning",
        notice,
        tenant_url: state
            .app
            .config
            .public_url
            .scim_base_url(&visitor.tenant.slug),
        tokens: tokens(state, slug)
            .await?
            .into_iter()
            .map(TokenRow::new)
            .collect(),
        app_roles: state
            .app
            .store
            .app_roles()
            .await
            .map_err(crate::AdminError::from)?,
        default_role: visitor.tenant.default_role.clone().unwrap_or_default(),
        new_token: None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    guide: Option<String>,
    revoked: Option<String>,
    /// The token just generated, kept for this page (post/redirect/get).
    shown: Option<Uuid>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(query.guide.as_deref(), &visitor);
    let shown = Shown::take(&state.app, &visitor.shown_once, query.shown).await?;
    let notice = shown.notice(
        "Secret Token generated. Copy it now: it is shown only this once.",
        if query.revoked.is_some() {
            Notice::Success("Token revoked. It stops working at once.".into())
        } else {
            Notice::None
        },
    );
    let mut page = provisioning_page(&state, &site, &visitor, guide, notice).await?;
    page.new_token = shown.secret();
    ok(&page)
}

pub async fn generate(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<GuideForm>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(Some(&form.guide), &visitor);
    let description = match guide.vendor_name() {
        Some(name) => format!("{name} provisioning (setup portal)"),
        None => "Provisioning (setup portal)".to_owned(),
    };
    let issued = credentials::issue_scim_token(
        &state.app,
        visitor.tenant.slug.as_str(),
        CreateScimToken {
            description: Some(description),
        },
        &visitor.audit,
    )
    .await?;
    let created = ScimTokenCreated::new(issued, &state.app.config.public_url);
    tracing::info!(tenant = %visitor.tenant.slug, link_id = %visitor.link_id, "setup portal generated a SCIM token");
    // Post/redirect/get: the page that shows the token is a GET, so a reload shows
    // it no more and generates no second one.
    let shown = shown_once::keep(&state.app, &visitor.shown_once, &created.token).await?;
    Ok(see_other(
        &site,
        &format!("/provisioning?guide={}&shown={shown}", guide.as_str()),
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<Uuid>,
    Form(form): Form<GuideForm>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(Some(&form.guide), &visitor);
    // Scoped by the link's tenant: another tenant's token id is "not found".
    credentials::revoke_scim_token(&state.app, visitor.tenant.slug.as_str(), id, &visitor.audit)
        .await?;
    tracing::info!(tenant = %visitor.tenant.slug, link_id = %visitor.link_id, token_id = %id, "setup portal revoked a SCIM token");
    Ok(see_other(
        &site,
        &format!("/provisioning?guide={}&revoked=1", guide.as_str()),
    ))
}
