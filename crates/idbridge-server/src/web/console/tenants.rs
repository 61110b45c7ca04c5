//! Tenants: the searchable list with the create form, and each tenant's overview
//! with its settings form.

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idbridge_core::roles::RolePolicy;
use serde::Deserialize;

use super::auth::Signed;
use super::page::{Chrome, ConsoleError, Notice, ok, page_after, render, when};
use super::{Site, see_other};
use crate::AppState;
use crate::error::AdminError;
use idbridge_app::tenants::{self, CreateTenant, UpdateTenant};
use idbridge_app::views::{List, TenantDetail, TenantView, encode_cursor};

/// Tenants per page of the list.
const PAGE_SIZE: u32 = 25;
/// Longest search text taken (a slug is at most 63, a name 200 characters).
const MAX_QUERY_CHARS: usize = 200;

pub struct TenantRow {
    pub slug: String,
    pub name: String,
    pub sso_required: bool,
    pub jit_enabled: bool,
    pub created_at: String,
}

impl From<TenantView> for TenantRow {
    fn from(t: TenantView) -> Self {
        Self {
            slug: t.slug,
            name: t.name,
            sso_required: t.sso_required,
            jit_enabled: t.jit_enabled,
            created_at: when(t.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage {
    chrome: Chrome,
    title: &'static str,
    notice: Notice,
    query: String,
    tenants: Vec<TenantRow>,
    /// The link to the next page, with the search kept.
    next_page: Option<String>,
    /// What the create form holds (kept after a refusal).
    new_slug: String,
    new_name: String,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    cursor: Option<String>,
}

async fn list_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    query: &ListQuery,
    notice: Notice,
    new_slug: String,
    new_name: String,
) -> Result<TenantsPage, ConsoleError> {
    let needle: String = query.q.trim().chars().take(MAX_QUERY_CHARS).collect();
    let page = page_after(PAGE_SIZE, query.cursor.clone())?;
    let (tenants, next) = if needle.is_empty() {
        let list = List::from_page(tenants::list(&state.app, page).await?, TenantView::from);
        (list.data, list.next_cursor)
    } else {
        let found = state
            .app
            .store
            .search_tenants(&needle, page)
            .await
            .map_err(AdminError::from)?;
        (
            found.items.into_iter().map(TenantView::from).collect(),
            found.next_after.map(encode_cursor),
        )
    };
    let next_page = next.map(|cursor| {
        let mut query = vec![("cursor", cursor)];
        if !needle.is_empty() {
            query.push(("q", needle.clone()));
        }
        format!(
            "{}?{}",
            site.path("/tenants"),
            serde_urlencoded::to_string(query).unwrap_or_default()
        )
    });
    Ok(TenantsPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: "Tenants",
        notice,
        query: needle,
        tenants: tenants.into_iter().map(TenantRow::from).collect(),
        next_page,
        new_slug,
        new_name,
    })
}

pub async fn list(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    ok(&list_page(
        &state,
        &site,
        &signed,
        &query,
        Notice::None,
        String::new(),
        String::new(),
    )
    .await?)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<CreateForm>,
) -> Result<Response, ConsoleError> {
    let input = CreateTenant {
        slug: form.slug.trim().to_owned(),
        name: form.name.clone(),
        sso_required: None,
        jit_enabled: None,
        require_verified_domains: None,
        default_role: None,
        role_policy: None,
        invite_new_users: None,
    };
    match tenants::create(&state.app, input, &signed.audit)
        .await
        .map(|o| TenantDetail::new(o, &state.app.config.public_url))
        .map_err(AdminError::from)
    {
        Ok(created) => Ok(see_other(
            &site,
            &format!("/tenants/{}?created=1", created.tenant.slug),
        )),
        Err(e) if !e.status().is_server_error() && e.status() != StatusCode::NOT_FOUND => {
            let status = e.status();
            let query = ListQuery {
                q: String::new(),
                cursor: None,
            };
            let page = list_page(
                &state,
                &site,
                &signed,
                &query,
                Notice::Error(e.to_string()),
                form.slug,
                form.name,
            )
            .await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "console/tenant.html")]
struct TenantPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    tenant: TenantDetail,
    created_at: String,
    updated_at: String,
    default_role: String,
    policy_all: bool,
    /// "Invite IT admin": the guides a new setup link may open with (value, label).
    invite_providers: Vec<(&'static str, &'static str)>,
    /// Whether this idbridge sends mail ("Invite IT admin" offers an address then).
    can_email: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    created: Option<String>,
    saved: Option<String>,
}

async fn tenant_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    notice: Notice,
) -> Result<TenantPage, ConsoleError> {
    let tenant = TenantDetail::new(
        tenants::get(&state.app, slug).await?,
        &state.app.config.public_url,
    );
    Ok(TenantPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: tenant.tenant.name.clone(),
        notice,
        tab: "overview",
        slug: tenant.tenant.slug.clone(),
        created_at: when(tenant.tenant.created_at),
        updated_at: when(tenant.tenant.updated_at),
        default_role: tenant.tenant.default_role.clone().unwrap_or_default(),
        policy_all: tenant.tenant.role_policy == RolePolicy::All.as_str(),
        invite_providers: idbridge_app::setup_links::Provider::ALL
            .into_iter()
            .map(|p| {
                (
                    p.as_str(),
                    p.vendor_name().unwrap_or("Other SAML / SCIM IdP"),
                )
            })
            .collect(),
        can_email: state.app.mailer().is_some(),
        tenant,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, ConsoleError> {
    let notice = if query.created.is_some() {
        Notice::Success("Tenant created. Connect its identity provider next.".into())
    } else if query.saved.is_some() {
        Notice::Success("Settings saved.".into())
    } else {
        Notice::None
    };
    ok(&tenant_page(&state, &site, &signed, &slug, notice).await?)
}

/// The settings form. Checkboxes are absent from a form when unticked, so each is
/// read as "present or not".
#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    name: String,
    sso_required: Option<String>,
    jit_enabled: Option<String>,
    require_verified_domains: Option<String>,
    #[serde(default)]
    invite_new_users: Option<String>,
    #[serde(default)]
    default_role: String,
    #[serde(default)]
    role_policy: String,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<UpdateForm>,
) -> Result<Response, ConsoleError> {
    let role_policy = match RolePolicy::parse(&form.role_policy) {
        Some(policy) => Some(policy),
        None if form.role_policy.is_empty() => None,
        None => {
            return Err(AdminError::InvalidRequest(format!(
                "role policy {:?} is neither highest nor all",
                form.role_policy
            ))
            .into());
        }
    };
    let default_role = form.default_role.trim();
    let input = UpdateTenant {
        name: Some(form.name),
        sso_required: Some(form.sso_required.is_some()),
        jit_enabled: Some(form.jit_enabled.is_some()),
        require_verified_domains: Some(form.require_verified_domains.is_some()),
        default_role: Some((!default_role.is_empty()).then(|| default_role.to_owned())),
        role_policy,
        invite_new_users: Some(form.invite_new_users.is_some()),
    };
    match tenants::update(&state.app, &slug, input, &signed.audit)
        .await
        .map(|o| TenantDetail::new(o, &state.app.config.public_url))
        .map_err(AdminError::from)
    {
        Ok(tenant) => Ok(see_other(
            &site,
            &format!("/tenants/{}?saved=1", tenant.tenant.slug),
        )),
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let page =
                tenant_page(&state, &site, &signed, &slug, Notice::Error(e.to_string())).await?;
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}
