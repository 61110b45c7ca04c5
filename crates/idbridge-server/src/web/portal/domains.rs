//! Step 3, domains: the DNS TXT record that proves each email domain, "verify
//! now", and why a check failed.

use std::sync::Arc;

use crate::web::{Form, Query};
use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use idbridge_store::PageRequest;
use serde::Deserialize;

use super::page::{Chrome, GuideForm, PortalError, choose_guide, ok, render};
use super::visit::Visitor;
use super::{Site, see_other};
use crate::AppState;
use crate::error::AdminError;
use crate::web::console::domains::DomainRow;
use crate::web::console::page::Notice;
use idbridge_app::domains::{self, AddDomain};
use idbridge_app::setup_links::Provider;
use idbridge_app::views::{DomainView, List};

#[derive(Template)]
#[template(path = "portal/domains.html")]
struct DomainsPage {
    chrome: Chrome,
    title: &'static str,
    notice: Notice,
    domains: Vec<DomainRow>,
    new_domain: String,
}

async fn domains_page(
    state: &AppState,
    site: &Site,
    visitor: &Visitor,
    guide: Provider,
    notice: Notice,
) -> Result<DomainsPage, PortalError> {
    let list = List::from_page(
        domains::list(
            &state.app,
            visitor.tenant.slug.as_str(),
            PageRequest::first(100),
        )
        .await?,
        DomainView::from,
    );
    Ok(DomainsPage {
        chrome: Chrome::new(site, visitor, guide, "domains"),
        title: "Email domains",
        notice,
        domains: list.data.into_iter().map(DomainRow::new).collect(),
        new_domain: String::new(),
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    guide: Option<String>,
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(query.guide.as_deref(), &visitor);
    let notice = match query.done.as_deref() {
        Some("added") => {
            Notice::Success("Domain added. Publish its TXT record, then press Verify now.".into())
        }
        Some("verified") => Notice::Success(
            "Verified. Sign-ins with addresses at this domain now come to this organisation's identity provider."
                .into(),
        ),
        Some("checked") => Notice::Error(
            "Checked, and not verified yet: the reason is below. DNS changes can take a few minutes to be seen."
                .into(),
        ),
        Some("removed") => Notice::Success("Domain removed.".into()),
        _ => Notice::None,
    };
    ok(&domains_page(&state, &site, &visitor, guide, notice).await?)
}

#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    guide: String,
    #[serde(default)]
    domain: String,
}

/// The page again with the refusal on top (and what was typed kept).
async fn refused(
    state: &AppState,
    site: &Site,
    visitor: &Visitor,
    guide: Provider,
    error: AdminError,
    typed: String,
) -> Result<Response, PortalError> {
    let status = error.status();
    if status.is_server_error() || status == StatusCode::NOT_FOUND {
        return Err(error.into());
    }
    let mut page = domains_page(
        state,
        site,
        visitor,
        guide,
        Notice::Error(error.to_string()),
    )
    .await?;
    page.new_domain = typed;
    render(status, &page)
}

fn done(site: &Site, guide: Provider, what: &str) -> Response {
    see_other(
        site,
        &format!("/domains?guide={}&done={what}", guide.as_str()),
    )
}

pub async fn add(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Form(form): Form<AddForm>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(Some(&form.guide), &visitor);
    let input = AddDomain {
        domain: form.domain.clone(),
    };
    match domains::add(
        &state.app,
        visitor.tenant.slug.as_str(),
        input,
        &visitor.audit,
    )
    .await
    .map(|(d, created)| (DomainView::from(d), created))
    .map_err(AdminError::from)
    {
        Ok(_) => Ok(done(&site, guide, "added")),
        Err(e) => refused(&state, &site, &visitor, guide, e, form.domain).await,
    }
}

pub async fn verify(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Path(domain): Path<String>,
    Form(form): Form<GuideForm>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(Some(&form.guide), &visitor);
    match domains::verify(
        &state.app,
        visitor.tenant.slug.as_str(),
        &domain,
        &visitor.audit,
    )
    .await
    .map(DomainView::from)
    .map_err(AdminError::from)
    {
        Ok(view) if view.verified => Ok(done(&site, guide, "verified")),
        Ok(_) => Ok(done(&site, guide, "checked")),
        Err(e) => refused(&state, &site, &visitor, guide, e, String::new()).await,
    }
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(visitor): Extension<Visitor>,
    Path(domain): Path<String>,
    Form(form): Form<GuideForm>,
) -> Result<Response, PortalError> {
    let guide = choose_guide(Some(&form.guide), &visitor);
    domains::delete(
        &state.app,
        visitor.tenant.slug.as_str(),
        &domain,
        &visitor.audit,
    )
    .await?;
    Ok(done(&site, guide, "removed"))
}
