//! The embedded backend: one SQLite file in WAL mode.
//!
//! Storage conventions: ids are 16-byte UUID blobs; timestamps are INTEGER
//! microseconds since the Unix epoch (UTC), because SQLite has no timestamp type and
//! text timestamps of varying precision do not order correctly in SQL.

use std::str::FromStr;

use async_trait::async_trait;
use idbridge_core::roles::{MappingSource, RoleMapping, RolePolicy};
use idbridge_core::secret::SecretHash;
use idbridge_core::{RedirectUri, TenantSlug};
use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
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

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

// The hot-path lookups, named so the index test below can EXPLAIN exactly them.
const TENANT_BY_SLUG: &str = "SELECT * FROM tenants WHERE slug = ?1";
const ACTIVE_SCIM_TOKEN: &str = "SELECT s.id, s.tenant_id, s.last_used_at, t.slug, \
     t.require_verified_domains FROM scim_tokens s \
     JOIN tenants t ON t.id = s.tenant_id WHERE s.token_hash = ?1 AND s.revoked_at IS NULL";
const ACTIVE_ADMIN_KEY: &str =
    "SELECT * FROM admin_api_keys WHERE key_hash = ?1 AND revoked_at IS NULL";

pub struct SqliteStore {
    /// Readers: WAL mode lets them run beside the writer.
    pool: SqlitePool,
    /// The one connection that writes. SQLite has a single writer per file; queueing
    /// writes here, in order, beats letting them collide and back off in SQLite's busy
    /// handler (which sleeps), and keeps write latency flat under concurrency.
    writer: SqlitePool,
    /// Sign-in records, group-committed on the writer (see `crate::sign_in_batch`).
    sign_ins: crate::sign_in_batch::SignInBatcher<sign_in_batch::SqliteSignIns>,
}

impl SqliteStore {
    /// Prepares a pool; connects lazily (the first query opens the file, creating it).
    pub fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url.expose_secret())
            .map_err(StoreError::Backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only a power
            // loss may drop the last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        // No ping before each acquire (sqlx's default): the database is a file in
        // this process, so there is no far end to lose, and each ping was a round
        // trip to the connection's thread on every query (a sign-in made ten).
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(options.clone());
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            sign_ins: crate::sign_in_batch::SignInBatcher::new(sign_in_batch::SqliteSignIns {
                writer: writer.clone(),
            }),
            writer,
        })
    }
}

pub(super) fn micros(t: OffsetDateTime) -> i64 {
    // i64 microseconds cover ±292,000 years; OffsetDateTime's range is smaller.
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub(super) fn from_micros(us: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {us}: {e}")))
}

fn opt_from_micros(us: Option<i64>) -> Result<Option<OffsetDateTime>> {
    us.map(from_micros).transpose()
}

pub(super) fn uuid_of(row: &SqliteRow, column: &str) -> Result<Uuid> {
    Ok(row.try_get::<Uuid, _>(column)?)
}

fn slug_of(row: &SqliteRow, column: &str) -> Result<TenantSlug> {
    let raw: String = row.try_get(column)?;
    TenantSlug::parse(&raw).map_err(|e| StoreError::Corrupt(format!("slug {raw:?}: {e}")))
}

pub(super) fn tenant_from_row(row: &SqliteRow) -> Result<Tenant> {
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
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn client_from_row(row: &SqliteRow) -> Result<OidcClient> {
    let uris: String = row.try_get("redirect_uris")?;
    let redirect_uris: Vec<RedirectUri> = serde_json::from_str(&uris)
        .map_err(|e| StoreError::Corrupt(format!("redirect_uris: {e}")))?;
    Ok(OidcClient {
        id: uuid_of(row, "id")?,
        name: row.try_get("name")?,
        redirect_uris,
        is_public: row.try_get("is_public")?,
        id_token_alg: row.try_get("id_token_alg")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

fn scim_token_from_row(row: &SqliteRow) -> Result<ScimTokenRecord> {
    Ok(ScimTokenRecord {
        id: uuid_of(row, "id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        description: row.try_get("description")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        last_used_at: opt_from_micros(row.try_get("last_used_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
    })
}

fn admin_key_from_row(row: &SqliteRow) -> Result<AdminKeyRecord> {
    Ok(AdminKeyRecord {
        id: uuid_of(row, "id")?,
        name: row.try_get("name")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        last_used_at: opt_from_micros(row.try_get("last_used_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
    })
}

fn hash_of(row: &SqliteRow, column: &str) -> Result<SecretHash> {
    let bytes: Vec<u8> = row.try_get(column)?;
    SecretHash::from_bytes(&bytes).ok_or_else(|| StoreError::Corrupt(format!("{column} length")))
}

pub(super) fn one_row_affected(result: sqlx::sqlite::SqliteQueryResult) -> Result<()> {
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
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> Result<()> {
        // SQLite has no advisory lock, so two processes starting on one file would
        // both apply migration 1. Running every migration inside one IMMEDIATE
        // transaction takes the database's write lock first: a second process waits
        // (busy timeout), then finds the migrations applied. (Each migration becomes
        // a savepoint inside it, so a failure still rolls back whole.)
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // `run_direct` is what `run` calls after acquiring a connection; calling it
        // directly sidesteps a rustc limitation (the "Acquire is not general enough"
        // error) for a transaction's connection inside a Send future.
        MIGRATOR.run_direct(None, &mut *tx, false).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

#[async_trait]
impl TenantRepo for SqliteStore {
    async fn create_tenant(&self, t: &Tenant) -> Result<()> {
        sqlx::query(
            "INSERT INTO tenants (id, slug, name, sso_required, jit_enabled, default_role, \
             created_at, updated_at, role_policy, require_verified_domains) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(t.id)
        .bind(t.slug.as_str())
        .bind(&t.name)
        .bind(t.sso_required)
        .bind(t.jit_enabled)
        .bind(&t.default_role)
        .bind(micros(t.created_at))
        .bind(micros(t.updated_at))
        .bind(t.role_policy.as_str())
        .bind(t.require_verified_domains)
        .execute(&self.writer)
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
        sqlx::query("SELECT * FROM tenants WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(tenant_from_row)
            .transpose()
    }

    async fn list_tenants(&self, page: PageRequest) -> Result<Page<Tenant>> {
        let (after, limit) = overfetch(page);
        let rows =
            sqlx::query("SELECT * FROM tenants WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2")
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
               name = COALESCE(?1, name), \
               sso_required = COALESCE(?2, sso_required), \
               jit_enabled = COALESCE(?3, jit_enabled), \
               default_role = CASE WHEN ?4 THEN ?5 ELSE default_role END, \
               updated_at = ?6, \
               role_policy = COALESCE(?8, role_policy), \
               require_verified_domains = COALESCE(?9, require_verified_domains) \
             WHERE slug = ?7 RETURNING *",
        )
        .bind(&update.name)
        .bind(update.sso_required)
        .bind(update.jit_enabled)
        .bind(update.default_role.is_some())
        .bind(update.default_role.clone().flatten())
        .bind(micros(now))
        .bind(slug.as_str())
        .bind(update.role_policy.map(RolePolicy::as_str))
        .bind(update.require_verified_domains)
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StoreError::NotFound)?;
        tenant_from_row(&row)
    }

    async fn delete_tenant(&self, slug: &TenantSlug) -> Result<()> {
        let result = sqlx::query("DELETE FROM tenants WHERE slug = ?1")
            .bind(slug.as_str())
            .execute(&self.writer)
            .await?;
        one_row_affected(result)
    }
}

#[async_trait]
impl ClientRepo for SqliteStore {
    async fn create_client(&self, c: &OidcClient, secret_hash: Option<&SecretHash>) -> Result<()> {
        let uris = serde_json::to_string(&c.redirect_uris)
            .map_err(|e| StoreError::Corrupt(format!("redirect_uris: {e}")))?;
        sqlx::query(
            "INSERT INTO oidc_clients (id, name, redirect_uris, is_public, secret_hash, created_at, \
             id_token_alg) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(c.id)
        .bind(&c.name)
        .bind(uris)
        .bind(c.is_public)
        .bind(secret_hash.map(|h| h.as_bytes().to_vec()))
        .bind(micros(c.created_at))
        .bind(&c.id_token_alg)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn client_by_id(&self, id: Uuid) -> Result<Option<OidcClient>> {
        sqlx::query("SELECT * FROM oidc_clients WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(client_from_row)
            .transpose()
    }

    async fn client_secret_hash(&self, id: Uuid) -> Result<Option<SecretHash>> {
        let row = sqlx::query(
            "SELECT secret_hash FROM oidc_clients WHERE id = ?1 AND secret_hash IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(|r| hash_of(r, "secret_hash")).transpose()
    }

    async fn list_clients(&self, page: PageRequest) -> Result<Page<OidcClient>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM oidc_clients WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2",
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
            "SELECT c.id FROM oidc_clients c WHERE EXISTS \
             (SELECT 1 FROM json_each(c.redirect_uris) u WHERE u.value = ?1) ORDER BY c.id LIMIT 1",
        )
        .bind(redirect_uri)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn delete_client(&self, id: Uuid) -> Result<()> {
        let result = sqlx::query("DELETE FROM oidc_clients WHERE id = ?1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        one_row_affected(result)
    }
}

#[async_trait]
impl CredentialRepo for SqliteStore {
    async fn create_scim_token(&self, t: &ScimTokenRecord, hash: &SecretHash) -> Result<()> {
        sqlx::query(
            "INSERT INTO scim_tokens (id, tenant_id, token_hash, description, created_at, \
             last_used_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(t.id)
        .bind(t.tenant_id)
        .bind(hash.as_bytes().as_slice())
        .bind(&t.description)
        .bind(micros(t.created_at))
        .bind(t.last_used_at.map(micros))
        .bind(t.revoked_at.map(micros))
        .execute(&self.writer)
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
            "SELECT * FROM scim_tokens WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) \
             ORDER BY id LIMIT ?3",
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
            "SELECT count(*) FROM scim_tokens WHERE tenant_id = ?1 AND revoked_at IS NULL",
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
            "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, ?3) \
             WHERE tenant_id = ?1 AND id = ?2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(micros(now))
        .execute(&self.writer)
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
                last_used_at: opt_from_micros(row.try_get("last_used_at")?)?,
            })
        })
        .transpose()
    }

    async fn touch_scim_token(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE scim_tokens SET last_used_at = ?2 WHERE id = ?1")
            .bind(id)
            .bind(micros(now))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn create_admin_key(&self, k: &AdminKeyRecord, hash: &SecretHash) -> Result<()> {
        sqlx::query(
            "INSERT INTO admin_api_keys (id, name, key_hash, created_at, last_used_at, revoked_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(k.id)
        .bind(&k.name)
        .bind(hash.as_bytes().as_slice())
        .bind(micros(k.created_at))
        .bind(k.last_used_at.map(micros))
        .bind(k.revoked_at.map(micros))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn list_admin_keys(&self, page: PageRequest) -> Result<Page<AdminKeyRecord>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM admin_api_keys WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2",
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
            "UPDATE admin_api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        )
        .bind(id)
        .bind(micros(now))
        .execute(&self.writer)
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
        sqlx::query("UPDATE admin_api_keys SET last_used_at = ?2 WHERE id = ?1")
            .bind(id)
            .bind(micros(now))
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl crate::RoleRepo for SqliteStore {
    async fn app_roles(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM app_roles ORDER BY position")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn set_app_roles(&self, roles: &[String]) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM app_roles")
            .execute(&mut *tx)
            .await?;
        for (position, name) in roles.iter().enumerate() {
            sqlx::query("INSERT INTO app_roles (name, position) VALUES (?1, ?2)")
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
            "SELECT source, value, role FROM tenant_role_mappings WHERE tenant_id = ?1 ORDER BY position",
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM tenant_role_mappings WHERE tenant_id = ?1")
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        for (position, m) in mappings.iter().enumerate() {
            sqlx::query(
                "INSERT INTO tenant_role_mappings (tenant_id, position, source, value, role) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
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
    use super::*;
    use crate::scim_sql::{Dialect, IDP_FILTERS, Sql, idp_filter_page_query};
    use sqlx::sqlite::SqliteArguments;
    use sqlx::{Arguments as _, Execute as _};

    /// A migrated store on a fresh file (the handle keeps the file alive).
    async fn migrated() -> (idbridge_testkit::TestDb, SqliteStore) {
        let db = idbridge_testkit::TestDb::sqlite().await;
        let url = DatabaseUrl::parse(db.url()).expect("url");
        let store = SqliteStore::connect(&url, &PoolSettings::default()).expect("connect");
        store.migrate().await.expect("migrate");
        (db, store)
    }

    /// `EXPLAIN QUERY PLAN` of `sql` with these arguments: one line per step.
    async fn plan(store: &SqliteStore, sql: &str, args: SqliteArguments) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        sqlx::query_with(sqlx::AssertSqlSafe(explain), args)
            .fetch_all(&store.pool)
            .await
            .expect("explain")
            .iter()
            .map(|row| row.get::<String, _>("detail"))
            .collect()
    }

    /// The arguments of a built [`Sql`].
    fn arguments(binds: Vec<crate::scim_sql::Bind>) -> SqliteArguments {
        let mut query = directory::bind_all(sqlx::query("SELECT 1"), binds);
        query
            .take_arguments()
            .expect("arguments")
            .unwrap_or_default()
    }

    /// Each SCIM filter an IdP sends is answered by its own index, not by walking
    /// the tenant's rows: that is what keeps an `eq` lookup as cheap at 1 M users as
    /// at 1 k.
    #[tokio::test]
    async fn scim_filters_idps_send_use_their_index() {
        let (_db, store) = migrated().await;
        for (table, filter, index) in IDP_FILTERS {
            let Sql { text, binds, .. } = idp_filter_page_query(Dialect::Sqlite, *table, filter);
            let plan = plan(&store, &text, arguments(binds)).await;
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{filter}: expected {index}\n{plan:#?}"
            );
            assert!(
                !plan
                    .iter()
                    .any(|step| step.starts_with("SCAN") || step.ends_with("(tenant_id=?)")),
                "{filter}: walks the tenant's rows\n{plan:#?}"
            );
        }
    }

    /// Each filter of the sign-in and provisioning logs is served by its own index,
    /// which also gives the newest-first order: no scan of the tenant's log.
    #[tokio::test]
    async fn log_filters_use_their_index() {
        let (_db, store) = migrated().await;
        for (what, sql, index) in crate::log_filter::indexed_filters() {
            if sql.dialect != Dialect::Sqlite {
                continue;
            }
            let plan = plan(&store, &sql.text, arguments(sql.binds)).await;
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{what}: expected {index}\n{plan:#?}"
            );
            assert!(
                !plan
                    .iter()
                    .any(|step| step.starts_with("SCAN") || step.contains("TEMP B-TREE")),
                "{what}: scans or sorts\n{plan:#?}"
            );
        }
    }

    /// The webhooks list's trouble count reads the partial index of failing and
    /// dead pairs, not every tenant's cursor.
    #[tokio::test]
    async fn webhook_trouble_reads_only_pairs_in_trouble() {
        let (_db, store) = migrated().await;
        let mut args = SqliteArguments::default();
        args.add(uuid::Uuid::nil()).expect("bind");
        let plan = plan(&store, webhook::WEBHOOK_TROUBLE, args).await;
        assert!(
            plan.iter()
                .any(|step| step.contains("webhook_cursors_trouble_idx")),
            "{plan:#?}"
        );
    }

    /// A recent webhook poll starts from the two index ranges (feed events by id,
    /// cursors by due time) and never walks the tenants or the cursors: that is
    /// what makes an idle poll cost microseconds at any number of tenants.
    #[tokio::test]
    async fn a_recent_webhook_poll_starts_from_its_indexes() {
        let (_db, store) = migrated().await;
        let mut args = SqliteArguments::default();
        args.add(0_i64).expect("bind");
        args.add(uuid::Uuid::nil()).expect("bind");
        args.add(0_i64).expect("bind");
        args.add(16_i64).expect("bind");
        args.add(uuid::Uuid::nil()).expect("bind");
        args.add(0_i64).expect("bind");
        let plan = plan(&store, webhook::ANY_DUE_RECENTLY, args).await;
        for index in [
            "sqlite_autoindex_directory_events_1 (id>?)",
            "webhook_cursors_next_attempt_idx",
        ] {
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "expected {index}\n{plan:#?}"
            );
        }
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN t")
                || step.starts_with("SCAN tenants")
                || step.starts_with("SCAN webhook_cursors")
                || step.starts_with("SCAN c")),
            "walks tenants or cursors\n{plan:#?}"
        );
    }

    /// Every hot-path lookup is answered by an index, never a table scan.
    #[tokio::test]
    async fn hot_path_lookups_use_an_index() {
        let (_db, store) = migrated().await;
        for sql in [
            TENANT_BY_SLUG,
            ACTIVE_SCIM_TOKEN,
            ACTIVE_ADMIN_KEY,
            domain::TENANT_FOR_VERIFIED_DOMAIN,
            domain::DOMAINS_TO_RECHECK,
            setup_link::USABLE_SETUP_LINK,
            console::ACTIVE_CONSOLE_SESSION,
            webhook::WEBHOOK_TROUBLE,
        ] {
            let mut args = SqliteArguments::default();
            args.add(vec![0u8; 32]).expect("bind");
            let plan = plan(&store, sql, args).await;
            assert!(!plan.is_empty());
            for step in &plan {
                assert!(
                    step.starts_with("SEARCH") && step.contains("USING"),
                    "{sql}\n{plan:?}"
                );
            }
        }
    }
}
