//! Differential test of the signature engines: xmlsec (through samael, what idbridge
//! uses) and bergshamra (pure Rust, an independent implementation) must reach the
//! same verdict on every document of a corpus of genuine, tampered and re-signed
//! SAML responses. A disagreement means one of them is wrong about a document an
//! attacker could send; the test prints the corpus entry.
//!
//! Only the cryptographic verdict is compared (every signature valid with the
//! configured certificate, keys never taken from KeyInfo). Structure is the gate's
//! job and is tested in `gate.rs`.

use idbridge_testkit::saml::{Key, ResponseSpec, TestIdp};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use time::macros::datetime;

const SP: &str = "https://id.example.com/saml/acme";
const ACS: &str = "https://id.example.com/saml/acme/acs";

fn der(key: Key) -> Vec<u8> {
    idbridge_saml::Certificate::from_pem(key.certificate_pem())
        .expect("fixture")
        .der()
        .to_vec()
}

fn xmlsec_accepts(xml: &str, trusted: Key) -> bool {
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &[CertificateDer::from(der(trusted))],
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(&[
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha256,
        ]),
    )
    .is_ok()
}

fn bergshamra_accepts(xml: &str, trusted: Key) -> bool {
    let key = bergshamra::keys::loader::load_x509_cert_der(&der(trusted)).expect("certificate");
    let mut manager = bergshamra::KeysManager::new();
    manager.add_key(key);
    // `new` is bergshamra's SAML mode: configured keys only, strict reference placement.
    let context = bergshamra::DsigContext::new(manager);
    match bergshamra::verify_all(&context, xml) {
        Ok(results) => !results.is_empty() && results.iter().all(|r| r.is_valid()),
        Err(_) => false,
    }
}

fn spec(idp: &TestIdp) -> ResponseSpec {
    idp.response_spec(
        SP,
        ACS,
        Some("_req1"),
        "ada@example.com",
        datetime!(2026-11-29 12:00 UTC),
    )
}

/// (name, document, key the tenant trusts, expected verdict)
fn corpus() -> Vec<(String, String, Key, bool)> {
    let mut out = Vec::new();
    for idp in [
        TestIdp::entra(Key::Rsa2048),
        TestIdp::okta(Key::Rsa2048),
        TestIdp::entra(Key::P256),
        TestIdp::okta(Key::P256),
    ] {
        let label = format!("{:?}/{:?}", idp.shape, idp.key);
        let genuine = idp.response_xml(&spec(&idp));
        out.push((format!("{label} genuine"), genuine.clone(), idp.key, true));
        out.push((
            format!("{label} other trusted key"),
            genuine.clone(),
            Key::Other,
            false,
        ));
        for (what, from, to) in [
            ("NameID changed", ">ada@example.com</", ">eve@example.com</"),
            (
                "audience changed",
                ">https://id.example.com/saml/acme</",
                ">https://id.example.com/saml/evil</",
            ),
            // The Response envelope of an assertion-only signature is not signed:
            // both engines must accept it (the rules check Destination separately).
            (
                "unsigned envelope changed",
                "Destination=\"",
                "Destination=\"x",
            ),
            ("attribute changed", "Ada Lovelace", "Eve Lovelace"),
            (
                "signature value altered",
                "<ds:SignatureValue>",
                "<ds:SignatureValue>AAAA",
            ),
        ] {
            if genuine.contains(from) {
                let envelope_only =
                    what == "unsigned envelope changed" && !spec(&idp).sign_response;
                out.push((
                    format!("{label} {what}"),
                    genuine.replacen(from, to, 1),
                    idp.key,
                    envelope_only,
                ));
            }
        }
        // Comments are outside exclusive C14N: adding one changes no digest.
        out.push((
            format!("{label} comment added"),
            genuine.replacen("</ds:SignatureValue>", "</ds:SignatureValue><!-- x -->", 1),
            idp.key,
            true,
        ));
        let mut other = spec(&idp);
        other.signing_key = Key::Other;
        out.push((
            format!("{label} signed by another key"),
            idp.response_xml(&other),
            idp.key,
            false,
        ));
        let mut unsigned = spec(&idp);
        unsigned.sign_assertion = false;
        unsigned.sign_response = false;
        out.push((
            format!("{label} unsigned"),
            idp.response_xml(&unsigned),
            idp.key,
            false,
        ));
    }
    out
}

#[test]
fn xmlsec_and_bergshamra_agree_on_every_document() {
    let mut disagreements = Vec::new();
    for (name, xml, trusted, expected) in corpus() {
        let xmlsec = xmlsec_accepts(&xml, trusted);
        let bergshamra = bergshamra_accepts(&xml, trusted);
        if xmlsec != bergshamra || xmlsec != expected {
            disagreements.push(format!(
                "{name}: xmlsec {xmlsec}, bergshamra {bergshamra}, expected {expected}"
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
