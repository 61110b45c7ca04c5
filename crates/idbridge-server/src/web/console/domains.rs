//! A tenant's email domains: the TXT record to publish, "verify now", status and
//! the reason a check failed.

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::auth::Signed;
use super::page::{
    Chrome, ConsoleError, Notice, next_page_link, ok, page_after, render, when, when_opt,
};
use super::{Site, see_other};
use crate::AppState;
use crate::error::AdminError;
use idbridge_app::domains::{self, AddDomain};
use idbridge_app::tenants;
use idbridge_app::views::{DomainView, List};

pub struct DomainRow {
    pub domain: String,
    pub verified: bool,
    pub verified_at: String,
    pub checked_at: String,
    pub reason: String,
    pub txt_name: String,
    pub txt_value: String,
    pub created_at: String,
}

impl DomainRow {
    /// Shared with the setup portal, which shows the same facts.
    pub(crate) fn new(d: DomainView) -> Self {
        Self {
            verified: d.verified,
            verified_at: when_opt(d.verified_at),
            checked_at: when_opt(d.checked_at),
            reason: d
                .verification_error
                .as_deref()
                .map(explain)
                .unwrap_or_default(),
            txt_name: d.txt_record.name,
            txt_value: d.txt_record.value,
            created_at: when(d.created_at),
            domain: d.domain,
        }
    }
}

#[derive(Template)]
#[template(path = "console/domains.html")]
struct DomainsPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    domains: Vec<DomainRow>,
    next_page: Option<String>,
    new_domain: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    cursor: Option<String>,
    done: Option<String>,
}

/// What a failed check's code means, for the operator.
pub(crate) fn explain(reason: &str) -> String {
    let text = match reason {
        "txt_record_not_found" => "DNS answered, but without the TXT record below",
        "nxdomain" => "DNS says the record's name does not exist",
        "dns_timeout" => "DNS did not answer in time; try again",
        "dns_error" => "DNS could not be asked; try again",
        "txt_record_missing" => "the record was there before and is gone now",
        idbridge_store::CLAIMED_BY_ANOTHER_TENANT => "another tenant has verified this domain",
        other => other,
    };
    format!("{text} ({reason})")
}

async fn domains_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    cursor: Option<String>,
    notice: Notice,
) -> Result<DomainsPage, ConsoleError> {
    let tenant = tenants::find(&state.app, slug).await?;
    let page = page_after(50, cursor)?;
    let list = List::from_page(
        domains::list(&state.app, slug, page).await?,
        DomainView::from,
    );
    let slug = tenant.slug.to_string();
    Ok(DomainsPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: format!("{} · Domains", tenant.name),
        notice,
        tab: "domains",
        domains: list.data.into_iter().map(DomainRow::new).collect(),
        next_page: next_page_link(
            &site.path(&format!("/tenants/{slug}/domains")),
            list.next_cursor,
        ),
        slug,
        new_domain: String::new(),
    })
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
        Some("added") => {
            Notice::Success("Domain added. Publish the TXT record below, then verify.".into())
        }
        Some("checked") => Notice::Success("DNS was asked just now.".into()),
        Some("removed") => Notice::Success("Domain removed.".into()),
        _ => Notice::None,
    };
    ok(&domains_page(&state, &site, &signed, &slug, query.cursor, notice).await?)
}

/// Refusals the operator can act on are shown on the page; the rest are errors.
async fn refused(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    error: AdminError,
    new_domain: String,
) -> Result<Response, ConsoleError> {
    let status = error.status();
    if status.is_server_error() || status == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let mut page = domains_page(
        state,
        site,
        signed,
        slug,
        None,
        Notice::Error(error.to_string()),
    )
    .await?;
    page.new_domain = new_domain;
    render(status, &page)
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    domain: String,
}

pub async fn add(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<AddForm>,
) -> Result<Response, ConsoleError> {
    let input = AddDomain {
        domain: form.domain.clone(),
    };
    match domains::add(&state.app, &slug, input, &signed.audit)
        .await
        .map(|(d, created)| (DomainView::from(d), created))
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/tenants/{slug}/domains?done=added"),
        )),
        Err(e) => refused(&state, &site, &signed, &slug, e, form.domain).await,
    }
}

pub async fn verify(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, domain)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    match domains::verify(&state.app, &slug, &domain, &signed.audit)
        .await
        .map(DomainView::from)
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(
            &site,
            &format!("/tenants/{slug}/domains?done=checked"),
        )),
        Err(e) => refused(&state, &site, &signed, &slug, e, String::new()).await,
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path((slug, domain)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    domains::delete(&state.app, &slug, &domain, &signed.audit).await?;
    Ok(see_other(
        &site,
        &format!("/tenants/{slug}/domains?done=removed"),
    ))
}
