//! The production backend: PostgreSQL, shared by any number of idbridge processes.
//!
//! Native types throughout (uuid, timestamptz, bytea, jsonb). Every operation is a
//! single statement or an explicit transaction, so two processes never see half of
//! one another's work.

use std::str::FromStr;

use async_trait::async_trait;
use idbridge_core::roles::{MappingSource, RoleMapping, RolePolicy};
use idbridge_core::secret::SecretHash;
use idbridge_core::{RedirectUri, TenantSlug};
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    ActiveScimToken, AdminKeyRecord, Backend, ClientRepo, CredentialRepo, DatabaseUrl, OidcClient,
    Page, PageRequest, PoolSettings, Result, ScimTokenRecord, Store, StoreError, Tenant,
    TenantRepo, TenantUpdate,
};

mod console;
mod directory;
mod domain;
mod oidc;
mod saml;
mod setup_link;
mod sign_in_batch;
mod webhook;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

// The hot-path lookups, named so the index test below can EXPLAIN exactly them.
const TENANT_BY_SLUG: &str = "SELECT * FROM tenants WHERE slug = $1";
const ACTIVE_SCIM_TOKEN: &str = "SELECT s.id, s.tenant_id, s.last_used_at, t.slug, \
     t.require_verified_domains FROM scim_tokens s \
     JOIN tenants t ON t.id = s.tenant_id WHERE s.token_hash = $1 AND s.revoked_at IS NULL";
const ACTIVE_ADMIN_KEY: &str =
    "SELECT * FROM admin_api_keys WHERE key_hash = $1 AND revoked_at IS NULL";

/// How long a pooled connection may sit unused before it is pinged on its way out.
const PING_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(10);

pub struct PostgresStore {
    pool: PgPool,
    /// Sign-in records, group-committed (see `crate::sign_in_batch`).
    sign_ins: crate::sign_in_batch::SignInBatcher<sign_in_batch::PgSignIns>,
}

impl PostgresStore {
    /// Prepares a pool; connects lazily, on the first query.
    pub fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self> {
        let options = PgConnectOptions::from_str(url.expose_secret())
            .map_err(StoreError::Backend)?
            .application_name("idbridge");
        // sqlx pings every connection before handing it out: a round trip to the
        // server before each query, which doubled a sign-in's round trips. A
        // connection in steady use has just proved itself; one that sat idle (the
        // server may have restarted, a proxy may have cut it) is still pinged.
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_WHEN_IDLE_FOR {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        Ok(Self {
            sign_ins: crate::sign_in_batch::SignInBatcher::new(sign_in_batch::PgSignIns {
                pool: pool.clone(),
            }),
            pool,
        })
    }
}

pub(super) fn uuid_of(row: &PgRow, column: &str) -> Result<Uuid> {
    Ok(row.try_get::<Uuid, _>(column)?)
}

fn slug_of(row: &PgRow, column: &str) -> Result<TenantSlug> {
    let raw: String = row.try_get(column)?;
    TenantSlug::parse(&raw).map_err(|e| StoreError::Corrupt(format!("slug {raw:?}: {e}")))
}

pub(super) fn tenant_from_row(row: &PgRow) -> Result<Tenant> {
    Ok(Tenant {
        id: uuid_of(row, "id")?,
        slug: slug_of(row, "slug")?,
        name: row.try_get("name")?,
        sso_required: row.try_get("sso_required")?,
        jit_enabled: row.try_get("jit_enabled")?,
        require_verified_domains: row.try_get("require_verified_domains")?,
        default_role: row.try_get("default_role")?,
        role_policy: {
            let raw: String = row.try_get("role_policy")?;
            RolePolicy::parse(&raw)
                .ok_or_else(|| StoreError::Corrupt(format!("role_policy {raw:?}")))?
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn client_from_row(row: &PgRow) -> Result<OidcClient> {
    let Json(redirect_uris): Json<Vec<RedirectUri>> = row.try_get("redirect_uris")?;
    Ok(OidcClient {
        id: uuid_of(row, "id")?,
        name: row.try_get("name")?,
        redirect_uris,
        is_public: row.try_get("is_public")?,
        id_token_alg: row.try_get("id_token_alg")?,
        created_at: row.try_get("created_at")?,
    })
}

fn scim_token_from_row(row: &PgRow) -> Result<ScimTokenRecord> {
    Ok(ScimTokenRecord {
        id: uuid_of(row, "id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        description: row.try_get("description")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn admin_key_from_row(row: &PgRow) -> Result<AdminKeyRecord> {
    Ok(AdminKeyRecord {
        id: uuid_of(row, "id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn hash_of(row: &PgRow, column: &str) -> Result<SecretHash> {
    let bytes: Vec<u8> = row.try_get(column)?;
    SecretHash::from_bytes(&bytes).ok_or_else(|| StoreError::Corrupt(format!("{column} length")))
}

pub(super) fn one_row_affected(result: sqlx::postgres::PgQueryResult) -> Result<()> {
    if result.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Rows after the cursor, one more than the page holds.
pub(super) fn overfetch(page: PageRequest) -> (Option<Uuid>, i64) {
    (page.after, i64::from(page.effective_limit()) + 1)
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl TenantRepo for PostgresStore {
    async fn create_tenant(&self, t: &Tenant) -> Result<()> {
        sqlx::query(
            "INSERT INTO tenants (id, slug, name, sso_required, jit_enabled, default_role, \
             created_at, updated_at, role_policy, require_verified_domains) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(t.id)
        .bind(t.slug.as_str())
        .bind(&t.name)
        .bind(t.sso_required)
        .bind(t.jit_enabled)
        .bind(&t.default_role)
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(t.role_policy.as_str())
        .bind(t.require_verified_domains)
        .execute(&self.pool)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("a tenant with this slug exists"),
            other => other,
        })?;
        Ok(())
    }

    async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        sqlx::query(TENANT_BY_SLUG)
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(tenant_from_row)
            .transpose()
    }

    async fn tenant_by_id(&self, id: Uuid) -> Result<Option<Tenant>> {
        sqlx::query("SELECT * FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(tenant_from_row)
            .transpose()
    }

    async fn list_tenants(&self, page: PageRequest) -> Result<Page<Tenant>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM tenants WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(tenant_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |t| {
            t.id
        }))
    }

    async fn update_tenant(
        &self,
        slug: &TenantSlug,
        update: &TenantUpdate,
        now: OffsetDateTime,
    ) -> Result<Tenant> {
        let row = sqlx::query(
            "UPDATE tenants SET \
               name = COALESCE($1, name), \
               sso_required = COALESCE($2, sso_required), \
               jit_enabled = COALESCE($3, jit_enabled), \
               default_role = CASE WHEN $4::boolean THEN $5 ELSE default_role END, \
               updated_at = $6, \
               role_policy = COALESCE($8, role_policy), \
               require_verified_domains = COALESCE($9, require_verified_domains) \
             WHERE slug = $7 RETURNING *",
        )
        .bind(&update.name)
        .bind(update.sso_required)
        .bind(update.jit_enabled)
        .bind(update.default_role.is_some())
        .bind(update.default_role.clone().flatten())
        .bind(now)
        .bind(slug.as_str())
        .bind(update.role_policy.map(RolePolicy::as_str))
        .bind(update.require_verified_domains)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        tenant_from_row(&row)
    }

    async fn delete_tenant(&self, slug: &TenantSlug) -> Result<()> {
        let result = sqlx::query("DELETE FROM tenants WHERE slug = $1")
            .bind(slug.as_str())
            .execute(&self.pool)
            .await?;
        one_row_affected(result)
    }
}

#[async_trait]
impl ClientRepo for PostgresStore {
    async fn create_client(&self, c: &OidcClient, secret_hash: Option<&SecretHash>) -> Result<()> {
        sqlx::query(
            "INSERT INTO oidc_clients (id, name, redirect_uris, is_public, secret_hash, created_at, \
             id_token_alg) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id)
        .bind(&c.name)
        .bind(Json(&c.redirect_uris))
        .bind(c.is_public)
        .bind(secret_hash.map(|h| h.as_bytes().to_vec()))
        .bind(c.created_at)
        .bind(&c.id_token_alg)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn client_by_id(&self, id: Uuid) -> Result<Option<OidcClient>> {
        sqlx::query("SELECT * FROM oidc_clients WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(client_from_row)
            .transpose()
    }

    async fn client_secret_hash(&self, id: Uuid) -> Result<Option<SecretHash>> {
        let row = sqlx::query(
            "SELECT secret_hash FROM oidc_clients WHERE id = $1 AND secret_hash IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(|r| hash_of(r, "secret_hash")).transpose()
    }

    async fn list_clients(&self, page: PageRequest) -> Result<Page<OidcClient>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM oidc_clients WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(client_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |c| {
            c.id
        }))
    }

    async fn client_for_redirect_uri(&self, redirect_uri: &str) -> Result<Option<Uuid>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM oidc_clients WHERE redirect_uris @> jsonb_build_array($1::text) \
             ORDER BY id LIMIT 1",
        )
        .bind(redirect_uri)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn delete_client(&self, id: Uuid) -> Result<()> {
        let result = sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row_affected(result)
    }
}

#[async_trait]
impl CredentialRepo for PostgresStore {
    async fn create_scim_token(&self, t: &ScimTokenRecord, hash: &SecretHash) -> Result<()> {
        sqlx::query(
            "INSERT INTO scim_tokens (id, tenant_id, token_hash, description, created_at, \
             last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id)
        .bind(t.tenant_id)
        .bind(hash.as_bytes().as_slice())
        .bind(&t.description)
        .bind(t.created_at)
        .bind(t.last_used_at)
        .bind(t.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_scim_tokens(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<ScimTokenRecord>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM scim_tokens WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) \
             ORDER BY id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(scim_token_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |t| {
            t.id
        }))
    }

    async fn count_active_scim_tokens(&self, tenant_id: Uuid) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM scim_tokens WHERE tenant_id = $1 AND revoked_at IS NULL",
        )
        .bind(tenant_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(count.try_into().unwrap_or(0))
    }

    async fn revoke_scim_token(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        let result = sqlx::query(
            "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        one_row_affected(result)
    }

    async fn active_scim_token(&self, hash: &SecretHash) -> Result<Option<ActiveScimToken>> {
        let row = sqlx::query(ACTIVE_SCIM_TOKEN)
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(ActiveScimToken {
                token_id: uuid_of(&row, "id")?,
                tenant_id: uuid_of(&row, "tenant_id")?,
                tenant_slug: slug_of(&row, "slug")?,
                require_verified_domains: row.try_get("require_verified_domains")?,
                last_used_at: row.try_get("last_used_at")?,
            })
        })
        .transpose()
    }

    async fn touch_scim_token(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_admin_key(&self, k: &AdminKeyRecord, hash: &SecretHash) -> Result<()> {
        sqlx::query(
            "INSERT INTO admin_api_keys (id, name, key_hash, created_at, last_used_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(k.id)
        .bind(&k.name)
        .bind(hash.as_bytes().as_slice())
        .bind(k.created_at)
        .bind(k.last_used_at)
        .bind(k.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_admin_keys(&self, page: PageRequest) -> Result<Page<AdminKeyRecord>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM admin_api_keys WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(admin_key_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |k| {
            k.id
        }))
    }

    async fn revoke_admin_key(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        let result = sqlx::query(
            "UPDATE admin_api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        one_row_affected(result)
    }

    async fn active_admin_key(&self, hash: &SecretHash) -> Result<Option<AdminKeyRecord>> {
        sqlx::query(ACTIVE_ADMIN_KEY)
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(admin_key_from_row)
            .transpose()
    }

    async fn touch_admin_key(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE admin_api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl crate::RoleRepo for PostgresStore {
    async fn app_roles(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM app_roles ORDER BY position")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn set_app_roles(&self, roles: &[String]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM app_roles")
            .execute(&mut *tx)
            .await?;
        for (position, name) in roles.iter().enumerate() {
            sqlx::query("INSERT INTO app_roles (name, position) VALUES ($1, $2)")
                .bind(name)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn role_mappings(&self, tenant_id: Uuid) -> Result<Vec<RoleMapping>> {
        let rows = sqlx::query(
            "SELECT source, value, role FROM tenant_role_mappings WHERE tenant_id = $1 ORDER BY position",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let source: String = row.try_get("source")?;
                Ok(RoleMapping {
                    source: MappingSource::parse(&source)
                        .ok_or_else(|| StoreError::Corrupt(format!("mapping source {source:?}")))?,
                    value: row.try_get("value")?,
                    role: row.try_get("role")?,
                })
            })
            .collect()
    }

    async fn set_role_mappings(&self, tenant_id: Uuid, mappings: &[RoleMapping]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM tenant_role_mappings WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        for (position, m) in mappings.iter().enumerate() {
            sqlx::query(
                "INSERT INTO tenant_role_mappings (tenant_id, position, source, value, role) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant_id)
            .bind(position as i64)
            .bind(m.source.as_str())
            .bind(&m.value)
            .bind(&m.role)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod index_tests {
    mod scim_filters_idps_send_use_their_index {
        use crate::postgres::*;
        use crate::scim_sql::{Dialect, IDP_FILTERS, Sql, idp_filter_page_query};

        /// See the SQLite twin. PostgreSQL plans by statistics, so the tables get a
        /// few thousand rows and ANALYZE first: on empty tables every plan costs the
        /// same and the test would prove nothing.
        #[tokio::test]
        async fn postgres() {
            let db = idbridge_testkit::TestDb::postgres().await;
            let url = DatabaseUrl::parse(db.url()).expect("url");
            let store = PostgresStore::connect(&url, &PoolSettings::default()).expect("connect");
            store.migrate().await.expect("migrate");
            let mut conn = store.pool.acquire().await.expect("connection");
            for statement in [
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) \
                 VALUES ('00000000-0000-0000-0000-000000000000', 'acme', 'Acme', now(), now())",
                "INSERT INTO directory_users (id, tenant_id, user_name, user_name_lower, external_id, \
                 display_name_lower, active, document, source, created_at, updated_at, version) \
                 SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', 'u' || n, 'u' || n, \
                 'x' || n, 'd' || n, true, '{}', 'scim', now(), \
                 timestamptz '2026-01-01T00:00:00Z' + n * interval '1 minute', 1 \
                 FROM generate_series(1, 5000) n",
                "INSERT INTO directory_user_emails (user_id, position, tenant_id, value_lower, type_lower, is_primary) \
                 SELECT id, 0, tenant_id, user_name_lower || '@example.com', 'work', true FROM directory_users",
                "INSERT INTO directory_groups (id, tenant_id, display_name, display_name_lower, external_id, \
                 document, created_at, updated_at, version) \
                 SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', 'g' || n, 'g' || n, 'x' || n, \
                 '{}', now(), now(), 1 FROM generate_series(1, 2000) n",
                "ANALYZE",
            ] {
                sqlx::query(statement)
                    .execute(&mut *conn)
                    .await
                    .expect(statement);
            }
            for (table, filter, index) in IDP_FILTERS {
                let Sql { text, binds, .. } =
                    idp_filter_page_query(Dialect::Postgres, *table, filter);
                let explain = format!("EXPLAIN {text}");
                let plan: Vec<String> =
                    directory::bind_all(sqlx::query(sqlx::AssertSqlSafe(explain)), binds)
                        .fetch_all(&mut *conn)
                        .await
                        .expect("explain")
                        .iter()
                        .map(|row| row.get::<String, _>(0))
                        .collect();
                assert!(
                    plan.iter().any(|line| line.contains(index)),
                    "{filter}: expected {index}\n{plan:#?}"
                );
                assert!(
                    !plan.iter().any(|line| line.contains("Seq Scan")
                        || (line.contains("Index Cond: (tenant_id = ")
                            && line.ends_with("::uuid)"))),
                    "{filter}: walks the tenant's rows\n{plan:#?}"
                );
            }
        }
    }

    mod log_filters_use_their_index {
        use crate::postgres::*;
        use crate::scim_sql::Dialect;

        /// See the SQLite twin. The logs get a few thousand rows in which each
        /// tested value is rare, and ANALYZE, so the plan is the one a real log gets.
        #[tokio::test]
        async fn postgres() {
            let db = idbridge_testkit::TestDb::postgres().await;
            let url = DatabaseUrl::parse(db.url()).expect("url");
            let store = PostgresStore::connect(&url, &PoolSettings::default()).expect("connect");
            store.migrate().await.expect("migrate");
            let mut conn = store.pool.acquire().await.expect("connection");
            for statement in [
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) \
                 VALUES ('00000000-0000-0000-0000-000000000000', 'acme', 'Acme', now(), now())",
                "INSERT INTO sign_in_events (id, tenant_id, occurred_at, outcome, reason, email, test) \
                 SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', now(), \
                 CASE WHEN n % 50 = 0 THEN 'failure' ELSE 'success' END, \
                 CASE WHEN n % 50 = 0 THEN 'reason_' || (n % 500) END, \
                 'User' || n || '@Example.com', false FROM generate_series(1, 5000) n",
                "INSERT INTO provisioning_log (id, tenant_id, occurred_at, method, path, status) \
                 SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000000', now(), \
                 CASE WHEN n % 100 = 0 THEN 'DELETE' ELSE 'POST' END, '/Users', \
                 CASE WHEN n % 100 = 1 THEN 500 ELSE 201 END FROM generate_series(1, 5000) n",
                "ANALYZE",
            ] {
                sqlx::query(statement)
                    .execute(&mut *conn)
                    .await
                    .expect(statement);
            }
            for (what, sql, index) in crate::log_filter::indexed_filters() {
                if sql.dialect != Dialect::Postgres {
                    continue;
                }
                let explain = format!("EXPLAIN {}", sql.text);
                let plan: Vec<String> =
                    directory::bind_all(sqlx::query(sqlx::AssertSqlSafe(explain)), sql.binds)
                        .fetch_all(&mut *conn)
                        .await
                        .expect("explain")
                        .iter()
                        .map(|row| row.get::<String, _>(0))
                        .collect();
                assert!(
                    plan.iter().any(|line| line.contains(index)),
                    "{what}: expected {index}\n{plan:#?}"
                );
                // A bitmap scan of the index and a top-N sort is a fair plan when
                // the index says few rows match (it does here); what must never
                // happen is reading the table.
                assert!(
                    !plan.iter().any(|line| line.contains("Seq Scan")),
                    "{what}: reads the table\n{plan:#?}"
                );
            }
        }
    }

    mod a_recent_webhook_poll_starts_from_its_indexes {
        use crate::postgres::*;

        /// A recent webhook poll loops over its two index ranges and looks tenants
        /// and cursors up by key, even on tables the planner has no statistics
        /// for (a fresh database, or one whose autovacuum is off): at 10,000
        /// tenants it never reads the tenants or the cursors whole.
        #[tokio::test]
        async fn postgres() {
            let db = idbridge_testkit::TestDb::postgres().await;
            let url = DatabaseUrl::parse(db.url()).expect("url");
            let store = PostgresStore::connect(&url, &PoolSettings::default()).expect("connect");
            store.migrate().await.expect("migrate");
            let mut conn = store.pool.acquire().await.expect("connection");
            for statement in [
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) \
                 SELECT gen_random_uuid(), 't' || n, 'T' || n, now(), now() \
                 FROM generate_series(1, 10000) n",
                "INSERT INTO webhook_endpoints (id, url, description, secret, enabled, \
                 created_at, updated_at) SELECT gen_random_uuid(), 'https://x', '', 's', true, \
                 now(), now() FROM generate_series(1, 2)",
                "INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, \
                 failures, next_attempt_at) SELECT e.id, t.id, 0, 'active', 0, 'epoch' \
                 FROM webhook_endpoints e, tenants t",
            ] {
                sqlx::query(statement)
                    .execute(&mut *conn)
                    .await
                    .expect(statement);
            }
            let explain = format!("EXPLAIN {}", webhook::ANY_DUE_RECENTLY);
            let plan: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(explain))
                .bind(OffsetDateTime::now_utc())
                .bind(16_i64)
                .bind(uuid::Uuid::now_v7())
                .bind(OffsetDateTime::now_utc() - time::Duration::minutes(2))
                .fetch_all(&mut *conn)
                .await
                .expect("explain")
                .iter()
                .map(|row| row.get::<String, _>(0))
                .collect();
            for table in ["tenants", "webhook_cursors"] {
                assert!(
                    !plan
                        .iter()
                        .any(|line| line.contains(&format!("Seq Scan on {table}"))),
                    "reads {table} whole\n{plan:#?}"
                );
            }
            assert!(
                plan.iter()
                    .any(|line| line.contains("webhook_cursors_next_attempt_idx")),
                "{plan:#?}"
            );
        }
    }

    mod hot_path_lookups_use_an_index {
        use crate::postgres::*;

        /// What each lookup's parameters are, so EXPLAIN can type them.
        enum Binds {
            Text,
            Hash,
            TimeAndLimit,
            HashAndTime,
            HashAndTimes,
            Uuid,
        }

        /// Every hot-path lookup can be answered by an index. With sequential scans
        /// disabled, the planner still picks a seq scan only if no index applies.
        #[tokio::test]
        async fn postgres() {
            let db = idbridge_testkit::TestDb::postgres().await;
            let url = DatabaseUrl::parse(db.url()).expect("url");
            let store = PostgresStore::connect(&url, &PoolSettings::default()).expect("connect");
            store.migrate().await.expect("migrate");
            let mut conn = store.pool.acquire().await.expect("connection");
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut *conn)
                .await
                .expect("set");
            for (sql, binds) in [
                (TENANT_BY_SLUG, Binds::Text),
                (ACTIVE_SCIM_TOKEN, Binds::Hash),
                (ACTIVE_ADMIN_KEY, Binds::Hash),
                (domain::TENANT_FOR_VERIFIED_DOMAIN, Binds::Text),
                (domain::DOMAINS_TO_RECHECK, Binds::TimeAndLimit),
                (setup_link::USABLE_SETUP_LINK, Binds::HashAndTime),
                (console::ACTIVE_CONSOLE_SESSION, Binds::HashAndTimes),
                (webhook::WEBHOOK_TROUBLE, Binds::Uuid),
            ] {
                let explain = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")));
                let explain = match binds {
                    Binds::Text => explain.bind("acme"),
                    Binds::Hash => explain.bind(vec![0u8; 32]),
                    Binds::TimeAndLimit => explain.bind(OffsetDateTime::UNIX_EPOCH).bind(50_i64),
                    Binds::HashAndTime => {
                        explain.bind(vec![0u8; 32]).bind(OffsetDateTime::UNIX_EPOCH)
                    }
                    Binds::HashAndTimes => explain
                        .bind(vec![0u8; 32])
                        .bind(OffsetDateTime::UNIX_EPOCH)
                        .bind(OffsetDateTime::UNIX_EPOCH),
                    Binds::Uuid => explain.bind(uuid::Uuid::nil()),
                };
                let plan: Vec<String> = explain
                    .fetch_all(&mut *conn)
                    .await
                    .expect("explain")
                    .iter()
                    .map(|row| row.get::<String, _>(0))
                    .collect();
                assert!(
                    !plan.iter().any(|line| line.contains("Seq Scan")),
                    "{sql}\n{plan:#?}"
                );
                assert!(
                    plan.iter().any(|line| line.contains("Index")),
                    "{sql}\n{plan:#?}"
                );
            }
        }
    }
}
