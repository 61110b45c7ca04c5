//! Any bytes as a decoded SAMLResponse, through the strict parse, the gate and the
//! response rules (as if every gated signature had verified): never a panic, and
//! whatever passes the gate has exactly one assertion, directly under the Response.
#![no_main]

use idbridge_saml::gate::{GatedAssertion, gate};
use idbridge_saml::response::{Expectations, Verified, validate};
use idbridge_saml::xml::{RESPONSE_LIMITS, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(document) = parse(input, &RESPONSE_LIMITS) else {
        return;
    };
    let Ok(gated) = gate(&document) else {
        return;
    };
    let assertion = match gated.assertion {
        GatedAssertion::Plain(a) | GatedAssertion::Encrypted(a) => a,
    };
    assert_eq!(assertion.parent(), Some(gated.response));
    let expect = Expectations {
        idp_entity_id: "https://idp.example.com",
        sp_entity_id: "https://sp.example.com/saml/acme",
        acs_url: "https://sp.example.com/saml/acme/acs",
        now: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        clock_skew: time::Duration::minutes(3),
        want_response_signed: false,
        want_assertions_signed: false,
    };
    let verified = Verified {
        response: gated.response_signature.is_some(),
        assertion: gated.assertion_signature.is_some(),
    };
    let _ = validate(&gated, verified, &expect);
});
