//! `GET /api/v1/audit-log`: who changed what, newest first.

use axum::Json;
use axum::extract::State;
use idbridge_app::audit::{self, AuditQuery, AuditView};
use serde::Deserialize;

use super::pagination::List;
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::AdminQuery;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only changes to this tenant (its slug).
    pub tenant: Option<String>,
    /// An actor kind (`admin_key`, `operator`, `setup_link`, `cli`), an actor id, or
    /// `kind:id`.
    pub actor: Option<String>,
    /// One action, e.g. `tenant.updated`.
    pub action: Option<String>,
    /// Records per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/audit-log", tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, description = "Changes, newest first", body = List<AuditView>),
        (status = 400, description = "An unknown action or actor kind, or a bad cursor", body = ErrorBody),
    )
)]
pub async fn list_audit_log(
    State(state): State<AppState>,
    AdminQuery(params): AdminQuery<AuditParams>,
) -> Result<Json<List<AuditView>>, AdminError> {
    let page = idbridge_app::views::page_request(params.limit, params.cursor.as_deref())?;
    let query = AuditQuery {
        tenant: params.tenant.as_deref(),
        actor: params.actor.as_deref(),
        action: params.action.as_deref(),
    };
    let records = audit::list(&state.app, query, page).await?;
    Ok(Json(List::from_page(records, |r| r)))
}
