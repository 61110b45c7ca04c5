//! An IdP's X.509 signing certificate, as metadata carries it. Only its public key
//! matters for verification; its validity dates matter for warning the operator
//! before a rollover (SAML does not reject an expired metadata certificate, and
//! neither Entra ID nor Okta expects an SP to).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    #[error("the certificate is not valid base64")]
    Base64,
    #[error("the certificate is not a DER X.509 certificate: {0}")]
    Der(String),
    #[error(
        "the certificate's key is {0}, which idbridge does not accept (RSA of 2048 bits or more, or ECDSA P-256/P-384/P-521)"
    )]
    WeakOrUnknownKey(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa { bits: usize },
    Ec,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    pub subject: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key: KeyKind,
    /// SHA-256 of the DER, upper-case hex with colons, as admin consoles show it.
    pub sha256_fingerprint: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .field("sha256_fingerprint", &self.sha256_fingerprint)
            .finish()
    }
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| CertificateError::Der(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertificateError::Der(
                "trailing bytes after the certificate".into(),
            ));
        }
        let key = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => KeyKind::Rsa {
                bits: rsa.key_size(),
            },
            Ok(PublicKey::RSA(rsa)) => {
                return Err(CertificateError::WeakOrUnknownKey(format!(
                    "RSA of {} bits",
                    rsa.key_size()
                )));
            }
            Ok(PublicKey::EC(_)) => KeyKind::Ec,
            Ok(_) => {
                return Err(CertificateError::WeakOrUnknownKey(
                    "of an unknown type".into(),
                ));
            }
            Err(e) => return Err(CertificateError::Der(e.to_string())),
        };
        let validity = cert.validity();
        let digest = Sha256::digest(der);
        let sha256_fingerprint = digest
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        Ok(Self {
            der: der.to_vec(),
            subject: cert.subject().to_string(),
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
            key,
            sha256_fingerprint,
        })
    }

    /// The content of an `X509Certificate` element or a PEM body: base64, with any
    /// whitespace (metadata wraps lines).
    pub fn from_base64(text: &str) -> Result<Self, CertificateError> {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| CertificateError::Base64)?;
        Self::from_der(&der)
    }

    /// A PEM certificate (`-----BEGIN CERTIFICATE-----`).
    pub fn from_pem(pem: &str) -> Result<Self, CertificateError> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("-----"))
            .collect();
        Self::from_base64(&body)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER in base64, as metadata and the database carry it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.der)
    }

    pub fn to_pem(&self) -> String {
        let b64 = self.to_base64();
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// Whether the certificate's validity ends before `now + within`.
    pub fn expires_within(&self, now: OffsetDateTime, within: time::Duration) -> bool {
        self.not_after < now + within
    }
}
