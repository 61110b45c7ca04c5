//! A test IdP that signs with real keys (RSA-2048 or ECDSA P-256, from `fixtures/`)
//! through xmlsec, and shapes responses the way Entra ID and Okta do:
//!
//! - Entra ID ("Single sign-on SAML protocol", Microsoft Learn): `samlp:Response`
//!   with an unprefixed assertion namespace, only the assertion signed by default,
//!   claims named by URI (`…/claims/emailaddress`, `…/claims/givenname`, the
//!   `…/2008/06/identity/claims/role` app roles), NameID in emailAddress format,
//!   instants with seven fractional digits.
//! - Okta (Okta SAML app defaults): `saml2p:`/`saml2:` prefixes, response and
//!   assertion both signed, attributes `email` and `name` with `xsi:type="xs:string"`
//!   values, the seeds' attribute statements.
//!
//! With [`ResponseSpec::encryption`] set, the (signed) assertion is encrypted for an
//! SP certificate as XML Encryption does it: a fresh AES key (CBC with XML
//! Encryption's padding, or GCM), wrapped with RSA-OAEP (or RSA 1.5, for the test
//! that it is refused), the EncryptedKey inside `EncryptedData/KeyInfo` (Entra ID)
//! or beside the EncryptedData with a `RetrievalMethod` pointing at it (OpenSAML,
//! Shibboleth).
//!
//! The Response and Assertion XML is built and signed by `idbridge_dev_idp::saml`,
//! the same code the dev IdP (`idbridge dev-idp`) signs with; this module adds the
//! fixture keys, the specs tests edit, and encryption.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idbridge_dev_idp::saml as shared;
use time::{Duration, OffsetDateTime};

const RSA_KEY: &[u8] = include_bytes!("../fixtures/test-idp-rsa.key.der");
const RSA_CERT: &str = include_str!("../fixtures/test-idp-rsa.cert.pem");
const EC_KEY: &[u8] = include_bytes!("../fixtures/test-idp-p256.key.der");
const EC_CERT: &str = include_str!("../fixtures/test-idp-p256.cert.pem");
const OTHER_KEY: &[u8] = include_bytes!("../fixtures/other-rsa.key.der");
const OTHER_CERT: &str = include_str!("../fixtures/other-rsa.cert.pem");
const SP_ENC_KEY: &[u8] = include_bytes!("../fixtures/sp-encryption-rsa.key.der");
const SP_ENC_CERT: &str = include_str!("../fixtures/sp-encryption-rsa.cert.pem");
const SP_ROLLOVER_KEY: &[u8] = include_bytes!("../fixtures/sp-rollover-rsa.key.der");
const SP_ROLLOVER_CERT: &str = include_str!("../fixtures/sp-rollover-rsa.cert.pem");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Rsa2048,
    P256,
    /// A key no tenant configured.
    Other,
}

impl Key {
    /// The private key, PKCS#8 DER.
    pub fn private_der(self) -> &'static [u8] {
        match self {
            Key::Rsa2048 => RSA_KEY,
            Key::P256 => EC_KEY,
            Key::Other => OTHER_KEY,
        }
    }

    /// The certificate, PEM.
    pub fn certificate_pem(self) -> &'static str {
        match self {
            Key::Rsa2048 => RSA_CERT,
            Key::P256 => EC_CERT,
            Key::Other => OTHER_CERT,
        }
    }

    /// The certificate's base64 DER, as metadata carries it.
    pub fn certificate_base64(self) -> String {
        self.certificate_pem()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect()
    }

    fn signature_method(self) -> &'static str {
        match self {
            Key::Rsa2048 | Key::Other => shared::RSA_SHA256,
            Key::P256 => shared::ECDSA_SHA256,
        }
    }
}

/// The SP's decryption keys (the fixtures `sp-*-rsa`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpKey {
    /// The SP's encryption key.
    Encryption,
    /// A second SP key: the next one during rollover, or "encrypted for another key".
    Rollover,
}

impl SpKey {
    /// The private key, PKCS#8 DER.
    pub fn private_key_der(self) -> &'static [u8] {
        match self {
            SpKey::Encryption => SP_ENC_KEY,
            SpKey::Rollover => SP_ROLLOVER_KEY,
        }
    }

    /// The certificate, PEM.
    pub fn certificate_pem(self) -> &'static str {
        match self {
            SpKey::Encryption => SP_ENC_CERT,
            SpKey::Rollover => SP_ROLLOVER_CERT,
        }
    }

    /// The certificate's base64 DER.
    pub fn certificate_base64(self) -> String {
        self.certificate_pem()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect()
    }

    /// The certificate, DER.
    pub fn certificate_der(self) -> Vec<u8> {
        STANDARD
            .decode(self.certificate_base64())
            .expect("fixture certificate is base64")
    }
}

/// The block cipher that encrypts the assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataCipher {
    Aes128Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes256Gcm,
}

impl DataCipher {
    pub const ALL: [DataCipher; 4] = [
        DataCipher::Aes128Cbc,
        DataCipher::Aes256Cbc,
        DataCipher::Aes128Gcm,
        DataCipher::Aes256Gcm,
    ];

    pub fn uri(self) -> &'static str {
        match self {
            DataCipher::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            DataCipher::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            DataCipher::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            DataCipher::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        }
    }

    fn cipher(self) -> openssl::symm::Cipher {
        use openssl::symm::Cipher;
        match self {
            DataCipher::Aes128Cbc => Cipher::aes_128_cbc(),
            DataCipher::Aes256Cbc => Cipher::aes_256_cbc(),
            DataCipher::Aes128Gcm => Cipher::aes_128_gcm(),
            DataCipher::Aes256Gcm => Cipher::aes_256_gcm(),
        }
    }

    pub fn is_gcm(self) -> bool {
        matches!(self, DataCipher::Aes128Gcm | DataCipher::Aes256Gcm)
    }
}

/// How the AES key is encrypted for the SP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyWrap {
    /// `xmlenc#rsa-oaep-mgf1p` with its SHA-1 digest named (Entra ID's).
    RsaOaepMgf1p,
    /// `xmlenc#rsa-oaep-mgf1p` with a SHA-256 `DigestMethod` (MGF1 stays SHA-1).
    RsaOaepMgf1pSha256,
    /// `xmlenc11#rsa-oaep` with SHA-256 and MGF1-SHA-256.
    RsaOaepSha256,
    /// `xmlenc#rsa-1_5`: must be refused.
    Rsa15,
}

impl KeyWrap {
    pub const OAEP: [KeyWrap; 3] = [
        KeyWrap::RsaOaepMgf1p,
        KeyWrap::RsaOaepMgf1pSha256,
        KeyWrap::RsaOaepSha256,
    ];
}

/// Where the EncryptedKey sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlacement {
    /// Inside `EncryptedData/ds:KeyInfo` (Entra ID).
    InsideKeyInfo,
    /// Beside the EncryptedData in the EncryptedAssertion, with a `RetrievalMethod`
    /// in the EncryptedData's KeyInfo (OpenSAML, Shibboleth).
    Sibling,
}

/// How to encrypt the assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    /// The SP key whose certificate encrypts.
    pub recipient: SpKey,
    pub cipher: DataCipher,
    pub key_wrap: KeyWrap,
    pub placement: KeyPlacement,
    /// Whether the EncryptedKey's KeyInfo carries the recipient's certificate.
    pub name_certificate: bool,
}

impl Encryption {
    /// As Entra ID encrypts: AES-256-CBC, RSA-OAEP (mgf1p), the EncryptedKey inside
    /// the EncryptedData's KeyInfo, naming the certificate.
    pub fn entra(recipient: SpKey) -> Self {
        Self {
            recipient,
            cipher: DataCipher::Aes256Cbc,
            key_wrap: KeyWrap::RsaOaepMgf1p,
            placement: KeyPlacement::InsideKeyInfo,
            name_certificate: true,
        }
    }

    /// As OpenSAML-based IdPs encrypt: AES-256-GCM, XML Encryption 1.1 RSA-OAEP,
    /// the EncryptedKey beside the EncryptedData.
    pub fn sibling(recipient: SpKey) -> Self {
        Self {
            recipient,
            cipher: DataCipher::Aes256Gcm,
            key_wrap: KeyWrap::RsaOaepSha256,
            placement: KeyPlacement::Sibling,
            name_certificate: true,
        }
    }
}

fn random(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    openssl::rand::rand_bytes(&mut bytes).expect("OpenSSL's CSPRNG");
    bytes
}

/// `plaintext` encrypted under `key` with `cipher`, as XML Encryption lays it out:
/// CBC is IV ‖ ciphertext with XML Encryption padding (random pad bytes, the last
/// one the pad length); GCM is IV ‖ ciphertext ‖ tag.
pub fn encrypt_data(cipher: DataCipher, key: &[u8], plaintext: &[u8]) -> Vec<u8> {
    use openssl::symm::{Crypter, Mode, encrypt_aead};
    if cipher.is_gcm() {
        let iv = random(12);
        let mut tag = [0u8; 16];
        let body = encrypt_aead(cipher.cipher(), key, Some(&iv), &[], plaintext, &mut tag)
            .expect("AES-GCM encrypts");
        [iv, body, tag.to_vec()].concat()
    } else {
        let iv = random(16);
        let pad = 16 - plaintext.len() % 16;
        let mut padded = plaintext.to_vec();
        padded.extend(random(pad - 1));
        padded.push(u8::try_from(pad).expect("at most 16"));
        let mut crypter =
            Crypter::new(cipher.cipher(), Mode::Encrypt, key, Some(&iv)).expect("AES-CBC");
        crypter.pad(false);
        let mut out = vec![0u8; padded.len() + 16];
        let mut len = crypter.update(&padded, &mut out).expect("encrypts");
        len += crypter.finalize(&mut out[len..]).expect("finalizes");
        out.truncate(len);
        [iv, out].concat()
    }
}

/// `key` encrypted for `recipient` with `wrap`.
pub fn wrap_key(wrap: KeyWrap, recipient: SpKey, key: &[u8]) -> Vec<u8> {
    use openssl::encrypt::Encrypter;
    use openssl::hash::MessageDigest;
    use openssl::rsa::Padding;
    let certificate = openssl::x509::X509::from_pem(recipient.certificate_pem().as_bytes())
        .expect("fixture certificate");
    let public = certificate.public_key().expect("RSA public key");
    let mut encrypter = Encrypter::new(&public).expect("encrypter");
    let (digest, mgf1) = match wrap {
        KeyWrap::RsaOaepMgf1p => (MessageDigest::sha1(), MessageDigest::sha1()),
        KeyWrap::RsaOaepMgf1pSha256 => (MessageDigest::sha256(), MessageDigest::sha1()),
        KeyWrap::RsaOaepSha256 => (MessageDigest::sha256(), MessageDigest::sha256()),
        KeyWrap::Rsa15 => (MessageDigest::sha1(), MessageDigest::sha1()),
    };
    if wrap == KeyWrap::Rsa15 {
        encrypter.set_rsa_padding(Padding::PKCS1).expect("padding");
    } else {
        encrypter
            .set_rsa_padding(Padding::PKCS1_OAEP)
            .expect("padding");
        encrypter.set_rsa_oaep_md(digest).expect("digest");
        encrypter.set_rsa_mgf1_md(mgf1).expect("mgf1");
    }
    let mut out = vec![0u8; encrypter.encrypt_len(key).expect("length")];
    let len = encrypter.encrypt(key, &mut out).expect("RSA encrypts");
    out.truncate(len);
    out
}

fn encryption_method(wrap: KeyWrap) -> String {
    const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
    match wrap {
        KeyWrap::RsaOaepMgf1p => format!(
            "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"><ds:DigestMethod xmlns:ds=\"{DS}\" Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/></xenc:EncryptionMethod>"
        ),
        KeyWrap::RsaOaepMgf1pSha256 => format!(
            "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"><ds:DigestMethod xmlns:ds=\"{DS}\" Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/></xenc:EncryptionMethod>"
        ),
        KeyWrap::RsaOaepSha256 => format!(
            "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#rsa-oaep\"><ds:DigestMethod xmlns:ds=\"{DS}\" Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><xenc11:MGF xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\" Algorithm=\"http://www.w3.org/2009/xmlenc11#mgf1sha256\"/></xenc:EncryptionMethod>"
        ),
        KeyWrap::Rsa15 => {
            "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-1_5\"/>".into()
        }
    }
}

/// An `EncryptedAssertion` holding `plaintext` (normally a whole signed Assertion
/// element; tests pass anything), encrypted as `encryption` says, with the
/// assertion namespace spelled as `shape` spells it.
pub fn encrypted_assertion_xml(plaintext: &[u8], encryption: &Encryption, shape: Shape) -> String {
    let key = random(match encryption.cipher {
        DataCipher::Aes128Cbc | DataCipher::Aes128Gcm => 16,
        DataCipher::Aes256Cbc | DataCipher::Aes256Gcm => 32,
    });
    let data = STANDARD.encode(encrypt_data(encryption.cipher, &key, plaintext));
    let wrapped = STANDARD.encode(wrap_key(encryption.key_wrap, encryption.recipient, &key));
    let data_id = format!("_ed{}", uuid::Uuid::now_v7().simple());
    let key_id = format!("_ek{}", uuid::Uuid::now_v7().simple());
    let key_info = if encryption.name_certificate {
        format!(
            "<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
            encryption.recipient.certificate_base64()
        )
    } else {
        String::new()
    };
    let (key_attributes, reference_list) = match encryption.placement {
        KeyPlacement::InsideKeyInfo => (String::new(), String::new()),
        KeyPlacement::Sibling => (
            format!(" Id=\"{key_id}\""),
            format!(
                "<xenc:ReferenceList><xenc:DataReference URI=\"#{data_id}\"/></xenc:ReferenceList>"
            ),
        ),
    };
    let encrypted_key = format!(
        concat!(
            "<xenc:EncryptedKey xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"{attributes}>{method}{key_info}",
            "<xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData>{references}</xenc:EncryptedKey>"
        ),
        attributes = key_attributes,
        method = encryption_method(encryption.key_wrap),
        key_info = key_info,
        wrapped = wrapped,
        references = reference_list,
    );
    let (data_key_info, sibling) = match encryption.placement {
        KeyPlacement::InsideKeyInfo => (
            format!(
                "<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{encrypted_key}</ds:KeyInfo>"
            ),
            String::new(),
        ),
        KeyPlacement::Sibling => (
            format!(
                "<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:RetrievalMethod Type=\"http://www.w3.org/2001/04/xmlenc#EncryptedKey\" URI=\"#{key_id}\"/></ds:KeyInfo>"
            ),
            encrypted_key,
        ),
    };
    let (open, close) = match shape {
        Shape::Entra => (
            "<EncryptedAssertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\">",
            "</EncryptedAssertion>",
        ),
        Shape::Okta => (
            "<saml2:EncryptedAssertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\">",
            "</saml2:EncryptedAssertion>",
        ),
    };
    format!(
        concat!(
            "{open}<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" Id=\"{data_id}\" ",
            "Type=\"http://www.w3.org/2001/04/xmlenc#Element\">",
            "<xenc:EncryptionMethod Algorithm=\"{cipher}\"/>{key_info}",
            "<xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData>",
            "</xenc:EncryptedData>{sibling}{close}"
        ),
        open = open,
        data_id = data_id,
        cipher = encryption.cipher.uri(),
        key_info = data_key_info,
        data = data,
        sibling = sibling,
        close = close,
    )
}

/// Whose response this looks like (the response builder is `idbridge-dev-idp`'s).
pub use idbridge_dev_idp::saml::Shape;

/// An identity provider for tests.
#[derive(Debug, Clone)]
pub struct TestIdp {
    pub entity_id: String,
    pub sso_url: String,
    pub key: Key,
    pub shape: Shape,
}

/// What one response says. `TestIdp::entra_response`/`okta_response` fill the
/// defaults; tests change fields to build the bad cases.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    pub response_id: String,
    pub assertion_id: String,
    pub issuer: String,
    pub destination: Option<String>,
    pub recipient: String,
    pub audience: String,
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub name_id_format: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub issued_at: OffsetDateTime,
    pub not_before: OffsetDateTime,
    pub not_on_or_after: OffsetDateTime,
    pub status: String,
    pub sign_response: bool,
    pub sign_assertion: bool,
    /// The key that signs (the IdP's own unless a test says otherwise).
    pub signing_key: Key,
    /// Encrypt the (signed) assertion for the SP; `None`: send it in the clear.
    pub encryption: Option<Encryption>,
}

impl ResponseSpec {
    /// Sends `values` as the attribute `name`: replaces it where the IdP's shape
    /// already has it (keeping its place), else adds it. No values: removes it.
    pub fn set_attribute(&mut self, name: &str, values: &[&str]) {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        match self.attributes.iter().position(|(n, _)| n == name) {
            Some(i) if values.is_empty() => {
                self.attributes.remove(i);
            }
            Some(i) => self.attributes[i].1 = values,
            None if values.is_empty() => {}
            None => self.attributes.push((name.to_owned(), values)),
        }
    }
}

/// Signs the first `Signature` template in `xml` (document order).
pub fn sign(xml: &str, key: Key) -> String {
    shared::sign(xml, key.private_der()).expect("xmlsec signs the template")
}

impl TestIdp {
    pub fn entra(key: Key) -> Self {
        Self {
            entity_id: "https://sts.windows.net/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/".into(),
            sso_url: "https://login.microsoftonline.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/saml2"
                .into(),
            key,
            shape: Shape::Entra,
        }
    }

    pub fn okta(key: Key) -> Self {
        Self {
            entity_id: "http://www.okta.com/exk1a2b3c4d5E6f7g8h9".into(),
            sso_url:
                "https://dev-123.okta.com/app/dev-123_idbridge_1/exk1a2b3c4d5E6f7g8h9/sso/saml"
                    .into(),
            key,
            shape: Shape::Okta,
        }
    }

    /// The IdP's metadata, with its signing certificate.
    pub fn metadata_xml(&self) -> String {
        shared::metadata_xml(
            &self.entity_id,
            &self.sso_url,
            &self.key.certificate_base64(),
            true,
        )
    }

    /// A response to `in_response_to` (or unsolicited) for `user` at the SP whose
    /// Entity ID and ACS URL are given, valid from `now`, shaped as this IdP's.
    pub fn response_spec(
        &self,
        sp_entity_id: &str,
        acs_url: &str,
        in_response_to: Option<&str>,
        email: &str,
        now: OffsetDateTime,
    ) -> ResponseSpec {
        let (given, family) = ("Ada", "Lovelace");
        let attributes = match self.shape {
            Shape::Entra => vec![
                (
                    "http://schemas.microsoft.com/identity/claims/tenantid".into(),
                    vec!["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into()],
                ),
                (
                    "http://schemas.microsoft.com/identity/claims/objectidentifier".into(),
                    vec!["6d5b1c1e-2f3a-4b4c-8d9e-0a1b2c3d4e5f".into()],
                ),
                (
                    "http://schemas.microsoft.com/identity/claims/displayname".into(),
                    vec![format!("{given} {family}")],
                ),
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname".into(),
                    vec![given.into()],
                ),
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname".into(),
                    vec![family.into()],
                ),
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress".into(),
                    vec![email.into()],
                ),
                (
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name".into(),
                    vec![email.into()],
                ),
                // The seeds' extra claim: Name `email`, source attribute `user.mail`.
                ("email".into(), vec![email.into()]),
            ],
            Shape::Okta => vec![
                ("email".into(), vec![email.into()]),
                ("name".into(), vec![format!("{given} {family}")]),
            ],
        };
        ResponseSpec {
            response_id: format!("_{}", uuid::Uuid::now_v7().simple()),
            assertion_id: format!("_{}", uuid::Uuid::now_v7().simple()),
            issuer: self.entity_id.clone(),
            destination: Some(acs_url.to_owned()),
            recipient: acs_url.to_owned(),
            audience: sp_entity_id.to_owned(),
            in_response_to: in_response_to.map(str::to_owned),
            name_id: email.to_owned(),
            name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
            attributes,
            issued_at: now,
            not_before: now - Duration::minutes(5),
            not_on_or_after: now + Duration::minutes(65),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            sign_response: self.shape == Shape::Okta,
            sign_assertion: true,
            signing_key: self.key,
            encryption: None,
        }
    }

    /// The signed response XML for `spec`.
    pub fn response_xml(&self, spec: &ResponseSpec) -> String {
        let certificate = spec.signing_key.certificate_base64();
        let signer = shared::Signer {
            private_key_der: spec.signing_key.private_der(),
            certificate_base64: &certificate,
            signature_method: spec.signing_key.signature_method(),
        };
        let fields = shared::ResponseFields {
            response_id: &spec.response_id,
            assertion_id: &spec.assertion_id,
            issuer: &spec.issuer,
            destination: spec.destination.as_deref(),
            recipient: &spec.recipient,
            audience: &spec.audience,
            in_response_to: spec.in_response_to.as_deref(),
            name_id: &spec.name_id,
            name_id_format: &spec.name_id_format,
            attributes: &spec.attributes,
            issued_at: spec.issued_at,
            not_before: spec.not_before,
            not_on_or_after: spec.not_on_or_after,
            status: &spec.status,
            sign_response: spec.sign_response,
            sign_assertion: spec.sign_assertion,
        };
        let shape = self.shape;
        shared::response_xml(shape, &fields, &signer, |assertion| {
            match &spec.encryption {
                Some(encryption) => {
                    encrypted_assertion_xml(assertion.as_bytes(), encryption, shape)
                }
                None => assertion,
            }
        })
        .expect("xmlsec signs the template")
    }

    /// The `SAMLResponse` form value (HTTP-POST binding) for `spec`.
    pub fn post_value(&self, spec: &ResponseSpec) -> String {
        STANDARD.encode(self.response_xml(spec))
    }
}
