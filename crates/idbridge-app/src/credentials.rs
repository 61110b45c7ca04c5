//! Bearer credentials: a tenant's SCIM tokens and the operator's admin API keys.
//! Each is shown once, when issued, and stored only as its SHA-256 digest; a
//! presented one is found by the digest of what was presented, through a unique
//! index, on every request (so a revocation acts at once on every process).

use crate::audit::Audit;
use idbridge_core::audit::AuditAction;
use idbridge_core::secret::{AdminApiKey, BootstrapAdminKey, ScimToken, SecretHash};
use idbridge_store::{
    ActiveScimToken, AdminKeyRecord, ListRequest, Page, PageRequest, ScimTokenRecord, StoreError,
    StoredUsersPage, Tenant,
};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::tenants::{MAX_NAME_CHARS, TenantRef, find, validate_text};
use crate::{App, Error, Result};

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// What the token is for, e.g. "Entra ID provisioning".
    #[serde(default)]
    pub description: Option<String>,
}

/// A SCIM token just issued: the only time the token itself exists outside the IdP.
pub struct IssuedScimToken {
    pub tenant: Tenant,
    pub record: ScimTokenRecord,
    pub token: ScimToken,
}

pub async fn issue_scim_token(
    app: &App,
    raw_slug: &str,
    input: CreateScimToken,
    audit: &Audit,
) -> Result<IssuedScimToken> {
    let tenant = find(app, raw_slug).await?;
    let description = input
        .description
        .map(|d| validate_text("description", &d, MAX_NAME_CHARS))
        .transpose()?;
    let token = ScimToken::generate();
    let record = ScimTokenRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        description,
        created_at: app.clock.now(),
        last_used_at: None,
        revoked_at: None,
    };
    let audited = audit.of_tenant(
        record.created_at,
        AuditAction::ScimTokenCreated,
        &tenant,
        Some(record.id.to_string()),
        json!({"description": record.description}),
    );
    match app
        .store
        .create_scim_token(&record, &token.hash(), Some(&audited))
        .await
    {
        Ok(()) => {}
        // The tenant was deleted between the lookup and the insert.
        Err(StoreError::NotFound) => return Err(Error::TenantNotFound(tenant.slug.to_string())),
        Err(other) => return Err(other.into()),
    }
    tracing::info!(tenant = %tenant.slug, token_id = %record.id, "SCIM token issued");
    Ok(IssuedScimToken {
        tenant,
        record,
        token,
    })
}

pub async fn list_scim_tokens(
    app: &App,
    raw_slug: &str,
    page: PageRequest,
) -> Result<Page<ScimTokenRecord>> {
    let tenant = find(app, raw_slug).await?;
    Ok(app.store.list_scim_tokens(tenant.id, page).await?)
}

pub async fn revoke_scim_token(app: &App, raw_slug: &str, id: Uuid, audit: &Audit) -> Result<()> {
    let tenant = find(app, raw_slug).await?;
    let now = app.clock.now();
    let audited = audit.of_tenant(
        now,
        AuditAction::ScimTokenRevoked,
        &tenant,
        Some(id.to_string()),
        json!({}),
    );
    match app
        .store
        .revoke_scim_token(tenant.id, id, now, Some(&audited))
        .await
    {
        Ok(()) => {
            tracing::info!(tenant = %tenant.slug, token_id = %id, "SCIM token revoked");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(Error::NotFound("SCIM token")),
        Err(other) => Err(other.into()),
    }
}

/// An admin API key just created: the only time the key itself is shown.
pub struct CreatedAdminKey {
    pub record: AdminKeyRecord,
    pub key: AdminApiKey,
}

pub async fn create_admin_key(app: &App, name: &str, audit: &Audit) -> Result<CreatedAdminKey> {
    let name = validate_text("name", name, MAX_NAME_CHARS)?;
    let key = AdminApiKey::generate();
    let record = AdminKeyRecord {
        id: Uuid::now_v7(),
        name,
        created_at: app.clock.now(),
        last_used_at: None,
        revoked_at: None,
    };
    let audited = audit.record(
        record.created_at,
        AuditAction::AdminKeyCreated,
        None,
        Some(record.id.to_string()),
        json!({"name": record.name}),
    );
    app.store
        .create_admin_key(&record, &key.hash(), Some(&audited))
        .await?;
    tracing::info!(key_id = %record.id, "admin API key created");
    Ok(CreatedAdminKey { record, key })
}

pub async fn list_admin_keys(app: &App, page: PageRequest) -> Result<Page<AdminKeyRecord>> {
    Ok(app.store.list_admin_keys(page).await?)
}

pub async fn revoke_admin_key(app: &App, id: Uuid, audit: &Audit) -> Result<()> {
    let now = app.clock.now();
    let audited = audit.record(
        now,
        AuditAction::AdminKeyRevoked,
        None,
        Some(id.to_string()),
        json!({}),
    );
    match app.store.revoke_admin_key(id, now, Some(&audited)).await {
        Ok(()) => {
            tracing::info!(key_id = %id, "admin API key revoked");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(Error::NotFound("admin API key")),
        Err(other) => Err(other.into()),
    }
}

/// `last_used_at` of a credential is written at most once per this interval, so the
/// hot path of authentication stays a read.
pub const LAST_USED_GRANULARITY: time::Duration = time::Duration::seconds(60);

/// Who is calling the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminPrincipal {
    /// The operator's `--admin-api-key`.
    Bootstrap,
    Key(Uuid),
}

impl AdminPrincipal {
    /// This principal as the audit log names it, making a change from `ip`.
    pub fn audit(self, ip: Option<String>) -> crate::audit::Audit {
        let id = match self {
            AdminPrincipal::Bootstrap => "bootstrap".to_owned(),
            AdminPrincipal::Key(id) => id.to_string(),
        };
        crate::audit::Audit::admin_key(id, ip)
    }
}

/// The principal a presented admin credential names, if any: the bootstrap key
/// (compared in constant time, and always compared, so a match costs what a miss
/// does), else a non-revoked admin key.
pub async fn authenticate_admin(
    app: &App,
    bootstrap: Option<&BootstrapAdminKey>,
    presented: &str,
) -> Result<Option<AdminPrincipal>> {
    if bootstrap.is_some_and(|key| key.matches(presented)) {
        return Ok(Some(AdminPrincipal::Bootstrap));
    }
    let Ok(key) = AdminApiKey::parse(presented) else {
        return Ok(None);
    };
    let Some(record) = app.store.active_admin_key(&key.hash()).await? else {
        return Ok(None);
    };
    let now = app.clock.now();
    if record
        .last_used_at
        .is_none_or(|last| now - last >= LAST_USED_GRANULARITY)
    {
        app.store.touch_admin_key(record.id, now).await?;
    }
    Ok(Some(AdminPrincipal::Key(record.id)))
}

/// A SCIM request's caller, once its token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimCaller {
    pub tenant: TenantRef,
    pub token_id: Uuid,
}

/// A SCIM token as presented, not yet checked: only its digest, which is what the
/// store looks tokens up by.
#[derive(Clone, Copy)]
pub struct PresentedScimToken(SecretHash);

impl PresentedScimToken {
    /// `None` for anything that cannot be a SCIM token (refused without a lookup).
    pub fn parse(presented: &str) -> Option<Self> {
        ScimToken::parse(presented)
            .ok()
            .map(|token| Self(token.hash()))
    }
}

/// The caller a presented SCIM token names, if the token is known, not revoked,
/// and a token of the tenant at `slug` (a token of one tenant never reaches
/// another). One answer, `None`, for every failure.
pub async fn authenticate_scim(
    app: &App,
    slug: &str,
    presented: PresentedScimToken,
) -> Result<Option<ScimCaller>> {
    let Some(active) = app.store.active_scim_token(&presented.0).await? else {
        return Ok(None);
    };
    Ok(scim_caller(app, slug, active).await?)
}

/// The users of a SCIM list (`GET /Users`) for whoever presented `presented` on
/// the tenant at `slug`, the token checked as [`authenticate_scim`] checks it but,
/// for a lookup of one user (what IdPs send before each write), in the page's own
/// statement. `None` for every failure of the token; nothing of a tenant is read
/// for a token that does not open it. The errors are the store's, as any list's
/// (a filter the store cannot compile is [`StoreError::InvalidQuery`]): outside,
/// before the caller is known; inside, the list's, for a known caller.
pub async fn list_users_as(
    app: &App,
    slug: &str,
    presented: PresentedScimToken,
    request: &ListRequest,
    with_groups: bool,
) -> Result<Option<(ScimCaller, Result<StoredUsersPage, StoreError>)>, StoreError> {
    let Some(read) = app
        .store
        .list_stored_users_as(&presented.0, slug, request, with_groups)
        .await?
    else {
        return Ok(None);
    };
    let Some(caller) = scim_caller(app, slug, read.token).await? else {
        return Ok(None);
    };
    Ok(Some((caller, read.page)))
}

/// The caller an active token names, if it is a token of the tenant at `slug`;
/// its use is recorded (at most once a [`LAST_USED_GRANULARITY`]).
async fn scim_caller(
    app: &App,
    slug: &str,
    active: ActiveScimToken,
) -> Result<Option<ScimCaller>, StoreError> {
    if active.tenant_slug.as_str() != slug {
        tracing::warn!(token_id = %active.token_id, "SCIM token used on another tenant's URL");
        return Ok(None);
    }
    let now = app.clock.now();
    if active
        .last_used_at
        .is_none_or(|last| now - last >= LAST_USED_GRANULARITY)
    {
        app.store.touch_scim_token(active.token_id, now).await?;
    }
    Ok(Some(ScimCaller {
        tenant: TenantRef {
            id: active.tenant_id,
            slug: active.tenant_slug,
            require_verified_domains: active.require_verified_domains,
            invite_new_users: active.invite_new_users,
        },
        token_id: active.token_id,
    }))
}
