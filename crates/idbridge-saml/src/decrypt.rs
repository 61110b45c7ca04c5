//! `EncryptedAssertion` → the Assertion's XML (XML Encryption 1.1 as profiled by SAML
//! core §2.3.4 and §6). Pure: the caller hands in the element, parsed by `xml`, and
//! the SP's private keys; nothing is fetched, nothing is cached.
//!
//! What is accepted, and why no more:
//! - data: AES-128/256 in CBC (Entra ID encrypts with AES-256-CBC; Okta offers both
//!   sizes) or GCM (Okta; the only mode here that authenticates the ciphertext);
//! - key transport: RSA-OAEP, as `xmlenc#rsa-oaep-mgf1p` (MGF1 with SHA-1, digest
//!   SHA-1 unless a `DigestMethod` says otherwise) or `xmlenc11#rsa-oaep` (digest and
//!   MGF named by `DigestMethod` and `MGF`), with an optional `OAEPparams` label;
//! - `rsa-1_5` is refused with its own error before any private-key operation: RSA
//!   PKCS#1 v1.5 decryption is a Bleichenbacher oracle (Jager, Schwenk, Somorovsky,
//!   "Bleichenbacher's Attack Strikes Again", 2012), whatever the error handling.
//! - The EncryptedKey is found inside `EncryptedData/KeyInfo` (Entra ID) or as a
//!   sibling of `EncryptedData` in the same EncryptedAssertion (OpenSAML, Shibboleth);
//!   `RetrievalMethod` and `DataReference` URIs are not followed: nothing outside this
//!   EncryptedAssertion is ever used, so no reference can point elsewhere.
//! - `CipherReference` (ciphertext fetched from a URI) is refused.
//!
//! Every failure once the structure and algorithms have been accepted (undecodable
//! base64, a wrong SP key, a bad OAEP block, a wrong key length, a short or
//! misaligned ciphertext, bad padding, a GCM tag mismatch) is the one
//! [`DecryptError::Failed`], with one message: different answers are what padding-
//! and OAEP-oracle attacks read.
//!
//! CBC padding is XML Encryption's (ISO 10126 style: the last byte is the pad length,
//! the others arbitrary), not PKCS#7, so OpenSSL's own padding check is off and the
//! pad is removed here.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::encrypt::Decrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode, decrypt_aead};
use openssl::x509::X509;
use roxmltree::Node;
use zeroize::Zeroizing;

use crate::ns;
use crate::xml::{children, is, text_of};

/// XML Encryption 1.0 namespace (and algorithm URI prefix).
pub const XMLENC: &str = "http://www.w3.org/2001/04/xmlenc#";
/// XML Encryption 1.1 namespace (and algorithm URI prefix).
pub const XMLENC11: &str = "http://www.w3.org/2009/xmlenc11#";

/// Algorithm URIs (XML Encryption 1.1 §5, XML Signature for the digests).
pub mod algorithm {
    pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
    pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
    pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
    pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
    pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
    pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
    pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
    pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
    pub const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
    pub const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
    pub const MGF1_SHA384: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha384";
    pub const MGF1_SHA512: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha512";
}

/// More EncryptedKeys than this in one EncryptedAssertion is refused: each one may
/// cost a private-key operation per SP key. IdPs send one.
pub const MAX_ENCRYPTED_KEYS: usize = 4;

const AES_BLOCK: usize = 16;
const GCM_IV: usize = 12;
const GCM_TAG: usize = 16;

/// The block ciphers accepted for the assertion itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCipher {
    Aes128Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
}

impl BlockCipher {
    /// In the order the SP metadata advertises them: authenticated modes first.
    pub const ALL: [BlockCipher; 4] = [
        BlockCipher::Aes256Gcm,
        BlockCipher::Aes128Gcm,
        BlockCipher::Aes256Cbc,
        BlockCipher::Aes128Cbc,
    ];

    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.uri() == uri)
    }

    pub fn uri(self) -> &'static str {
        match self {
            BlockCipher::Aes128Cbc => algorithm::AES128_CBC,
            BlockCipher::Aes256Cbc => algorithm::AES256_CBC,
            BlockCipher::Aes128Gcm => algorithm::AES128_GCM,
            BlockCipher::Aes256Gcm => algorithm::AES256_GCM,
        }
    }

    /// The key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            BlockCipher::Aes128Cbc | BlockCipher::Aes128Gcm => 16,
            BlockCipher::Aes256Cbc | BlockCipher::Aes256Gcm => 32,
        }
    }

    /// Whether the mode itself detects a changed ciphertext (GCM). CBC does not: a
    /// changed CBC ciphertext decrypts to changed plaintext, which is why the verifier
    /// reports every failure after an unauthenticated CBC decryption alike.
    pub fn is_authenticated(self) -> bool {
        matches!(self, BlockCipher::Aes128Gcm | BlockCipher::Aes256Gcm)
    }

    fn cipher(self) -> Cipher {
        match self {
            BlockCipher::Aes128Cbc => Cipher::aes_128_cbc(),
            BlockCipher::Aes256Cbc => Cipher::aes_256_cbc(),
            BlockCipher::Aes128Gcm => Cipher::aes_128_gcm(),
            BlockCipher::Aes256Gcm => Cipher::aes_256_gcm(),
        }
    }
}

/// The key transport algorithms accepted (both RSA-OAEP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTransport {
    RsaOaepMgf1p,
    RsaOaep,
}

impl KeyTransport {
    /// In the order the SP metadata advertises them: the one every IdP knows first.
    pub const ALL: [KeyTransport; 2] = [KeyTransport::RsaOaepMgf1p, KeyTransport::RsaOaep];

    pub fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.uri() == uri)
    }

    pub fn uri(self) -> &'static str {
        match self {
            KeyTransport::RsaOaepMgf1p => algorithm::RSA_OAEP_MGF1P,
            KeyTransport::RsaOaep => algorithm::RSA_OAEP,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    #[error("the response carries an encrypted assertion, but no decryption key is configured")]
    NoKey,
    #[error("the encrypted assertion is malformed: {0}")]
    Malformed(&'static str),
    #[error("the encryption algorithm {0:?} is not supported")]
    UnsupportedAlgorithm(String),
    #[error(
        "the assertion key is encrypted with RSA PKCS#1 v1.5 (rsa-1_5), which is refused: use RSA-OAEP"
    )]
    Rsa15Refused,
    /// One error, one message, for every way decryption itself can fail.
    #[error("the encrypted assertion could not be decrypted with the SP's keys")]
    Failed,
}

impl DecryptError {
    /// The sign-in log's reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            DecryptError::NoKey => "encrypted_assertion_unexpected",
            DecryptError::Malformed(_) => "encrypted_assertion_malformed",
            DecryptError::UnsupportedAlgorithm(_) => "encryption_algorithm_unsupported",
            DecryptError::Rsa15Refused => "encryption_rsa1_5_refused",
            DecryptError::Failed => "decryption_failed",
        }
    }
}

fn unsupported(uri: &str) -> DecryptError {
    // The URI comes from the response: keep what reaches logs and pages short.
    DecryptError::UnsupportedAlgorithm(uri.chars().take(100).collect())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptionKeyError {
    #[error("the private key is not a PKCS#8 key")]
    InvalidKey,
    #[error("the private key is not RSA (XML Encryption key transport needs RSA)")]
    NotRsa,
    #[error("the RSA key has {0} bits; at least 2048 are required")]
    TooSmall(u32),
    #[error("the certificate is not an X.509 certificate")]
    InvalidCertificate,
    #[error("the certificate does not belong to the private key")]
    Mismatch,
}

/// One of the SP's decryption keys: an RSA private key (PKCS#8 DER, wiped from memory
/// when dropped, never printed) and the certificate published for it, by which an
/// EncryptedKey's KeyInfo may name it. Several may be valid at once during rollover.
#[derive(Clone)]
pub struct SpDecryptionKey {
    private_key: Zeroizing<Vec<u8>>,
    certificate: Vec<u8>,
}

impl SpDecryptionKey {
    /// From a PKCS#8 DER private key and the DER of its certificate. Checks that the
    /// key is RSA of at least 2048 bits and that the certificate is its own, so a
    /// misconfiguration shows here rather than as failed sign-ins.
    pub fn new(
        private_key_pkcs8_der: &[u8],
        certificate_der: &[u8],
    ) -> Result<Self, DecryptionKeyError> {
        let key = PKey::private_key_from_pkcs8(private_key_pkcs8_der)
            .map_err(|_| DecryptionKeyError::InvalidKey)?;
        let certificate =
            X509::from_der(certificate_der).map_err(|_| DecryptionKeyError::InvalidCertificate)?;
        Self::checked(&key, &certificate)?;
        Ok(Self {
            private_key: Zeroizing::new(private_key_pkcs8_der.to_vec()),
            certificate: certificate_der.to_vec(),
        })
    }

    /// From PEM: a private key (PKCS#8 or PKCS#1) and its certificate.
    pub fn from_pem(
        private_key_pem: &str,
        certificate_pem: &str,
    ) -> Result<Self, DecryptionKeyError> {
        let key = PKey::private_key_from_pem(private_key_pem.as_bytes())
            .map_err(|_| DecryptionKeyError::InvalidKey)?;
        let certificate = X509::from_pem(certificate_pem.as_bytes())
            .map_err(|_| DecryptionKeyError::InvalidCertificate)?;
        Self::checked(&key, &certificate)?;
        let private_key = Zeroizing::new(
            key.private_key_to_pkcs8()
                .map_err(|_| DecryptionKeyError::InvalidKey)?,
        );
        let certificate = certificate
            .to_der()
            .map_err(|_| DecryptionKeyError::InvalidCertificate)?;
        Ok(Self {
            private_key,
            certificate,
        })
    }

    fn checked(key: &PKey<Private>, certificate: &X509) -> Result<(), DecryptionKeyError> {
        if key.id() != Id::RSA {
            return Err(DecryptionKeyError::NotRsa);
        }
        if key.bits() < 2048 {
            return Err(DecryptionKeyError::TooSmall(key.bits()));
        }
        let public = certificate
            .public_key()
            .map_err(|_| DecryptionKeyError::InvalidCertificate)?;
        if !public.public_eq(key) {
            return Err(DecryptionKeyError::Mismatch);
        }
        Ok(())
    }

    /// The certificate's DER, for SP metadata.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// The content-encryption key inside `encrypted`, or `None` (any failure alike).
    fn unwrap_key(&self, encrypted: &[u8], params: &OaepParams) -> Option<Zeroizing<Vec<u8>>> {
        let key = PKey::private_key_from_pkcs8(&self.private_key).ok()?;
        let mut decrypter = Decrypter::new(&key).ok()?;
        decrypter.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
        decrypter.set_rsa_oaep_md(params.digest).ok()?;
        decrypter.set_rsa_mgf1_md(params.mgf1).ok()?;
        if let Some(label) = &params.label {
            decrypter.set_rsa_oaep_label(label).ok()?;
        }
        let mut out = Zeroizing::new(vec![0u8; decrypter.decrypt_len(encrypted).ok()?]);
        let len = decrypter.decrypt(encrypted, &mut out).ok()?;
        out.truncate(len);
        Some(out)
    }
}

impl fmt::Debug for SpDecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpDecryptionKey")
            .field("private_key", &"<redacted>")
            .field("certificate_len", &self.certificate.len())
            .finish()
    }
}

/// What decryption gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The plaintext as decrypted: it should be one `Assertion` element; the verifier
    /// parses it under the same limits as the response.
    pub plaintext: Vec<u8>,
    pub cipher: BlockCipher,
}

#[derive(Clone)]
struct OaepParams {
    digest: MessageDigest,
    mgf1: MessageDigest,
    label: Option<Vec<u8>>,
}

/// An EncryptedKey whose algorithms were accepted.
struct WrappedKey<'a, 'input> {
    params: OaepParams,
    cipher_value: Node<'a, 'input>,
    /// The certificate its KeyInfo names, if it names one by value.
    certificate: Option<Vec<u8>>,
}

/// Decrypts `encrypted_assertion` with the first of `keys` that opens it (the key
/// whose certificate the EncryptedKey names, when it names one of them).
pub fn decrypt_assertion(
    encrypted_assertion: Node<'_, '_>,
    keys: &[SpDecryptionKey],
) -> Result<Decrypted, DecryptError> {
    if keys.is_empty() {
        return Err(DecryptError::NoKey);
    }
    if !is(encrypted_assertion, ns::ASSERTION, "EncryptedAssertion") {
        return Err(DecryptError::Malformed("not an EncryptedAssertion"));
    }
    let mut data = None;
    let mut key_nodes = Vec::new();
    for child in encrypted_assertion.children().filter(Node::is_element) {
        if is(child, XMLENC, "EncryptedData") {
            if data.replace(child).is_some() {
                return Err(DecryptError::Malformed("more than one EncryptedData"));
            }
        } else if is(child, XMLENC, "EncryptedKey") {
            key_nodes.push(child);
        } else {
            return Err(DecryptError::Malformed(
                "an element other than EncryptedData and EncryptedKey",
            ));
        }
    }
    let data = data.ok_or(DecryptError::Malformed("no EncryptedData"))?;
    let cipher = {
        let uri = algorithm_of(data)?;
        BlockCipher::from_uri(uri).ok_or_else(|| unsupported(uri))?
    };
    let data_value = cipher_value(data)?;
    // Entra ID's shape first (inside KeyInfo), then siblings.
    let inside: Vec<Node<'_, '_>> = children(data, ns::XMLDSIG, "KeyInfo")
        .flat_map(|info| children(info, XMLENC, "EncryptedKey"))
        .collect();
    key_nodes.splice(0..0, inside);
    if key_nodes.is_empty() {
        return Err(DecryptError::Malformed("no EncryptedKey"));
    }
    if key_nodes.len() > MAX_ENCRYPTED_KEYS {
        return Err(DecryptError::Malformed("too many EncryptedKeys"));
    }
    // Every EncryptedKey's algorithms are checked before any private-key operation,
    // so an rsa-1_5 key is refused even beside an acceptable one.
    let wrapped = key_nodes
        .into_iter()
        .map(wrapped_key)
        .collect::<Result<Vec<_>, _>>()?;

    let ciphertext = decode_base64(data_value).ok_or(DecryptError::Failed)?;
    for wrapped in &wrapped {
        let Some(encrypted_key) = decode_base64(wrapped.cipher_value) else {
            continue;
        };
        for key in candidates(wrapped, keys) {
            let Some(content_key) = key.unwrap_key(&encrypted_key, &wrapped.params) else {
                continue;
            };
            if content_key.len() != cipher.key_len() {
                continue;
            }
            // OAEP checks its own integrity, so a key that unwraps is the right one:
            // whatever the data decryption says is the answer.
            let plaintext = if cipher.is_authenticated() {
                decrypt_gcm(cipher.cipher(), &content_key, &ciphertext)
            } else {
                decrypt_cbc(cipher.cipher(), &content_key, &ciphertext)
            };
            return plaintext
                .map(|plaintext| Decrypted { plaintext, cipher })
                .ok_or(DecryptError::Failed);
        }
    }
    Err(DecryptError::Failed)
}

/// The SP keys to try for `wrapped`: the one(s) whose certificate its KeyInfo names,
/// else all (KeyInfo may be absent, or name the key another way).
fn candidates<'k>(
    wrapped: &WrappedKey<'_, '_>,
    keys: &'k [SpDecryptionKey],
) -> Vec<&'k SpDecryptionKey> {
    if let Some(named) = &wrapped.certificate {
        let matching: Vec<&SpDecryptionKey> =
            keys.iter().filter(|k| &k.certificate == named).collect();
        if !matching.is_empty() {
            return matching;
        }
    }
    keys.iter().collect()
}

/// The `Algorithm` of the one `EncryptionMethod` child of `parent`.
fn algorithm_of<'a>(parent: Node<'a, '_>) -> Result<&'a str, DecryptError> {
    let method = one(parent, XMLENC, "EncryptionMethod")?;
    method.attribute("Algorithm").ok_or(DecryptError::Malformed(
        "an EncryptionMethod has no Algorithm",
    ))
}

fn one<'a, 'input>(
    parent: Node<'a, 'input>,
    namespace: &'a str,
    local: &'static str,
) -> Result<Node<'a, 'input>, DecryptError> {
    let mut found = children(parent, namespace, local);
    match (found.next(), found.next()) {
        (Some(node), None) => Ok(node),
        (None, _) => Err(DecryptError::Malformed(match local {
            "EncryptionMethod" => "an EncryptionMethod is missing",
            "CipherData" => "a CipherData is missing",
            _ => "a CipherValue is missing",
        })),
        (Some(_), Some(_)) => Err(DecryptError::Malformed("a repeated element")),
    }
}

fn cipher_value<'a, 'input>(parent: Node<'a, 'input>) -> Result<Node<'a, 'input>, DecryptError> {
    let data = one(parent, XMLENC, "CipherData")?;
    if children(data, XMLENC, "CipherReference").next().is_some() {
        return Err(DecryptError::Malformed(
            "CipherReference (ciphertext from a URI) is not accepted",
        ));
    }
    one(data, XMLENC, "CipherValue")
}

fn wrapped_key<'a, 'input>(node: Node<'a, 'input>) -> Result<WrappedKey<'a, 'input>, DecryptError> {
    let method = one(node, XMLENC, "EncryptionMethod")?;
    let uri = method
        .attribute("Algorithm")
        .ok_or(DecryptError::Malformed(
            "an EncryptionMethod has no Algorithm",
        ))?;
    if uri == algorithm::RSA_1_5 {
        return Err(DecryptError::Rsa15Refused);
    }
    let transport = KeyTransport::from_uri(uri).ok_or_else(|| unsupported(uri))?;
    // Both default to SHA-1 (XML Encryption 1.1 §5.5.2); SHA-1 is sound inside OAEP,
    // where no collision resistance is needed.
    let digest = match children(method, ns::XMLDSIG, "DigestMethod").next() {
        Some(d) => digest(d.attribute("Algorithm").unwrap_or_default())?,
        None => MessageDigest::sha1(),
    };
    let mgf = children(method, XMLENC11, "MGF").next();
    let mgf1 = match (transport, mgf) {
        (_, None) => MessageDigest::sha1(),
        // rsa-oaep-mgf1p fixes MGF1 with SHA-1.
        (KeyTransport::RsaOaepMgf1p, Some(m)) => {
            match m.attribute("Algorithm").unwrap_or_default() {
                algorithm::MGF1_SHA1 => MessageDigest::sha1(),
                other => return Err(unsupported(other)),
            }
        }
        (KeyTransport::RsaOaep, Some(m)) => mgf1(m.attribute("Algorithm").unwrap_or_default())?,
    };
    let label = match children(method, XMLENC, "OAEPparams").next() {
        Some(p) => {
            Some(decode_base64(p).ok_or(DecryptError::Malformed("OAEPparams is not base64"))?)
        }
        None => None,
    };
    let certificate = children(node, ns::XMLDSIG, "KeyInfo")
        .flat_map(|info| children(info, ns::XMLDSIG, "X509Data"))
        .flat_map(|data| children(data, ns::XMLDSIG, "X509Certificate"))
        .find_map(decode_base64);
    Ok(WrappedKey {
        params: OaepParams {
            digest,
            mgf1,
            label: label.filter(|l| !l.is_empty()),
        },
        cipher_value: cipher_value(node)?,
        certificate,
    })
}

fn digest(uri: &str) -> Result<MessageDigest, DecryptError> {
    Ok(match uri {
        algorithm::SHA1 => MessageDigest::sha1(),
        algorithm::SHA256 => MessageDigest::sha256(),
        algorithm::SHA384 => MessageDigest::sha384(),
        algorithm::SHA512 => MessageDigest::sha512(),
        other => return Err(unsupported(other)),
    })
}

fn mgf1(uri: &str) -> Result<MessageDigest, DecryptError> {
    Ok(match uri {
        algorithm::MGF1_SHA1 => MessageDigest::sha1(),
        algorithm::MGF1_SHA256 => MessageDigest::sha256(),
        algorithm::MGF1_SHA384 => MessageDigest::sha384(),
        algorithm::MGF1_SHA512 => MessageDigest::sha512(),
        other => return Err(unsupported(other)),
    })
}

/// Base64 with any whitespace (IdPs wrap lines); `None` if it is not base64.
fn decode_base64(node: Node<'_, '_>) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text_of(node)
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD.decode(compact).ok()
}

/// AES-CBC: a 16-byte IV, then whole blocks; XML Encryption padding.
fn decrypt_cbc(cipher: Cipher, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 2 * AES_BLOCK || !data.len().is_multiple_of(AES_BLOCK) {
        return None;
    }
    let (iv, body) = data.split_at(AES_BLOCK);
    let mut crypter = Crypter::new(cipher, Mode::Decrypt, key, Some(iv)).ok()?;
    crypter.pad(false);
    // `update` needs room for one block more than its input.
    let mut out = vec![0u8; body.len() + AES_BLOCK];
    let mut len = crypter.update(body, &mut out).ok()?;
    len += crypter.finalize(out.get_mut(len..)?).ok()?;
    out.truncate(len);
    let pad = usize::from(*out.last()?);
    if pad == 0 || pad > AES_BLOCK || pad > out.len() {
        return None;
    }
    out.truncate(out.len() - pad);
    Some(out)
}

/// AES-GCM: a 12-byte IV, the ciphertext, a 16-byte tag; no associated data.
fn decrypt_gcm(cipher: Cipher, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < GCM_IV + GCM_TAG {
        return None;
    }
    let (iv, rest) = data.split_at(GCM_IV);
    let (body, tag) = rest.split_at(rest.len() - GCM_TAG);
    decrypt_aead(cipher, key, Some(iv), &[], body, tag).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbc_refuses_short_and_misaligned_input_without_panicking() {
        let key = [7u8; 16];
        for len in [0, 1, 15, 16, 17, 31, 33, 47] {
            assert_eq!(
                decrypt_cbc(Cipher::aes_128_cbc(), &key, &vec![0u8; len]),
                None,
                "{len}"
            );
        }
    }

    #[test]
    fn gcm_refuses_short_input_without_panicking() {
        let key = [7u8; 32];
        for len in [0, 1, 12, 27, 28, 40] {
            assert_eq!(
                decrypt_gcm(Cipher::aes_256_gcm(), &key, &vec![0u8; len]),
                None,
                "{len}"
            );
        }
    }

    #[test]
    fn cbc_padding_is_xml_encryption_padding() {
        // Twelve bytes of data, then three arbitrary pad bytes and the pad length, 4:
        // valid XML Encryption padding, invalid PKCS#7.
        let key = [1u8; 16];
        let iv = [2u8; 16];
        let mut block = *b"hello world!\xAA\xBB\xCC\x04";
        let mut crypter =
            Crypter::new(Cipher::aes_128_cbc(), Mode::Encrypt, &key, Some(&iv)).expect("crypter");
        crypter.pad(false);
        let mut out = vec![0u8; 32];
        let len = crypter.update(&block, &mut out).expect("encrypts");
        let mut data = iv.to_vec();
        data.extend_from_slice(&out[..len]);
        assert_eq!(
            decrypt_cbc(Cipher::aes_128_cbc(), &key, &data).as_deref(),
            Some(&b"hello world!"[..])
        );
        // A pad length of 0 or more than a block is refused.
        for bad in [0u8, 17, 255] {
            block[15] = bad;
            let mut crypter = Crypter::new(Cipher::aes_128_cbc(), Mode::Encrypt, &key, Some(&iv))
                .expect("crypter");
            crypter.pad(false);
            let len = crypter.update(&block, &mut out).expect("encrypts");
            let mut data = iv.to_vec();
            data.extend_from_slice(&out[..len]);
            assert_eq!(
                decrypt_cbc(Cipher::aes_128_cbc(), &key, &data),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn algorithm_uris_round_trip() {
        for c in BlockCipher::ALL {
            assert_eq!(BlockCipher::from_uri(c.uri()), Some(c));
        }
        for t in KeyTransport::ALL {
            assert_eq!(KeyTransport::from_uri(t.uri()), Some(t));
        }
        assert_eq!(KeyTransport::from_uri(algorithm::RSA_1_5), None);
        assert_eq!(
            BlockCipher::from_uri("http://www.w3.org/2001/04/xmlenc#tripledes-cbc"),
            None
        );
    }
}
