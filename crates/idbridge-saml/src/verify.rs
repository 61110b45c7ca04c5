//! From a `SAMLResponse` form value to a [`ValidAssertion`]: decode, parse (no DTD,
//! limits), gate, verify every signature with the tenant's certificates (xmlsec,
//! through samael), then apply the rules to the verified copy.
//!
//! xmlsec checks the cryptography and returns a reduced document holding only what
//! its signatures cover; the gate has already made sure that the signatures sign
//! the Response and/or the one Assertion and nothing else. Identity is read from the
//! reduced copy, never from the document as received. Keys come only from the
//! configured certificates; a certificate in the response's KeyInfo is ignored.
//!
//! libxml2 and xmlsec work in memory here: DTDs never reach them (the gate's parser
//! refuses any), so they load nothing from disk or network.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};

use crate::certificate::Certificate;
use crate::gate::{GateError, GatedAssertion, gate};
use crate::ns;
use crate::response::{Expectations, ResponseError, ValidAssertion, Verified, validate_parts};
use crate::xml::{self, RESPONSE_LIMITS, XmlError, children, is};

/// RSA and ECDSA with SHA-256 or stronger; each implies its own digest.
const ALLOWED_ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SamlError {
    #[error("the SAMLResponse is not base64, or too large")]
    Encoding,
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("a signature does not verify with the IdP's configured certificates")]
    SignatureInvalid,
    #[error(transparent)]
    Response(#[from] ResponseError),
}

impl SamlError {
    /// The sign-in log's reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            SamlError::Encoding => "malformed_encoding",
            SamlError::Xml(XmlError::Dtd) => "dtd_refused",
            SamlError::Xml(_) => "malformed_xml",
            SamlError::Gate(e) => e.reason(),
            SamlError::SignatureInvalid => "signature_invalid",
            SamlError::Response(e) => e.reason(),
        }
    }
}

/// Decodes the HTTP-POST binding's `SAMLResponse` (base64, line breaks allowed).
pub fn decode_post_value(value: &str) -> Result<Vec<u8>, SamlError> {
    // Base64 grows data by 4/3; anything longer cannot decode within the limit.
    if value.len() > RESPONSE_LIMITS.max_bytes / 3 * 4 + 4096 {
        return Err(SamlError::Encoding);
    }
    let compact: Vec<u8> = value.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| SamlError::Encoding)
}

/// Verifies a decoded response for a tenant.
pub fn verify_response(
    xml_bytes: &[u8],
    certificates: &[Certificate],
    expect: &Expectations<'_>,
) -> Result<ValidAssertion, SamlError> {
    let document = xml::parse(xml_bytes, &RESPONSE_LIMITS)?;
    let gated = gate(&document)?;
    let assertion_id = match gated.assertion {
        GatedAssertion::Plain(a) => a.attribute("ID").unwrap_or_default().to_owned(),
        GatedAssertion::Encrypted(_) => return Err(ResponseError::EncryptedAssertion.into()),
    };
    let verified = Verified {
        response: gated.response_signature.is_some(),
        assertion: gated.assertion_signature.is_some(),
    };
    // Refuse what is unsigned, or not signed as the tenant requires, before any
    // cryptography.
    if !verified.response && !verified.assertion {
        return Err(ResponseError::SignatureMissing("nothing in it is signed").into());
    }
    if expect.want_response_signed && !verified.response {
        return Err(ResponseError::SignatureMissing("the Response must be signed").into());
    }
    if expect.want_assertions_signed && !verified.assertion {
        return Err(ResponseError::SignatureMissing("the Assertion must be signed").into());
    }

    // `xml::parse` has checked the bytes are UTF-8.
    let text = std::str::from_utf8(xml_bytes).map_err(|_| XmlError::NotUtf8)?;
    let certs: Vec<CertificateDer> = certificates
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    // Every Signature in the document must verify with a configured certificate.
    let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        text,
        &certs,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(ALLOWED_ALGORITHMS),
    )
    .map_err(|_| SamlError::SignatureInvalid)?;
    let reduced = xml::parse_str(&reduced, &RESPONSE_LIMITS)?;
    let root = reduced.root_element();

    let (response, assertion) = if verified.response {
        // The whole Response was signed: read all of it from the verified copy.
        if !is(root, ns::PROTOCOL, "Response")
            || root.attribute("ID") != gated.response.attribute("ID")
        {
            return Err(SamlError::SignatureInvalid);
        }
        let mut assertions = children(root, ns::ASSERTION, "Assertion");
        match (assertions.next(), assertions.next()) {
            (Some(a), None) => (root, a),
            _ => return Err(SamlError::SignatureInvalid),
        }
    } else {
        // Only the Assertion was signed: the envelope (Status, Destination) comes
        // from the received Response, the user only from the verified Assertion.
        if !is(root, ns::ASSERTION, "Assertion") {
            return Err(SamlError::SignatureInvalid);
        }
        (gated.response, root)
    };
    if assertion.attribute("ID") != Some(assertion_id.as_str()) {
        return Err(SamlError::SignatureInvalid);
    }
    Ok(validate_parts(response, assertion, verified, expect)?)
}
