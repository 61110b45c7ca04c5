//! App roles (`/app-roles`) and a tenant's role mappings (`/tenants/{slug}/role-mappings`).

use axum::Json;
use axum::extract::State;
use idbridge_app::roles::{self, AppRoles, PutRoleMappings, RoleMappings};

use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath};

#[utoipa::path(
    get, path = "/app-roles", tag = "roles",
    responses((status = 200, description = "The app's roles, highest priority first", body = AppRoles))
)]
pub async fn get_app_roles(State(state): State<AppState>) -> Result<Json<AppRoles>, AdminError> {
    Ok(Json(AppRoles {
        roles: roles::app_roles(&state.app).await?,
    }))
}

#[utoipa::path(
    put, path = "/app-roles", tag = "roles",
    request_body = AppRoles,
    responses(
        (status = 200, description = "The app's roles, replaced", body = AppRoles),
        (status = 400, description = "Invalid or repeated role names", body = ErrorBody),
    )
)]
pub async fn put_app_roles(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminJson(input): AdminJson<AppRoles>,
) -> Result<Json<AppRoles>, AdminError> {
    Ok(Json(AppRoles {
        roles: roles::set_app_roles(&state.app, input.roles, &audit).await?,
    }))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/role-mappings", tag = "roles",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "How the tenant's IdP roles and groups become app roles", body = RoleMappings),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn get_role_mappings(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
) -> Result<Json<RoleMappings>, AdminError> {
    Ok(Json(roles::role_mappings(&state.app, &slug).await?))
}

#[utoipa::path(
    put, path = "/tenants/{slug}/role-mappings", tag = "roles",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body = PutRoleMappings,
    responses(
        (status = 200, description = "The mappings, replaced", body = RoleMappings),
        (status = 400, description = "A mapping names a role the app does not have", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn put_role_mappings(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
    AdminJson(input): AdminJson<PutRoleMappings>,
) -> Result<Json<RoleMappings>, AdminError> {
    Ok(Json(
        roles::set_role_mappings(&state.app, &slug, input, &audit).await?,
    ))
}
