//! The link's landing page: the guide to follow, and where each step stands (what
//! idbridge has seen from the identity provider so far).

use std::sync::Arc;

use crate::web::Query;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use idbridge_store::{PageRequest, SignInEvent};
use serde::Deserialize;

use super::page::{Chrome, PortalError, choose_guide, ok};
use super::visit::{self, Visitor};
use super::{Site, provisioning};
use crate::AppState;
use idbridge_app::connections::{self, SamlConnectionView};
use idbridge_app::domains;
use idbridge_app::setup_links::Provider;
use idbridge_app::views::{DomainView, List};

use crate::web::console::page::when;

/// The last sign-in idbridge saw, in a sentence.
pub struct LastSignIn {
    pub success: bool,
    pub test: bool,
    pub when: String,
    pub email: String,
    /// The machine-readable reason and its sentence, on failure.
    pub reason: String,
    pub detail: String,
}

impl LastSignIn {
    fn new(event: SignInEvent) -> Self {
        Self {
            success: event.success,
            test: event.test,
            when: when(event.occurred_at),
            email: event.email.unwrap_or_default(),
            reason: event.reason.unwrap_or_default(),
            detail: event.detail.unwrap_or_default(),
        }
    }
}

/// The newest entry of the tenant's sign-in log.
pub async fn last_sign_in(
    state: &AppState,
    visitor: &Visitor,
) -> Result<Option<LastSignIn>, PortalError> {
    let newest = state
        .app
        .store
        .list_sign_ins(visitor.tenant.id, PageRequest::first(1))
        .await
        .map_err(crate::AdminError::from)?;
    Ok(newest.items.into_iter().next().map(LastSignIn::new))
}

pub struct GuideChoice {
    pub id: &'static str,
    pub name: &'static str,
    pub chosen: bool,
}

#[derive(Template)]
#[template(path = "portal/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    title: &'static str,
    guides: Vec<GuideChoice>,
    sso_connected: bool,
    idp_entity_id: String,
    last_sign_in: Option<LastSignIn>,
    active_tokens: usize,
    /// When the IdP last used a SCIM token (e.g. Entra's "Test Connection").
    scim_last_used: Option<String>,
    domains_total: usize,
    domains_verified: usize,
}

#[derive(Debug, Default, Deserialize)]
pub struct OpenQuery {
    token: Option<String>,
    guide: Option<String>,
}

/// `/setup?token=…` opens the link; `/setup` shows the overview of an open visit.
pub async fn open_or_show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Query(query): Query<OpenQuery>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    if let Some(raw) = &query.token {
        return Ok(visit::open(&state, &site, raw).await);
    }
    // A page to read: nothing it does is audited, so no address is needed.
    let unspecified = std::net::IpAddr::from([0, 0, 0, 0]);
    let visitor = match visit::current_visitor(&state, &site, &headers, unspecified).await {
        Ok(visitor) => visitor,
        Err(e) => return Ok(e.into_response()),
    };
    let guide = choose_guide(query.guide.as_deref(), &visitor);
    let chrome = Chrome::new(&site, &visitor, guide, "overview");
    let saml = SamlConnectionView::new(
        &state.app,
        &connections::get(&state.app, visitor.tenant.clone()).await?,
    );
    let slug = visitor.tenant.slug.as_str();
    let tokens = provisioning::tokens(&state, slug).await?;
    // OpenID Connect connections count as single sign-on too.
    let oidc_issuers: Vec<String> = idbridge_app::idp_connections::list(&state.app, slug)
        .await?
        .into_iter()
        .filter_map(|c| c.issuer)
        .collect();
    let domains = List::from_page(
        domains::list(&state.app, slug, PageRequest::first(100)).await?,
        DomainView::from,
    );
    let page = OverviewPage {
        title: "Set up sign-in and provisioning",
        guides: Provider::ALL
            .into_iter()
            .map(|p| GuideChoice {
                id: p.as_str(),
                name: p
                    .vendor_name()
                    .unwrap_or("Another SAML 2.0 / SCIM 2.0 provider"),
                chosen: p == guide,
            })
            .collect(),
        sso_connected: saml.configured || !oidc_issuers.is_empty(),
        idp_entity_id: saml
            .idp_entity_id
            .or_else(|| oidc_issuers.first().cloned())
            .unwrap_or_default(),
        last_sign_in: last_sign_in(&state, &visitor).await?,
        active_tokens: tokens.iter().filter(|t| t.active).count(),
        scim_last_used: tokens
            .iter()
            .filter(|t| t.active)
            .filter_map(|t| t.last_used_at)
            .max()
            .map(when),
        domains_total: domains.data.len(),
        domains_verified: domains.data.iter().filter(|d| d.verified).count(),
        chrome,
    };
    ok(&page)
}
