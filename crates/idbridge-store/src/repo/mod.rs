//! The store, written once over [`Db`]: `SqlStore<Sqlite>` (`SqliteStore`) and
//! `SqlStore<Postgres>` (`PostgresStore`) are the same code.
//!
//! This module holds the spine (tenants, the app's clients, credentials, roles);
//! each other area has its own module beside it.

pub(crate) mod directory;

use async_trait::async_trait;
use idbridge_core::TenantSlug;
use idbridge_core::roles::{MappingSource, RoleMapping, RolePolicy};
use idbridge_core::secret::SecretHash;
use sqlx::Pool;
use sqlx::pool::PoolConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Db, FromRow, Row, Scalar, Ts, query};
use crate::group_commit::{BatchWriter, GroupCommit};
use crate::page_anchors::PageAnchors;
use crate::readers::{ReadConn, Readers};
use crate::sign_in_batch::{SignInBatcher, SignInWrite, Written};
use crate::{
    ActiveScimToken, AdminKeyRecord, AuditRecord, Backend, ClientRepo, CredentialRepo, NewEvent,
    OidcClient, Page, PageRequest, Result, RoleRepo, ScimTokenRecord, Store, StoreError, Tenant,
    TenantRepo, TenantUpdate, WriteContext,
};
use directory::{DirectoryWrite, DirectoryWrites};

// The areas beside the spine, each written once.
pub(crate) mod audit;
mod branding;
mod connection;
pub(crate) mod console;
pub(crate) mod domain;
pub(crate) mod mail;
mod oidc;
mod saml;
pub(crate) mod setup_link;
pub(crate) mod webhook;

/// The store on one backend.
pub(crate) struct SqlStore<D: Db> {
    /// Readers, kept by the store without sqlx's ping as each is given back (see
    /// `crate::readers`). On SQLite, WAL lets them run beside the writer.
    pub(crate) readers: Readers<D>,
    /// Where writes go. On SQLite, the one connection that writes: a file has a
    /// single writer, and queueing writes here, in order, beats letting them collide
    /// in SQLite's sleeping busy handler. On PostgreSQL, a pool of the other half
    /// of `--database-max-connections` (the readers have one half).
    pub(crate) writer: Pool<D>,
    /// Sign-in records, group-committed on the writer (see `crate::sign_in_batch`).
    pub(crate) sign_ins: SignInBatcher<SignInWrites<D>>,
    /// Users and groups, group-committed on the writer (see `directory::writes`).
    pub(crate) directory: GroupCommit<DirectoryWrites<D>>,
    /// Where the next page of each directory walk starts.
    pub(crate) anchors: PageAnchors,
}

impl<D: Db> SqlStore<D> {
    pub(crate) fn new(readers: Readers<D>, writer: Pool<D>) -> Self {
        Self {
            sign_ins: SignInBatcher::new(SignInWrites {
                writer: writer.clone(),
            }),
            directory: GroupCommit::new(DirectoryWrites {
                writer: writer.clone(),
            }),
            readers,
            writer,
            anchors: PageAnchors::default(),
        }
    }

    /// A connection for reading.
    pub(crate) async fn read(&self) -> Result<ReadConn<D>> {
        self.readers.acquire().await
    }

    /// The connection for a single-statement write.
    pub(crate) async fn write(&self) -> Result<PoolConnection<D>> {
        Ok(self.writer.acquire().await?)
    }

    /// A write of users or groups, once the transaction that made it has committed:
    /// done (with the group's new version, for a member change), or why not.
    pub(crate) async fn directory_write(&self, write: DirectoryWrite) -> Result<Option<i64>> {
        self.directory.submit(write).await?
    }

    /// A transaction that will write.
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, D>> {
        Ok(self.writer.begin_with(D::BEGIN_WRITE).await?)
    }
}

/// The sign-in group commit's writer: the backend's batch statements on the writer.
pub(crate) struct SignInWrites<D: Db> {
    writer: Pool<D>,
}

#[async_trait]
impl<D: Db> BatchWriter for SignInWrites<D> {
    type Write = SignInWrite;
    type Answer = Written;

    async fn write_together(&self, batch: &[&SignInWrite]) -> Result<Vec<Written>> {
        D::write_sign_ins(&self.writer, batch).await
    }
}

/// Rows after the cursor, one more than the page holds.
pub(crate) fn overfetch(page: PageRequest) -> (Option<Uuid>, i64) {
    (page.after, i64::from(page.effective_limit()) + 1)
}

/// A keyset page of `rows` fetched with [`overfetch`].
pub(crate) fn page_of<T>(rows: Vec<T>, page: PageRequest, id_of: impl Fn(&T) -> Uuid) -> Page<T> {
    Page::from_overfetch(rows, page.effective_limit(), id_of)
}

pub(crate) fn slug(row: &impl Row, column: &str) -> Result<TenantSlug> {
    let raw: String = row.get(column)?;
    TenantSlug::parse(&raw).map_err(|e| StoreError::Corrupt(format!("slug {raw:?}: {e}")))
}

impl FromRow for Tenant {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(Tenant {
            id: row.get("id")?,
            slug: slug(row, "slug")?,
            name: row.get("name")?,
            sso_required: row.get("sso_required")?,
            jit_enabled: row.get("jit_enabled")?,
            require_verified_domains: row.get("require_verified_domains")?,
            default_role: row.get("default_role")?,
            role_policy: row.parsed("role_policy", RolePolicy::parse)?,
            invite_new_users: row.get("invite_new_users")?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
        })
    }
}

impl FromRow for OidcClient {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(OidcClient {
            id: row.get("id")?,
            name: row.get("name")?,
            redirect_uris: row.json("redirect_uris")?,
            is_public: row.get("is_public")?,
            id_token_alg: row.get("id_token_alg")?,
            created_at: row.time("created_at")?,
        })
    }
}

impl FromRow for ScimTokenRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(ScimTokenRecord {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            description: row.get("description")?,
            created_at: row.time("created_at")?,
            last_used_at: row.opt_time("last_used_at")?,
            revoked_at: row.opt_time("revoked_at")?,
        })
    }
}

/// The names of an [`ActiveScimToken`]'s columns in a statement.
pub(crate) struct TokenColumns {
    id: &'static str,
    tenant_id: &'static str,
    last_used_at: &'static str,
    slug: &'static str,
    require_verified_domains: &'static str,
    invite_new_users: &'static str,
}

impl TokenColumns {
    /// As [`ACTIVE_SCIM_TOKEN`] names them.
    const PLAIN: Self = Self {
        id: "id",
        tenant_id: "tenant_id",
        last_used_at: "last_used_at",
        slug: "slug",
        require_verified_domains: "require_verified_domains",
        invite_new_users: "invite_new_users",
    };
    /// As [`crate::scim_sql::CALLER_COLUMNS`] names them, beside a page's.
    pub(crate) const CALLER: Self = Self {
        id: "caller_token_id",
        tenant_id: "caller_tenant_id",
        last_used_at: "caller_last_used_at",
        slug: "caller_slug",
        require_verified_domains: "caller_require_verified_domains",
        invite_new_users: "caller_invite_new_users",
    };

    pub(crate) fn read(&self, row: &impl Row) -> Result<ActiveScimToken> {
        Ok(ActiveScimToken {
            token_id: row.get(self.id)?,
            tenant_id: row.get(self.tenant_id)?,
            tenant_slug: slug(row, self.slug)?,
            require_verified_domains: row.get(self.require_verified_domains)?,
            invite_new_users: row.get(self.invite_new_users)?,
            last_used_at: row.opt_time(self.last_used_at)?,
        })
    }
}

impl FromRow for ActiveScimToken {
    fn from_row(row: &impl Row) -> Result<Self> {
        TokenColumns::PLAIN.read(row)
    }
}

impl FromRow for AdminKeyRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(AdminKeyRecord {
            id: row.get("id")?,
            name: row.get("name")?,
            created_at: row.time("created_at")?,
            last_used_at: row.opt_time("last_used_at")?,
            revoked_at: row.opt_time("revoked_at")?,
        })
    }
}

impl FromRow for RoleMapping {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(RoleMapping {
            source: row.parsed("source", MappingSource::parse)?,
            value: row.get("value")?,
            role: row.get("role")?,
        })
    }
}

/// Ends a write transaction of an area beside the directory that raises feed
/// events (a domain verified or given up, a certificate about to expire): appends
/// them to the tenant's feed, numbered on from its counter, as a directory write
/// does. [`StoreError::NotFound`] if the tenant is gone.
pub(crate) async fn append_to_feed<D: Db>(
    conn: &mut D::Connection,
    tenant_id: Uuid,
    now: OffsetDateTime,
    events: Vec<NewEvent>,
) -> Result<()> {
    let ctx = WriteContext {
        now,
        events,
        log: None,
        audit: None,
        mail: None,
    };
    directory::finish_write::<D>(conn, tenant_id, &ctx, Vec::new(), None).await
}

/// A digest column's value.
pub(crate) fn digest(hash: &SecretHash) -> &[u8] {
    hash.as_bytes().as_slice()
}

// The hot-path lookups, named so the index tests can EXPLAIN exactly them.
pub(crate) const TENANT_BY_SLUG: &str = "SELECT * FROM tenants WHERE slug = $1";
pub(crate) const ACTIVE_SCIM_TOKEN: &str = "SELECT s.id, s.tenant_id, s.last_used_at, t.slug, \
     t.require_verified_domains, t.invite_new_users FROM scim_tokens s \
     JOIN tenants t ON t.id = s.tenant_id WHERE s.token_hash = $1 AND s.revoked_at IS NULL";
pub(crate) const ACTIVE_ADMIN_KEY: &str =
    "SELECT * FROM admin_api_keys WHERE key_hash = $1 AND revoked_at IS NULL";

#[async_trait]
impl<D: Db> Store for SqlStore<D> {
    fn backend(&self) -> Backend {
        D::BACKEND
    }

    async fn migrate(&self) -> Result<()> {
        D::migrate(&self.writer).await
    }

    async fn ping(&self) -> Result<()> {
        query::<D>("SELECT 1")
            .execute(&mut *self.read().await?)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}

#[async_trait]
impl<D: Db> TenantRepo for SqlStore<D> {
    async fn append_tenant_event(
        &self,
        tenant_id: Uuid,
        event: &NewEvent,
        now: OffsetDateTime,
        audit: &AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        append_to_feed::<D>(&mut tx, tenant_id, now, vec![event.clone()]).await?;
        audit::insert_audit_opt::<D>(&mut tx, Some(audit)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_tenant(&self, t: &Tenant, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "INSERT INTO tenants (id, slug, name, sso_required, jit_enabled, default_role, \
             created_at, updated_at, role_policy, require_verified_domains, invite_new_users) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(t.id)
        .bind(t.slug.as_str())
        .bind(&t.name)
        .bind(t.sso_required)
        .bind(t.jit_enabled)
        .bind(&t.default_role)
        .bind(Ts(t.created_at))
        .bind(Ts(t.updated_at))
        .bind(t.role_policy.as_str())
        .bind(t.require_verified_domains)
        .bind(t.invite_new_users)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict("a tenant with this slug exists"),
            other => other,
        })?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        query::<D>(TENANT_BY_SLUG)
            .bind(slug.as_str())
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn tenant_by_id(&self, id: Uuid) -> Result<Option<Tenant>> {
        query::<D>("SELECT * FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn list_tenants(&self, page: PageRequest) -> Result<Page<Tenant>> {
        let (after, limit) = overfetch(page);
        let rows =
            query::<D>("SELECT * FROM tenants WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *self.read().await?)
                .await?;
        Ok(page_of(rows, page, |t: &Tenant| t.id))
    }

    async fn update_tenant(
        &self,
        slug: &TenantSlug,
        update: &TenantUpdate,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<Tenant> {
        let mut tx = self.begin().await?;
        let tenant = query::<D>(
            "UPDATE tenants SET \
               name = COALESCE($1, name), \
               sso_required = COALESCE($2, sso_required), \
               jit_enabled = COALESCE($3, jit_enabled), \
               default_role = CASE WHEN $4 THEN $5 ELSE default_role END, \
               updated_at = $6, \
               role_policy = COALESCE($8, role_policy), \
               require_verified_domains = COALESCE($9, require_verified_domains), \
               invite_new_users = COALESCE($10, invite_new_users) \
             WHERE slug = $7 RETURNING *",
        )
        .bind(&update.name)
        .bind(update.sso_required)
        .bind(update.jit_enabled)
        .bind(update.default_role.is_some())
        .bind(update.default_role.clone().flatten())
        .bind(Ts(now))
        .bind(slug.as_str())
        .bind(update.role_policy.map(RolePolicy::as_str))
        .bind(update.require_verified_domains)
        .bind(update.invite_new_users)
        .fetch_one(&mut *tx)
        .await?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(tenant)
    }

    async fn delete_tenant(&self, slug: &TenantSlug, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>("DELETE FROM tenants WHERE slug = $1")
            .bind(slug.as_str())
            .execute_one(&mut *tx)
            .await?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl<D: Db> ClientRepo for SqlStore<D> {
    async fn create_client(
        &self,
        c: &OidcClient,
        secret_hash: Option<&SecretHash>,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "INSERT INTO oidc_clients (id, name, redirect_uris, is_public, secret_hash, created_at, \
             id_token_alg) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id)
        .bind(&c.name)
        .bind(sqlx::types::Json(&c.redirect_uris))
        .bind(c.is_public)
        .bind(secret_hash.map(digest))
        .bind(Ts(c.created_at))
        .bind(&c.id_token_alg)
        .execute(&mut *tx)
        .await?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn client_by_id(&self, id: Uuid) -> Result<Option<OidcClient>> {
        query::<D>("SELECT * FROM oidc_clients WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn client_secret_hash(&self, id: Uuid) -> Result<Option<SecretHash>> {
        let found: Option<Scalar<Vec<u8>>> = query::<D>(
            "SELECT secret_hash FROM oidc_clients WHERE id = $1 AND secret_hash IS NOT NULL",
        )
        .bind(id)
        .fetch_optional(&mut *self.read().await?)
        .await?;
        found
            .map(|Scalar(bytes)| {
                SecretHash::from_bytes(&bytes)
                    .ok_or_else(|| StoreError::Corrupt("secret_hash length".into()))
            })
            .transpose()
    }

    async fn list_clients(&self, page: PageRequest) -> Result<Page<OidcClient>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM oidc_clients WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |c: &OidcClient| c.id))
    }

    async fn client_for_redirect_uri(&self, redirect_uri: &str) -> Result<Option<Uuid>> {
        let found: Option<Scalar<Uuid>> = query::<D>(D::CLIENT_FOR_REDIRECT_URI)
            .bind(redirect_uri)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(found.map(|Scalar(id)| id))
    }

    async fn delete_client(&self, id: Uuid, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>("DELETE FROM oidc_clients WHERE id = $1")
            .bind(id)
            .execute_one(&mut *tx)
            .await?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl<D: Db> CredentialRepo for SqlStore<D> {
    async fn create_scim_token(
        &self,
        t: &ScimTokenRecord,
        hash: &SecretHash,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "INSERT INTO scim_tokens (id, tenant_id, token_hash, description, created_at, \
             last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(t.id)
        .bind(t.tenant_id)
        .bind(digest(hash))
        .bind(&t.description)
        .bind(Ts(t.created_at))
        .bind(t.last_used_at.map(Ts))
        .bind(t.revoked_at.map(Ts))
        .execute(&mut *tx)
        .await?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_scim_tokens(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<ScimTokenRecord>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM scim_tokens WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) \
             ORDER BY id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |t: &ScimTokenRecord| t.id))
    }

    async fn count_active_scim_tokens(&self, tenant_id: Uuid) -> Result<u64> {
        let Scalar(count): Scalar<i64> = query::<D>(
            "SELECT count(*) FROM scim_tokens WHERE tenant_id = $1 AND revoked_at IS NULL",
        )
        .bind(tenant_id)
        .fetch_one(&mut *self.read().await?)
        .await?;
        Ok(count.try_into().unwrap_or(0))
    }

    async fn revoke_scim_token(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(Ts(now))
        .execute_one(&mut *tx)
        .await?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn active_scim_token(&self, hash: &SecretHash) -> Result<Option<ActiveScimToken>> {
        query::<D>(ACTIVE_SCIM_TOKEN)
            .bind(digest(hash))
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn touch_scim_token(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        query::<D>("UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(Ts(now))
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }

    async fn create_admin_key(
        &self,
        k: &AdminKeyRecord,
        hash: &SecretHash,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "INSERT INTO admin_api_keys (id, name, key_hash, created_at, last_used_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(k.id)
        .bind(&k.name)
        .bind(digest(hash))
        .bind(Ts(k.created_at))
        .bind(k.last_used_at.map(Ts))
        .bind(k.revoked_at.map(Ts))
        .execute(&mut *tx)
        .await?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_admin_keys(&self, page: PageRequest) -> Result<Page<AdminKeyRecord>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM admin_api_keys WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |k: &AdminKeyRecord| k.id))
    }

    async fn revoke_admin_key(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>("UPDATE admin_api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(id)
            .bind(Ts(now))
            .execute_one(&mut *tx)
            .await?;
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn active_admin_key(&self, hash: &SecretHash) -> Result<Option<AdminKeyRecord>> {
        query::<D>(ACTIVE_ADMIN_KEY)
            .bind(digest(hash))
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn touch_admin_key(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        query::<D>("UPDATE admin_api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(Ts(now))
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl<D: Db> RoleRepo for SqlStore<D> {
    async fn app_roles(&self) -> Result<Vec<String>> {
        let rows: Vec<Scalar<String>> = query::<D>("SELECT name FROM app_roles ORDER BY position")
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(rows.into_iter().map(|Scalar(name)| name).collect())
    }

    async fn set_app_roles(&self, roles: &[String], audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>("DELETE FROM app_roles").execute(&mut tx).await?;
        for (position, name) in roles.iter().enumerate() {
            query::<D>("INSERT INTO app_roles (name, position) VALUES ($1, $2)")
                .bind(name)
                .bind(position as i64)
                .execute(&mut tx)
                .await?;
        }
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn role_mappings(&self, tenant_id: Uuid) -> Result<Vec<RoleMapping>> {
        query::<D>(
            "SELECT source, value, role FROM tenant_role_mappings WHERE tenant_id = $1 \
             ORDER BY position",
        )
        .bind(tenant_id)
        .fetch_all(&mut *self.read().await?)
        .await
    }

    async fn set_role_mappings(
        &self,
        tenant_id: Uuid,
        mappings: &[RoleMapping],
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>("DELETE FROM tenant_role_mappings WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&mut tx)
            .await?;
        for (position, m) in mappings.iter().enumerate() {
            query::<D>(
                "INSERT INTO tenant_role_mappings (tenant_id, position, source, value, role) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant_id)
            .bind(position as i64)
            .bind(m.source.as_str())
            .bind(&m.value)
            .bind(&m.role)
            .execute(&mut tx)
            .await?;
        }
        audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
