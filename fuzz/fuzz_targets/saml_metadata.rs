//! Any string as IdP metadata: never a panic; what parses has an entity ID and at
//! least one signing certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(metadata) = idbridge_saml::metadata::parse(input) {
        assert!(!metadata.entity_id.is_empty());
        assert!(!metadata.signing_certificates.is_empty());
    }
});
