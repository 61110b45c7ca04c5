//! The SP's own key pair: an RSA-2048 key and a self-signed certificate for it, which
//! the SP metadata publishes so IdPs can encrypt assertions to idbridge (Entra ID's
//! "Token encryption" takes this certificate).
//!
//! Self-signed is what SAML expects here: metadata binds the key to the SP, and no IdP
//! checks a chain or (for encryption certificates) the validity dates.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// How long a generated certificate says it is valid.
pub const SP_CERTIFICATE_VALIDITY: time::Duration = time::Duration::days(3650);

#[derive(Debug, thiserror::Error)]
#[error("generating the SP key pair failed: {0}")]
pub struct SpKeyError(#[from] openssl::error::ErrorStack);

/// A new SP key pair.
pub struct GeneratedSpKey {
    /// PKCS#8 DER. Zeroed when dropped.
    pub private_key_pkcs8: Zeroizing<Vec<u8>>,
    pub certificate_der: Vec<u8>,
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for GeneratedSpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedSpKey")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Generates an RSA-2048 key and a self-signed SHA-256 certificate for it, with
/// `common_name` (cut to X.509's 64 characters) as subject and issuer.
pub fn generate(common_name: &str, now: OffsetDateTime) -> Result<GeneratedSpKey, SpKeyError> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    let cn: String = common_name.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let not_after = now + SP_CERTIFICATE_VALIDITY;
    let serial = serial.to_asn1_integer()?;
    let valid_from = Asn1Time::from_unix(now.unix_timestamp())?;
    let valid_until = Asn1Time::from_unix(not_after.unix_timestamp())?;
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_not_before(&valid_from)?;
    builder.set_not_after(&valid_until)?;
    builder.set_pubkey(&key)?;
    builder.sign(&key, MessageDigest::sha256())?;
    Ok(GeneratedSpKey {
        private_key_pkcs8: Zeroizing::new(key.private_key_to_pkcs8()?),
        certificate_der: builder.build().to_der()?,
        not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Certificate, SpDecryptionKey};

    #[test]
    fn a_generated_key_is_a_usable_decryption_key() {
        let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).expect("time");
        let key = generate("idbridge acme", now).expect("generate");
        let decryption = SpDecryptionKey::new(&key.private_key_pkcs8, &key.certificate_der);
        assert!(decryption.is_ok(), "{decryption:?}");
        let cert = Certificate::from_der(&key.certificate_der).expect("parses");
        assert!(cert.subject.contains("idbridge acme"));
        assert_eq!(cert.not_before, now);
        assert!(!format!("{key:?}").contains("private"));
    }
}
