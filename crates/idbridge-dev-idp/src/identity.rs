//! The dev IdP's signing identity: an RSA-2048 key and a self-signed certificate,
//! made on first start and kept in the state directory, so its metadata (and the
//! certificate an SP stored from it) stay the same across restarts. Beside it, a
//! second "wrong" key that no SP was given, for the wrong-key failure.
//!
//! Files in the state directory (PEM; the keys PKCS#8, readable by the owner only):
//! `signing-key.pem`, `signing-cert.pem`, `wrong-key.pem`, `wrong-cert.pem`.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

use crate::saml::{RSA_SHA256, Signer};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot create the state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a PEM {what}; delete the state directory's files to make a new identity"
    )]
    Invalid { path: PathBuf, what: &'static str },
    #[error("{key} does not belong to {certificate}; delete both to make a new identity")]
    Mismatch { key: PathBuf, certificate: PathBuf },
    #[error(
        "the signing key is not an RSA key, and ID tokens are signed RS256; delete the state directory's files to make a new identity"
    )]
    NotRsa,
    #[error("cannot generate a key or certificate: {0}")]
    Generate(#[from] openssl::error::ErrorStack),
}

/// One key and its certificate.
#[derive(Clone)]
pub struct KeyPair {
    private_key_der: Vec<u8>,
    certificate_der: Vec<u8>,
    certificate_base64: String,
    certificate_pem: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("certificate_base64", &self.certificate_base64)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh RSA-2048 key and a self-signed certificate for `common_name`, valid
    /// for ten years from an hour ago (SHA-256 with RSA).
    pub fn generate(common_name: &str) -> Result<Self, IdentityError> {
        let key = PKey::from_rsa(Rsa::generate(2048)?)?;
        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_text("CN", common_name)?;
        name.append_entry_by_text("O", "idbridge dev-idp (not for production)")?;
        let name = name.build();
        let mut serial = BigNum::new()?;
        serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
        let mut builder = X509::builder()?;
        builder.set_version(2)?;
        let serial = serial.to_asn1_integer()?;
        builder.set_serial_number(&serial)?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(&name)?;
        builder.set_pubkey(&key)?;
        let not_before = Asn1Time::from_unix(now)?;
        let not_after = Asn1Time::from_unix(now + 10 * 366 * 24 * 3600)?;
        builder.set_not_before(&not_before)?;
        builder.set_not_after(&not_after)?;
        builder.sign(&key, MessageDigest::sha256())?;
        Self::from_parts(&key, &builder.build())
    }

    fn from_parts(key: &PKey<Private>, certificate: &X509) -> Result<Self, IdentityError> {
        let certificate_der = certificate.to_der()?;
        Ok(Self {
            private_key_der: key.private_key_to_pkcs8()?,
            certificate_base64: STANDARD.encode(&certificate_der),
            certificate_pem: String::from_utf8_lossy(&certificate.to_pem()?).into_owned(),
            certificate_der,
        })
    }

    /// The certificate's base64 DER, as metadata and KeyInfo carry it.
    pub fn certificate_base64(&self) -> &str {
        &self.certificate_base64
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The signer for SAML messages (RSA-SHA256).
    pub fn signer(&self) -> Signer<'_> {
        Signer {
            private_key_der: &self.private_key_der,
            certificate_base64: &self.certificate_base64,
            signature_method: RSA_SHA256,
        }
    }

    /// An RSASSA-PKCS1-v1_5 SHA-256 signature of `message` (a JWT's RS256), with
    /// the same key that signs SAML messages.
    pub fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        let key = PKey::private_key_from_der(&self.private_key_der)?;
        if key.rsa().is_err() {
            return Err(IdentityError::NotRsa);
        }
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key)?;
        signer.update(message)?;
        Ok(signer.sign_to_vec()?)
    }

    /// The public key's modulus and exponent, big-endian (a JWK's `n` and `e`).
    pub fn rsa_public_numbers(&self) -> Result<(Vec<u8>, Vec<u8>), IdentityError> {
        let key = PKey::private_key_from_der(&self.private_key_der)?;
        let rsa = key.rsa().map_err(|_| IdentityError::NotRsa)?;
        Ok((rsa.n().to_vec(), rsa.e().to_vec()))
    }

    /// Reads the pair from `key_path` and `cert_path`, or, when either is missing,
    /// makes a new one and writes both.
    fn load_or_create(
        key_path: &Path,
        cert_path: &Path,
        common_name: &str,
    ) -> Result<(Self, bool), IdentityError> {
        if key_path.exists() && cert_path.exists() {
            let key_pem = read(key_path)?;
            let cert_pem = read(cert_path)?;
            let key = PKey::private_key_from_pem(&key_pem).map_err(|_| IdentityError::Invalid {
                path: key_path.to_owned(),
                what: "private key",
            })?;
            let certificate = X509::from_pem(&cert_pem).map_err(|_| IdentityError::Invalid {
                path: cert_path.to_owned(),
                what: "certificate",
            })?;
            let matches = certificate
                .public_key()
                .map(|public| public.public_eq(&key))
                .unwrap_or(false);
            if !matches {
                return Err(IdentityError::Mismatch {
                    key: key_path.to_owned(),
                    certificate: cert_path.to_owned(),
                });
            }
            return Ok((Self::from_parts(&key, &certificate)?, false));
        }
        let pair = Self::generate(common_name)?;
        let key = PKey::private_key_from_der(&pair.private_key_der)?;
        write(key_path, &key.private_key_to_pem_pkcs8()?, true)?;
        write(cert_path, pair.certificate_pem.as_bytes(), false)?;
        Ok((pair, true))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, IdentityError> {
    std::fs::read(path).map_err(|source| IdentityError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Writes through a temporary file and a rename, so a crash leaves no half file; a
/// private key is created readable by its owner only.
fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), IdentityError> {
    let error = |source| IdentityError::Write {
        path: path.to_owned(),
        source,
    };
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temporary).map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)?;
    std::fs::rename(&temporary, path).map_err(error)
}

/// The IdP's own key and the wrong one.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Signs everything, and is in the metadata.
    pub signing: KeyPair,
    /// In no metadata: signs the wrong-key failure.
    pub wrong: KeyPair,
}

impl Identity {
    /// Two fresh pairs, kept nowhere (tests).
    pub fn generate() -> Result<Self, IdentityError> {
        Ok(Self {
            signing: KeyPair::generate("idbridge dev-idp")?,
            wrong: KeyPair::generate("idbridge dev-idp (wrong key)")?,
        })
    }

    /// Reads the identity from `dir`, making (and writing) whatever is missing;
    /// `true` when the signing pair was made now.
    pub fn load_or_create(dir: &Path) -> Result<(Self, bool), IdentityError> {
        std::fs::create_dir_all(dir).map_err(|source| IdentityError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let (signing, created) = KeyPair::load_or_create(
            &dir.join("signing-key.pem"),
            &dir.join("signing-cert.pem"),
            "idbridge dev-idp",
        )?;
        let (wrong, _) = KeyPair::load_or_create(
            &dir.join("wrong-key.pem"),
            &dir.join("wrong-cert.pem"),
            "idbridge dev-idp (wrong key)",
        )?;
        Ok((Self { signing, wrong }, created))
    }
}

/// Where the identity is kept by default: `$XDG_DATA_HOME/idbridge/dev-idp`, else
/// `$HOME/.local/share/idbridge/dev-idp`, else `./idbridge-dev-idp`.
pub fn default_state_dir() -> PathBuf {
    let from = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    if let Some(data) = from("XDG_DATA_HOME") {
        return PathBuf::from(data).join("idbridge").join("dev-idp");
    }
    if let Some(home) = from("HOME") {
        return PathBuf::from(home)
            .join(".local")
            .join("share")
            .join("idbridge")
            .join("dev-idp");
    }
    PathBuf::from("idbridge-dev-idp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, created) = Identity::load_or_create(dir.path()).expect("create");
        assert!(created);
        let (second, created) = Identity::load_or_create(dir.path()).expect("load");
        assert!(!created);
        assert_eq!(
            first.signing.certificate_base64(),
            second.signing.certificate_base64()
        );
        assert_eq!(
            first.signing.private_key_der,
            second.signing.private_key_der
        );
        assert_ne!(
            first.signing.certificate_base64(),
            first.wrong.certificate_base64()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("signing-key.pem"))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key is private");
        }
    }

    #[test]
    fn a_damaged_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        Identity::load_or_create(dir.path()).expect("create");
        std::fs::write(dir.path().join("signing-cert.pem"), "junk").expect("write");
        let err = Identity::load_or_create(dir.path()).expect_err("damaged");
        assert!(matches!(err, IdentityError::Invalid { .. }), "{err}");
        let (other, _) =
            Identity::load_or_create(tempfile::tempdir().expect("t").path()).expect("another");
        std::fs::write(
            dir.path().join("signing-cert.pem"),
            other.wrong.certificate_pem(),
        )
        .expect("write");
        let err = Identity::load_or_create(dir.path()).expect_err("mismatch");
        assert!(matches!(err, IdentityError::Mismatch { .. }), "{err}");
    }
}
