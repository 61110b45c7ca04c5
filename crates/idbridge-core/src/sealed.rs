//! Secrets idbridge must use again (an IdP connection's client secret), sealed at
//! rest with the operator's secret key: AES-256-GCM (aws-lc-rs), a fresh random
//! nonce per seal, and the owning record's id as associated data, so a sealed value
//! copied onto another record does not open.
//!
//! A [`Keyring`] holds one or more 32-byte keys: the first seals, all open. Rotation
//! is: put the new key first, keep the old one after it until every value has been
//! sealed again, then drop it. Each sealed value names its key by a 4-byte id (the
//! start of the key's SHA-256 under a label), so opening never tries every key.
//!
//! Layout: `0x01 | key id (4) | nonce (12) | ciphertext and tag`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::secret::random_bytes;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("the secret key list is empty")]
    Empty,
    #[error(
        "secret key {0} is not 32 bytes in base64 (make one with `idbridge secret-key generate`)"
    )]
    BadKey(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the sealed value is damaged or of an unknown format")]
    Malformed,
    #[error(
        "the sealed value was made with a secret key that is not configured (key id {0}); add it back to --secret-key"
    )]
    UnknownKey(String),
    #[error("the sealed value does not open with its key (altered, or sealed for another record)")]
    Tampered,
}

struct Key {
    id: [u8; KEY_ID_LEN],
    key: LessSafeKey,
}

/// The operator's secret keys.
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

impl Keyring {
    /// Keys separated by commas, each 32 bytes in base64 (standard or URL-safe).
    pub fn parse(spec: &str) -> Result<Self, KeyringError> {
        let mut keys = Vec::new();
        for (i, raw) in spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let bytes = STANDARD
                .decode(raw)
                .or_else(|_| URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')))
                .map_err(|_| KeyringError::BadKey(i + 1))?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyringError::BadKey(i + 1))?;
            keys.push(Key::new(&bytes));
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        Ok(Keyring { keys })
    }

    /// A one-key ring whose key is derived from a secret someone else holds (HMAC-SHA256
    /// of `secret` under `label`): what it seals opens only where that secret is
    /// presented again. The console and the setup portal seal a secret that is shown
    /// once with their visitor's cookie token, which the database holds only as a
    /// digest, so the sealed value at rest opens for no one but that browser.
    pub fn derived(label: &[u8], secret: &[u8]) -> Self {
        use hmac::{Hmac, Mac};
        // HMAC accepts a key of any length.
        #[allow(clippy::expect_used)]
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
        mac.update(label);
        let bytes: [u8; 32] = mac.finalize().into_bytes().into();
        Keyring {
            keys: vec![Key::new(&bytes)],
        }
    }

    /// A new random key, in the form [`Keyring::parse`] reads.
    pub fn generate_key() -> String {
        STANDARD.encode(random_bytes::<32>())
    }

    /// The keys' ids, in order (hex): what the operator guide and logs name.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| hex(&k.id)).collect()
    }

    /// Seals `plaintext` for the record `context` with the first key.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let key = &self.keys[0];
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce_bytes);
        let mut body = plaintext.to_vec();
        // Cannot fail for inputs under 64 GiB with a 12-byte nonce.
        #[allow(clippy::expect_used)]
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context),
                &mut body,
            )
            .expect("AES-GCM seals");
        out.extend_from_slice(&body);
        out
    }

    /// Opens a value [`Keyring::seal`] made for `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<SecretString, OpenError> {
        if sealed.len() < HEADER_LEN + 16 || sealed[0] != VERSION {
            return Err(OpenError::Malformed);
        }
        let id = &sealed[1..1 + KEY_ID_LEN];
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(hex(id)))?;
        let nonce: [u8; NONCE_LEN] = sealed[1 + KEY_ID_LEN..HEADER_LEN]
            .try_into()
            .map_err(|_| OpenError::Malformed)?;
        let mut body = sealed[HEADER_LEN..].to_vec();
        let plain = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut body,
            )
            .map_err(|_| OpenError::Tampered)?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| OpenError::Malformed)?;
        Ok(SecretString::from(text))
    }

    /// Whether `sealed` was made with a key other than the first (so a rotation
    /// should seal it again).
    pub fn is_stale(&self, sealed: &[u8]) -> bool {
        sealed.get(1..1 + KEY_ID_LEN) != Some(&self.keys[0].id[..])
    }
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"idbridge secret key id\0");
        hasher.update(bytes);
        let digest = hasher.finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        // A 32-byte key is always a valid AES-256 key.
        #[allow(clippy::expect_used)]
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte AES-256 key");
        Key {
            id,
            key: LessSafeKey::new(unbound),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn seals_opens_and_refuses_what_was_changed_or_moved() {
        let ring = Keyring::parse(&Keyring::generate_key()).unwrap();
        let sealed = ring.seal(b"client-secret", b"connection-1");
        assert_eq!(
            ring.open(&sealed, b"connection-1").unwrap().expose_secret(),
            "client-secret"
        );
        assert!(!sealed.windows(13).any(|w| w == b"client-secret"));
        // Another record's context.
        assert_eq!(
            ring.open(&sealed, b"connection-2").err(),
            Some(OpenError::Tampered)
        );
        // A flipped bit.
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            ring.open(&flipped, b"connection-1").err(),
            Some(OpenError::Tampered)
        );
        assert_eq!(
            ring.open(&sealed[..10], b"connection-1").err(),
            Some(OpenError::Malformed)
        );
        // Two seals of one value differ (fresh nonces).
        assert_ne!(sealed, ring.seal(b"client-secret", b"connection-1"));
    }

    #[test]
    fn rotation_opens_old_values_and_seals_with_the_new_key() {
        let old = Keyring::generate_key();
        let new = Keyring::generate_key();
        let before = Keyring::parse(&old).unwrap();
        let sealed = before.seal(b"s", b"c");
        let during = Keyring::parse(&format!("{new},{old}")).unwrap();
        assert!(during.is_stale(&sealed));
        assert_eq!(during.open(&sealed, b"c").unwrap().expose_secret(), "s");
        assert!(!during.is_stale(&during.seal(b"s", b"c")));
        let after = Keyring::parse(&new).unwrap();
        assert!(matches!(
            after.open(&sealed, b"c"),
            Err(OpenError::UnknownKey(_))
        ));
    }

    #[test]
    fn a_derived_ring_opens_only_with_the_same_secret_and_label() {
        let ring = Keyring::derived(b"label\0", b"cookie token");
        let sealed = ring.seal(b"scim token", b"record");
        let again = Keyring::derived(b"label\0", b"cookie token");
        assert_eq!(
            again.open(&sealed, b"record").unwrap().expose_secret(),
            "scim token"
        );
        for other in [
            Keyring::derived(b"label\0", b"another cookie"),
            Keyring::derived(b"other\0", b"cookie token"),
        ] {
            assert!(other.open(&sealed, b"record").is_err());
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(Keyring::parse(" , ").err(), Some(KeyringError::Empty));
        assert_eq!(
            Keyring::parse("c2hvcnQ=").err(),
            Some(KeyringError::BadKey(1))
        );
        let good = Keyring::generate_key();
        assert_eq!(
            Keyring::parse(&format!("{good},not base64!")).err(),
            Some(KeyringError::BadKey(2))
        );
    }
}
