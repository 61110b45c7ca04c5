//! idbridge's storage: the only crate that knows SQL.
//!
//! Callers see one narrow interface, [`Store`] (split by area into the `*Repo`
//! traits), and never a connection, a transaction or a query. Each operation is one
//! atomic unit: it either happens whole or not at all. It is implemented once
//! (`repo/`, over the `Db` seam of `db.rs`) for two databases: SQLite (the embedded
//! default) and PostgreSQL (production, many idbridge processes at once). Each
//! backend (`sqlite/`, `postgres/`) supplies only what differs, and has its own
//! migrations under `migrations/{sqlite,postgres}`, embedded in the binary.
//!
//! Invariant: nothing that matters lives only in one process's memory. Anything two
//! idbridge processes must agree on (a revoked token, a used code) is read from the
//! database on every request.

mod audit;
pub mod branding;
mod connection;
mod console;
mod db;
pub mod directory;
mod domain;
mod error;
mod group_commit;
mod log_filter;
pub mod mail;
mod model;
mod oidc;
mod page_anchors;
mod postgres;
mod readers;
mod repo;
mod saml;
mod scim_sql;
pub mod setup_link;
mod sign_in_batch;
mod sqlite;
mod url;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use idbridge_core::TenantSlug;
use idbridge_core::secret::SecretHash;
use time::OffsetDateTime;
use uuid::Uuid;

pub use audit::{Actor, AuditFilter, AuditRecord, AuditRepo};
pub use branding::{Branding, BrandingRecord, BrandingRepo, Logo, LogoMeta};
pub use connection::{ConnectionKind, ConnectionRecord, ConnectionRepo, OidcFlow, OidcSettings};
pub use console::{ActiveConsoleSession, ConsoleRepo, ConsoleSession, Operator};
pub use directory::*;
pub use domain::{
    CLAIMED_BY_ANOTHER_TENANT, DomainCheckOutcome, DomainCounts, DomainRepo, TenantDomain,
};
pub use error::{Result, StoreError};
pub use log_filter::{ProvisioningFilter, SignInFilter};
pub use mail::{MailKind, MailRepo, MailState, NewMail, OutboxMail};
pub use model::*;
pub use oidc::{AccessTokenRecord, CodeCheck, OidcRepo, Redemption, StoredSigningKey};
use saml::sign_in_event;
pub use saml::{
    AuthorizationCodeRecord, FetchedMetadata, OidcRequestState, SamlConnection, SamlRepo,
    SamlRequestState, SignInEvent, SpKeyRecord,
};
pub use setup_link::{SetupLinkRecord, SetupLinkRepo};
pub use url::{Backend, DatabaseUrl, InvalidDatabaseUrl};
pub use webhook::{ClaimScope, WebhookRepo};

/// Everything idbridge keeps. Object-safe, so servers hold an `Arc<dyn Store>`.
#[async_trait]
pub trait Store:
    TenantRepo
    + ClientRepo
    + CredentialRepo
    + DirectoryRepo
    + RoleRepo
    + SamlRepo
    + ConnectionRepo
    + OidcRepo
    + DomainRepo
    + WebhookRepo
    + SetupLinkRepo
    + ConsoleRepo
    + MailRepo
    + AuditRepo
    + BrandingRepo
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Applies the embedded migrations that are not applied yet. Safe to run from
    /// several processes at once on PostgreSQL (serialised by an advisory lock).
    async fn migrate(&self) -> Result<()>;

    /// Cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;

    /// Waits for in-flight queries and closes every connection.
    async fn close(&self);
}

#[async_trait]
pub trait TenantRepo {
    /// Fails with [`StoreError::Conflict`] if the slug is taken.
    /// With `audit`, the record is written in the same transaction.
    async fn create_tenant(&self, tenant: &Tenant, audit: Option<&AuditRecord>) -> Result<()>;
    async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>>;
    async fn tenant_by_id(&self, id: Uuid) -> Result<Option<Tenant>>;
    async fn list_tenants(&self, page: PageRequest) -> Result<Page<Tenant>>;
    /// Applies `update` and sets `updated_at`; [`StoreError::NotFound`] if absent.
    async fn update_tenant(
        &self,
        slug: &TenantSlug,
        update: &TenantUpdate,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<Tenant>;
    /// Deletes the tenant and everything that belongs to it (but its audit records).
    async fn delete_tenant(&self, slug: &TenantSlug, audit: Option<&AuditRecord>) -> Result<()>;
    /// Appends `event`, about the tenant itself, to its feed, with the record of who
    /// caused it, in one transaction.
    async fn append_tenant_event(
        &self,
        tenant_id: Uuid,
        event: &NewEvent,
        now: OffsetDateTime,
        audit: &AuditRecord,
    ) -> Result<()>;
}

#[async_trait]
pub trait ClientRepo {
    /// `secret_hash` must be `Some` exactly when the client is confidential.
    async fn create_client(
        &self,
        client: &OidcClient,
        secret_hash: Option<&SecretHash>,
        audit: Option<&AuditRecord>,
    ) -> Result<()>;
    async fn client_by_id(&self, id: Uuid) -> Result<Option<OidcClient>>;
    /// The stored digest of a confidential client's secret.
    async fn client_secret_hash(&self, id: Uuid) -> Result<Option<SecretHash>>;
    async fn list_clients(&self, page: PageRequest) -> Result<Page<OidcClient>>;
    /// The client that registered exactly `redirect_uri`, if any (the oldest, should
    /// several have). Clients are the operator's apps, a handful of rows: this reads
    /// them in the database rather than paging them through the caller.
    async fn client_for_redirect_uri(&self, redirect_uri: &str) -> Result<Option<Uuid>>;
    async fn delete_client(&self, id: Uuid, audit: Option<&AuditRecord>) -> Result<()>;
}

#[async_trait]
pub trait CredentialRepo {
    async fn create_scim_token(
        &self,
        token: &ScimTokenRecord,
        hash: &SecretHash,
        audit: Option<&AuditRecord>,
    ) -> Result<()>;
    async fn list_scim_tokens(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<ScimTokenRecord>>;
    async fn count_active_scim_tokens(&self, tenant_id: Uuid) -> Result<u64>;
    /// Marks the token revoked; it stops authenticating at once, on every process.
    /// Revoking an already revoked token keeps its first `revoked_at`.
    async fn revoke_scim_token(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()>;
    /// Indexed lookup of a non-revoked token by the digest of what was presented.
    async fn active_scim_token(&self, hash: &SecretHash) -> Result<Option<ActiveScimToken>>;
    async fn touch_scim_token(&self, id: Uuid, now: OffsetDateTime) -> Result<()>;

    async fn create_admin_key(
        &self,
        key: &AdminKeyRecord,
        hash: &SecretHash,
        audit: Option<&AuditRecord>,
    ) -> Result<()>;
    async fn list_admin_keys(&self, page: PageRequest) -> Result<Page<AdminKeyRecord>>;
    async fn revoke_admin_key(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        audit: Option<&AuditRecord>,
    ) -> Result<()>;
    /// Indexed lookup of a non-revoked admin key by digest.
    async fn active_admin_key(&self, hash: &SecretHash) -> Result<Option<AdminKeyRecord>>;
    async fn touch_admin_key(&self, id: Uuid, now: OffsetDateTime) -> Result<()>;
}

/// App roles and tenants' role mappings.
#[async_trait]
pub trait RoleRepo {
    /// The operator's app roles, highest priority first.
    async fn app_roles(&self) -> Result<Vec<String>>;
    /// Replaces the app roles.
    async fn set_app_roles(&self, roles: &[String], audit: Option<&AuditRecord>) -> Result<()>;
    async fn role_mappings(
        &self,
        tenant_id: Uuid,
    ) -> Result<Vec<idbridge_core::roles::RoleMapping>>;
    /// Replaces the tenant's mappings.
    async fn set_role_mappings(
        &self,
        tenant_id: Uuid,
        mappings: &[idbridge_core::roles::RoleMapping],
        audit: Option<&AuditRecord>,
    ) -> Result<()>;
}

/// A tenant's directory. Every write is one transaction that also appends its events
/// to the tenant's feed and its line to the provisioning log; a failed write leaves
/// none of the three.
#[async_trait]
pub trait DirectoryRepo {
    /// [`StoreError::Conflict`] if the tenant has a user with this userName
    /// (compared case-insensitively).
    async fn create_user(&self, user: &DirectoryUser, ctx: &WriteContext) -> Result<()>;
    async fn user_by_id(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<DirectoryUser>>;
    /// [`Self::user_by_id`] with the groups the user directly belongs to (as
    /// [`Self::groups_of_users`] gives them), read in the same statement.
    async fn user_with_groups(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<(DirectoryUser, Vec<UserGroup>)>>;
    /// The user a sign-in with `email` is for: the one whose userName is that email,
    /// else the first whose emails include it (both compared case-insensitively).
    async fn user_for_sign_in(&self, tenant_id: Uuid, email: &str)
    -> Result<Option<DirectoryUser>>;
    /// The user made by hand (`source: manual`) whose userName or one of whose
    /// emails is `address` (lowercased by the caller): what a SCIM create adopts.
    /// One indexed statement.
    async fn manual_user_at(&self, tenant_id: Uuid, address: &str)
    -> Result<Option<DirectoryUser>>;
    /// Whether a user at `email` (userName or one of its emails, case-insensitive)
    /// was deleted and no user has been created at it since.
    async fn email_of_deleted_user(&self, tenant_id: Uuid, email: &str) -> Result<bool>;
    /// Writes `user` (whose `version` is the new version) if the stored version is
    /// `expected_version`; else [`StoreError::VersionMismatch`]. `emails_changed`
    /// false says the user's email addresses are those of `expected_version`, whose
    /// stored index rows then stay as they are (most updates change a name or a
    /// title, not an address).
    async fn update_user(
        &self,
        user: &DirectoryUser,
        expected_version: i64,
        emails_changed: bool,
        ctx: &WriteContext,
    ) -> Result<()>;
    /// Deletes the user and its group memberships (each membership removal raises a
    /// `group.member_removed` event).
    async fn delete_user(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        ctx: &WriteContext,
    ) -> Result<()>;
    async fn list_users(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
    ) -> Result<Listing<DirectoryUser>>;
    /// [`Self::list_users`] with the groups each listed user directly belongs to
    /// (as [`Self::groups_of_users`] gives them), read in the same statement: a
    /// SCIM lookup is then one statement fewer.
    async fn list_users_with_groups(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
    ) -> Result<(Listing<DirectoryUser>, Vec<UserGroup>)>;
    /// [`Self::list_users`] as a SCIM list writes it out whole: each document as
    /// stored, unparsed, and (with `with_groups`) the groups as
    /// [`Self::list_users_with_groups`] reads them.
    async fn list_stored_users(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
        with_groups: bool,
    ) -> Result<(Listing<StoredUser>, Option<Vec<UserGroup>>)>;
    /// [`Self::list_stored_users`] for whoever presented the SCIM token whose digest
    /// is `token_hash` on the tenant at `slug`: `None` if no active token has that
    /// digest; otherwise the token, with the page if it is a token of the tenant at
    /// `slug` (an empty page if not: nothing of another tenant is read). A lookup
    /// that matches at most one user (an IdP's `userName eq` before each write)
    /// checks the token in the page's own statement, one round trip instead of two;
    /// any other list reads the token first.
    async fn list_stored_users_as(
        &self,
        token_hash: &SecretHash,
        slug: &str,
        request: &ListRequest,
        with_groups: bool,
    ) -> Result<Option<StoredUsersAs>>;
    /// The groups each of these users directly belongs to.
    async fn groups_of_users(&self, tenant_id: Uuid, user_ids: &[Uuid]) -> Result<Vec<UserGroup>>;

    /// Creates the group with these members ([`StoreError::InvalidReference`] if one
    /// is not a user or group of the tenant; [`StoreError::Conflict`] if another group
    /// of the tenant has its displayName, ignoring case).
    async fn create_group(
        &self,
        group: &DirectoryGroup,
        members: &[MemberRef],
        ctx: &WriteContext,
    ) -> Result<()>;
    async fn group_by_id(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<DirectoryGroup>>;
    /// Members of these groups, as `(group id, member)`.
    async fn group_members(
        &self,
        tenant_id: Uuid,
        group_ids: &[Uuid],
    ) -> Result<Vec<(Uuid, GroupMember)>>;
    /// Writes the group document and applies the member changes in order; each
    /// membership that actually changes raises `group.member_added` or
    /// `group.member_removed`. A displayName another group of the tenant has (ignoring
    /// case) is [`StoreError::Conflict`], as in [`Self::create_group`].
    async fn update_group(
        &self,
        group: &DirectoryGroup,
        expected_version: i64,
        changes: &[MemberChange],
        ctx: &WriteContext,
    ) -> Result<()>;
    /// Applies member changes to the group as it stands when the write runs, without
    /// comparing versions, and returns its new version: concurrent member changes are
    /// applied one after another rather than refused. The document is not written;
    /// `group` names the group and its tenant. [`StoreError::NotFound`] if it is gone.
    async fn change_group_members(
        &self,
        group: &DirectoryGroup,
        changes: &[MemberChange],
        ctx: &WriteContext,
    ) -> Result<i64>;
    async fn delete_group(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        expected_version: Option<i64>,
        ctx: &WriteContext,
    ) -> Result<()>;
    async fn list_groups(
        &self,
        tenant_id: Uuid,
        request: &ListRequest,
    ) -> Result<Listing<DirectoryGroup>>;

    /// Users in id (creation) order, for the admin API.
    async fn page_users(&self, tenant_id: Uuid, page: PageRequest) -> Result<Page<DirectoryUser>>;
    /// Groups in id (creation) order, for the admin API.
    async fn page_groups(&self, tenant_id: Uuid, page: PageRequest)
    -> Result<Page<DirectoryGroup>>;

    /// Events with `seq > after`, oldest first.
    async fn list_events(
        &self,
        tenant_id: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DirectoryEvent>>;
    /// Deletes directory events older than `events_before`, except those a webhook
    /// endpoint (enabled, disabled or dead) has not yet delivered, and provisioning log lines
    /// older than `log_before` (`None`: keep that history). Works in small batches,
    /// each its own transaction, so writes wait at most one batch.
    async fn sweep_history(
        &self,
        events_before: Option<OffsetDateTime>,
        log_before: Option<OffsetDateTime>,
    ) -> Result<SweptHistory>;
    /// A log line for a request that changed nothing (a failure, a refusal).
    async fn record_provisioning(&self, record: &ProvisioningRecord) -> Result<()>;
    /// The tenant's provisioning log, newest first, narrowed by `filter` (each
    /// filter served by an index).
    async fn list_provisioning_filtered(
        &self,
        tenant_id: Uuid,
        filter: &ProvisioningFilter,
        page: PageRequest,
    ) -> Result<Page<ProvisioningRecord>>;
    /// The whole provisioning log, newest first: no filter.
    async fn list_provisioning(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<ProvisioningRecord>>
    where
        Self: Sync,
    {
        self.list_provisioning_filtered(tenant_id, &ProvisioningFilter::default(), page)
            .await
    }
}

/// Connection pool settings that do not belong in the URL.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: std::time::Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: std::time::Duration::from_secs(10),
        }
    }
}

impl PoolSettings {
    /// The pool size when the operator sets none: 10 on PostgreSQL (a server
    /// process's connection budget); on SQLite two readers per core, between 4 and
    /// 10. A SQLite reader runs on this machine's cores and keeps page and statement
    /// caches of its own, so readers beyond the cores only cost memory (at a million
    /// users, 4 readers peaked at 72 MB and 16 at 163 MB, serving the same).
    pub fn default_connections(backend: Backend) -> u32 {
        match backend {
            Backend::Postgres => 10,
            Backend::Sqlite => {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                u32::try_from(cores * 2).unwrap_or(10).clamp(4, 10)
            }
        }
    }
}

/// The store a URL names. Performs no I/O: connections open on first use (a SQLite
/// file is created then), so callers [`Store::ping`] to wait for the database and
/// [`Store::migrate`] before serving.
pub fn connect(url: &DatabaseUrl, settings: &PoolSettings) -> Result<Arc<dyn Store>> {
    Ok(match url.backend() {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(url, settings)?),
        Backend::Postgres => Arc::new(postgres::PostgresStore::connect(url, settings)?),
    })
}

#[cfg(test)]
mod pool_tests {
    use super::{Backend, PoolSettings};

    #[test]
    fn sqlite_readers_follow_the_cores_within_bounds() {
        assert_eq!(PoolSettings::default_connections(Backend::Postgres), 10);
        let sqlite = PoolSettings::default_connections(Backend::Sqlite);
        assert!((4..=10).contains(&sqlite), "{sqlite}");
    }
}
