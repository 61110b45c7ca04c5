//! What verifying one sign-in response costs in CPU, without the server: decode the
//! HTTP-POST value, parse, gate, check the signature(s) with xmlsec, apply the
//! rules and read the reduced assertion. Entra ID's shape (RSA-2048, assertion
//! signed) and Okta's (ECDSA P-256, response and assertion signed), and the parse
//! of the IdP certificate the ACS does per request.
//!
//!     cargo bench -p idbridge-saml --bench verify

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use idbridge_saml::Certificate;
use idbridge_saml::response::Expectations;
use idbridge_saml::verify::{decode_post_value, verify_response};
use idbridge_testkit::saml::{Key, TestIdp};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const SP: &str = "https://id.example.com/saml/acme";
const ACS: &str = "https://id.example.com/saml/acme/acs";
const NOW: OffsetDateTime = datetime!(2026-11-29 12:00:00 UTC);

fn bench_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("saml_verify");
    for (name, idp) in [
        ("entra_rsa2048", TestIdp::entra(Key::Rsa2048)),
        ("okta_p256", TestIdp::okta(Key::P256)),
    ] {
        let spec = idp.response_spec(SP, ACS, None, "ada@example.com", NOW);
        let posted = idp.post_value(&spec);
        let certificate = Certificate::from_pem(idp.key.certificate_pem()).expect("certificate");
        let base64_certificate = idp.key.certificate_base64();
        let expect = Expectations {
            idp_entity_id: &idp.entity_id,
            sp_entity_id: SP,
            acs_url: ACS,
            now: NOW,
            clock_skew: Duration::minutes(3),
            want_response_signed: false,
            want_assertions_signed: true,
        };
        group.bench_function(format!("{name}_decode_and_verify"), |b| {
            b.iter(|| {
                let bytes = decode_post_value(black_box(&posted)).expect("decodes");
                let valid =
                    verify_response(&bytes, std::slice::from_ref(&certificate), &[], &expect)
                        .expect("verifies");
                black_box(valid)
            })
        });
        group.bench_function(format!("{name}_certificate_parse"), |b| {
            b.iter(|| {
                black_box(Certificate::from_base64(black_box(&base64_certificate)).expect("parses"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
