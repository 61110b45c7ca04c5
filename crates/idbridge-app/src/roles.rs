//! App roles, each tenant's role mappings, and [`TenantRoles`]: the one place a
//! user's app roles are worked out, for the directory views, the ID token and the
//! "test connection" page alike.

use crate::audit::Audit;
use idbridge_core::audit::AuditAction;
use idbridge_core::roles::{MappingSource, RoleMapping, RolePolicy, RoleRules};
use idbridge_store::{Tenant, TenantUpdate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::tenants::{MAX_ROLE_CHARS, find};
use crate::{App, Error, Result};

const MAX_ROLES: usize = 100;
const MAX_MAPPINGS: usize = 1000;

/// The operator's app roles and one tenant's rules: everything needed to turn what
/// an IdP says about a user into app roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantRoles {
    /// The app's roles, highest priority first.
    pub app_roles: Vec<String>,
    pub rules: RoleRules,
}

impl TenantRoles {
    /// The tenant's rules as stored now.
    pub async fn load(app: &App, tenant: &Tenant) -> Result<Self, idbridge_store::StoreError> {
        Ok(Self {
            app_roles: app.store.app_roles().await?,
            rules: RoleRules {
                mappings: app.store.role_mappings(tenant.id).await?,
                default_role: tenant.default_role.clone(),
                policy: tenant.role_policy,
            },
        })
    }

    /// The app roles of a user the IdP gives these role values and group names.
    pub fn resolve(&self, idp_roles: &[&str], groups: &[&str]) -> Vec<String> {
        idbridge_core::roles::resolve(&self.app_roles, &self.rules, idp_roles, groups)
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRoles {
    /// The app's role names, highest priority first.
    #[schema(example = json!(["admin", "AppAdmin", "member"]))]
    pub roles: Vec<String>,
}

fn check_role_name(name: &str) -> Result<()> {
    if name.trim().is_empty()
        || name.trim() != name
        || name.chars().count() > MAX_ROLE_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(Error::Invalid(format!(
            "role {name:?} must be 1 to {MAX_ROLE_CHARS} characters, without surrounding spaces"
        )));
    }
    Ok(())
}

pub async fn app_roles(app: &App) -> Result<Vec<String>> {
    Ok(app.store.app_roles().await?)
}

/// Replaces the app's roles after checking them.
pub async fn set_app_roles(app: &App, roles: Vec<String>, audit: &Audit) -> Result<Vec<String>> {
    if roles.len() > MAX_ROLES {
        return Err(Error::Invalid(format!("at most {MAX_ROLES} roles")));
    }
    for (i, role) in roles.iter().enumerate() {
        check_role_name(role)?;
        if roles[..i].iter().any(|r| r.eq_ignore_ascii_case(role)) {
            return Err(Error::Invalid(format!("role {role:?} is listed twice")));
        }
    }
    let audited = audit.record(
        app.clock.now(),
        AuditAction::AppRolesUpdated,
        None,
        None,
        json!({"roles": roles}),
    );
    app.store.set_app_roles(&roles, Some(&audited)).await?;
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

/// The tenant's mappings, policy and default role.
pub async fn role_mappings(app: &App, slug: &str) -> Result<RoleMappings> {
    let tenant = find(app, slug).await?;
    let mappings = app.store.role_mappings(tenant.id).await?;
    Ok(answer(&tenant, mappings))
}

/// Replaces the tenant's mappings (and its policy, when given) after checking each
/// against the app's roles.
pub async fn set_role_mappings(
    app: &App,
    slug: &str,
    input: PutRoleMappings,
    audit: &Audit,
) -> Result<RoleMappings> {
    let mut tenant = find(app, slug).await?;
    if input.mappings.len() > MAX_MAPPINGS {
        return Err(Error::Invalid(format!("at most {MAX_MAPPINGS} mappings")));
    }
    let app_roles = app.store.app_roles().await?;
    let mut mappings = Vec::with_capacity(input.mappings.len());
    for m in input.mappings {
        check_role_name(&m.role)?;
        if m.value.trim().is_empty() || m.value.chars().count() > 256 {
            return Err(Error::Invalid(
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
                    Error::Invalid(format!(
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
    let audited = audit.of_tenant(
        app.clock.now(),
        AuditAction::RoleMappingsUpdated,
        &tenant,
        None,
        json!({
            "mappings": mappings.iter().map(|m| json!({"source": m.source.as_str(), "value": m.value, "role": m.role})).collect::<Vec<_>>(),
            "policy": input.policy.map(|p| p.as_str()),
        }),
    );
    app.store
        .set_role_mappings(tenant.id, &mappings, Some(&audited))
        .await?;
    if let Some(policy) = input.policy.filter(|p| *p != tenant.role_policy) {
        let update = TenantUpdate {
            role_policy: Some(policy),
            ..TenantUpdate::default()
        };
        tenant = app
            .store
            .update_tenant(&tenant.slug, &update, app.clock.now(), None)
            .await?;
    }
    tracing::info!(tenant = %tenant.slug, count = mappings.len(), "role mappings replaced");
    Ok(answer(&tenant, mappings))
}
