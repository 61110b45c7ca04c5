//! Users the operator creates, changes and deletes by hand (`source: manual`), and
//! the invitation e-mail users get while their tenant invites new users.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use idbridge_app::directory::DirectoryUserView;
use idbridge_app::directory::manual::{self, NewUser, UserChange};
use idbridge_app::mail::{self, OutboxView};
use idbridge_app::tenants;
use uuid::Uuid;

use super::pagination::{List, ListParams};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath, AdminQuery};

#[utoipa::path(
    post, path = "/tenants/{slug}/users", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body = NewUser,
    responses(
        (status = 201, description = "The user, `source: manual`", body = DirectoryUserView),
        (status = 400, description = "Not an email address, an unknown role, or a domain the tenant must verify first", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "The tenant has a user with this userName or email", body = ErrorBody),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
    AdminJson(input): AdminJson<NewUser>,
) -> Result<impl IntoResponse, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let user = manual::create(&state.app, &tenant, input, &audit).await?;
    let location = format!("/api/v1/tenants/{}/users/{}", tenant.slug, user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(user),
    ))
}

#[utoipa::path(
    patch, path = "/tenants/{slug}/users/{id}", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), ("id" = Uuid, Path, description = "User id")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user as changed", body = DirectoryUserView),
        (status = 400, description = "Invalid body or role", body = ErrorBody),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
        (status = 409, description = "The user is provisioned over SCIM: change it in the IdP", body = ErrorBody),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath((slug, id)): AdminPath<(String, Uuid)>,
    AdminJson(input): AdminJson<UserChange>,
) -> Result<Json<DirectoryUserView>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    Ok(Json(
        manual::change(&state.app, &tenant, id, input, &audit).await?,
    ))
}

#[utoipa::path(
    delete, path = "/tenants/{slug}/users/{id}", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), ("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted, with its group memberships"),
        (status = 404, description = "No such tenant or user", body = ErrorBody),
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath((slug, id)): AdminPath<(String, Uuid)>,
) -> Result<StatusCode, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    manual::delete(&state.app, &tenant, id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/tenants/{slug}/mail", tag = "directory",
    params(("slug" = String, Path, description = "Tenant slug"), ListParams),
    responses(
        (status = 200, description = "The tenant's invitation e-mail and how each delivery stands, newest first", body = List<OutboxView>),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_mail(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<OutboxView>>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let page = mail::outbox(&state.app, &tenant, params.page_request()?).await?;
    Ok(Json(List::from_page(page, |m| m)))
}
