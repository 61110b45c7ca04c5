//! The gate refuses every document shape but the one idbridge reads: each of the XML
//! signature wrapping family (XSW1–8, as catalogued by Somorovsky et al., "On Breaking
//! SAML: Be Whoever You Want to Be", 2012) and its variants, and weak or unusual
//! signature parameters. The signatures here are structurally complete but not
//! cryptographically valid: the gate runs before any cryptography.

use idbridge_saml::gate::{DigestAlgorithm, GateError, GatedAssertion, SignatureAlgorithm, gate};
use idbridge_saml::xml::{RESPONSE_LIMITS, parse_str};

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

struct Sig<'a> {
    reference: &'a str,
    method: &'a str,
    digest: &'a str,
    transforms: &'a [&'a str],
    c14n: &'a str,
}

impl<'a> Sig<'a> {
    fn of(id: &'a str) -> Self {
        Sig {
            reference: id,
            method: RSA_SHA256,
            digest: SHA256,
            transforms: &[
                "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
                "http://www.w3.org/2001/10/xml-exc-c14n#",
            ],
            c14n: "http://www.w3.org/2001/10/xml-exc-c14n#",
        }
    }

    fn xml(&self) -> String {
        let transforms: String = self
            .transforms
            .iter()
            .map(|t| format!(r#"<ds:Transform Algorithm="{t}"/>"#))
            .collect();
        format!(
            r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{c14n}"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{reference}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
            c14n = self.c14n,
            method = self.method,
            reference = self.reference,
            digest = self.digest,
        )
    }
}

/// An assertion; `inside` goes right after the Issuer (where a signature sits).
fn assertion(id: &str, subject: &str, inside: &str) -> String {
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="2026-11-29T12:00:00Z"><saml:Issuer>https://idp.example.com</saml:Issuer>{inside}<saml:Subject><saml:NameID>{subject}</saml:NameID></saml:Subject></saml:Assertion>"#
    )
}

fn response(id: &str, inside: &str, body: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="{id}" Version="2.0" IssueInstant="2026-11-29T12:00:00Z"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://idp.example.com</saml:Issuer>{inside}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{body}</samlp:Response>"#
    )
}

fn check(xml: &str) -> Result<(), GateError> {
    let document = parse_str(xml, &RESPONSE_LIMITS).expect("well-formed");
    gate(&document).map(|_| ())
}

fn signed_assertion(id: &str, subject: &str) -> String {
    assertion(id, subject, &Sig::of(id).xml())
}

#[test]
fn entra_shape_assertion_signed_passes() {
    let xml = response("_r1", "", &signed_assertion("_a1", "ada@example.com"));
    let document = parse_str(&xml, &RESPONSE_LIMITS).expect("well-formed");
    let gated = gate(&document).expect("passes");
    assert!(gated.response_signature.is_none());
    let signature = gated.assertion_signature.expect("assertion signed");
    assert_eq!(signature.signed_id, "_a1");
    assert_eq!(signature.algorithm, SignatureAlgorithm::RsaSha256);
    assert_eq!(signature.digest, DigestAlgorithm::Sha256);
    assert!(
        matches!(gated.assertion, GatedAssertion::Plain(a) if a.attribute("ID") == Some("_a1"))
    );
}

#[test]
fn okta_shape_response_and_assertion_signed_passes() {
    let xml = response(
        "_r1",
        &Sig::of("_r1").xml(),
        &signed_assertion("_a1", "ada@example.com"),
    );
    let document = parse_str(&xml, &RESPONSE_LIMITS).expect("well-formed");
    let gated = gate(&document).expect("passes");
    assert_eq!(
        gated.response_signature.expect("response signed").signed_id,
        "_r1"
    );
    assert_eq!(
        gated
            .assertion_signature
            .expect("assertion signed")
            .signed_id,
        "_a1"
    );
}

#[test]
fn ecdsa_and_stronger_digests_pass() {
    let mut sig = Sig::of("_a1");
    sig.method = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    sig.digest = "http://www.w3.org/2001/04/xmlenc#sha512";
    let xml = response("_r1", "", &assertion("_a1", "ada@example.com", &sig.xml()));
    assert_eq!(check(&xml), Ok(()));
}

#[test]
fn xsw1_signed_response_copied_into_the_signature() {
    // The attacker's Response carries a signature over the original Response, which is
    // moved inside the signature (as an Object); the IDs differ so the reference names
    // the hidden copy.
    let original = response("_orig", "", &signed_assertion("_a1", "ada@example.com"));
    let sig = Sig::of("_orig").xml().replace(
        "</ds:Signature>",
        &format!("<ds:Object>{original}</ds:Object></ds:Signature>"),
    );
    let xml = response("_evil", &sig, &assertion("_a2", "admin@example.com", ""));
    assert_eq!(check(&xml), Err(GateError::SeveralAssertions(2)));
}

#[test]
fn xsw2_signed_response_as_a_detached_sibling() {
    let sig = Sig::of("_orig").xml();
    let xml = response("_evil", &sig, &assertion("_a2", "admin@example.com", ""));
    assert!(matches!(check(&xml), Err(GateError::BadReference(_))));
}

#[test]
fn xsw3_evil_assertion_before_the_signed_one() {
    let body = format!(
        "{}{}",
        assertion("_evil", "admin@example.com", ""),
        signed_assertion("_a1", "ada@example.com")
    );
    assert_eq!(
        check(&response("_r1", "", &body)),
        Err(GateError::SeveralAssertions(2))
    );
}

#[test]
fn xsw4_evil_assertion_wrapping_the_signed_one() {
    let body = assertion(
        "_evil",
        "admin@example.com",
        &signed_assertion("_a1", "ada@example.com"),
    );
    assert_eq!(
        check(&response("_r1", "", &body)),
        Err(GateError::SeveralAssertions(2))
    );
}

#[test]
fn xsw5_copied_signature_pointing_at_a_hidden_original() {
    // The evil assertion carries the original's signature; the original is gone.
    let body = assertion("_evil", "admin@example.com", &Sig::of("_a1").xml());
    assert!(matches!(
        check(&response("_r1", "", &body)),
        Err(GateError::BadReference(_))
    ));
}

#[test]
fn xsw6_original_assertion_inside_the_copied_signature() {
    let original = signed_assertion("_a1", "ada@example.com");
    let sig = Sig::of("_a1").xml().replace(
        "</ds:Signature>",
        &format!("<ds:Object>{original}</ds:Object></ds:Signature>"),
    );
    let body = assertion("_evil", "admin@example.com", &sig);
    assert!(matches!(
        check(&response("_r1", "", &body)),
        Err(GateError::SeveralAssertions(2) | GateError::DuplicateId(_))
    ));
}

#[test]
fn xsw7_original_assertion_in_extensions() {
    let inside = format!(
        "<samlp:Extensions>{}</samlp:Extensions>",
        signed_assertion("_a1", "ada@example.com")
    );
    let xml = response("_r1", &inside, &assertion("_evil", "admin@example.com", ""));
    assert_eq!(check(&xml), Err(GateError::SeveralAssertions(2)));
}

#[test]
fn xsw8_original_assertion_in_the_evil_ones_signature_object() {
    let original = signed_assertion("_a1", "ada@example.com");
    let sig = Sig::of("_evil").xml().replace(
        "</ds:Signature>",
        &format!("<ds:Object>{original}</ds:Object></ds:Signature>"),
    );
    let body = assertion("_evil", "admin@example.com", &sig);
    assert!(check(&response("_r1", "", &body)).is_err());
}

#[test]
fn a_lone_assertion_out_of_place_is_refused() {
    let inside = format!(
        "<samlp:Extensions>{}</samlp:Extensions>",
        signed_assertion("_a1", "ada@example.com")
    );
    assert_eq!(
        check(&response("_r1", &inside, "")),
        Err(GateError::MisplacedAssertion)
    );
}

#[test]
fn duplicate_ids_are_refused() {
    let body = signed_assertion("_a1", "ada@example.com");
    assert_eq!(
        check(&response("_a1", "", &body)),
        Err(GateError::DuplicateId("_a1".into()))
    );
    let sneaky = body.replace("<saml:Subject>", r#"<saml:Subject Id="_a1">"#);
    assert_eq!(
        check(&response("_r1", "", &sneaky)),
        Err(GateError::DuplicateId("_a1".into()))
    );
}

#[test]
fn signatures_elsewhere_are_refused() {
    let body = assertion("_a1", "ada@example.com", "").replace(
        "</saml:Subject>",
        &format!("<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">{}</saml:SubjectConfirmation></saml:Subject>", Sig::of("_a1").xml()),
    );
    assert_eq!(
        check(&response("_r1", "", &body)),
        Err(GateError::MisplacedSignature)
    );
}

#[test]
fn two_signatures_on_one_element_are_refused() {
    let two = format!("{}{}", Sig::of("_a1").xml(), Sig::of("_a1").xml());
    let body = assertion("_a1", "ada@example.com", &two);
    assert_eq!(
        check(&response("_r1", "", &body)),
        Err(GateError::SeveralSignatures)
    );
}

#[test]
fn a_reference_must_name_the_parent() {
    for reference in ["", "_r1", "_a1 ", "other"] {
        let mut sig = Sig::of("_a1");
        sig.reference = reference;
        let body = assertion("_a1", "ada@example.com", &sig.xml());
        assert!(
            matches!(
                check(&response("_r1", "", &body)),
                Err(GateError::BadReference(_))
            ),
            "{reference:?}"
        );
    }
    // An empty URI (the whole document) is refused too.
    let body = assertion(
        "_a1",
        "ada@example.com",
        &Sig::of("_a1").xml().replace(r##"URI="#_a1""##, r#"URI="""#),
    );
    assert!(matches!(
        check(&response("_r1", "", &body)),
        Err(GateError::BadReference(_))
    ));
}

#[test]
fn sha1_is_refused() {
    let mut sig = Sig::of("_a1");
    sig.method = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    let body = assertion("_a1", "ada@example.com", &sig.xml());
    let err = check(&response("_r1", "", &body)).expect_err("refused");
    assert!(matches!(err, GateError::WeakAlgorithm(_)));
    assert_eq!(err.reason(), "unsupported_algorithm");
    let mut sig = Sig::of("_a1");
    sig.digest = "http://www.w3.org/2000/09/xmldsig#sha1";
    let body = assertion("_a1", "ada@example.com", &sig.xml());
    assert!(matches!(
        check(&response("_r1", "", &body)),
        Err(GateError::WeakAlgorithm(_))
    ));
}

#[test]
fn only_enveloped_and_exclusive_c14n_transforms() {
    for transforms in [
        &["http://www.w3.org/2001/10/xml-exc-c14n#"][..],
        &[
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/TR/1999/REC-xslt-19991116",
        ][..],
        &[
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        ][..],
        &[
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
        ][..],
        &[
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        ][..],
    ] {
        let mut sig = Sig::of("_a1");
        sig.transforms = transforms;
        let body = assertion("_a1", "ada@example.com", &sig.xml());
        assert!(
            matches!(
                check(&response("_r1", "", &body)),
                Err(GateError::BadTransform(_))
            ),
            "{transforms:?}"
        );
    }
    let mut sig = Sig::of("_a1");
    sig.c14n = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
    let body = assertion("_a1", "ada@example.com", &sig.xml());
    assert!(matches!(
        check(&response("_r1", "", &body)),
        Err(GateError::BadTransform(_))
    ));
}

#[test]
fn other_documents_are_not_responses() {
    assert_eq!(
        check(
            r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x"/>"#
        ),
        Err(GateError::NotAResponse)
    );
    assert_eq!(
        check(r#"<Response ID="_x"/>"#),
        Err(GateError::NotAResponse)
    );
    assert_eq!(check(&response("_r1", "", "")), Err(GateError::NoAssertion));
}

#[test]
fn an_encrypted_assertion_is_gated_without_its_signature() {
    let body = r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>"#;
    let xml = response("_r1", &Sig::of("_r1").xml(), body);
    let document = parse_str(&xml, &RESPONSE_LIMITS).expect("well-formed");
    let gated = gate(&document).expect("passes");
    assert!(matches!(gated.assertion, GatedAssertion::Encrypted(_)));
    assert!(gated.assertion_signature.is_none());
}

const ENCRYPTED: &str = r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>"#;

#[test]
fn two_encrypted_assertions_are_refused() {
    let body = format!("{ENCRYPTED}{ENCRYPTED}");
    assert_eq!(
        check(&response("_r1", "", &body)),
        Err(GateError::SeveralAssertions(2))
    );
}

#[test]
fn an_encrypted_assertion_beside_a_plain_one_is_refused() {
    let plain = signed_assertion("_a1", "admin@example.com");
    for body in [
        format!("{ENCRYPTED}{plain}"),
        format!("{plain}{ENCRYPTED}"),
        ENCRYPTED.replace(
            "</saml:EncryptedAssertion>",
            &format!("{plain}</saml:EncryptedAssertion>"),
        ),
    ] {
        assert_eq!(
            check(&response("_r1", "", &body)),
            Err(GateError::SeveralAssertions(2)),
            "{body}"
        );
    }
}

#[test]
fn a_signature_inside_an_encrypted_assertion_is_refused() {
    // Its own signature is inside the ciphertext; one in the clear signs nothing we read.
    let body = ENCRYPTED.replace(
        "</saml:EncryptedAssertion>",
        &format!("{}</saml:EncryptedAssertion>", Sig::of("_r1").xml()),
    );
    assert_eq!(
        check(&response("_r1", "", &body)),
        Err(GateError::MisplacedSignature)
    );
}
