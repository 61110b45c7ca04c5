//! The keys idbridge holds: ID token signing keys and each tenant's SAML SP key
//! pair. Private keys live in the database as PKCS#8 and are never returned or
//! printed.
//!
//! ID token signing keys are created at first start, rotated by `idbridge keys
//! rotate`, and published in JWKS while any token they signed may still be valid.
//! Which key is active is read from the database on every use, so a rotation made
//! by one process (or the CLI) is seen by all at once. Parsed keys are cached by
//! `kid`: a kid names immutable bytes (it is their thumbprint), so the cache can be
//! stale about nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use idbridge_oidc::{KeyError, SigningAlgorithm, SigningKey};
use idbridge_store::{SpKeyRecord, StoreError, StoredSigningKey, Tenant};
use time::OffsetDateTime;

use crate::App;
use crate::audit::Audit;
use idbridge_core::audit::AuditAction;

/// How long a retired key stays in JWKS: every token it signed has expired by then
/// (tokens live [`idbridge_oidc::TOKEN_TTL`]), with room for clock skew and for
/// relying parties that cache JWKS for a while.
pub const RETIRED_KEY_PUBLISHED_FOR: time::Duration = time::Duration::hours(24);

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("no active {0} signing key (the server creates one at start-up)")]
    NoActiveKey(&'static str),
    #[error("stored key {kid} has an unknown algorithm {algorithm}")]
    UnknownAlgorithm { kid: String, algorithm: String },
    #[error("generating a key pair failed: {0}")]
    Generation(String),
}

impl KeyringError {
    /// Stable, `snake_case`.
    pub fn reason(&self) -> &'static str {
        match self {
            KeyringError::Store(e) if e.is_unavailable() => "unavailable",
            KeyringError::Store(_) => "storage_failed",
            KeyringError::Key(_) => "key_unusable",
            KeyringError::NoActiveKey(_) => "no_active_key",
            KeyringError::UnknownAlgorithm { .. } => "unknown_algorithm",
            KeyringError::Generation(_) => "key_generation_failed",
        }
    }

    /// Whether the database, not a key, is at fault.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, KeyringError::Store(e) if e.is_unavailable())
    }
}

impl From<KeyringError> for crate::Error {
    fn from(err: KeyringError) -> Self {
        match err {
            KeyringError::Store(e) => e.into(),
            other => crate::Error::internal(other),
        }
    }
}

/// Parsed keys by kid.
#[derive(Default)]
pub struct KeyCache(Mutex<HashMap<String, Arc<SigningKey>>>);

impl KeyCache {
    fn load(&self, stored: &StoredSigningKey) -> Result<Arc<SigningKey>, KeyringError> {
        if let Some(key) = self.lock().get(&stored.kid) {
            return Ok(Arc::clone(key));
        }
        let algorithm = SigningAlgorithm::parse(&stored.algorithm).ok_or_else(|| {
            KeyringError::UnknownAlgorithm {
                kid: stored.kid.clone(),
                algorithm: stored.algorithm.clone(),
            }
        })?;
        let key = Arc::new(SigningKey::from_pkcs8(
            algorithm,
            stored.private_key.clone(),
        )?);
        self.lock().insert(stored.kid.clone(), Arc::clone(&key));
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<SigningKey>>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache(..)")
    }
}

fn stored(key: &SigningKey, now: OffsetDateTime) -> StoredSigningKey {
    StoredSigningKey {
        kid: key.kid().to_owned(),
        algorithm: key.algorithm().as_str().to_owned(),
        private_key: key.pkcs8().to_vec(),
        created_at: now,
        retired_at: None,
    }
}

/// Makes sure every algorithm has an active key, generating the missing ones. Safe
/// to run from several processes at once: the store keeps one active key per
/// algorithm, and a loser's key is simply not stored.
pub async fn ensure_signing_keys(app: &App) -> Result<(), KeyringError> {
    let existing = app.store.signing_keys().await?;
    for algorithm in SigningAlgorithm::ALL {
        let active = existing
            .iter()
            .any(|k| k.algorithm == algorithm.as_str() && k.retired_at.is_none());
        if !active {
            let key = SigningKey::generate(algorithm)?;
            if app
                .store
                .add_signing_key(&stored(&key, app.clock.now()), false, None)
                .await?
            {
                tracing::info!(
                    kid = key.kid(),
                    alg = algorithm.as_str(),
                    "created ID token signing key"
                );
            }
        }
    }
    Ok(())
}

/// Replaces `algorithm`'s active key with a new one; the old one stays published for
/// [`RETIRED_KEY_PUBLISHED_FOR`]. Returns the new kid.
pub async fn rotate(
    app: &App,
    algorithm: SigningAlgorithm,
    audit: &Audit,
) -> Result<String, KeyringError> {
    let key = SigningKey::generate(algorithm)?;
    let now = app.clock.now();
    let audited = audit.record(
        now,
        AuditAction::SigningKeyRotated,
        None,
        Some(key.kid().to_owned()),
        serde_json::json!({ "algorithm": algorithm.as_str() }),
    );
    app.store
        .add_signing_key(&stored(&key, now), true, Some(&audited))
        .await?;
    Ok(key.kid().to_owned())
}

/// The stored keys, after creating the first ones if there are none yet (a
/// database that `serve` has not started on, as in tests of the server alone).
async fn stored_keys(app: &App) -> Result<Vec<StoredSigningKey>, KeyringError> {
    let keys = app.store.signing_keys().await?;
    let complete = SigningAlgorithm::ALL.iter().all(|alg| {
        keys.iter()
            .any(|k| k.algorithm == alg.as_str() && k.retired_at.is_none())
    });
    if complete {
        return Ok(keys);
    }
    ensure_signing_keys(app).await?;
    Ok(app.store.signing_keys().await?)
}

/// The key that signs with `algorithm` now.
pub async fn active_key(
    app: &App,
    algorithm: SigningAlgorithm,
) -> Result<Arc<SigningKey>, KeyringError> {
    let keys = stored_keys(app).await?;
    let stored = keys
        .iter()
        .rev()
        .find(|k| k.algorithm == algorithm.as_str() && k.retired_at.is_none())
        .ok_or(KeyringError::NoActiveKey(algorithm.as_str()))?;
    app.signing_keys.load(stored)
}

/// The JWKS document: active keys and keys retired less than
/// [`RETIRED_KEY_PUBLISHED_FOR`] ago.
pub async fn jwks(app: &App) -> Result<serde_json::Value, KeyringError> {
    let now = app.clock.now();
    let mut keys = Vec::new();
    for stored in stored_keys(app).await? {
        let published = stored
            .retired_at
            .is_none_or(|retired| now < retired + RETIRED_KEY_PUBLISHED_FOR);
        if published {
            keys.push(app.signing_keys.load(&stored)?.public_jwk().clone());
        }
    }
    Ok(serde_json::json!({ "keys": keys }))
}

/// The tenant's SP keys, active first. With `create`, a tenant without one gets its
/// first key now (RSA generation takes tens of milliseconds, so off the async
/// workers); of two processes doing this at once, one key wins and both return it.
pub async fn sp_keys(
    app: &App,
    tenant: &Tenant,
    create: bool,
) -> Result<Vec<SpKeyRecord>, KeyringError> {
    let keys = app.store.sp_keys(tenant.id).await?;
    if !create || keys.iter().any(|k| k.retired_at.is_none()) {
        return Ok(keys);
    }
    let record = new_sp_key(app, tenant).await?;
    if app.store.add_sp_key(&record).await? {
        tracing::info!(tenant = %tenant.slug, "created the tenant's SP key pair");
    }
    Ok(app.store.sp_keys(tenant.id).await?)
}

/// The tenant's active SP key, created on first use.
pub async fn active_sp_key(app: &App, tenant: &Tenant) -> Result<SpKeyRecord, KeyringError> {
    sp_keys(app, tenant, true)
        .await?
        .into_iter()
        .find(|k| k.retired_at.is_none())
        .ok_or(KeyringError::NoActiveKey("SP"))
}

/// A new SP key pair for the tenant; the previous one keeps decrypting.
pub async fn rotate_sp_key(app: &App, tenant: &Tenant, audit: &Audit) -> Result<(), KeyringError> {
    let record = new_sp_key(app, tenant).await?;
    let audited = audit.of_tenant(
        record.created_at,
        AuditAction::SpKeyRotated,
        tenant,
        Some(record.id.to_string()),
        serde_json::json!({ "not_after": record.not_after.unix_timestamp() }),
    );
    app.store.rotate_sp_key(&record, Some(&audited)).await?;
    tracing::info!(tenant = %tenant.slug, "rotated the tenant's SP key pair");
    Ok(())
}

/// Generates a key pair for `tenant`, on the blocking pool.
async fn new_sp_key(app: &App, tenant: &Tenant) -> Result<SpKeyRecord, KeyringError> {
    let now = app.clock.now();
    let common_name = format!("idbridge SP {}", tenant.slug);
    let generated =
        tokio::task::spawn_blocking(move || idbridge_saml::sp_key::generate(&common_name, now))
            .await
            .map_err(|e| KeyringError::Generation(e.to_string()))?
            .map_err(|e| KeyringError::Generation(e.to_string()))?;
    Ok(SpKeyRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.id,
        private_key: generated.private_key_pkcs8.to_vec(),
        certificate: generated.certificate_der,
        created_at: now,
        not_after: generated.not_after,
        retired_at: None,
    })
}
