//! App roles (`/app-roles`) and a tenant's role mappings (`/tenants/{slug}/role-mappings`).

use axum::Json;
use axum::extract::State;
use idbridge_core::roles::{MappingSource, RoleMapping, RolePolicy, RoleRules};
use idbridge_store::{Tenant, TenantUpdate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::{MAX_ROLE_CHARS, find_tenant};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminJson, AdminPath};

const MAX_ROLES: usize = 100;
const MAX_MAPPINGS: usize = 1000;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRoles {
    /// The app's role names, highest priority first.
    #[schema(example = json!(["admin", "AppAdmin", "member"]))]
    pub roles: Vec<String>,
}

fn check_role_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty()
        || name.trim() != name
        || name.chars().count() > MAX_ROLE_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AdminError::InvalidRequest(format!(
            "role {name:?} must be 1 to {MAX_ROLE_CHARS} characters, without surrounding spaces"
        )));
    }
    Ok(())
}

#[utoipa::path(
    get, path = "/app-roles", tag = "roles",
    responses((status = 200, description = "The app's roles, highest priority first", body = AppRoles))
)]
pub async fn get_app_roles(State(state): State<AppState>) -> Result<Json<AppRoles>, AdminError> {
    Ok(Json(AppRoles {
        roles: state.app.store.app_roles().await?,
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
    AdminJson(input): AdminJson<AppRoles>,
) -> Result<Json<AppRoles>, AdminError> {
    Ok(Json(AppRoles {
        roles: set_app_roles(&state, input.roles).await?,
    }))
}

/// Replaces the app's roles after checking them: the API and the console both
/// come here, so both refuse the same lists.
pub async fn set_app_roles(
    state: &AppState,
    roles: Vec<String>,
) -> Result<Vec<String>, AdminError> {
    if roles.len() > MAX_ROLES {
        return Err(AdminError::InvalidRequest(format!(
            "at most {MAX_ROLES} roles"
        )));
    }
    for (i, role) in roles.iter().enumerate() {
        check_role_name(role)?;
        if roles[..i].iter().any(|r| r.eq_ignore_ascii_case(role)) {
            return Err(AdminError::InvalidRequest(format!(
                "role {role:?} is listed twice"
            )));
        }
    }
    state.app.store.set_app_roles(&roles).await?;
    tracing::info!(count = roles.len(), "app roles replaced");
    Ok(roles)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingView {
    /// `role` (an IdP role value, e.g. Entra's app role value) or `group` (a group's
    /// display name, e.g. a group Okta pushes).
    #[schema(value_type = String, example = "group")]
    pub source: MappingSource,
    /// Compared case-insensitively.
    #[schema(example = "Natoma Admins")]
    pub value: String,
    /// The app role it gives.
    #[schema(example = "admin")]
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRoleMappings {
    pub mappings: Vec<MappingView>,
    /// `highest` (default) or `all`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub policy: Option<RolePolicy>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleMappings {
    pub mappings: Vec<MappingView>,
    #[schema(value_type = String)]
    pub policy: RolePolicy,
    /// The role for users nothing maps (set with `PATCH /tenants/{slug}`).
    pub default_role: Option<String>,
}

fn answer(tenant: &Tenant, mappings: Vec<RoleMapping>) -> RoleMappings {
    RoleMappings {
        mappings: mappings
            .into_iter()
            .map(|m| MappingView {
                source: m.source,
                value: m.value,
                role: m.role,
            })
            .collect(),
        policy: tenant.role_policy,
        default_role: tenant.default_role.clone(),
    }
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
    Ok(Json(role_mappings(&state, &slug).await?))
}

/// The tenant's mappings, policy and default role.
pub async fn role_mappings(state: &AppState, slug: &str) -> Result<RoleMappings, AdminError> {
    let tenant = find_tenant(state, slug).await?;
    let mappings = state.app.store.role_mappings(tenant.id).await?;
    Ok(answer(&tenant, mappings))
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
    AdminPath(slug): AdminPath<String>,
    AdminJson(input): AdminJson<PutRoleMappings>,
) -> Result<Json<RoleMappings>, AdminError> {
    Ok(Json(set_role_mappings(&state, &slug, input).await?))
}

/// Replaces the tenant's mappings (and its policy, when given) after checking each
/// against the app's roles: the API and the console both come here.
pub async fn set_role_mappings(
    state: &AppState,
    slug: &str,
    input: PutRoleMappings,
) -> Result<RoleMappings, AdminError> {
    let mut tenant = find_tenant(state, slug).await?;
    if input.mappings.len() > MAX_MAPPINGS {
        return Err(AdminError::InvalidRequest(format!(
            "at most {MAX_MAPPINGS} mappings"
        )));
    }
    let app_roles = state.app.store.app_roles().await?;
    let mut mappings = Vec::with_capacity(input.mappings.len());
    for m in input.mappings {
        check_role_name(&m.role)?;
        if m.value.trim().is_empty() || m.value.chars().count() > 256 {
            return Err(AdminError::InvalidRequest(
                "a mapping's value must be 1 to 256 characters".into(),
            ));
        }
        let role = if app_roles.is_empty() {
            m.role
        } else {
            app_roles
                .iter()
                .find(|r| r.eq_ignore_ascii_case(&m.role))
                .cloned()
                .ok_or_else(|| {
                    AdminError::InvalidRequest(format!(
                        "{:?} is not an app role (see GET /api/v1/app-roles)",
                        m.role
                    ))
                })?
        };
        mappings.push(RoleMapping {
            source: m.source,
            value: m.value,
            role,
        });
    }
    state
        .app
        .store
        .set_role_mappings(tenant.id, &mappings)
        .await?;
    if let Some(policy) = input.policy.filter(|p| *p != tenant.role_policy) {
        let update = TenantUpdate {
            role_policy: Some(policy),
            ..TenantUpdate::default()
        };
        tenant = state
            .app
            .store
            .update_tenant(&tenant.slug, &update, state.app.clock.now())
            .await?;
    }
    tracing::info!(tenant = %tenant.slug, count = mappings.len(), "role mappings replaced");
    Ok(answer(&tenant, mappings))
}

/// A tenant's rules, for resolving users' roles.
pub async fn rules_of(
    state: &AppState,
    tenant: &Tenant,
) -> Result<(Vec<String>, RoleRules), AdminError> {
    let app_roles = state.app.store.app_roles().await?;
    let mappings = state.app.store.role_mappings(tenant.id).await?;
    Ok((
        app_roles,
        RoleRules {
            mappings,
            default_role: tenant.default_role.clone(),
            policy: tenant.role_policy,
        },
    ))
}
