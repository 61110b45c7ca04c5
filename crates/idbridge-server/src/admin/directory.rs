//! The tenant's directory as the operator and the app see it: users and groups
//! (from SCIM and from sign-ins), the event feed, and the two logs.

use axum::Json;
use axum::extract::State;
use idbridge_app::directory::{
    self, DirectoryGroupView, DirectoryUserView, LogParams, ProvisioningView, SignInView,
    group_view,
};
use idbridge_app::views::EventView;
use idbridge_app::{Error as AppError, tenants};
use idbridge_store::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::pagination::{List, ListParams};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminPath, AdminQuery};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// `next_cursor` of the previous answer; absent to start from the beginning.
    pub after: Option<String>,
    /// Events per answer, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventFeed {
    pub data: Vec<EventView>,
    /// Pass as `after` to continue. Unlike other lists this is never null: a feed
    /// reader keeps it and polls again for newer events.
    pub next_cursor: String,
}

#[utoipa::path(
    get, path = "/tenants/{slug}/users", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), ListParams),
    responses(
        (status = 200, description = "The tenant's directory users, oldest first", body = List<DirectoryUserView>),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_users(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<DirectoryUserView>>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let page = state
        .app
        .store
        .page_users(tenant.id, params.page_request()?)
        .await?;
    let next_cursor = page.next_after.map(super::pagination::encode_cursor);
    Ok(Json(List {
        data: directory::user_views(&state.app, &tenant, page.items).await?,
        next_cursor,
    }))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/users/{id}", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), ("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "One directory user", body = DirectoryUserView),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
    )
)]
pub async fn get_user(
    State(state): State<AppState>,
    AdminPath((slug, id)): AdminPath<(String, Uuid)>,
) -> Result<Json<DirectoryUserView>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let user = state
        .app
        .store
        .user_by_id(tenant.id, id)
        .await?
        .ok_or(AdminError::App(AppError::NotFound("user")))?;
    let views = directory::user_views(&state.app, &tenant, vec![user]).await?;
    let view = views.into_iter().next().ok_or(AppError::NotFound("user"))?;
    Ok(Json(view))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/groups", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), ListParams),
    responses(
        (status = 200, description = "The tenant's directory groups, oldest first", body = List<DirectoryGroupView>),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_groups(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<DirectoryGroupView>>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let page = state
        .app
        .store
        .page_groups(tenant.id, params.page_request()?)
        .await?;
    Ok(Json(List::from_page(page, group_view)))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/events", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), EventParams),
    responses(
        (status = 200, description = "The tenant's events after the cursor, oldest first", body = EventFeed),
        (status = 400, description = "Bad cursor or limit", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<EventParams>,
) -> Result<Json<EventFeed>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let after = match params.after.as_deref().filter(|a| !a.is_empty()) {
        None => 0,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or(AdminError::App(AppError::InvalidCursor))?,
    };
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AdminError::InvalidRequest(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let events = state.app.store.list_events(tenant.id, after, limit).await?;
    let next_cursor = events.last().map(|e| e.seq).unwrap_or(after).to_string();
    let data = events
        .into_iter()
        .map(|e| EventView::new(e, tenant.slug.as_str()));
    Ok(Json(EventFeed {
        data: data.collect(),
        next_cursor,
    }))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/provisioning-log", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), LogParams),
    responses(
        (status = 200, description = "SCIM requests that changed something or failed, newest first, narrowed by `outcome` and `method`", body = List<ProvisioningView>),
        (status = 400, description = "A filter value not understood", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_provisioning_log(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<LogParams>,
) -> Result<Json<List<ProvisioningView>>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let filter = params.provisioning_filter()?;
    let page: PageRequest = params.page_request()?;
    Ok(Json(List::from_page(
        state
            .app
            .store
            .list_provisioning_filtered(tenant.id, &filter, page)
            .await?,
        ProvisioningView::from,
    )))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/sign-in-log", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), LogParams),
    responses(
        (status = 200, description = "Sign-in attempts with their outcome and reason, newest first, narrowed by `outcome`, `reason` and `email`", body = List<SignInView>),
        (status = 400, description = "A filter value not understood", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_sign_ins(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<LogParams>,
) -> Result<Json<List<SignInView>>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let filter = params.sign_in_filter()?;
    let page: PageRequest = params.page_request()?;
    Ok(Json(List::from_page(
        state
            .app
            .store
            .list_sign_ins_filtered(tenant.id, &filter, page)
            .await?,
        SignInView::from,
    )))
}
