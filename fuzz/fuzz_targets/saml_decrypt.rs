//! Any bytes as an EncryptedAssertion, through the strict parse and decryption with
//! a real SP key: never a panic, a refusal always has a reason, and a plaintext is
//! never longer than the ciphertext it came from.
#![no_main]

use std::sync::OnceLock;

use idbridge_saml::SpDecryptionKey;
use idbridge_saml::decrypt::decrypt_assertion;
use idbridge_saml::xml::{RESPONSE_LIMITS, parse};
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] =
    include_bytes!("../../crates/idbridge-testkit/fixtures/sp-encryption-rsa.key.der");
const CERT: &str =
    include_str!("../../crates/idbridge-testkit/fixtures/sp-encryption-rsa.cert.pem");

fn keys() -> &'static [SpDecryptionKey] {
    static KEYS: OnceLock<Vec<SpDecryptionKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        use base64::Engine;
        let body: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("fixture certificate");
        vec![SpDecryptionKey::new(KEY, &der).expect("fixture key")]
    })
}

fuzz_target!(|input: &[u8]| {
    let Ok(document) = parse(input, &RESPONSE_LIMITS) else {
        return;
    };
    match decrypt_assertion(document.root_element(), keys()) {
        Ok(decrypted) => assert!(decrypted.plaintext.len() <= input.len()),
        Err(e) => assert!(!e.reason().is_empty()),
    }
});
