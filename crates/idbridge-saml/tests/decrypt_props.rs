//! Hostile ciphertexts inside a real encrypted response: whatever bytes the
//! EncryptedData or the EncryptedKey carries, verification answers
//! `decryption_failed` (never a panic, never another reason that would tell a
//! sender which step refused).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idbridge_saml::response::Expectations;
use idbridge_saml::verify::verify_response;
use idbridge_saml::xml::{RESPONSE_LIMITS, parse_str};
use idbridge_saml::{Certificate, SpDecryptionKey};
use idbridge_testkit::saml::{DataCipher, Encryption, Key, SpKey, TestIdp};
use proptest::prelude::*;
use time::Duration;
use time::macros::datetime;

const SP: &str = "https://id.example.com/saml/acme";
const ACS: &str = "https://id.example.com/saml/acme/acs";

fn idp() -> TestIdp {
    TestIdp::entra(Key::Rsa2048)
}

/// One encrypted response per cipher.
fn responses() -> &'static [String] {
    static RESPONSES: OnceLock<Vec<String>> = OnceLock::new();
    RESPONSES.get_or_init(|| {
        let idp = idp();
        DataCipher::ALL
            .iter()
            .map(|&cipher| {
                let mut spec = idp.response_spec(
                    SP,
                    ACS,
                    None,
                    "ada@example.com",
                    datetime!(2026-11-29 12:00:00 UTC),
                );
                spec.encryption = Some(Encryption {
                    cipher,
                    ..Encryption::entra(SpKey::Encryption)
                });
                idp.response_xml(&spec)
            })
            .collect()
    })
}

/// `xml` with the text of the CipherValue under `parent` replaced by `value`.
fn replace_cipher_value(xml: &str, parent: &str, value: &str) -> String {
    let doc = parse_str(xml, &RESPONSE_LIMITS).expect("parses");
    let range = doc
        .descendants()
        .find(|n| {
            n.tag_name().name() == "CipherValue"
                && n.parent()
                    .and_then(|p| p.parent())
                    .is_some_and(|p| p.tag_name().name() == parent)
        })
        .expect("CipherValue")
        .range();
    format!(
        "{}<xenc:CipherValue>{value}</xenc:CipherValue>{}",
        &xml[..range.start],
        &xml[range.end..]
    )
}

fn reason(xml: &str) -> &'static str {
    let idp = idp();
    let expect = Expectations {
        idp_entity_id: &idp.entity_id,
        sp_entity_id: SP,
        acs_url: ACS,
        now: datetime!(2026-11-29 12:00:00 UTC),
        clock_skew: Duration::minutes(3),
        want_response_signed: false,
        want_assertions_signed: true,
    };
    let certificate = Certificate::from_pem(idp.key.certificate_pem()).expect("fixture");
    let key = SpDecryptionKey::new(
        SpKey::Encryption.private_key_der(),
        &SpKey::Encryption.certificate_der(),
    )
    .expect("fixture");
    verify_response(xml.as_bytes(), &[certificate], &[key], &expect)
        .expect_err("refused")
        .reason()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_data_ciphertext_fails_alike(which in 0usize..4, data in prop::collection::vec(any::<u8>(), 0..160)) {
        let xml = replace_cipher_value(&responses()[which], "EncryptedData", &STANDARD.encode(&data));
        prop_assert_eq!(reason(&xml), "decryption_failed");
    }

    #[test]
    fn a_real_ciphertext_with_bytes_changed_fails_alike(
        which in 0usize..4,
        edits in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let xml = &responses()[which];
        let doc = parse_str(xml, &RESPONSE_LIMITS).expect("parses");
        let value = doc
            .descendants()
            .find(|n| n.tag_name().name() == "CipherValue"
                && n.parent().and_then(|p| p.parent()).is_some_and(|p| p.tag_name().name() == "EncryptedData"))
            .and_then(|n| n.text())
            .expect("CipherValue");
        let mut data = STANDARD.decode(value).expect("base64");
        for (at, flip) in edits {
            let i = at.index(data.len());
            data[i] ^= flip;
        }
        if let Some(cut) = cut {
            data.truncate(cut.index(data.len()));
        }
        let xml = replace_cipher_value(xml, "EncryptedData", &STANDARD.encode(&data));
        prop_assert_eq!(reason(&xml), "decryption_failed");
    }

    #[test]
    fn any_wrapped_key_fails_alike(which in 0usize..4, key in prop::collection::vec(any::<u8>(), 0..300)) {
        let xml = replace_cipher_value(&responses()[which], "EncryptedKey", &STANDARD.encode(&key));
        prop_assert_eq!(reason(&xml), "decryption_failed");
    }

    #[test]
    fn any_text_as_a_ciphertext_fails_alike(which in 0usize..4, text in "[A-Za-z0-9+/= \n!*-]{0,200}") {
        let xml = replace_cipher_value(&responses()[which], "EncryptedData", &text);
        prop_assert_eq!(reason(&xml), "decryption_failed");
    }
}
