//! Setup links: a tenant's IT admin's way into the setup portal, without an account.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Page, PageRequest, Result, Tenant};

/// A setup link as stored: never the token, only its digest (kept out of this type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupLinkRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `entra`, `okta`, `google`, `onelogin`, `jumpcloud`, `pingone`, `adfs` or
    /// `generic`: the guide the portal opens with (`setup_links::Provider`).
    pub provider: String,
    /// The operator's note (who it was sent to).
    pub note: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// Where this link's "Done" leads, instead of the branding's return URL.
    pub return_url: Option<String>,
    /// This link's support contact, instead of the branding's.
    pub support_email: Option<String>,
    pub support_url: Option<String>,
}

#[async_trait]
pub trait SetupLinkRepo {
    /// `NotFound` when the tenant is gone.
    async fn create_setup_link(
        &self,
        link: &SetupLinkRecord,
        hash: &SecretHash,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;

    /// The tenant's links, newest first.
    async fn list_setup_links(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<SetupLinkRecord>>;

    /// Revokes it (keeping the first `revoked_at`); `NotFound` when the tenant has
    /// no such link.
    async fn revoke_setup_link(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;

    /// The link with this digest and its tenant, if it is neither revoked nor
    /// expired at `now` (indexed lookup).
    async fn usable_setup_link(
        &self,
        hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<(SetupLinkRecord, Tenant)>>;

    async fn touch_setup_link(&self, id: Uuid, now: OffsetDateTime) -> Result<()>;
}
