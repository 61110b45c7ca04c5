//! Encrypted assertions, end to end: the test IdP signs, then encrypts for the SP's
//! certificate with real keys; `verify_response` verifies the Response's signature
//! (if any), decrypts, gates and verifies the Assertion, and applies the rules. What
//! must pass, and each way to fail.

use idbridge_saml::response::{Expectations, ValidAssertion};
use idbridge_saml::verify::{SamlError, verify_response};
use idbridge_saml::xml::{RESPONSE_LIMITS, parse_str};
use idbridge_saml::{Certificate, DecryptionKeyError, SpDecryptionKey};
use idbridge_testkit::saml::{
    DataCipher, Encryption, Key, KeyPlacement, KeyWrap, ResponseSpec, Shape, SpKey, TestIdp,
    encrypted_assertion_xml,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const SP: &str = "https://id.example.com/saml/acme";
const ACS: &str = "https://id.example.com/saml/acme/acs";
const NOW: OffsetDateTime = datetime!(2026-11-29 12:00:00 UTC);
const XMLENC: &str = "http://www.w3.org/2001/04/xmlenc#";

fn sp_key(key: SpKey) -> SpDecryptionKey {
    SpDecryptionKey::new(key.private_key_der(), &key.certificate_der()).expect("fixture key")
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

fn spec(idp: &TestIdp, encryption: Encryption) -> ResponseSpec {
    let mut spec = idp.response_spec(SP, ACS, Some("_req1"), "ada@example.com", NOW);
    spec.encryption = Some(encryption);
    spec
}

fn verify_with(
    idp: &TestIdp,
    xml: &str,
    keys: &[SpDecryptionKey],
    expect: &Expectations<'_>,
) -> Result<ValidAssertion, SamlError> {
    let certificate = Certificate::from_pem(idp.key.certificate_pem()).expect("fixture");
    verify_response(xml.as_bytes(), &[certificate], keys, expect)
}

fn verify(idp: &TestIdp, xml: &str) -> Result<ValidAssertion, SamlError> {
    verify_with(idp, xml, &[sp_key(SpKey::Encryption)], &expect(idp))
}

fn reason(idp: &TestIdp, xml: &str) -> &'static str {
    verify(idp, xml).expect_err("refused").reason()
}

fn assert_ada(valid: &ValidAssertion) {
    assert_eq!(valid.in_response_to.as_deref(), Some("_req1"));
    assert_eq!(
        valid.name_id.as_ref().expect("NameID").value,
        "ada@example.com"
    );
    assert_eq!(valid.attributes["email"], vec!["ada@example.com"]);
}

/// The byte range of the first element named `local` in XML Encryption's namespace
/// whose parent is named `parent` (any namespace).
fn range_of(xml: &str, parent: &str, local: &str) -> std::ops::Range<usize> {
    let doc = parse_str(xml, &RESPONSE_LIMITS).expect("parses");
    doc.descendants()
        .find(|n| {
            n.tag_name().name() == local
                && n.tag_name().namespace() == Some(XMLENC)
                && n.parent().is_some_and(|p| p.tag_name().name() == parent)
        })
        .map(|n| n.range())
        .expect("element present")
}

/// The EncryptedData's ciphertext (decoded), and the response with it replaced.
fn data_cipher_value(xml: &str) -> Vec<u8> {
    use base64::Engine;
    let doc = parse_str(xml, &RESPONSE_LIMITS).expect("parses");
    let data = doc
        .descendants()
        .find(|n| n.tag_name().name() == "EncryptedData")
        .expect("EncryptedData");
    let value = data
        .descendants()
        .find(|n| {
            n.tag_name().name() == "CipherValue"
                && n.parent().and_then(|p| p.parent()) == Some(data)
        })
        .expect("CipherValue");
    base64::engine::general_purpose::STANDARD
        .decode(value.text().unwrap_or_default())
        .expect("base64")
}

fn with_data_cipher_value(xml: &str, value: &str) -> String {
    let doc = parse_str(xml, &RESPONSE_LIMITS).expect("parses");
    let data = doc
        .descendants()
        .find(|n| n.tag_name().name() == "EncryptedData")
        .expect("EncryptedData");
    let range = data
        .descendants()
        .find(|n| {
            n.tag_name().name() == "CipherValue"
                && n.parent().and_then(|p| p.parent()) == Some(data)
        })
        .expect("CipherValue")
        .range();
    format!(
        "{}<xenc:CipherValue>{value}</xenc:CipherValue>{}",
        &xml[..range.start],
        &xml[range.end..]
    )
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The EncryptedAssertion element of `xml`.
fn encrypted_assertion_range(xml: &str) -> std::ops::Range<usize> {
    let doc = parse_str(xml, &RESPONSE_LIMITS).expect("parses");
    doc.descendants()
        .find(|n| n.tag_name().name() == "EncryptedAssertion")
        .expect("EncryptedAssertion")
        .range()
}

/// `xml` with its EncryptedAssertion replaced by `replacement` (only for responses
/// whose Response is not signed).
fn replace_encrypted_assertion(xml: &str, replacement: &str) -> String {
    let range = encrypted_assertion_range(xml);
    format!("{}{replacement}{}", &xml[..range.start], &xml[range.end..])
}

/// A signed assertion as the IdP would encrypt it, for tests that encrypt their
/// own plaintext.
fn signed_assertion(idp: &TestIdp) -> String {
    let mut clear = spec(idp, Encryption::entra(SpKey::Encryption));
    clear.encryption = None;
    let xml = idp.response_xml(&clear);
    let doc = parse_str(&xml, &RESPONSE_LIMITS).expect("parses");
    let range = doc
        .descendants()
        .find(|n| n.tag_name().name() == "Assertion")
        .expect("Assertion")
        .range();
    xml[range].to_owned()
}

fn gcm(recipient: SpKey) -> Encryption {
    Encryption {
        cipher: DataCipher::Aes256Gcm,
        ..Encryption::entra(recipient)
    }
}

#[test]
fn every_cipher_and_key_transport_round_trips_in_both_shapes() {
    let idp = TestIdp::entra(Key::Rsa2048);
    for cipher in DataCipher::ALL {
        for key_wrap in KeyWrap::OAEP {
            for placement in [KeyPlacement::InsideKeyInfo, KeyPlacement::Sibling] {
                let encryption = Encryption {
                    recipient: SpKey::Encryption,
                    cipher,
                    key_wrap,
                    placement,
                    name_certificate: true,
                };
                let xml = idp.response_xml(&spec(&idp, encryption));
                assert!(
                    !xml.contains("<Assertion"),
                    "the assertion is not in the clear"
                );
                let valid = verify(&idp, &xml)
                    .unwrap_or_else(|e| panic!("{cipher:?} {key_wrap:?} {placement:?}: {e}"));
                assert_ada(&valid);
            }
        }
    }
}

#[test]
fn entra_shape_assertion_signed_then_encrypted_verifies() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    // The EncryptedKey is inside the EncryptedData's KeyInfo.
    let key = range_of(&xml, "KeyInfo", "EncryptedKey");
    let data = range_of(&xml, "EncryptedAssertion", "EncryptedData");
    assert!(data.start < key.start && key.end < data.end);
    let valid = verify(&idp, &xml).expect("valid");
    assert_ada(&valid);
    assert_eq!(
        valid.attributes["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
        vec!["ada@example.com"]
    );
}

#[test]
fn sibling_shape_with_signed_response_and_assertion_verifies() {
    let idp = TestIdp::okta(Key::P256);
    let xml = idp.response_xml(&spec(&idp, Encryption::sibling(SpKey::Encryption)));
    let key = range_of(&xml, "EncryptedAssertion", "EncryptedKey");
    let data = range_of(&xml, "EncryptedAssertion", "EncryptedData");
    assert!(data.end <= key.start);
    let mut e = expect(&idp);
    e.want_response_signed = true;
    let valid = verify_with(&idp, &xml, &[sp_key(SpKey::Encryption)], &e).expect("valid");
    assert_ada(&valid);
    assert_eq!(valid.attributes["name"], vec!["Ada Lovelace"]);
}

#[test]
fn a_signed_response_around_an_unsigned_encrypted_assertion_verifies() {
    let idp = TestIdp::okta(Key::Rsa2048);
    let mut s = spec(&idp, Encryption::entra(SpKey::Encryption));
    s.sign_assertion = false;
    s.sign_response = true;
    let xml = idp.response_xml(&s);
    let mut e = expect(&idp);
    e.want_assertions_signed = false;
    let valid = verify_with(&idp, &xml, &[sp_key(SpKey::Encryption)], &e).expect("valid");
    assert_ada(&valid);
}

#[test]
fn an_unsigned_decrypted_assertion_is_refused_when_assertions_must_be_signed() {
    // Response signed: the ciphertext is authenticated, so the precise reason shows.
    let idp = TestIdp::okta(Key::Rsa2048);
    let mut s = spec(&idp, Encryption::entra(SpKey::Encryption));
    s.sign_assertion = false;
    s.sign_response = true;
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "signature_missing");

    // Nothing signed, GCM: refused as unsigned.
    let idp = TestIdp::entra(Key::Rsa2048);
    let mut s = spec(&idp, gcm(SpKey::Encryption));
    s.sign_assertion = false;
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "signature_missing");
    let mut e = expect(&idp);
    e.want_assertions_signed = false;
    let err = verify_with(
        &idp,
        &idp.response_xml(&s),
        &[sp_key(SpKey::Encryption)],
        &e,
    )
    .expect_err("nothing is signed");
    assert_eq!(err.reason(), "signature_missing");

    // Nothing signed, CBC: refused, as every failure after an unauthenticated CBC
    // decryption is.
    let mut s = spec(&idp, Encryption::entra(SpKey::Encryption));
    s.sign_assertion = false;
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "decryption_failed");
}

#[test]
fn a_response_signature_requirement_still_holds() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let mut e = expect(&idp);
    e.want_response_signed = true;
    let err = verify_with(&idp, &xml, &[sp_key(SpKey::Encryption)], &e).expect_err("refused");
    assert_eq!(err.reason(), "signature_missing");
}

#[test]
fn rsa_1_5_key_transport_is_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    for placement in [KeyPlacement::InsideKeyInfo, KeyPlacement::Sibling] {
        let encryption = Encryption {
            key_wrap: KeyWrap::Rsa15,
            placement,
            ..Encryption::entra(SpKey::Encryption)
        };
        let xml = idp.response_xml(&spec(&idp, encryption));
        assert_eq!(reason(&idp, &xml), "encryption_rsa1_5_refused");
    }
}

#[test]
fn rsa_1_5_beside_an_oaep_key_is_refused() {
    // Two EncryptedKeys, one acceptable: the rsa-1_5 one is still never decrypted.
    let idp = TestIdp::okta(Key::Rsa2048);
    let mut s = spec(&idp, Encryption::sibling(SpKey::Encryption));
    s.sign_response = false;
    let xml = idp.response_xml(&s);
    let rsa15 = encrypted_assertion_xml(
        b"<x/>",
        &Encryption {
            key_wrap: KeyWrap::Rsa15,
            ..Encryption::sibling(SpKey::Encryption)
        },
        Shape::Okta,
    );
    let key = range_of(&rsa15, "EncryptedAssertion", "EncryptedKey");
    let close = xml.find("</saml2:EncryptedAssertion>").expect("close");
    let two = format!("{}{}{}", &xml[..close], &rsa15[key], &xml[close..]);
    assert_eq!(reason(&idp, &two), "encryption_rsa1_5_refused");
}

#[test]
fn unknown_algorithms_are_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    for (from, to) in [
        (
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
            "http://www.w3.org/2001/04/xmlenc#kw-aes256",
        ),
        (
            "http://www.w3.org/2000/09/xmldsig#sha1\"",
            "http://www.w3.org/2001/04/xmldsig-more#md5\"",
        ),
    ] {
        assert!(xml.contains(from), "{from}");
        assert_eq!(
            reason(&idp, &xml.replacen(from, to, 1)),
            "encryption_algorithm_unsupported",
            "{to}"
        );
    }
    // rsa-oaep-mgf1p fixes MGF1 with SHA-1; another MGF is not accepted.
    let mgf = xml.replacen(
        "<ds:DigestMethod",
        "<xenc11:MGF xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\" Algorithm=\"http://www.w3.org/2009/xmlenc11#mgf1sha256\"/><ds:DigestMethod",
        1,
    );
    assert_eq!(reason(&idp, &mgf), "encryption_algorithm_unsupported");
}

#[test]
fn encrypted_for_another_sp_key_fails_to_decrypt() {
    let idp = TestIdp::entra(Key::Rsa2048);
    for name_certificate in [true, false] {
        let encryption = Encryption {
            name_certificate,
            ..Encryption::entra(SpKey::Rollover)
        };
        let xml = idp.response_xml(&spec(&idp, encryption));
        assert_eq!(reason(&idp, &xml), "decryption_failed");
    }
}

#[test]
fn during_rollover_either_sp_key_decrypts() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let keys = [sp_key(SpKey::Encryption), sp_key(SpKey::Rollover)];
    for recipient in [SpKey::Encryption, SpKey::Rollover] {
        for name_certificate in [true, false] {
            let encryption = Encryption {
                name_certificate,
                ..Encryption::sibling(recipient)
            };
            let xml = idp.response_xml(&spec(&idp, encryption));
            let valid = verify_with(&idp, &xml, &keys, &expect(&idp))
                .unwrap_or_else(|e| panic!("{recipient:?} {name_certificate}: {e}"));
            assert_ada(&valid);
        }
    }
}

#[test]
fn an_encrypted_assertion_without_sp_keys_is_unexpected() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let err = verify_with(&idp, &xml, &[], &expect(&idp)).expect_err("refused");
    assert_eq!(err.reason(), "encrypted_assertion_unexpected");
}

#[test]
fn a_tampered_cbc_ciphertext_fails_to_decrypt() {
    let idp = TestIdp::entra(Key::Rsa2048);
    for cipher in [DataCipher::Aes128Cbc, DataCipher::Aes256Cbc] {
        let encryption = Encryption {
            cipher,
            ..Encryption::entra(SpKey::Encryption)
        };
        let xml = idp.response_xml(&spec(&idp, encryption));
        let data = data_cipher_value(&xml);
        // A flipped bit in the IV, in the middle, and in the last (padding) block.
        for at in [3, data.len() / 2, data.len() - 1, data.len() - 17] {
            let mut tampered = data.clone();
            tampered[at] ^= 0x01;
            let xml = with_data_cipher_value(&xml, &b64(&tampered));
            assert_eq!(
                reason(&idp, &xml),
                "decryption_failed",
                "{cipher:?} at {at}"
            );
        }
    }
}

#[test]
fn a_tampered_gcm_ciphertext_fails_to_decrypt() {
    let idp = TestIdp::entra(Key::Rsa2048);
    for cipher in [DataCipher::Aes128Gcm, DataCipher::Aes256Gcm] {
        let encryption = Encryption {
            cipher,
            ..Encryption::entra(SpKey::Encryption)
        };
        let xml = idp.response_xml(&spec(&idp, encryption));
        let data = data_cipher_value(&xml);
        // The IV, the ciphertext, the tag.
        for at in [0, data.len() / 2, data.len() - 1] {
            let mut tampered = data.clone();
            tampered[at] ^= 0x80;
            let xml = with_data_cipher_value(&xml, &b64(&tampered));
            assert_eq!(
                reason(&idp, &xml),
                "decryption_failed",
                "{cipher:?} at {at}"
            );
        }
    }
}

#[test]
fn a_tampered_encrypted_key_fails_to_decrypt() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, gcm(SpKey::Encryption)));
    let doc = parse_str(&xml, &RESPONSE_LIMITS).expect("parses");
    let value = doc
        .descendants()
        .find(|n| {
            n.tag_name().name() == "CipherValue"
                && n.ancestors().any(|a| a.tag_name().name() == "EncryptedKey")
        })
        .expect("EncryptedKey's CipherValue");
    let text = value.text().expect("text");
    let mut flipped: Vec<char> = text.chars().collect();
    flipped[10] = if flipped[10] == 'A' { 'B' } else { 'A' };
    let tampered = xml.replacen(text, &flipped.iter().collect::<String>(), 1);
    assert_eq!(reason(&idp, &tampered), "decryption_failed");
    let garbage = xml.replacen(text, "not*base64", 1);
    assert_eq!(reason(&idp, &garbage), "decryption_failed");
}

#[test]
fn short_truncated_and_garbage_ciphertexts_fail_without_panicking() {
    let idp = TestIdp::entra(Key::Rsa2048);
    for cipher in DataCipher::ALL {
        let encryption = Encryption {
            cipher,
            ..Encryption::entra(SpKey::Encryption)
        };
        let xml = idp.response_xml(&spec(&idp, encryption));
        let data = data_cipher_value(&xml);
        let mut values: Vec<String> = [0, 1, 11, 12, 15, 16, 17, 27, 28, 31, 32, 33]
            .iter()
            .map(|&len| b64(&data[..len]))
            .collect();
        values.push(b64(&data[..data.len() - 1]));
        values.push(b64(&data[..data.len() - 16]));
        values.push(b64(&data[16..]));
        values.push("!!!! not base64 !!!!".into());
        values.push("QUJD=".into());
        values.push(b64(&data)[..b64(&data).len() - 3].to_owned());
        for value in values {
            let xml = with_data_cipher_value(&xml, &value);
            assert_eq!(
                reason(&idp, &xml),
                "decryption_failed",
                "{cipher:?} {}",
                value.len()
            );
        }
    }
}

#[test]
fn a_dtd_in_the_decrypted_plaintext_is_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let plaintext = format!(
        r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>{}"#,
        signed_assertion(&idp)
    );
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    // GCM: the ciphertext is authenticated, so the precise reason shows.
    let gcm_xml = replace_encrypted_assertion(
        &xml,
        &encrypted_assertion_xml(plaintext.as_bytes(), &gcm(SpKey::Encryption), Shape::Entra),
    );
    assert_eq!(reason(&idp, &gcm_xml), "dtd_refused");
    // CBC without a signed Response: refused like every other failure.
    let cbc_xml = replace_encrypted_assertion(
        &xml,
        &encrypted_assertion_xml(
            plaintext.as_bytes(),
            &Encryption::entra(SpKey::Encryption),
            Shape::Entra,
        ),
    );
    assert_eq!(reason(&idp, &cbc_xml), "decryption_failed");
}

#[test]
fn an_xml_declaration_before_the_decrypted_assertion_is_accepted() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let plaintext = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        signed_assertion(&idp)
    );
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let xml = replace_encrypted_assertion(
        &xml,
        &encrypted_assertion_xml(
            plaintext.as_bytes(),
            &Encryption::entra(SpKey::Encryption),
            Shape::Entra,
        ),
    );
    assert_ada(&verify(&idp, &xml).expect("valid"));
}

#[test]
fn decrypted_content_that_is_not_one_assertion_is_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let assertion = signed_assertion(&idp);
    // An evil assertion nested in the signed one's place, or two side by side.
    let nested = assertion.replacen(
        "<AttributeStatement>",
        "<Advice><Assertion ID=\"_evil\" Version=\"2.0\"/></Advice><AttributeStatement>",
        1,
    );
    for (plaintext, expected) in [
        ("<Response/>".to_owned(), "malformed_response"),
        ("not xml".to_owned(), "malformed_xml"),
        (nested, "signature_structure_invalid"),
    ] {
        let replaced = replace_encrypted_assertion(
            &xml,
            &encrypted_assertion_xml(plaintext.as_bytes(), &gcm(SpKey::Encryption), Shape::Entra),
        );
        assert_eq!(reason(&idp, &replaced), expected, "{plaintext}");
    }
}

#[test]
fn two_encrypted_assertions_are_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let other = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let second = &other[encrypted_assertion_range(&other)];
    let end = encrypted_assertion_range(&xml).end;
    let two = format!("{}{second}{}", &xml[..end], &xml[end..]);
    assert_eq!(reason(&idp, &two), "signature_structure_invalid");
}

#[test]
fn an_encrypted_assertion_beside_a_plain_one_is_refused() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let plain = signed_assertion(&idp);
    let range = encrypted_assertion_range(&xml);
    let before = format!("{}{plain}{}", &xml[..range.start], &xml[range.start..]);
    assert_eq!(reason(&idp, &before), "signature_structure_invalid");
    let after = format!("{}{plain}{}", &xml[..range.end], &xml[range.end..]);
    assert_eq!(reason(&idp, &after), "signature_structure_invalid");
}

#[test]
fn a_signed_assertion_hidden_inside_the_encrypted_one_is_refused() {
    // XSW with encryption: a genuinely signed plain Assertion (say, captured from
    // another sign-in) slipped inside the EncryptedAssertion, its KeyInfo, or the
    // Response's Extensions, hoping it is read instead of the decrypted one.
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let plain = signed_assertion(&idp);
    let inside = xml.replacen(
        "</EncryptedAssertion>",
        &format!("{plain}</EncryptedAssertion>"),
        1,
    );
    assert_eq!(reason(&idp, &inside), "signature_structure_invalid");
    let in_key_info = xml.replacen("</ds:KeyInfo>", &format!("{plain}</ds:KeyInfo>"), 1);
    assert_eq!(reason(&idp, &in_key_info), "signature_structure_invalid");
    let extensions = xml.replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{plain}</samlp:Extensions><samlp:Status>"),
        1,
    );
    assert_eq!(reason(&idp, &extensions), "signature_structure_invalid");
}

#[test]
fn a_tampered_ciphertext_under_a_signed_response_fails_the_signature_first() {
    // The Response's signature covers the ciphertext and is checked before any
    // decryption.
    let idp = TestIdp::okta(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    let mut data = data_cipher_value(&xml);
    let middle = data.len() / 2;
    data[middle] ^= 1;
    let tampered = with_data_cipher_value(&xml, &b64(&data));
    assert_eq!(reason(&idp, &tampered), "signature_invalid");
}

#[test]
fn an_assertion_signed_by_another_key_is_refused_after_decryption() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let mut s = spec(&idp, gcm(SpKey::Encryption));
    s.signing_key = Key::Other;
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "signature_invalid");
}

#[test]
fn the_rules_apply_to_the_decrypted_assertion() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let mut s = spec(&idp, Encryption::entra(SpKey::Encryption));
    s.audience = "https://id.example.com/saml/other".into();
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "audience_mismatch");
    let mut s = spec(&idp, Encryption::entra(SpKey::Encryption));
    s.not_on_or_after = NOW - Duration::minutes(10);
    assert_eq!(reason(&idp, &idp.response_xml(&s)), "expired");
}

#[test]
fn structural_problems_are_malformed() {
    let idp = TestIdp::entra(Key::Rsa2048);
    let xml = idp.response_xml(&spec(&idp, Encryption::entra(SpKey::Encryption)));
    // Ciphertext by reference (fetched from a URI) is never accepted.
    let range = range_of(&xml, "EncryptedData", "CipherData");
    let reference = format!(
        "{}<xenc:CipherData><xenc:CipherReference URI=\"http://127.0.0.1/x\"/></xenc:CipherData>{}",
        &xml[..range.start],
        &xml[range.end..]
    );
    assert_eq!(reason(&idp, &reference), "encrypted_assertion_malformed");
    // No EncryptedKey anywhere.
    let key = range_of(&xml, "KeyInfo", "EncryptedKey");
    let keyless = format!("{}{}", &xml[..key.start], &xml[key.end..]);
    assert_eq!(reason(&idp, &keyless), "encrypted_assertion_malformed");
    // More EncryptedKeys than are ever tried.
    let many = format!(
        "{}{}{}",
        &xml[..key.end],
        xml[key.clone()].repeat(4),
        &xml[key.end..]
    );
    assert_eq!(reason(&idp, &many), "encrypted_assertion_malformed");
}

#[test]
fn sp_decryption_keys_are_checked_when_configured() {
    assert!(
        SpDecryptionKey::new(
            SpKey::Encryption.private_key_der(),
            &SpKey::Encryption.certificate_der()
        )
        .is_ok()
    );
    assert_eq!(
        SpDecryptionKey::new(
            SpKey::Encryption.private_key_der(),
            &SpKey::Rollover.certificate_der()
        )
        .err(),
        Some(DecryptionKeyError::Mismatch)
    );
    assert_eq!(
        SpDecryptionKey::new(b"not a key", &SpKey::Encryption.certificate_der()).err(),
        Some(DecryptionKeyError::InvalidKey)
    );
    assert_eq!(
        SpDecryptionKey::new(SpKey::Encryption.private_key_der(), b"not a certificate").err(),
        Some(DecryptionKeyError::InvalidCertificate)
    );
    assert_eq!(
        SpDecryptionKey::new(
            Key::P256.private_der(),
            &SpKey::Encryption.certificate_der()
        )
        .err(),
        Some(DecryptionKeyError::NotRsa)
    );
    let body: Vec<String> = b64(SpKey::Encryption.private_key_der())
        .as_bytes()
        .chunks(64)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect();
    let pem_key = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.join("\n")
    );
    let key =
        SpDecryptionKey::from_pem(&pem_key, SpKey::Encryption.certificate_pem()).expect("PEM key");
    assert_eq!(key.certificate_der(), SpKey::Encryption.certificate_der());
    // Debug never shows the private key.
    let debug = format!("{key:?}");
    assert!(debug.contains("redacted"));
    assert!(!debug.contains(&b64(SpKey::Encryption.private_key_der())[..40]));
}
