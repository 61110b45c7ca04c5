//! The audit log page: who changed what, newest first, filtered as the API is.

use std::sync::Arc;

use crate::web::Query;
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use idbridge_app::audit::{self, AuditQuery};
use serde::Deserialize;

use super::Site;
use super::auth::Signed;
use super::page::{Chrome, ConsoleError, Notice, ok, page_after, when};
use crate::AppState;
use crate::error::{AdminError, app_status};
use idbridge_app::views::encode_cursor;

const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct AuditFilterForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    cursor: Option<String>,
}

pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub tenant: String,
    pub target: String,
    pub ip: String,
    /// The change summary as indented JSON (secrets were redacted when recorded).
    pub changes: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: Chrome,
    title: String,
    notice: Notice,
    tenant: String,
    actor: String,
    action: String,
    actions: Vec<&'static str>,
    rows: Vec<AuditRow>,
    next_page: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Extension(site): Extension<Arc<Site>>,
    Extension(signed): Extension<Signed>,
    Query(form): Query<AuditFilterForm>,
) -> Result<Response, ConsoleError> {
    let page = page_after(PAGE_SIZE, form.cursor.clone())?;
    let query = AuditQuery {
        tenant: Some(form.tenant.trim()).filter(|t| !t.is_empty()),
        actor: Some(form.actor.trim()).filter(|a| !a.is_empty()),
        action: Some(form.action.trim()).filter(|a| !a.is_empty()),
    };
    let (rows, next, notice) = match audit::list(&state.app, query, page).await {
        Ok(found) => {
            let next = found.next_after.map(encode_cursor).map(|cursor| {
                let query = serde_urlencoded::to_string([
                    ("tenant", form.tenant.as_str()),
                    ("actor", form.actor.as_str()),
                    ("action", form.action.as_str()),
                    ("cursor", cursor.as_str()),
                ])
                .unwrap_or_default();
                site.path(&format!("/audit-log?{query}"))
            });
            let rows = found
                .items
                .into_iter()
                .map(|r| AuditRow {
                    at: when(r.at),
                    actor: match &r.actor.id {
                        Some(id) => format!("{} {id}", r.actor.kind),
                        None => r.actor.kind.to_string(),
                    },
                    action: r.action.to_string(),
                    tenant: r.tenant.unwrap_or_default(),
                    target: r.target.unwrap_or_default(),
                    ip: r.ip.unwrap_or_default(),
                    changes: serde_json::to_string_pretty(&r.changes).unwrap_or_default(),
                })
                .collect();
            (rows, next, Notice::None)
        }
        Err(e) if !app_status(&e).is_server_error() => {
            (Vec::new(), None, Notice::Error(e.to_string()))
        }
        Err(e) => return Err(AdminError::from(e).into()),
    };
    ok(&AuditPage {
        chrome: Chrome::signed_in(&site.base, &signed),
        title: "Audit log".into(),
        notice,
        tenant: form.tenant,
        actor: form.actor,
        action: form.action,
        actions: idbridge_core::audit::AuditAction::ALL
            .iter()
            .map(|a| a.as_str())
            .collect(),
        rows,
        next_page: next,
    })
}
