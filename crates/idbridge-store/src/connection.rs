//! Connections: a tenant's identity providers (SAML or OpenID Connect), and the
//! upstream OpenID Connect sign-ins in flight.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{OidcRequestState, Result};

/// What protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    Saml,
    Oidc,
}

impl ConnectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Saml => "saml",
            ConnectionKind::Oidc => "oidc",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "saml" => Some(ConnectionKind::Saml),
            "oidc" => Some(ConnectionKind::Oidc),
            _ => None,
        }
    }
}

/// A connection as stored. The tenant's first SAML connection has the tenant's own
/// id (its settings are the [`crate::SamlConnection`] of the tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: ConnectionKind,
    pub name: String,
    /// Lowercase domain names whose users sign in through this connection.
    pub domains: Vec<String>,
    /// The connection a sign-in uses when nothing else picks one.
    pub is_default: bool,
    /// For [`ConnectionKind::Oidc`].
    pub oidc: Option<OidcSettings>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An upstream OpenID provider and the client registered at it.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    /// The client secret, sealed with the operator's secret key; `None` for a
    /// public client.
    pub sealed_secret: Option<Vec<u8>>,
    pub scopes: Vec<String>,
    /// The discovery document and JWKS as last fetched (JSON), and when.
    pub provider_cache: Option<serde_json::Value>,
    pub provider_fetched_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("has_secret", &self.sealed_secret.is_some())
            .field("scopes", &self.scopes)
            .field("provider_fetched_at", &self.provider_fetched_at)
            .finish_non_exhaustive()
    }
}

/// An upstream OpenID Connect sign-in waiting for its callback.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcFlow {
    pub tenant_id: Uuid,
    pub connection_id: Uuid,
    /// The nonce sent to the IdP; its ID token must carry it.
    pub nonce: String,
    /// The PKCE verifier the token request sends.
    pub code_verifier: String,
    /// A "test connection" sign-in: shows the admin the result, issues no code.
    pub test: bool,
    /// Where the sign-in ends for the app.
    pub redirect_uri: Option<String>,
    /// The app's authorization request, if one started the sign-in.
    pub app: Option<OidcRequestState>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for OidcFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcFlow")
            .field("tenant_id", &self.tenant_id)
            .field("connection_id", &self.connection_id)
            .field("test", &self.test)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ConnectionRepo {
    /// Adds a connection; when it is the default, the tenant's previous default
    /// stops being one in the same transaction. `NotFound` when the tenant is gone.
    async fn create_connection(
        &self,
        connection: &ConnectionRecord,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;

    /// The tenant's connections, oldest first.
    async fn connections(&self, tenant_id: Uuid) -> Result<Vec<ConnectionRecord>>;

    async fn connection(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<ConnectionRecord>>;

    /// Replaces the connection's name, domains, default flag and OIDC settings
    /// (not its provider cache). `NotFound` when there is no such connection.
    async fn update_connection(
        &self,
        connection: &ConnectionRecord,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;

    /// Removes the connection (a SAML connection's settings too). `NotFound` when there is no such connection.
    async fn delete_connection(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;

    /// Stores what the issuer's discovery and JWKS said.
    async fn cache_provider(
        &self,
        id: Uuid,
        document: &serde_json::Value,
        fetched_at: OffsetDateTime,
    ) -> Result<()>;

    /// OpenID Connect connections with a client secret, of every tenant, in id order
    /// after `after`, `limit` of them (for the re-sealing after a key rotation).
    async fn sealed_connections_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ConnectionRecord>>;

    /// Replaces the connection's sealed secret if it is still `old` (a secret set
    /// meanwhile wins); `true` if replaced.
    async fn reseal_secret(&self, id: Uuid, old: &[u8], new: &[u8]) -> Result<bool>;

    /// Records a flow under the digest of its `state`.
    async fn create_oidc_flow(&self, state: &SecretHash, flow: &OidcFlow) -> Result<()>;

    /// Consumes the flow with this `state` digest, if it exists and has not expired
    /// at `now`: at most one caller ever gets it.
    async fn take_oidc_flow(
        &self,
        state: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<OidcFlow>>;
}
