//! Tenants: the app's enterprise customers. Shared by the admin API, the console
//! and the CLI, so all three apply the same rules.

use idbridge_core::TenantSlug;
use idbridge_core::audit::AuditAction;
use idbridge_core::roles::RolePolicy;
use idbridge_store::{DomainCounts, Page, PageRequest, StoreError, Tenant, TenantUpdate};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::Audit;
use crate::{App, Error, Result};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_ROLE_CHARS: usize = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// `[a-z0-9-]{1,63}`; appears in every URL handed to the IdP.
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = "Acme Inc")]
    pub name: String,
    #[serde(default)]
    pub sso_required: Option<bool>,
    #[serde(default)]
    pub jit_enabled: Option<bool>,
    /// Refuse SAML sign-ins and SCIM users whose email domain this tenant has not
    /// verified. Default false.
    #[serde(default)]
    pub require_verified_domains: Option<bool>,
    #[serde(default)]
    pub default_role: Option<String>,
    /// `highest` (default) or `all`: what a user with several app roles gets.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "highest")]
    pub role_policy: Option<RolePolicy>,
    /// Each user created from now on gets a `user.invited` event (and, with SMTP
    /// configured, an invitation e-mail). Default false.
    #[serde(default)]
    pub invite_new_users: Option<bool>,
}

/// Fields to change; absent fields stay as they are. `"default_role": null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sso_required: Option<bool>,
    #[serde(default)]
    pub jit_enabled: Option<bool>,
    /// Refuse SAML sign-ins and SCIM users whose email domain this tenant has not
    /// verified. Default false.
    #[serde(default)]
    pub require_verified_domains: Option<bool>,
    #[serde(default, deserialize_with = "present_or_null")]
    #[schema(value_type = Option<String>)]
    pub default_role: Option<Option<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "all")]
    pub role_policy: Option<RolePolicy>,
    /// Each user created from now on gets a `user.invited` event (and, with SMTP
    /// configured, an invitation e-mail).
    #[serde(default)]
    pub invite_new_users: Option<bool>,
}

/// Tells "absent" (outer `None`, via `#[serde(default)]`) from "null" (`Some(None)`).
pub fn present_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A tenant as the directory and credentials need it: which, its slug (for
/// URLs), and its domain policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRef {
    pub id: Uuid,
    pub slug: TenantSlug,
    /// Users must have emails at domains the tenant verified.
    pub require_verified_domains: bool,
    /// Users created now are invited (`user.invited`).
    pub invite_new_users: bool,
}

impl From<&Tenant> for TenantRef {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id,
            slug: t.slug.clone(),
            require_verified_domains: t.require_verified_domains,
            invite_new_users: t.invite_new_users,
        }
    }
}

/// A tenant with the counts its overview shows.
#[derive(Debug, Clone)]
pub struct TenantOverview {
    pub tenant: Tenant,
    /// SCIM tokens that are not revoked.
    pub active_scim_tokens: u64,
    /// Whether the tenant's SAML connection is configured.
    pub saml_configured: bool,
    pub domains: DomainCounts,
}

/// `value` trimmed, if it is non-empty, at most `max_chars` long and free of control
/// characters; else why not, naming `field`.
pub fn validate_text(field: &str, value: &str, max_chars: usize) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Error::Invalid(format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > max_chars {
        return Err(Error::Invalid(format!(
            "{field} is longer than {max_chars} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// The tenant a slug names, or [`Error::TenantNotFound`].
pub async fn find(app: &App, raw_slug: &str) -> Result<Tenant> {
    let slug = TenantSlug::parse(raw_slug)?;
    app.store
        .tenant_by_slug(&slug)
        .await?
        .ok_or_else(|| Error::TenantNotFound(slug.to_string()))
}

async fn overview(app: &App, tenant: Tenant) -> Result<TenantOverview> {
    Ok(TenantOverview {
        active_scim_tokens: app.store.count_active_scim_tokens(tenant.id).await?,
        saml_configured: app.store.saml_connection(tenant.id).await?.is_some(),
        domains: app.store.domain_counts(tenant.id).await?,
        tenant,
    })
}

pub async fn create(app: &App, input: CreateTenant, audit: &Audit) -> Result<TenantOverview> {
    let slug = TenantSlug::parse(&input.slug)?;
    let name = validate_text("name", &input.name, MAX_NAME_CHARS)?;
    let default_role = input
        .default_role
        .map(|r| validate_text("default_role", &r, MAX_ROLE_CHARS))
        .transpose()?;
    let now = app.clock.now();
    let tenant = Tenant {
        id: Uuid::now_v7(),
        slug: slug.clone(),
        name,
        sso_required: input.sso_required.unwrap_or(false),
        jit_enabled: input.jit_enabled.unwrap_or(true),
        require_verified_domains: input.require_verified_domains.unwrap_or(false),
        default_role,
        role_policy: input.role_policy.unwrap_or_default(),
        invite_new_users: input.invite_new_users.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    let record = audit.of_tenant(
        now,
        AuditAction::TenantCreated,
        &tenant,
        None,
        json!({
            "name": tenant.name,
            "sso_required": tenant.sso_required,
            "jit_enabled": tenant.jit_enabled,
            "require_verified_domains": tenant.require_verified_domains,
            "default_role": tenant.default_role,
            "role_policy": tenant.role_policy.as_str(),
            "invite_new_users": tenant.invite_new_users,
        }),
    );
    match app.store.create_tenant(&tenant, Some(&record)).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(Error::TenantExists(slug.to_string())),
        Err(other) => return Err(other.into()),
    }
    tracing::info!(tenant = %slug, "tenant created");
    Ok(TenantOverview {
        tenant,
        active_scim_tokens: 0,
        saml_configured: false,
        domains: DomainCounts::default(),
    })
}

pub async fn get(app: &App, raw_slug: &str) -> Result<TenantOverview> {
    let tenant = find(app, raw_slug).await?;
    overview(app, tenant).await
}

pub async fn list(app: &App, page: PageRequest) -> Result<Page<Tenant>> {
    Ok(app.store.list_tenants(page).await?)
}

pub async fn update(
    app: &App,
    raw_slug: &str,
    input: UpdateTenant,
    audit: &Audit,
) -> Result<TenantOverview> {
    let current = find(app, raw_slug).await?;
    let slug = current.slug.clone();
    let update = TenantUpdate {
        name: input
            .name
            .map(|n| validate_text("name", &n, MAX_NAME_CHARS))
            .transpose()?,
        sso_required: input.sso_required,
        jit_enabled: input.jit_enabled,
        require_verified_domains: input.require_verified_domains,
        default_role: input
            .default_role
            .map(|r| {
                r.map(|r| validate_text("default_role", &r, MAX_ROLE_CHARS))
                    .transpose()
            })
            .transpose()?,
        role_policy: input.role_policy,
        invite_new_users: input.invite_new_users,
    };
    if update == TenantUpdate::default() {
        return overview(app, current).await;
    }
    let now = app.clock.now();
    let record = audit.of_tenant(
        now,
        AuditAction::TenantUpdated,
        &current,
        None,
        update_summary(&update),
    );
    let tenant = match app
        .store
        .update_tenant(&slug, &update, now, Some(&record))
        .await
    {
        Ok(tenant) => tenant,
        Err(StoreError::NotFound) => return Err(Error::TenantNotFound(slug.to_string())),
        Err(other) => return Err(other.into()),
    };
    tracing::info!(tenant = %slug, "tenant updated");
    overview(app, tenant).await
}

/// What an update sets, as its audit record says it: only the fields it changes.
fn update_summary(update: &TenantUpdate) -> serde_json::Value {
    let mut changes = serde_json::Map::new();
    let mut put = |key: &str, value: Option<serde_json::Value>| {
        if let Some(value) = value {
            changes.insert(key.to_owned(), value);
        }
    };
    put("name", update.name.clone().map(Into::into));
    put("sso_required", update.sso_required.map(Into::into));
    put("jit_enabled", update.jit_enabled.map(Into::into));
    put(
        "require_verified_domains",
        update.require_verified_domains.map(Into::into),
    );
    put(
        "default_role",
        update.default_role.clone().map(|r| json!(r)),
    );
    put("role_policy", update.role_policy.map(|p| p.as_str().into()));
    put("invite_new_users", update.invite_new_users.map(Into::into));
    serde_json::Value::Object(changes)
}

pub async fn delete(app: &App, raw_slug: &str, audit: &Audit) -> Result<()> {
    let tenant = find(app, raw_slug).await?;
    let slug = tenant.slug.clone();
    let record = audit.of_tenant(
        app.clock.now(),
        AuditAction::TenantDeleted,
        &tenant,
        None,
        json!({"name": tenant.name}),
    );
    match app.store.delete_tenant(&slug, Some(&record)).await {
        Ok(()) => {
            tracing::info!(tenant = %slug, "tenant deleted");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(Error::TenantNotFound(slug.to_string())),
        Err(other) => Err(other.into()),
    }
}
