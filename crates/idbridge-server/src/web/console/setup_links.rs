//! A tenant's setup links: the way its IT admin gets into the setup portal. A new
//! link's URL carries its token, so it is shown once, on the page the form
//! redirects to, and nowhere else (idbridge keeps a digest); the list shows each
//! link's state.

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
use crate::error::AdminError;
use crate::web::Shown;
use idbridge_app::setup_links::{
    self, CreateSetupLink, DEFAULT_LIFETIME_HOURS, MAX_LIFETIME_HOURS, Provider,
};
use idbridge_app::shown_once;
use idbridge_app::tenants;

pub struct LinkRow {
    pub id: String,
    pub provider: &'static str,
    pub note: String,
    pub state: &'static str,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: String,
    pub revoked_at: String,
}

/// The provider's name as the operator knows it.
fn provider_label(raw: &str) -> &'static str {
    Provider::parse(raw)
        .and_then(Provider::vendor_name)
        .unwrap_or("Other SAML / SCIM IdP")
}

/// The create form's choices: (value, label), every guide.
fn provider_choices() -> Vec<(&'static str, &'static str)> {
    Provider::ALL
        .into_iter()
        .map(|p| (p.as_str(), provider_label(p.as_str())))
        .collect()
}

#[derive(Template)]
#[template(path = "console/setup_links.html")]
struct SetupLinksPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tab: &'static str,
    slug: String,
    links: Vec<LinkRow>,
    next_page: Option<String>,
    /// The URL just issued: on this one answer only.
    new_url: Option<String>,
    /// The providers the form offers: (value, label).
    providers: Vec<(&'static str, &'static str)>,
    /// What the create form holds (kept after a refusal).
    form_provider: String,
    form_hours: String,
    form_note: String,
    form_email: String,
    /// Whether this idbridge sends mail (the e-mail field is offered only then).
    can_email: bool,
    max_hours: u32,
}

impl SetupLinksPage {
    fn provider_chosen(&self, value: &str) -> bool {
        self.form_provider == value
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    cursor: Option<String>,
    done: Option<String>,
    /// The link just created, kept for this page (post/redirect/get).
    shown: Option<Uuid>,
    /// Whether it was also e-mailed: `sent` or `failed`.
    mail: Option<String>,
}

async fn links_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    slug: &str,
    cursor: Option<String>,
    notice: Notice,
) -> Result<SetupLinksPage, ConsoleError> {
    let tenant = tenants::find(&state.app, slug).await?;
    let page = page_after(50, cursor)?;
    let list = setup_links::list_setup_links(&state.app, slug, page).await?;
    let slug = tenant.slug.to_string();
    Ok(SetupLinksPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: format!("{} · Setup links", tenant.name),
        notice,
        tab: "setup-links",
        links: list
            .data
            .into_iter()
            .map(|l| LinkRow {
                id: l.id.to_string(),
                provider: provider_label(&l.provider),
                note: l.note.unwrap_or_default(),
                state: l.state,
                created_at: when(l.created_at),
                expires_at: when(l.expires_at),
                last_used_at: when_opt(l.last_used_at),
                revoked_at: when_opt(l.revoked_at),
            })
            .collect(),
        next_page: next_page_link(
            &site.path(&format!("/tenants/{slug}/setup-links")),
            list.next_cursor,
        ),
        slug,
        new_url: None,
        providers: provider_choices(),
        form_provider: Provider::default().as_str().to_owned(),
        form_hours: DEFAULT_LIFETIME_HOURS.to_string(),
        form_note: String::new(),
        form_email: String::new(),
        can_email: state.app.mailer().is_some(),
        max_hours: MAX_LIFETIME_HOURS,
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
    let made = match query.mail.as_deref() {
        Some("sent") => {
            "Link created and e-mailed to the IT admin. It is also below, shown only this once."
        }
        Some("failed") => {
            "Link created, but it could not be e-mailed (the server log has the SMTP server's \
             answer). Copy it now and send it yourself: it is shown only this once."
        }
        _ => "Link created. Copy it now: it is shown only this once.",
    };
    let notice = shown.notice(
        made,
        match query.done.as_deref() {
            Some("revoked") => Notice::Success("Link revoked. It stops working at once.".into()),
            _ => Notice::None,
        },
    );
    let mut page = links_page(&state, &site, &signed, &slug, query.cursor, notice).await?;
    page.new_url = shown.secret();
    ok(&page)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    expires_in_hours: String,
    #[serde(default)]
    note: String,
    /// This link's own return URL (blank: the branding's).
    #[serde(default)]
    return_url: String,
    /// E-mail the link here too (blank: only show it).
    #[serde(default)]
    email_to: String,
}

/// The form as the service's input; a value the form cannot hold is refused here
/// in the service's own words.
fn parse_form(form: &CreateForm) -> Result<CreateSetupLink, AdminError> {
    let provider = Provider::parse(form.provider.trim()).ok_or_else(|| {
        let values: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        AdminError::InvalidRequest(format!("provider must be one of {}", values.join(", ")))
    })?;
    let hours = form.expires_in_hours.trim();
    let expires_in_hours = if hours.is_empty() {
        None
    } else {
        Some(hours.parse::<u32>().map_err(|_| {
            AdminError::InvalidRequest(format!(
                "expires_in_hours must be between 1 and {MAX_LIFETIME_HOURS}"
            ))
        })?)
    };
    Ok(CreateSetupLink {
        provider,
        expires_in_hours,
        note: Some(form.note.clone()),
        return_url: Some(form.return_url.clone()),
        support_email: None,
        support_url: None,
        email_to: Some(form.email_to.clone()),
    })
}

pub async fn create(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(slug): Path<String>,
    Form(form): Form<CreateForm>,
) -> Result<Response, ConsoleError> {
    let outcome = match parse_form(&form) {
        Ok(input) => setup_links::create_setup_link(&state.app, &slug, input, &signed.audit)
            .await
            .map_err(AdminError::from),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(created) => {
            // Post/redirect/get: a reload of the page that shows the link neither
            // shows it again nor creates another. The list under it says for whom
            // and until when.
            let shown = shown_once::keep(&state.app, &signed.shown_once, &created.url)
                .await
                .map_err(AdminError::from)?;
            let mail = match &created.email {
                None => "",
                Some(e) if e.sent => "&mail=sent",
                Some(_) => "&mail=failed",
            };
            Ok(see_other(
                &site,
                &format!("/tenants/{slug}/setup-links?shown={shown}{mail}"),
            ))
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let mut page = links_page(
                &state,
                &site,
                &signed,
                &slug,
                None,
                Notice::Error(e.to_string()),
            )
            .await?;
            page.form_provider = form.provider;
            page.form_hours = form.expires_in_hours;
            page.form_note = form.note;
            page.form_email = form.email_to;
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
    setup_links::revoke_setup_link(&state.app, &slug, id, &signed.audit).await?;
    Ok(see_other(
        &site,
        &format!("/tenants/{slug}/setup-links?done=revoked"),
    ))
}
