//! Records as the store reads and writes them. Plain data: no behaviour, no secrets
//! (a credential appears only as its [`SecretHash`], and only on the way in).

use idbridge_core::roles::RolePolicy;
use idbridge_core::{RedirectUri, TenantSlug};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: TenantSlug,
    pub name: String,
    /// Tells the app that password login is off for this tenant's users.
    pub sso_required: bool,
    /// Whether a SAML sign-in may create a directory user that SCIM has not.
    pub jit_enabled: bool,
    /// Refuse SAML sign-ins and SCIM users whose email domain this tenant has not
    /// verified.
    pub require_verified_domains: bool,
    /// Role given to users for whom the IdP sends none.
    pub default_role: Option<String>,
    /// Whether a user with several app roles gets the highest one or all.
    pub role_policy: RolePolicy,
    /// Each user created from now on gets a `user.invited` event (and an e-mail).
    pub invite_new_users: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A partial update of a tenant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub sso_required: Option<bool>,
    pub jit_enabled: Option<bool>,
    pub require_verified_domains: Option<bool>,
    /// `Some(None)` clears the default role.
    pub default_role: Option<Option<String>>,
    pub role_policy: Option<RolePolicy>,
    pub invite_new_users: Option<bool>,
}

/// An OIDC relying party: the SaaS app (or one of its environments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub id: Uuid,
    pub name: String,
    pub redirect_uris: Vec<RedirectUri>,
    /// A public client has no secret and must use PKCE.
    pub is_public: bool,
    /// `RS256` or `ES256`: how its ID tokens are signed.
    pub id_token_alg: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTokenRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub description: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A SCIM token that is not revoked, found by its hash, with the tenant it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveScimToken {
    pub token_id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_slug: TenantSlug,
    /// The tenant's `require_verified_domains`, read with the token (no second query).
    pub require_verified_domains: bool,
    /// The tenant's `invite_new_users`, read with the token too.
    pub invite_new_users: bool,
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKeyRecord {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Keyset pagination: items strictly after `after`, in id order. Ids are UUIDv7, so id
/// order is creation order and a page boundary stays put while rows are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Uuid>,
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 200;

    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }

    /// The limit actually applied: at least 1, at most [`Self::MAX_LIMIT`].
    pub fn effective_limit(&self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub next_after: Option<Uuid>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in id order: the extra row
    /// only says that another page exists.
    pub(crate) fn from_overfetch(mut rows: Vec<T>, limit: u32, id_of: impl Fn(&T) -> Uuid) -> Self {
        let limit = limit as usize;
        let next_after = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&id_of)
        } else {
            None
        };
        Self {
            items: rows,
            next_after,
        }
    }
}
