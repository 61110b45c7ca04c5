//! From a `SAMLResponse` form value to a [`ValidAssertion`]: decode, parse (no DTD,
//! limits), gate, verify every signature with the tenant's certificates (xmlsec,
//! through samael), then apply the rules to the verified copy.
//!
//! xmlsec checks the cryptography and hands back each signed element's pre-digest
//! bytes: the canonical form it hashed, which is exactly what the signature covers
//! (the enveloped Signature removed, comments dropped by exclusive c14n). The gate
//! has already made sure that the signatures sign the Response and/or the one
//! Assertion and nothing else. Identity is read from those bytes, parsed again, never
//! from the document as received: what was hashed is what is read, so no difference
//! between two parsers' view of the received document can change it. Keys come only
//! from the configured certificates; a certificate in the response's KeyInfo is
//! ignored.
//!
//! An encrypted assertion is decrypted (`decrypt`) after the Response's signature, if
//! any, has been verified over the ciphertext; the plaintext Assertion then takes the
//! EncryptedAssertion's place and goes through the gate and xmlsec again.
//!
//! libxml2 and xmlsec work in memory here: DTDs never reach them (the gate's parser
//! refuses any), so they load nothing from disk or network.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};

use roxmltree::Node;

use crate::certificate::Certificate;
use crate::decrypt::{DecryptError, SpDecryptionKey, decrypt_assertion};
use crate::gate::{GateError, GatedAssertion, GatedResponse, gate};
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
    Decryption(#[from] DecryptError),
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
            SamlError::Decryption(e) => e.reason(),
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

/// Verifies a decoded response for a tenant. `decryption_keys` are the SP's
/// private keys for encrypted assertions (empty when the tenant has none; then an
/// encrypted assertion is refused as `encrypted_assertion_unexpected`).
pub fn verify_response(
    xml_bytes: &[u8],
    certificates: &[Certificate],
    decryption_keys: &[SpDecryptionKey],
    expect: &Expectations<'_>,
) -> Result<ValidAssertion, SamlError> {
    let document = xml::parse(xml_bytes, &RESPONSE_LIMITS)?;
    let gated = gate(&document)?;
    // `xml::parse` has checked the bytes are UTF-8.
    let text = std::str::from_utf8(xml_bytes).map_err(|_| XmlError::NotUtf8)?;
    let certs: Vec<CertificateDer> = certificates
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    match gated.assertion {
        GatedAssertion::Plain(assertion) => verify_plain(text, &gated, assertion, &certs, expect),
        GatedAssertion::Encrypted(encrypted) => {
            verify_encrypted(text, &gated, encrypted, &certs, decryption_keys, expect)
        }
    }
}

/// xmlsec: every Signature in `text` must verify with a configured certificate; the
/// answer is the signed element as it was hashed (for a signed Response, the
/// Response's; else the one signed element's).
///
/// Pre-digest rather than samael's reduced copy of the parsed document: the reduced
/// copy is rebuilt by matching libxml2's tree against the canonical form, which cost
/// more than half of each verification; the canonical form is the signed content
/// itself.
fn reduce(text: &str, certs: &[CertificateDer]) -> Result<String, SamlError> {
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        text,
        certs,
        ReduceMode::PreDigest,
        Some(ALLOWED_ALGORITHMS),
    )
    .map_err(|_| SamlError::SignatureInvalid)
}

fn verify_plain(
    text: &str,
    gated: &GatedResponse<'_, '_>,
    assertion: Node<'_, '_>,
    certs: &[CertificateDer],
    expect: &Expectations<'_>,
) -> Result<ValidAssertion, SamlError> {
    let assertion_id = assertion.attribute("ID").unwrap_or_default();
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

    let reduced = reduce(text, certs)?;
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
    if assertion.attribute("ID") != Some(assertion_id) {
        return Err(SamlError::SignatureInvalid);
    }
    Ok(validate_parts(response, assertion, verified, expect)?)
}

/// An encrypted assertion: the Response's signature (which covers the ciphertext)
/// on the bytes as received, then decryption, then the decrypted Assertion put in
/// the EncryptedAssertion's place and gated and verified like a plain one.
fn verify_encrypted(
    text: &str,
    gated: &GatedResponse<'_, '_>,
    received: Node<'_, '_>,
    certs: &[CertificateDer],
    keys: &[SpDecryptionKey],
    expect: &Expectations<'_>,
) -> Result<ValidAssertion, SamlError> {
    if keys.is_empty() {
        return Err(DecryptError::NoKey.into());
    }
    let response_signed = gated.response_signature.is_some();
    if expect.want_response_signed && !response_signed {
        return Err(ResponseError::SignatureMissing("the Response must be signed").into());
    }

    // 1. A signed Response is verified before anything is decrypted, and then both
    //    the envelope and the ciphertext are taken from xmlsec's verified copy.
    let verified_text;
    let verified_doc;
    let (verified_envelope, encrypted) = if response_signed {
        verified_text = reduce(text, certs)?;
        verified_doc = xml::parse_str(&verified_text, &RESPONSE_LIMITS)?;
        let root = verified_doc.root_element();
        if !is(root, ns::PROTOCOL, "Response")
            || root.attribute("ID") != gated.response.attribute("ID")
        {
            return Err(SamlError::SignatureInvalid);
        }
        let mut found = children(root, ns::ASSERTION, "EncryptedAssertion");
        match (found.next(), found.next()) {
            (Some(e), None) => (Some(root), e),
            _ => return Err(SamlError::SignatureInvalid),
        }
    } else {
        (None, received)
    };

    // 2. Decryption.
    let decrypted = decrypt_assertion(encrypted, keys)?;

    // 3. From plaintext to a verified Assertion. A CBC ciphertext that no verified
    //    signature covered may have been altered by the sender to probe us (Jager and
    //    Somorovsky, "How to Break XML Encryption", 2011: whether the altered
    //    plaintext parses is the oracle). Then every failure up to and including the
    //    Assertion's signature check is reported as `decryption_failed`, so the
    //    answers do not say which step refused. A genuine Assertion passes them all.
    let oracle_safe = response_signed || decrypted.cipher.is_authenticated();
    let hide = |e: SamlError| -> SamlError {
        if oracle_safe {
            e
        } else {
            DecryptError::Failed.into()
        }
    };
    let plaintext =
        std::str::from_utf8(&decrypted.plaintext).map_err(|_| hide(XmlError::NotUtf8.into()))?;
    // The same limits as the response; a DTD is refused here too.
    let plain = xml::parse_str(plaintext, &RESPONSE_LIMITS).map_err(|e| hide(e.into()))?;
    let root = plain.root_element();
    if !is(root, ns::ASSERTION, "Assertion") {
        return Err(hide(
            ResponseError::Malformed("the encrypted content is not an Assertion".into()).into(),
        ));
    }
    // Splice the Assertion (without anything around it, such as an XML declaration)
    // into the received bytes in place of the EncryptedAssertion. The Response's
    // Signature is dropped from this copy: it was verified in step 1, over the
    // ciphertext, and would not verify over the plaintext.
    let mut cuts = vec![(received.range(), &plaintext[root.range()])];
    if response_signed
        && let Some(signature) = children(gated.response, ns::XMLDSIG, "Signature").next()
    {
        cuts.push((signature.range(), ""));
    }
    cuts.sort_by_key(|(range, _)| range.start);
    let mut spliced = String::with_capacity(text.len() + plaintext.len());
    let mut at = 0;
    for (range, with) in cuts {
        spliced.push_str(text.get(at..range.start).unwrap_or_default());
        spliced.push_str(with);
        at = range.end;
    }
    spliced.push_str(text.get(at..).unwrap_or_default());

    let spliced_doc = xml::parse_str(&spliced, &RESPONSE_LIMITS).map_err(|e| hide(e.into()))?;
    let regated = gate(&spliced_doc).map_err(|e| hide(e.into()))?;
    let GatedAssertion::Plain(assertion) = regated.assertion else {
        return Err(hide(GateError::SeveralAssertions(2).into()));
    };
    let verified = Verified {
        response: response_signed,
        assertion: regated.assertion_signature.is_some(),
    };
    if expect.want_assertions_signed && !verified.assertion {
        return Err(hide(
            ResponseError::SignatureMissing("the Assertion must be signed").into(),
        ));
    }
    if !verified.response && !verified.assertion {
        // Encryption is not authentication: anyone holding the SP's certificate can
        // encrypt.
        return Err(hide(
            ResponseError::SignatureMissing("nothing in it is signed").into(),
        ));
    }
    let verified_assertion_text;
    let verified_assertion_doc;
    let assertion = if verified.assertion {
        verified_assertion_text = reduce(&spliced, certs).map_err(hide)?;
        verified_assertion_doc = xml::parse_str(&verified_assertion_text, &RESPONSE_LIMITS)
            .map_err(|e| hide(e.into()))?;
        let root = verified_assertion_doc.root_element();
        if !is(root, ns::ASSERTION, "Assertion")
            || root.attribute("ID") != assertion.attribute("ID")
        {
            return Err(hide(SamlError::SignatureInvalid));
        }
        root
    } else {
        // Only the Response is signed; its signature covers the ciphertext this
        // Assertion was decrypted from.
        assertion
    };
    let envelope = verified_envelope.unwrap_or(regated.response);
    Ok(validate_parts(envelope, assertion, verified, expect)?)
}
