//! What the `prepare-*` tools share: the migrated store, and a tenant (JIT on,
//! SSO required) with a public app registered for `callback`.

use std::sync::Arc;

use anyhow::Context;
use idbridge_core::roles::RolePolicy;
use idbridge_core::{RedirectUri, TenantSlug};
use idbridge_store::{DatabaseUrl, OidcClient, PoolSettings, Store, Tenant};
use time::OffsetDateTime;
use uuid::Uuid;

pub async fn open(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let url = DatabaseUrl::parse(database_url).context("--database-url")?;
    let store = idbridge_store::connect(&url, &PoolSettings::default())?;
    store.migrate().await?;
    Ok(store)
}

pub async fn tenant_with_app(
    store: &dyn Store,
    slug: &str,
    name: &str,
    callback: &str,
    now: OffsetDateTime,
) -> anyhow::Result<(Tenant, OidcClient)> {
    let tenant = Tenant {
        id: Uuid::now_v7(),
        slug: TenantSlug::parse(slug)?,
        name: name.into(),
        sso_required: true,
        jit_enabled: true,
        require_verified_domains: false,
        invite_new_users: false,
        default_role: None,
        role_policy: RolePolicy::Highest,
        created_at: now,
        updated_at: now,
    };
    store.create_tenant(&tenant, None).await?;
    let client = OidcClient {
        id: Uuid::now_v7(),
        name: "bench app".into(),
        redirect_uris: vec![RedirectUri::parse(callback)?],
        is_public: true,
        id_token_alg: "RS256".into(),
        created_at: now,
    };
    store.create_client(&client, None, None).await?;
    Ok((tenant, client))
}
