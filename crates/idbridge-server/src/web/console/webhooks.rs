//! Webhook endpoints: the list with the create form, and each endpoint's page with
//! its delivery state per tenant, recent attempts, settings, secret rotation,
//! replay and deletion. Every action goes through
//! [`idbridge_app::webhooks`], as the API's do.
//!
//! A signing secret (at creation, at rotation) is rendered into the answer to the
//! form and nowhere else: no redirect carries it, and `no-store` keeps it out of the
//! browser's cache.

use std::collections::HashMap;
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
use idbridge_app::shown_once;
use idbridge_app::webhooks::WebhookView;
use idbridge_app::webhooks::{self, CreateWebhook, ReplayWebhook, SECRET_OVERLAP, UpdateWebhook};

const PAGE_SIZE: u32 = 25;

/// An endpoint as a row of the list and the head of its page.
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub enabled: bool,
    /// One pattern per entry; empty: every type.
    pub event_types: Vec<String>,
    /// Empty: every tenant.
    pub tenant: String,
    pub previous_secret_until: String,
    pub created_at: String,
    pub updated_at: String,
    /// Tenants whose deliveries are failing, and dead-lettered (list only).
    pub retrying: u64,
    pub dead: u64,
}

impl From<WebhookView> for EndpointRow {
    fn from(w: WebhookView) -> Self {
        Self {
            id: w.id.to_string(),
            url: w.url,
            description: w.description,
            enabled: w.enabled,
            event_types: w.event_types.unwrap_or_default(),
            tenant: w.tenant.unwrap_or_default(),
            previous_secret_until: w.previous_secret_expires_at.map(when).unwrap_or_default(),
            created_at: when(w.created_at),
            updated_at: when(w.updated_at),
            retrying: 0,
            dead: 0,
        }
    }
}

/// What the create form holds (kept after a refusal).
#[derive(Default)]
pub struct EndpointForm {
    pub url: String,
    pub description: String,
    pub event_types: String,
    pub tenant: String,
    pub enabled: bool,
}

#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    title: &'static str,
    notice: Notice,
    endpoints: Vec<EndpointRow>,
    next_page: Option<String>,
    form: EndpointForm,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    done: Option<String>,
}

async fn list_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    cursor: Option<String>,
    notice: Notice,
    form: EndpointForm,
) -> Result<WebhooksPage, ConsoleError> {
    let page = page_after(PAGE_SIZE, cursor)?;
    let list = webhooks::list_webhooks(&state.app, page).await?;
    let mut endpoints = Vec::with_capacity(list.data.len());
    for view in list.data {
        let trouble = webhooks::webhook_trouble(&state.app, view.id).await?;
        endpoints.push(EndpointRow {
            retrying: trouble.retrying,
            dead: trouble.dead,
            ..EndpointRow::from(view)
        });
    }
    Ok(WebhooksPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: "Webhooks",
        notice,
        endpoints,
        next_page: next_page_link(&site.path("/webhooks"), list.next_cursor),
        form,
    })
}

pub async fn list(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    // Fixed messages chosen by a code, so a link cannot make the page say anything.
    let notice = match query.done.as_deref() {
        Some("deleted") => Notice::Success("Endpoint deleted. Nothing more is sent to it.".into()),
        _ => Notice::None,
    };
    let form = EndpointForm {
        enabled: true,
        ..EndpointForm::default()
    };
    ok(&list_page(&state, &site, &signed, query.cursor, notice, form).await?)
}

/// Event types as typed: one per line or separated by commas; none means every type.
fn parse_types(raw: &str) -> Option<Vec<String>> {
    let types: Vec<String> = raw
        .split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    (!types.is_empty()).then_some(types)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    event_types: String,
    #[serde(default)]
    tenant: String,
    enabled: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Form(form): Form<CreateForm>,
) -> Result<Response, ConsoleError> {
    let tenant = form.tenant.trim();
    let input = CreateWebhook {
        url: form.url.trim().to_owned(),
        description: Some(form.description.clone()),
        event_types: parse_types(&form.event_types),
        tenant: (!tenant.is_empty()).then(|| tenant.to_owned()),
        enabled: Some(form.enabled.is_some()),
    };
    match webhooks::create_webhook(&state.app, input, &signed.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(created) => {
            let id = created.webhook.id;
            secret_page(&state, &site, &signed, id, "created", &created.secret).await
        }
        Err(e) if is_refusal(&e) => {
            let status = e.status();
            let kept = EndpointForm {
                url: form.url,
                description: form.description,
                event_types: form.event_types,
                tenant: form.tenant,
                enabled: form.enabled.is_some(),
            };
            let page = list_page(
                &state,
                &site,
                &signed,
                None,
                Notice::Error(e.to_string()),
                kept,
            )
            .await?;
            render(status, &page)
        }
        Err(e) => Err(e.into()),
    }
}

/// A refusal the operator can act on (shown on the page) rather than an error page.
/// A named tenant that does not exist is one: the form named it.
fn is_refusal(e: &AdminError) -> bool {
    let status = e.status();
    status == StatusCode::BAD_REQUEST
        || matches!(e, AdminError::App(idbridge_app::Error::TenantNotFound(_)))
}

pub struct CursorRow {
    pub tenant: String,
    pub state: &'static str,
    pub delivered_seq: i64,
    pub latest_seq: i64,
    pub failing_seq: String,
    pub failures: u32,
    pub first_failed_at: String,
    pub next_attempt_at: String,
    pub last_attempt_at: String,
    pub last_error: String,
    pub dead_at: String,
}

pub struct AttemptRow {
    pub attempted_at: String,
    pub tenant: String,
    pub seq: i64,
    pub attempt: u32,
    pub outcome: &'static str,
    pub status_code: String,
    pub duration_ms: u32,
    pub error: String,
}

#[derive(Template)]
#[template(path = "console/webhook.html")]
struct EndpointPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    endpoint: EndpointRow,
    /// The event types as the edit form shows them, one per line.
    event_types_text: String,
    cursors: Vec<CursorRow>,
    next_cursors: Option<String>,
    attempts: Vec<AttemptRow>,
    next_attempts: Option<String>,
    /// The tenant the attempts are narrowed to (empty: all).
    attempts_tenant: String,
    /// The secret just issued or rotated: on this one answer only.
    new_secret: Option<String>,
    overlap_hours: i64,
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    /// Cursor of the per-tenant state list.
    tenants: Option<String>,
    /// Cursor of the attempts list.
    attempts: Option<String>,
    /// Only this tenant's attempts.
    tenant: Option<String>,
    done: Option<String>,
    resumed: Option<u64>,
    /// The secret just issued or rotated, kept for this page (post/redirect/get).
    shown: Option<Uuid>,
}

impl DetailQuery {
    /// This page's address at these list positions, keeping the attempts' tenant
    /// filter, so paging one list neither loses the other's place nor the filter.
    fn link(&self, base: &str, tenants: Option<&str>, attempts: Option<&str>) -> String {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(t) = tenants {
            query.push(("tenants", t));
        }
        if let Some(a) = attempts {
            query.push(("attempts", a));
        }
        if let Some(t) = self.tenant.as_deref().filter(|t| !t.is_empty()) {
            query.push(("tenant", t));
        }
        format!(
            "{base}?{}",
            serde_urlencoded::to_string(query).unwrap_or_default()
        )
    }
}

async fn endpoint_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    id: Uuid,
    query: &DetailQuery,
    notice: Notice,
) -> Result<EndpointPage, ConsoleError> {
    let webhook = webhooks::get_webhook(&state.app, id).await?;
    let tenants_page = page_after(PAGE_SIZE, query.tenants.clone())?;
    let cursors = webhooks::webhook_tenants(&state.app, id, tenants_page).await?;
    let attempts_page = page_after(PAGE_SIZE, query.attempts.clone())?;
    let attempts_tenant = query
        .tenant
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let attempts = webhooks::webhook_attempts(
        &state.app,
        id,
        (!attempts_tenant.is_empty()).then_some(attempts_tenant.as_str()),
        attempts_page,
    )
    .await?;
    // Attempts name tenants by id; a page holds a few distinct ones.
    let mut slugs: HashMap<Uuid, String> = HashMap::new();
    for a in &attempts.data {
        if let std::collections::hash_map::Entry::Vacant(slot) = slugs.entry(a.tenant_id) {
            let slug = state
                .app
                .store
                .tenant_by_id(a.tenant_id)
                .await
                .map_err(AdminError::from)?
                .map(|t| t.slug.to_string())
                .unwrap_or_else(|| a.tenant_id.to_string());
            slot.insert(slug);
        }
    }
    let base = site.path(&format!("/webhooks/{id}"));
    let next_cursors = cursors
        .next_cursor
        .as_deref()
        .map(|c| query.link(&base, Some(c), query.attempts.as_deref()));
    let next_attempts = attempts
        .next_cursor
        .as_deref()
        .map(|c| query.link(&base, query.tenants.as_deref(), Some(c)));
    let endpoint = EndpointRow::from(webhook);
    Ok(EndpointPage {
        chrome: Chrome::signed_in(&site.base, signed),
        title: format!("Webhook · {}", endpoint.url),
        notice,
        event_types_text: endpoint.event_types.join("\n"),
        endpoint,
        cursors: cursors
            .data
            .into_iter()
            .map(|c| CursorRow {
                tenant: c.tenant,
                state: c.state,
                delivered_seq: c.delivered_seq,
                latest_seq: c.latest_seq,
                failing_seq: c.failing_seq.map(|s| s.to_string()).unwrap_or_default(),
                failures: c.failures,
                first_failed_at: when_opt(c.first_failed_at),
                next_attempt_at: when_opt(c.next_attempt_at),
                last_attempt_at: when_opt(c.last_attempt_at),
                last_error: c.last_error.unwrap_or_default(),
                dead_at: when_opt(c.dead_at),
            })
            .collect(),
        next_cursors,
        attempts: attempts
            .data
            .into_iter()
            .map(|a| AttemptRow {
                attempted_at: when(a.attempted_at),
                tenant: slugs.get(&a.tenant_id).cloned().unwrap_or_default(),
                seq: a.seq,
                attempt: a.attempt,
                outcome: a.outcome,
                status_code: a.status_code.map(|s| s.to_string()).unwrap_or_default(),
                duration_ms: a.duration_ms,
                error: a.error.unwrap_or_default(),
            })
            .collect(),
        next_attempts,
        attempts_tenant,
        new_secret: None,
        overlap_hours: SECRET_OVERLAP.whole_hours(),
    })
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<Uuid>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, ConsoleError> {
    let shown = Shown::take(&state.app, &signed.shown_once, query.shown)
        .await
        .map_err(AdminError::from)?;
    // The secret's own notice only where the secret is (an address saying "created"
    // without it says nothing of the kind).
    let made = if query.done.as_deref() == Some("rotated") {
        format!(
            "Secret rotated. The old secret keeps signing beside the new one for {} hours: \
             switch the receiver over before then. Copy the new secret now: it is shown only \
             this once.",
            SECRET_OVERLAP.whole_hours()
        )
    } else {
        "Endpoint created. It receives events from now on. Copy its signing secret now: it \
         is shown only this once."
            .to_owned()
    };
    let otherwise = match query.done.as_deref() {
        Some("saved") => Notice::Success("Endpoint saved.".into()),
        Some("replayed") => {
            let n = query.resumed.unwrap_or(0);
            Notice::Success(format!(
                "Replay started: {n} tenant feed{} will be delivered again.",
                if n == 1 { "" } else { "s" }
            ))
        }
        _ => Notice::None,
    };
    let notice = shown.notice(&made, otherwise);
    let mut page = endpoint_page(&state, &site, &signed, id, &query, notice).await?;
    page.new_secret = shown.secret();
    ok(&page)
}

/// The page again with a refusal on it, or the error page for what is not one.
async fn refused(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    id: Uuid,
    error: AdminError,
) -> Result<Response, ConsoleError> {
    if !is_refusal(&error) {
        return Err(error.into());
    }
    let status = error.status();
    let page = endpoint_page(
        state,
        site,
        signed,
        id,
        &DetailQuery::default(),
        Notice::Error(error.to_string()),
    )
    .await?;
    render(status, &page)
}

#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    event_types: String,
    enabled: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<Uuid>,
    Form(form): Form<UpdateForm>,
) -> Result<Response, ConsoleError> {
    let input = UpdateWebhook {
        url: Some(form.url.trim().to_owned()),
        description: Some(form.description),
        event_types: Some(parse_types(&form.event_types)),
        enabled: Some(form.enabled.is_some()),
    };
    match webhooks::update_webhook(&state.app, id, input, &signed.audit)
        .await
        .map_err(AdminError::from)
    {
        Ok(_) => Ok(see_other(&site, &format!("/webhooks/{id}?done=saved"))),
        Err(e) => refused(&state, &site, &signed, id, e).await,
    }
}

pub async fn rotate(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    let rotated = webhooks::rotate_webhook_secret(&state.app, id, &signed.audit).await?;
    secret_page(&state, &site, &signed, id, "rotated", &rotated.secret).await
}

/// Post/redirect/get to the endpoint's page, which shows `secret` once: a reload
/// neither shows it again nor creates or rotates again.
async fn secret_page(
    state: &AppState,
    site: &Site,
    signed: &Signed,
    id: Uuid,
    done: &str,
    secret: &str,
) -> Result<Response, ConsoleError> {
    let shown = shown_once::keep(&state.app, &signed.shown_once, secret)
        .await
        .map_err(AdminError::from)?;
    Ok(see_other(
        site,
        &format!("/webhooks/{id}?done={done}&shown={shown}"),
    ))
}

/// What replay form was sent: resume dead letters at the failed event, give the
/// failed event up, or rewind one tenant to a position.
#[derive(Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    from_seq: String,
}

pub async fn replay(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<Uuid>,
    Form(form): Form<ReplayForm>,
) -> Result<Response, ConsoleError> {
    let tenant = form.tenant.trim();
    let tenant = (!tenant.is_empty()).then(|| tenant.to_owned());
    let input = match form.mode.as_str() {
        "resume" => Ok(ReplayWebhook {
            tenant,
            from_seq: None,
            skip_failed_event: false,
        }),
        "skip" => Ok(ReplayWebhook {
            tenant,
            from_seq: None,
            skip_failed_event: true,
        }),
        "rewind" => match form.from_seq.trim().parse::<i64>() {
            Ok(seq) => Ok(ReplayWebhook {
                tenant,
                from_seq: Some(seq),
                skip_failed_event: false,
            }),
            Err(_) => Err(AdminError::InvalidRequest(
                "the position to rewind to is a whole number, 1 or more".into(),
            )),
        },
        other => Err(AdminError::InvalidRequest(format!(
            "unknown replay {other:?}: resume, skip or rewind"
        ))),
    };
    let outcome = match input {
        Ok(input) => webhooks::replay_webhook(&state.app, id, input, &signed.audit)
            .await
            .map_err(AdminError::from),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(view) => Ok(see_other(
            &site,
            &format!("/webhooks/{id}?done=replayed&resumed={}", view.resumed),
        )),
        Err(e) => refused(&state, &site, &signed, id, e).await,
    }
}

#[derive(Template)]
#[template(path = "console/webhook_delete.html")]
struct DeletePage {
    chrome: Chrome,
    title: String,
    endpoint: EndpointRow,
}

/// The confirmation step: a page of its own, so deleting takes a second, deliberate
/// click and works without script.
pub async fn confirm_delete(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    let endpoint = EndpointRow::from(webhooks::get_webhook(&state.app, id).await?);
    ok(&DeletePage {
        chrome: Chrome::signed_in(&site.base, &signed),
        title: format!("Delete webhook · {}", endpoint.url),
        endpoint,
    })
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Path(id): Path<Uuid>,
) -> Result<Response, ConsoleError> {
    webhooks::delete_webhook(&state.app, id, &signed.audit).await?;
    Ok(see_other(&site, "/webhooks?done=deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_read_from_lines_or_commas() {
        assert_eq!(parse_types(""), None);
        assert_eq!(parse_types(" \r\n , "), None);
        assert_eq!(
            parse_types("user.*\r\ngroup.created, sign_in.failed\n"),
            Some(vec![
                "user.*".to_owned(),
                "group.created".to_owned(),
                "sign_in.failed".to_owned()
            ])
        );
    }
}
