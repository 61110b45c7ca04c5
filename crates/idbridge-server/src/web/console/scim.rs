//! A tenant's SCIM provisioning: the Tenant URL, its tokens, and generating one
//! (shown once, on the page the form redirects to, never again).

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::auth::Signed;
use super::page::{
    Chrome, ConsoleError, Notice, next_page_link, ok, page_after, render, when, when_opt,
};
use super::{Site, see_other};
use crate::AppState;
use crate::web::Shown;
use idbridge_app::credentials::{self, CreateScimToken};
use idbridge_app::shown_once;
use idbridge_app::tenants;
use idbridge_app::views::{List, ScimTokenCreated, ScimTokenView};

use crate::error::AdminError;

pub struct TokenRow {
    pub id: String,
    pub description: String,
    pub active: bool,
    pub created_at: String,
    pub last_used_at: String,
    pub revoked_at: String,
}

impl TokenRow {
    /// Shared with the setup portal, which lists the same tokens.
    pub(crate) fn new(t: ScimTokenView) -> Self {
        Self {
            id: t.id.to_string(),
            description: t.description.unwrap_or_default(),
            active: t.active,
            created_at: when(t.created_at),
            last_used_at: when_opt(t.last_used_at),
            revoked_at: when_opt(t.revoked_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/scim.html")]
struct ScimPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    base_url: String,
    tokens: Vec<TokenRow>,
    next_page: Option<String>,
    /// The token just generated: on this one answer only.
    new_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    cursor: Option<String>,
    revoked: Option<String>,
    /// The token just generated, kept for this page (post/redirect/get).
    shown: Option<Uuid>,
}

async fn scim_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    cursor: Option<String>,
    notice: Notice,
) -> Result<ScimPage, ConsoleError> {
    let tenant = tenants::find(&state.app, slug).await?;
    let page = page_after(50, cursor)?;
    let list = List::from_page(
        credentials::list_scim_tokens(&state.app, slug, page).await?,
        ScimTokenView::from,
    );
    let slug = tenant.slug.to_string();
    Ok(ScimPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: format!("{} · SCIM", tenant.name),
        notice,
        tab: "scim",
        base_url: state.app.config.public_url.scim_base_url(&tenant.slug),
        tokens: list.data.into_iter().map(TokenRow::new).collect(),
        next_page: next_page_link(
            &site.path(&format!("/tenants/{slug}/scim")),
            list.next_cursor,
        ),
        slug,
        new_token: None,
    })
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, ConsoleError> {
    let shown = Shown::take(&state.app, &signed.shown_once, query.shown)
        .await
        .map_err(AdminError::from)?;
    let notice = shown.notice(
        "Token generated. Copy it now: it is shown only this once.",
        if query.revoked.is_some() {
            Notice::Success("Token revoked. It stops working at once.".into())
        } else {
            Notice::None
        },
    );
    let mut page = scim_page(&state, &site, &signed, &slug, query.cursor, notice).await?;
    page.new_token = shown.secret();
    ok(&page)
}

#[derive(Deserialize)]
pub struct GenerateForm {
    #[serde(default)]
    description: String,
}

pub async fn generate(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<GenerateForm>,
) -> Result<Response, ConsoleError> {
    let description = form.description.trim();
    let input = CreateScimToken {
        description: (!description.is_empty()).then(|| description.to_owned()),
    };
    match credentials::issue_scim_token(&state.app, &slug, input, &signed.audit)
        .await
        .map(|i| ScimTokenCreated::new(i, &state.app.config.public_url))
        .map_err(AdminError::from)
    {
        Ok(created) => {
            // Post/redirect/get: a reload of the page that shows the token neither
            // shows it again nor generates another.
            let shown = shown_once::keep(&state.app, &signed.shown_once, &created.token)
                .await
                .map_err(AdminError::from)?;
            Ok(see_other(
                &site,
                &format!("/tenants/{slug}/scim?shown={shown}"),
            ))
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let page = scim_page(
                &state,
                &site,
                &signed,
                &slug,
                None,
                Notice::Error(e.to_string()),
            )
            .await?;
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, id)): Path<(String, Uuid)>,
) -> Result<Response, ConsoleError> {
    credentials::revoke_scim_token(&state.app, &slug, id, &signed.audit).await?;
    Ok(see_other(&site, &format!("/tenants/{slug}/scim?revoked=1")))
}
