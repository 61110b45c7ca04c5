//! Bearer secrets that idbridge issues: SCIM tokens, OIDC client secrets, admin API keys.
//!
//! Every one is 256 bits from the operating system's CSPRNG, written as a fixed,
//! recognisable prefix (so secret scanners and humans can tell what leaked) followed by
//! 43 base64url characters. Only the SHA-256 digest is ever stored. A plain digest is
//! enough here, unlike for passwords: with 256 bits of entropy there is nothing to
//! brute-force, and a deterministic digest lets the store find a token by an indexed
//! equality lookup on the hot path of every SCIM request.
//!
//! The plaintext lives in a [`secrecy::SecretString`]: `Debug` is redacted, there is no
//! `Display` or `Serialize`, and `expose_secret()` is the only way to read it.

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Number of random bytes in every issued secret.
pub const SECRET_BYTES: usize = 32;
/// Length of the base64url (unpadded) encoding of [`SECRET_BYTES`].
pub const SECRET_BODY_LEN: usize = 43;

/// What a secret is for. The prefix is part of the secret and of its hash.
pub trait SecretKind: Send + Sync + 'static {
    const PREFIX: &'static str;
    const NAME: &'static str;
}

#[derive(Debug)]
pub enum Scim {}
impl SecretKind for Scim {
    const PREFIX: &'static str = "idb_scim_";
    const NAME: &'static str = "SCIM token";
}

#[derive(Debug)]
pub enum Client {}
impl SecretKind for Client {
    const PREFIX: &'static str = "idb_cs_";
    const NAME: &'static str = "client secret";
}

#[derive(Debug)]
pub enum Admin {}
impl SecretKind for Admin {
    const PREFIX: &'static str = "idb_admin_";
    const NAME: &'static str = "admin API key";
}

#[derive(Debug)]
pub enum Code {}
impl SecretKind for Code {
    const PREFIX: &'static str = "idb_code_";
    const NAME: &'static str = "authorization code";
}

#[derive(Debug)]
pub enum Access {}
impl SecretKind for Access {
    const PREFIX: &'static str = "idb_at_";
    const NAME: &'static str = "access token";
}

#[derive(Debug)]
pub enum Webhook {}
impl SecretKind for Webhook {
    const PREFIX: &'static str = "idb_whsec_";
    const NAME: &'static str = "webhook signing secret";
}

#[derive(Debug)]
pub enum Setup {}
impl SecretKind for Setup {
    const PREFIX: &'static str = "idb_setup_";
    const NAME: &'static str = "setup link token";
}

#[derive(Debug)]
pub enum Session {}
impl SecretKind for Session {
    const PREFIX: &'static str = "idb_sess_";
    const NAME: &'static str = "console session";
}

/// A bearer secret of kind `K`, either freshly issued or presented by a caller.
pub struct Token<K: SecretKind> {
    value: SecretString,
    kind: PhantomData<K>,
}

pub type ScimToken = Token<Scim>;
pub type ClientSecret = Token<Client>;
pub type AdminApiKey = Token<Admin>;
/// An OAuth authorization code: single use, short-lived, stored only as a digest.
pub type AuthorizationCode = Token<Code>;
/// An OAuth access token for `/oauth/userinfo`: opaque, short-lived, stored as a digest.
pub type AccessToken = Token<Access>;
/// The key a webhook endpoint's deliveries are signed with (HMAC-SHA256). Unlike
/// every other secret here it is stored as issued: signing needs the key itself.
pub type WebhookSecret = Token<Webhook>;
/// The token in a setup link: lets a tenant's IT admin into the setup portal of that
/// one tenant until it expires or is revoked. Stored as a digest.
pub type SetupLinkToken = Token<Setup>;
/// The operator console's session cookie: stored as a digest, ended by sign-out.
pub type SessionToken = Token<Session>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedToken {
    #[error("the {0} does not have the expected prefix")]
    WrongPrefix(&'static str),
    #[error("the {0} has the wrong length or characters")]
    BadBody(&'static str),
}

impl<K: SecretKind> Token<K> {
    /// Draws a new secret from the operating system's CSPRNG.
    ///
    /// # Panics
    /// If the OS has no entropy source, which makes running an identity service
    /// pointless; there is no safe fallback.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        let mut encoded = String::with_capacity(K::PREFIX.len() + SECRET_BODY_LEN);
        encoded.push_str(K::PREFIX);
        URL_SAFE_NO_PAD.encode_string(bytes, &mut encoded);
        Self {
            value: SecretString::from(encoded),
            kind: PhantomData,
        }
    }

    /// Checks the shape of a secret a caller presented, before any lookup. Cheap
    /// rejection of garbage; the stored hash decides whether it is real.
    pub fn parse(presented: &str) -> Result<Self, MalformedToken> {
        let body = presented
            .strip_prefix(K::PREFIX)
            .ok_or(MalformedToken::WrongPrefix(K::NAME))?;
        let well_formed = body.len() == SECRET_BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(MalformedToken::BadBody(K::NAME));
        }
        Ok(Self {
            value: SecretString::from(presented.to_owned()),
            kind: PhantomData,
        })
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash::of(self.value.expose_secret())
    }

    /// The plaintext. Call only to show a newly issued secret once, or to send it.
    pub fn expose_secret(&self) -> &str {
        self.value.expose_secret()
    }
}

impl<K: SecretKind> fmt::Debug for Token<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}([REDACTED])", K::NAME)
    }
}

/// SHA-256 digest of a secret: what the database stores and indexes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality: a digest that differs in its first byte takes as long
    /// to refuse as one that differs in its last.
    pub fn ct_eq(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not a secret, but there is no reason to print one either.
        f.write_str("SecretHash(..)")
    }
}

/// The operator's bootstrap admin key from `--admin-api-key`: any string the operator
/// chose, so it has no prefix. Held only as its digest after start-up.
pub struct BootstrapAdminKey(SecretHash);

impl BootstrapAdminKey {
    pub fn new(key: &SecretString) -> Self {
        Self(SecretHash::of(key.expose_secret()))
    }

    /// Constant-time check of a presented key (digests compared, so even the
    /// length of the configured key does not leak through timing).
    pub fn matches(&self, presented: &str) -> bool {
        self.0.ct_eq(&SecretHash::of(presented))
    }
}

impl fmt::Debug for BootstrapAdminKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BootstrapAdminKey([REDACTED])")
    }
}

/// `N` bytes from the operating system's CSPRNG, for values that must be unguessable
/// but are not credentials (SAML request ids, RelayState handles).
///
/// # Panics
/// If the OS has no entropy source (see [`Token::generate`]).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_prefix_and_256_bits() {
        let token = ScimToken::generate();
        let raw = token.expose_secret();
        assert!(raw.starts_with("idb_scim_"));
        let body = &raw["idb_scim_".len()..];
        assert_eq!(
            URL_SAFE_NO_PAD.decode(body).map(|b| b.len()),
            Ok(SECRET_BYTES)
        );
        assert!(ScimToken::parse(raw).is_ok());
        assert_ne!(ScimToken::generate().hash(), token.hash());
    }

    #[test]
    fn each_kind_has_its_own_prefix() {
        assert!(
            ClientSecret::generate()
                .expose_secret()
                .starts_with("idb_cs_")
        );
        assert!(
            AdminApiKey::generate()
                .expose_secret()
                .starts_with("idb_admin_")
        );
        assert!(
            AccessToken::generate()
                .expose_secret()
                .starts_with("idb_at_")
        );
        let scim = ScimToken::generate();
        assert_eq!(
            AdminApiKey::parse(scim.expose_secret()).err(),
            Some(MalformedToken::WrongPrefix("admin API key"))
        );
    }

    #[test]
    fn parse_refuses_malformed_bodies() {
        for bad in [
            "idb_scim_",
            "idb_scim_short",
            &format!("idb_scim_{}", "a".repeat(44)),
            &format!("idb_scim_{}!", "a".repeat(42)),
            &format!("idb_scim_{}é", "a".repeat(41)),
        ] {
            assert_eq!(
                ScimToken::parse(bad).err(),
                Some(MalformedToken::BadBody("SCIM token"))
            );
        }
        assert_eq!(
            ScimToken::parse("Bearer x").err(),
            Some(MalformedToken::WrongPrefix("SCIM token"))
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = ScimToken::generate();
        let shown = format!("{token:?} {:?}", token.hash());
        assert!(!shown.contains(&token.expose_secret()["idb_scim_".len()..]));
        assert_eq!(format!("{token:?}"), "SCIM token([REDACTED])");
        let boot = BootstrapAdminKey::new(&SecretString::from("hunter2"));
        assert!(!format!("{boot:?}").contains("hunter2"));
    }

    #[test]
    fn hashes_compare_by_value() {
        let token = ClientSecret::generate();
        let again = ClientSecret::parse(token.expose_secret()).map(|t| t.hash());
        assert_eq!(again, Ok(token.hash()));
        assert!(token.hash().ct_eq(&SecretHash::of(token.expose_secret())));
        assert!(!token.hash().ct_eq(&SecretHash::of("other")));
        assert_eq!(
            SecretHash::from_bytes(token.hash().as_bytes()),
            Some(token.hash())
        );
        assert_eq!(SecretHash::from_bytes(&[0; 31]), None);
    }

    #[test]
    fn bootstrap_key_matches_only_itself() {
        let boot = BootstrapAdminKey::new(&SecretString::from("operator-chosen key"));
        assert!(boot.matches("operator-chosen key"));
        assert!(!boot.matches("operator-chosen ke"));
        assert!(!boot.matches(""));
    }
}
