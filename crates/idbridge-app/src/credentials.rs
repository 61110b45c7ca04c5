//! Bearer credentials: a tenant's SCIM tokens and the operator's admin API keys.
//! Each is shown once, when issued, and stored only as its SHA-256 digest.

use idbridge_core::secret::{AdminApiKey, ScimToken};
use idbridge_store::{AdminKeyRecord, Page, PageRequest, ScimTokenRecord, StoreError, Tenant};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::tenants::{MAX_NAME_CHARS, find, validate_text};
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
    match app.store.create_scim_token(&record, &token.hash()).await {
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

pub async fn revoke_scim_token(app: &App, raw_slug: &str, id: Uuid) -> Result<()> {
    let tenant = find(app, raw_slug).await?;
    match app
        .store
        .revoke_scim_token(tenant.id, id, app.clock.now())
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

pub async fn create_admin_key(app: &App, name: &str) -> Result<CreatedAdminKey> {
    let name = validate_text("name", name, MAX_NAME_CHARS)?;
    let key = AdminApiKey::generate();
    let record = AdminKeyRecord {
        id: Uuid::now_v7(),
        name,
        created_at: app.clock.now(),
        last_used_at: None,
        revoked_at: None,
    };
    app.store.create_admin_key(&record, &key.hash()).await?;
    tracing::info!(key_id = %record.id, "admin API key created");
    Ok(CreatedAdminKey { record, key })
}

pub async fn list_admin_keys(app: &App, page: PageRequest) -> Result<Page<AdminKeyRecord>> {
    Ok(app.store.list_admin_keys(page).await?)
}

pub async fn revoke_admin_key(app: &App, id: Uuid) -> Result<()> {
    match app.store.revoke_admin_key(id, app.clock.now()).await {
        Ok(()) => {
            tracing::info!(key_id = %id, "admin API key revoked");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(Error::NotFound("admin API key")),
        Err(other) => Err(other.into()),
    }
}
