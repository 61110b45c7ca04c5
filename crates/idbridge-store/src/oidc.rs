//! OpenID Connect records: ID token signing keys, and the exchange of authorization
//! codes for access tokens.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{AuthorizationCodeRecord, Result};

/// An ID token signing key as stored. The private key never leaves the server: no
/// API returns this record.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub kid: String,
    /// `RS256` or `ES256`.
    pub algorithm: String,
    /// PKCS#8 DER.
    pub private_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// When a newer key of the algorithm replaced it; `None` while it signs.
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// An access token as stored (its digest is the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub client_id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    /// Space-separated granted scopes.
    pub scope: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// The connection the sign-in came through, as on its code.
    pub connection_id: Option<Uuid>,
}

/// What became of an attempt to exchange a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was unused and passed the check: it is now used, and the access
    /// token is stored.
    Issued(AuthorizationCodeRecord),
    /// The code was unused but the check refused it (wrong client, expired, PKCE…):
    /// it is now used all the same, so a guessed or stolen code gets one try.
    Refused(&'static str),
    /// The code had been used before: every access token issued for it is revoked.
    Reused,
    /// No such code.
    Unknown,
}

/// The rule a code must pass, run inside the exchange's transaction. `Err` is a
/// machine-readable reason.
pub type CodeCheck<'a> =
    &'a (dyn Fn(&AuthorizationCodeRecord) -> std::result::Result<(), &'static str> + Send + Sync);

#[async_trait]
pub trait OidcRepo {
    /// Every stored signing key, active and retired, oldest first.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>>;
    /// Stores `key` as its algorithm's active key. With `rotate`, the key active until
    /// now is retired in the same transaction; without, nothing happens if the
    /// algorithm already has an active key (`false`): that is how every process can
    /// try to create the first key at start-up and exactly one key results.
    /// With `audit`, the record of it is written in the same transaction.
    async fn add_signing_key(
        &self,
        key: &StoredSigningKey,
        rotate: bool,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<bool>;
    /// Exchanges the code with digest `code_hash`, all in one transaction: marks an
    /// unused code used, runs `check` on it, and if it passes stores an access token
    /// under `token_hash` for the code's client, tenant, user and scope, valid until
    /// `token_expires_at`. A code already used revokes what it produced.
    async fn redeem_authorization_code(
        &self,
        code_hash: &SecretHash,
        check: CodeCheck<'_>,
        token_hash: &SecretHash,
        token_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Redemption>;
    /// The access token with this digest, revoked or not.
    async fn access_token(&self, hash: &SecretHash) -> Result<Option<AccessTokenRecord>>;
    /// Removes access tokens past expiry and keys retired before `retired_before`.
    async fn sweep_oidc(&self, now: OffsetDateTime, retired_before: OffsetDateTime) -> Result<u64>;
}
