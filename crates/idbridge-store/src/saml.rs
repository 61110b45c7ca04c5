//! SAML records: each tenant's IdP connection and the AuthnRequests in flight.

use async_trait::async_trait;
use idbridge_core::{EventKind, EventResource};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// A tenant's connection to its SAML IdP, from the metadata it configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlConnection {
    /// The connection's id: the tenant's own id for its first SAML connection.
    pub connection_id: Uuid,
    pub tenant_id: Uuid,
    pub idp_entity_id: String,
    pub idp_sso_redirect_url: Option<String>,
    pub idp_sso_post_url: Option<String>,
    /// Every IdP signing certificate, DER in base64. Never empty.
    pub idp_certificates: Vec<String>,
    /// The metadata document as received, kept to re-read and to show the admin.
    pub metadata_xml: String,
    /// Where the metadata came from, when it was fetched (refreshed on a schedule).
    pub metadata_url: Option<String>,
    /// When the metadata now stored was fetched.
    pub metadata_fetched_at: Option<OffsetDateTime>,
    /// When a fetch was last tried (successful or not).
    pub metadata_checked_at: Option<OffsetDateTime>,
    /// Why the last scheduled fetch failed; `None` after a success.
    pub metadata_error: Option<String>,
    pub want_assertions_signed: bool,
    pub want_response_signed: bool,
    /// Sign AuthnRequests (HTTP-Redirect binding signature) with the tenant's SP key,
    /// for IdPs set to require signed requests.
    pub sign_authn_requests: bool,
    pub allow_idp_initiated: bool,
    /// Where sign-ins that no OIDC request started land (IdP-initiated, or
    /// `/saml/{slug}/login` opened directly). A registered client redirect URI.
    pub default_redirect_uri: Option<String>,
    /// The client whose redirect URI `default_redirect_uri` is; cleared if the client
    /// is deleted.
    pub default_client_id: Option<Uuid>,
    /// Attribute names to take the email from, in order; `None` is the default order.
    pub email_attributes: Option<Vec<String>>,
    pub clock_skew_seconds: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An AuthnRequest idbridge sent and has not seen answered. Kept in the database so
/// whichever process receives the response finds it; consumed at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlRequestState {
    /// The AuthnRequest's ID: what the response's `InResponseTo` names.
    pub id: String,
    pub tenant_id: Uuid,
    /// The opaque handle sent as RelayState; the response must bring it back.
    pub relay_state: String,
    /// Where the sign-in ends; `None` means the tenant's `default_redirect_uri`.
    pub redirect_uri: Option<String>,
    /// A "test connection" sign-in: shows the admin the result, issues no code.
    pub test: bool,
    /// The OpenID Connect authorization request that started the sign-in, if one did.
    pub oidc: Option<OidcRequestState>,
    /// The SAML connection the request was sent for; `None`: the tenant's first.
    pub connection_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What an app's authorization request asked for, kept until its SAML response
/// comes back; the code issued then is bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcRequestState {
    pub client_id: Uuid,
    /// Echoed to the app with the code.
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: String,
}

/// A tenant's SP key pair as stored. No API returns the private key.
#[derive(Clone, PartialEq, Eq)]
pub struct SpKeyRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// The self-signed certificate published in the SP metadata, DER.
    pub certificate: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// When a newer key replaced it; `None` while it is the one published.
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SpKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKeyRecord")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// New metadata from a scheduled fetch: only the fields metadata determines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMetadata {
    pub idp_entity_id: String,
    pub idp_sso_redirect_url: Option<String>,
    pub idp_sso_post_url: Option<String>,
    pub idp_certificates: Vec<String>,
    pub metadata_xml: String,
}

/// One sign-in attempt, as the sign-in log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInEvent {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub occurred_at: OffsetDateTime,
    pub success: bool,
    /// Machine-readable (`signature_invalid`, `audience_mismatch`, …); `None` on success.
    pub reason: Option<String>,
    /// A sentence for the admin. Never the SAML message, a token or a secret.
    pub detail: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<Uuid>,
    /// A "test connection" sign-in.
    pub test: bool,
    pub request_id: Option<String>,
    /// The connection the sign-in came through, once known.
    pub connection_id: Option<Uuid>,
}

/// An authorization code as stored (its digest is the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    pub client_id: Uuid,
    pub redirect_uri: String,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub nonce: Option<String>,
    /// PKCE S256 challenge, when the authorization request carried one.
    pub code_challenge: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: String,
    pub auth_time: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// The connection the sign-in came through (the ID token's `connection` and
    /// `idp`); `None` for codes issued before connections existed.
    pub connection_id: Option<Uuid>,
}

/// The tenant feed's event for a sign-in: `sign_in.succeeded` or `sign_in.failed`,
/// about the user when one is known (else about the sign-in itself).
pub(crate) fn sign_in_event(e: &SignInEvent) -> crate::NewEvent {
    crate::NewEvent {
        kind: if e.success {
            EventKind::SignInSucceeded
        } else {
            EventKind::SignInFailed
        },
        resource_type: if e.user_id.is_some() {
            EventResource::User
        } else {
            EventResource::SignIn
        },
        resource_id: e.user_id.unwrap_or(e.id),
        data: serde_json::json!({
            "sign_in": {
                "id": e.id,
                "user_id": e.user_id,
                "email": e.email,
                "reason": e.reason,
                "test": e.test,
                "request_id": e.request_id,
                "connection_id": e.connection_id,
            }
        }),
    }
}

#[async_trait]
pub trait SamlRepo {
    /// Creates or replaces the tenant's connection. [`crate::StoreError::NotFound`] if
    /// the tenant is gone.
    async fn put_saml_connection(
        &self,
        connection: &SamlConnection,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;
    /// The tenant's first SAML connection (the one whose id is the tenant's).
    async fn saml_connection(&self, tenant_id: Uuid) -> Result<Option<SamlConnection>>;
    /// The tenant's SAML connection `connection_id`.
    async fn saml_connection_by_id(
        &self,
        tenant_id: Uuid,
        connection_id: Uuid,
    ) -> Result<Option<SamlConnection>>;
    /// The tenant at `slug` and its connection (if it has one), in one read: the ACS
    /// needs both for every response, and each read is a round trip.
    async fn tenant_with_saml_connection(
        &self,
        slug: &idbridge_core::TenantSlug,
    ) -> Result<Option<(crate::Tenant, Option<SamlConnection>)>>;
    /// The tenant at `slug` and its SAML connection `connection_id` (if it has it),
    /// in one read: the ACS of a tenant's further SAML connections.
    async fn tenant_with_saml_connection_by_id(
        &self,
        slug: &idbridge_core::TenantSlug,
        connection_id: Uuid,
    ) -> Result<Option<(crate::Tenant, Option<SamlConnection>)>>;
    /// Connections whose metadata comes from a URL and was last tried before
    /// `checked_before` (or never), oldest first.
    async fn saml_connections_to_refresh(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<SamlConnection>>;
    /// Records a scheduled fetch of `metadata_url`: new metadata on success (`Ok`),
    /// the error otherwise (the stored metadata stays). Applies only if the
    /// connection still uses that URL, so an admin's change made meanwhile wins.
    async fn record_metadata_refresh(
        &self,
        connection_id: Uuid,
        metadata_url: &str,
        outcome: std::result::Result<&FetchedMetadata, &str>,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Records a request in flight (expired ones are removed by
    /// [`SamlRepo::sweep_expired`]).
    async fn create_saml_request(&self, request: &SamlRequestState) -> Result<()>;
    /// Removes and returns the tenant's request `id` if it has not expired at `now`.
    /// Of two concurrent calls (two processes given the same response), one gets it.
    /// Records that the tenant accepted assertion `assertion_id`, remembered until
    /// `expires_at`. `false` if it was already recorded and has not expired: a
    /// replay. One statement, so of two concurrent calls exactly one gets `true`.
    async fn remember_assertion(
        &self,
        tenant_id: Uuid,
        assertion_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// Appends to the sign-in log and, in the same transaction, a `sign_in.succeeded`
    /// or `sign_in.failed` event to the tenant's feed and the authorization code the
    /// sign-in issued, if any (stored by its digest): all three or none.
    async fn record_sign_in(
        &self,
        event: &SignInEvent,
        code: Option<(&idbridge_core::secret::SecretHash, &AuthorizationCodeRecord)>,
    ) -> Result<()>;
    /// Connections in tenant-id order after `after`, `limit` of them (for checks
    /// that visit every connection).
    async fn saml_connections_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<SamlConnection>>;
    /// Appends `event` to the tenant's feed unless the tenant was already warned
    /// about certificate `fingerprint`; `true` if it was appended now.
    async fn warn_certificate_expiring(
        &self,
        tenant_id: Uuid,
        fingerprint: &str,
        event: &crate::NewEvent,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// Removes expired AuthnRequests, replay records, upstream OIDC flows and
    /// secrets kept to be shown once, and authorization codes a day past expiry;
    /// returns how many rows went. Run periodically by every process.
    async fn sweep_expired(&self, now: OffsetDateTime) -> Result<u64>;
    /// The tenant's sign-in log, newest first, keyset-paged by id, narrowed by
    /// `filter` (each filter served by an index).
    async fn list_sign_ins_filtered(
        &self,
        tenant_id: Uuid,
        filter: &crate::SignInFilter,
        page: crate::PageRequest,
    ) -> Result<crate::Page<SignInEvent>>;
    /// The whole sign-in log, newest first: no filter.
    async fn list_sign_ins(
        &self,
        tenant_id: Uuid,
        page: crate::PageRequest,
    ) -> Result<crate::Page<SignInEvent>>
    where
        Self: Sync,
    {
        self.list_sign_ins_filtered(tenant_id, &crate::SignInFilter::default(), page)
            .await
    }
    /// The code with this digest, if it exists (used or not): for tests and the
    /// token endpoint, which consumes it.
    async fn authorization_code(
        &self,
        hash: &idbridge_core::secret::SecretHash,
    ) -> Result<Option<AuthorizationCodeRecord>>;
    /// The tenant's SP keys, the active one first, then retired ones newest first.
    async fn sp_keys(&self, tenant_id: Uuid) -> Result<Vec<SpKeyRecord>>;
    /// Stores `key` as the tenant's active SP key unless it already has one (`false`):
    /// two processes creating the first key at once end with one.
    async fn add_sp_key(&self, key: &SpKeyRecord) -> Result<bool>;
    /// Makes `key` the tenant's active SP key and retires the one before it (which
    /// keeps decrypting: IdPs switch to the new certificate when they next read the
    /// metadata). One transaction.
    async fn rotate_sp_key(
        &self,
        key: &SpKeyRecord,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;
    /// The request `id` of the tenant, without consuming it (the HTTP-POST binding's
    /// form page reads it; the ACS takes it).
    async fn saml_request(&self, tenant_id: Uuid, id: &str) -> Result<Option<SamlRequestState>>;
    async fn take_saml_request(
        &self,
        tenant_id: Uuid,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SamlRequestState>>;
}
