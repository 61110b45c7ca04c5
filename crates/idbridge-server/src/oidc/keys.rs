//! ID token signing keys: created at first start, rotated by `idbridge keys rotate`,
//! published in JWKS while any token they signed may still be valid.
//!
//! Which key is active is read from the database on every use, so a rotation made
//! by one process (or the CLI) is seen by all at once. Parsed keys are cached by
//! `kid`: a kid names immutable bytes (it is their thumbprint), so the cache can be
//! stale about nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use idbridge_core::Clock;
use idbridge_oidc::{KeyError, SigningAlgorithm, SigningKey};
use idbridge_store::{Store, StoreError, StoredSigningKey};
use time::OffsetDateTime;

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
pub async fn ensure_signing_keys(store: &dyn Store, clock: &dyn Clock) -> Result<(), KeyringError> {
    let existing = store.signing_keys().await?;
    for algorithm in SigningAlgorithm::ALL {
        let active = existing
            .iter()
            .any(|k| k.algorithm == algorithm.as_str() && k.retired_at.is_none());
        if !active {
            let key = SigningKey::generate(algorithm)?;
            if store
                .add_signing_key(&stored(&key, clock.now()), false)
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
    store: &dyn Store,
    clock: &dyn Clock,
    algorithm: SigningAlgorithm,
) -> Result<String, KeyringError> {
    let key = SigningKey::generate(algorithm)?;
    store
        .add_signing_key(&stored(&key, clock.now()), true)
        .await?;
    Ok(key.kid().to_owned())
}

/// The stored keys, after creating the first ones if there are none yet (a
/// database that `serve` has not started on, as in tests of the server alone).
async fn stored_keys(
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<Vec<StoredSigningKey>, KeyringError> {
    let keys = store.signing_keys().await?;
    let complete = SigningAlgorithm::ALL.iter().all(|alg| {
        keys.iter()
            .any(|k| k.algorithm == alg.as_str() && k.retired_at.is_none())
    });
    if complete {
        return Ok(keys);
    }
    ensure_signing_keys(store, clock).await?;
    Ok(store.signing_keys().await?)
}

/// The key that signs with `algorithm` now.
pub async fn active_key(
    store: &dyn Store,
    clock: &dyn Clock,
    cache: &KeyCache,
    algorithm: SigningAlgorithm,
) -> Result<Arc<SigningKey>, KeyringError> {
    let keys = stored_keys(store, clock).await?;
    let stored = keys
        .iter()
        .rev()
        .find(|k| k.algorithm == algorithm.as_str() && k.retired_at.is_none())
        .ok_or(KeyringError::NoActiveKey(algorithm.as_str()))?;
    cache.load(stored)
}

/// The JWKS document: active keys and keys retired less than
/// [`RETIRED_KEY_PUBLISHED_FOR`] ago.
pub async fn jwks(
    store: &dyn Store,
    clock: &dyn Clock,
    cache: &KeyCache,
) -> Result<serde_json::Value, KeyringError> {
    let now = clock.now();
    let mut keys = Vec::new();
    for stored in stored_keys(store, clock).await? {
        let published = stored
            .retired_at
            .is_none_or(|retired| now < retired + RETIRED_KEY_PUBLISHED_FOR);
        if published {
            keys.push(cache.load(&stored)?.public_jwk().clone());
        }
    }
    Ok(serde_json::json!({ "keys": keys }))
}
