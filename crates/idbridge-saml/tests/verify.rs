//! Whole responses signed with real keys by the test IdP, through decode, gate,
//! xmlsec verification and the rules: what must pass, and each way to fail.

use idbridge_saml::Certificate;
use idbridge_saml::response::Expectations;
use idbridge_saml::verify::{SamlError, decode_post_value, verify_response};
use idbridge_testkit::saml::{Key, ResponseSpec, TestIdp};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const SP: &str = "https://id.example.com/saml/acme";
const ACS: &str = "https://id.example.com/saml/acme/acs";
const NOW: OffsetDateTime = datetime!(2026-11-29 12:00:00 UTC);

fn certificate(key: Key) -> Certificate {
    Certificate::from_pem(key.certificate_pem()).expect("fixture certificate")
}

fn expect(idp: &TestIdp) -> Expectations<'_> {
    Expectations {
        idp_entity_id: &idp.entity_id,
        sp_entity_id: SP,
        acs_url: ACS,
        now: NOW,
        clock_skew: Duration::minutes(3),
        want_response_signed: false,
        want_assertions_signed: true,
    }
}

fn spec(idp: &TestIdp) -> ResponseSpec {
    idp.response_spec(SP, ACS, Some("_req1"), "ada@example.com", NOW)
}

fn verify(idp: &TestIdp, xml: &str) -> Result<idbridge_saml::response::ValidAssertion, SamlError> {
    verify_response(xml.as_bytes(), &[certificate(idp.key)], &[], &expect(idp))
}

fn reason(idp: &TestIdp, xml: &str) -> &'static str {
    verify(idp, xml).expect_err("refused").reason()
}

#[test]
fn entra_rsa_response_verifies() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp));
    let valid = verify(&idp, &xml).expect("valid");
    assert_eq!(valid.in_response_to.as_deref(), Some("_req1"));
    assert_eq!(valid.name_id.expect("NameID").value, "ada@example.com");
    assert_eq!(
        valid.attributes["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
        vec!["ada@example.com"]
    );
}

#[test]
fn okta_ecdsa_response_and_assertion_signed_verifies() {
    let idp = TestIdp::okta(Key::P256);
    let xml = idp.response_xml(&spec(&idp));
    let valid = verify(&idp, &xml).expect("valid");
    assert_eq!(valid.attributes["email"], vec!["ada@example.com"]);
    assert_eq!(valid.attributes["name"], vec!["Ada Lovelace"]);
}

#[test]
fn the_post_binding_value_decodes_with_line_breaks() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let value = idp.post_value(&spec(&idp));
    let wrapped: String = value
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).expect("ascii")))
        .collect();
    let bytes = decode_post_value(&wrapped).expect("decodes");
    assert!(verify_response(&bytes, &[certificate(idp.key)], &[], &expect(&idp)).is_ok());
    assert_eq!(
        decode_post_value("%%%").expect_err("garbage").reason(),
        "malformed_encoding"
    );
    assert_eq!(
        decode_post_value(&"A".repeat(1024 * 1024))
            .expect_err("huge")
            .reason(),
        "malformed_encoding"
    );
}

#[test]
fn unsigned_is_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let mut s = spec(&idp);
    s.sign_assertion = false;
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "signature_missing");
}

#[test]
fn signed_by_another_key_is_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let mut s = spec(&idp);
    s.signing_key = Key::Other;
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "signature_invalid");
}

#[test]
fn a_certificate_in_key_info_is_not_trusted() {
    // Signed by another key, carrying that key's certificate in KeyInfo: xmlsec must
    // use only the configured certificate.
    let idp = TestIdp::okta(Key::P256);
    let mut s = spec(&idp);
    s.signing_key = Key::Other;
    let xml = idp.response_xml(&s);
    assert!(xml.contains(&Key::Other.certificate_base64()));
    assert_eq!(reason(&idp, &xml), "signature_invalid");
}

#[test]
fn tampering_after_signing_is_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp));
    for (from, to) in [
        (">ada@example.com</NameID>", ">admin@example.com</NameID>"),
        ("Ada Lovelace", "Eve Attacker"),
        (
            &format!("<Audience>{SP}</Audience>"),
            "<Audience>https://other.example.com</Audience>",
        ),
    ] {
        assert!(xml.contains(from), "{from}");
        let tampered = xml.replacen(from, to, 1);
        assert_eq!(reason(&idp, &tampered), "signature_invalid", "{from}");
    }
}

#[test]
fn a_comment_inserted_after_signing_does_not_change_who_signs_in() {
    // The IdP vouches for "ada@example.com.evil.test". A comment inserted after
    // signing leaves the canonical form (exclusive C14N drops comments) and so the
    // signature intact; a reader that took the first text node would see
    // "ada@example.com" (CVE-2017-11427 and its family).
    let idp = TestIdp::entra(Key::Rsa2048);
    let mut s = spec(&idp);
    s.name_id = "ada@example.com.evil.test".into();
    let xml = idp.response_xml(&s).replacen(
        ">ada@example.com.evil.test</NameID>",
        ">ada@example.com<!---->.evil.test</NameID>",
        1,
    );
    assert!(xml.contains("<!---->"));
    // samael refuses it (its reduced copy must match the received element exactly);
    // were it accepted, the whole text would have to be read. Either is safe; reading
    // "ada@example.com" would not be.
    match verify(&idp, &xml) {
        Ok(valid) => assert_eq!(
            valid.name_id.expect("NameID").value,
            "ada@example.com.evil.test"
        ),
        Err(e) => assert_eq!(e.reason(), "signature_invalid"),
    }
}

#[test]
fn the_response_signature_requirement_is_enforced() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp));
    let mut e = expect(&idp);
    e.want_response_signed = true;
    let err =
        verify_response(xml.as_bytes(), &[certificate(idp.key)], &[], &e).expect_err("refused");
    assert_eq!(err.reason(), "signature_missing");
}

#[test]
fn expired_and_early_responses_are_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let mut s = spec(&idp);
    s.not_on_or_after = NOW - Duration::minutes(10);
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "expired");
    let mut s = spec(&idp);
    s.not_before = NOW + Duration::minutes(10);
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "not_yet_valid");
}

#[test]
fn wrong_audience_recipient_destination_issuer_are_refused() {
    let idp = TestIdp::okta(Key::Rsa2048);
    let mut s = spec(&idp);
    s.audience = "https://id.example.com/saml/other".into();
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "audience_mismatch");
    let mut s = spec(&idp);
    s.recipient = "https://id.example.com/saml/other/acs".into();
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "recipient_mismatch");
    let mut s = spec(&idp);
    s.destination = Some("https://id.example.com/saml/other/acs".into());
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "destination_mismatch");
    let mut s = spec(&idp);
    s.issuer = "http://www.okta.com/someone-else".into();
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "issuer_mismatch");
}

#[test]
fn a_failed_status_is_refused() {
    let idp = TestIdp::okta(Key::Rsa2048);
    let mut s = spec(&idp);
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "status_not_success");
}

#[test]
fn wrapping_a_signed_assertion_is_refused() {
    // XSW3 with real signatures: an evil assertion beside the genuinely signed one.
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp));
    let start = xml.find("<Assertion").expect("assertion");
    let evil = xml[start..]
        .replace(">ada@example.com</NameID>", ">admin@example.com</NameID>")
        .replacen(" ID=\"_", " ID=\"_evil", 1);
    let end = evil.find("</Assertion>").expect("end") + "</Assertion>".len();
    let wrapped = format!("{}{}{}", &xml[..start], &evil[..end], &xml[start..]);
    assert_eq!(reason(&idp, &wrapped), "signature_structure_invalid");
}

#[test]
fn xxe_and_billion_laughs_are_refused_before_any_work() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp));
    let xxe = format!(r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>{xml}"#);
    assert_eq!(reason(&idp, &xxe), "dtd_refused");
    let laughs = format!(
        r#"<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>{}"#,
        xml.replacen("Ada Lovelace", "&c;", 1)
    );
    let started = std::time::Instant::now();
    assert_eq!(reason(&idp, &laughs), "dtd_refused");
    assert!(started.elapsed() < std::time::Duration::from_millis(100));
    assert_eq!(reason(&idp, "not xml at all"), "malformed_xml");
}
