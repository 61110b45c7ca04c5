//! SAML records: each tenant's IdP connection and the AuthnRequests in flight.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// A tenant's connection to its SAML IdP, from the metadata it configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlConnection {
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
    pub metadata_fetched_at: Option<OffsetDateTime>,
    pub want_assertions_signed: bool,
    pub want_response_signed: bool,
    pub allow_idp_initiated: bool,
    /// Where sign-ins that no OIDC request started land (IdP-initiated, or
    /// `/saml/{slug}/login` opened directly). A registered client redirect URI.
    pub default_redirect_uri: Option<String>,
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
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[async_trait]
pub trait SamlRepo {
    /// Creates or replaces the tenant's connection. [`crate::StoreError::NotFound`] if
    /// the tenant is gone.
    async fn put_saml_connection(&self, connection: &SamlConnection) -> Result<()>;
    async fn saml_connection(&self, tenant_id: Uuid) -> Result<Option<SamlConnection>>;
    /// Records a request in flight, and drops requests that expired before `now`
    /// (of any tenant) so the table holds only live ones.
    async fn create_saml_request(
        &self,
        request: &SamlRequestState,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Removes and returns the tenant's request `id` if it has not expired at `now`.
    /// Of two concurrent calls (two processes given the same response), one gets it.
    async fn take_saml_request(
        &self,
        tenant_id: Uuid,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SamlRequestState>>;
}
