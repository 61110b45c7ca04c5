//! The response rules over gated documents shaped like Entra ID's and Okta's.
//! Cryptographic verification is the caller's; `Verified` says what it found.

use idbridge_saml::gate::gate;
use idbridge_saml::response::{Expectations, ResponseError, ValidAssertion, Verified, validate};
use idbridge_saml::xml::{RESPONSE_LIMITS, parse_str};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const ACS: &str = "https://id.example.com/saml/acme/acs";
const SP: &str = "https://id.example.com/saml/acme";
const IDP: &str = "https://sts.windows.net/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/";
const NOW: OffsetDateTime = datetime!(2026-11-29 12:00:00 UTC);

fn signature(id: &str) -> String {
    format!(
        r##"<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI="#{id}"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue>AAAA</DigestValue></Reference></SignedInfo><SignatureValue>AAAA</SignatureValue></Signature>"##
    )
}

/// Entra ID's shape: claims by URI, assertion signed, times with 7 fractional digits.
fn entra(edit: impl Fn(String) -> String) -> String {
    let xml = format!(
        r#"<samlp:Response ID="_r1" Version="2.0" IssueInstant="2026-11-29T11:59:58.123Z" Destination="{ACS}" InResponseTo="_req1" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">{IDP}</Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><Assertion ID="_a1" IssueInstant="2026-11-29T11:59:58.1234567Z" Version="2.0" xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><Issuer>{IDP}</Issuer>{sig}<Subject><NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">ada@example.com</NameID><SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><SubjectConfirmationData InResponseTo="_req1" NotOnOrAfter="2026-11-29T13:04:58.1234567Z" Recipient="{ACS}"/></SubjectConfirmation></Subject><Conditions NotBefore="2026-11-29T11:54:58.1234567Z" NotOnOrAfter="2026-11-29T13:04:58.1234567Z"><AudienceRestriction><Audience>{SP}</Audience></AudienceRestriction></Conditions><AttributeStatement><Attribute Name="http://schemas.microsoft.com/identity/claims/tenantid"><AttributeValue>0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0</AttributeValue></Attribute><Attribute Name="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"><AttributeValue>ada@example.com</AttributeValue></Attribute><Attribute Name="http://schemas.microsoft.com/ws/2008/06/identity/claims/role"><AttributeValue>Admin</AttributeValue><AttributeValue>Member</AttributeValue></Attribute><Attribute Name="email"><AttributeValue>ada@example.com</AttributeValue></Attribute></AttributeStatement><AuthnStatement AuthnInstant="2026-11-29T11:59:50.000Z" SessionIndex="_a1"><AuthnContext><AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</AuthnContextClassRef></AuthnContext></AuthnStatement></Assertion></samlp:Response>"#,
        sig = signature("_a1"),
    );
    edit(xml)
}

fn expectations() -> Expectations<'static> {
    Expectations {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        now: NOW,
        clock_skew: Duration::minutes(3),
        want_response_signed: false,
        want_assertions_signed: true,
    }
}

const ASSERTION_VERIFIED: Verified = Verified {
    response: false,
    assertion: true,
};

fn run(
    xml: &str,
    verified: Verified,
    expect: &Expectations<'_>,
) -> Result<ValidAssertion, ResponseError> {
    let document = parse_str(xml, &RESPONSE_LIMITS).expect("well-formed");
    let gated = gate(&document).expect("gated");
    validate(&gated, verified, expect)
}

fn reason(xml: &str) -> &'static str {
    run(xml, ASSERTION_VERIFIED, &expectations())
        .expect_err("refused")
        .reason()
}

#[test]
fn an_entra_response_is_read() {
    let valid = run(&entra(|x| x), ASSERTION_VERIFIED, &expectations()).expect("valid");
    assert_eq!(valid.assertion_id, "_a1");
    assert_eq!(valid.in_response_to.as_deref(), Some("_req1"));
    let name_id = valid.name_id.expect("NameID");
    assert_eq!(name_id.value, "ada@example.com");
    assert_eq!(
        name_id.format.as_deref(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    assert_eq!(
        valid.attributes["http://schemas.microsoft.com/ws/2008/06/identity/claims/role"],
        vec!["Admin", "Member"]
    );
    assert_eq!(valid.attributes["email"], vec!["ada@example.com"]);
    assert_eq!(valid.session_index.as_deref(), Some("_a1"));
    assert_eq!(
        valid.authn_instant,
        Some(datetime!(2026-11-29 11:59:50 UTC))
    );
    // Replay protection lasts until the assertion could no longer be accepted.
    assert_eq!(
        valid.replay_until,
        datetime!(2026-11-29 13:04:58.1234567 UTC) + Duration::minutes(3)
    );
}

#[test]
fn a_comment_in_the_name_id_does_not_truncate_it() {
    let xml = entra(|x| {
        x.replace(
            ">ada@example.com</NameID>",
            ">admin@example.com<!-- -->.evil.test</NameID>",
        )
    });
    let valid = run(&xml, ASSERTION_VERIFIED, &expectations()).expect("valid");
    assert_eq!(
        valid.name_id.expect("NameID").value,
        "admin@example.com.evil.test"
    );
}

#[test]
fn signature_requirements_follow_the_connection() {
    let xml = entra(|x| x);
    assert_eq!(
        run(&xml, Verified::default(), &expectations())
            .expect_err("unsigned")
            .reason(),
        "signature_missing"
    );
    let mut both = expectations();
    both.want_response_signed = true;
    assert_eq!(
        run(&xml, ASSERTION_VERIFIED, &both)
            .expect_err("needs response")
            .reason(),
        "signature_missing"
    );
    let mut response_only = expectations();
    response_only.want_assertions_signed = false;
    response_only.want_response_signed = true;
    let response_verified = Verified {
        response: true,
        assertion: false,
    };
    assert!(run(&xml, response_verified, &response_only).is_ok());
    // Neither required (the store refuses such a connection) still needs something.
    let mut neither = expectations();
    neither.want_assertions_signed = false;
    assert_eq!(
        run(&xml, Verified::default(), &neither)
            .expect_err("unsigned")
            .reason(),
        "signature_missing"
    );
}

#[test]
fn the_audience_must_be_this_sp() {
    assert_eq!(
        reason(&entra(|x| x.replace(
            &format!("<Audience>{SP}</Audience>"),
            "<Audience>https://other.example.com</Audience>"
        ))),
        "audience_mismatch"
    );
    assert_eq!(
        reason(&entra(|x| x.replace(
            &format!("<AudienceRestriction><Audience>{SP}</Audience></AudienceRestriction>"),
            ""
        ))),
        "audience_mismatch"
    );
    // Every restriction must be met.
    assert_eq!(
        reason(&entra(|x| {
            x.replace("</AudienceRestriction>", "</AudienceRestriction><AudienceRestriction><Audience>https://other</Audience></AudienceRestriction>")
        })),
        "audience_mismatch"
    );
}

#[test]
fn the_recipient_and_destination_must_be_this_acs() {
    assert_eq!(
        reason(&entra(|x| x.replace(
            &format!(r#"Recipient="{ACS}""#),
            r#"Recipient="https://evil.example.com/acs""#
        ))),
        "recipient_mismatch"
    );
    assert_eq!(
        reason(&entra(|x| x.replace(
            &format!(r#"Destination="{ACS}""#),
            r#"Destination="https://id.example.com/saml/other/acs""#
        ))),
        "destination_mismatch"
    );
    // A bearer confirmation is required.
    assert_eq!(
        reason(&entra(|x| x.replace("cm:bearer", "cm:holder-of-key"))),
        "recipient_mismatch"
    );
}

#[test]
fn the_issuer_must_be_the_configured_idp() {
    assert_eq!(
        reason(&entra(|x| x.replace(
            &format!("<Issuer>{IDP}</Issuer>"),
            "<Issuer>https://evil.example.com/</Issuer>"
        ))),
        "issuer_mismatch"
    );
}

#[test]
fn time_limits_hold_with_skew() {
    let xml = entra(|x| x);
    let at = |now: OffsetDateTime| {
        let mut e = expectations();
        e.now = now;
        run(&xml, ASSERTION_VERIFIED, &e)
            .map(|_| ())
            .map_err(|e| e.reason())
    };
    // NotBefore 11:54:58.12; skew 3 minutes.
    assert_eq!(at(datetime!(2026-11-29 11:51:58 UTC)), Err("not_yet_valid"));
    assert_eq!(at(datetime!(2026-11-29 11:51:59 UTC)), Ok(()));
    // NotOnOrAfter 13:04:58.12.
    assert_eq!(at(datetime!(2026-11-29 13:07:58 UTC)), Ok(()));
    assert_eq!(at(datetime!(2026-11-29 13:08:00 UTC)), Err("expired"));
}

#[test]
fn a_failed_status_is_reported_with_its_second_level_code() {
    let xml = entra(|x| {
        x.replace(
            r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>"#,
            r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Requester"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:RequestDenied"/></samlp:StatusCode>"#,
        )
    });
    let err = run(&xml, ASSERTION_VERIFIED, &expectations()).expect_err("refused");
    assert_eq!(err.reason(), "status_not_success");
    assert!(err.to_string().contains("RequestDenied"), "{err}");
}

#[test]
fn in_response_to_must_agree() {
    assert_eq!(
        reason(&entra(|x| x.replace(
            r#"SubjectConfirmationData InResponseTo="_req1""#,
            r#"SubjectConfirmationData InResponseTo="_req2""#
        ))),
        "in_response_to_mismatch"
    );
    // IdP-initiated: no InResponseTo anywhere.
    let unsolicited = entra(|x| x.replace(r#" InResponseTo="_req1""#, ""));
    let valid = run(&unsolicited, ASSERTION_VERIFIED, &expectations()).expect("valid");
    assert_eq!(valid.in_response_to, None);
}

#[test]
fn malformed_times_are_refused() {
    assert_eq!(
        reason(&entra(|x| x.replace(
            r#"NotBefore="2026-11-29T11:54:58.1234567Z""#,
            r#"NotBefore="yesterday""#
        ))),
        "malformed_response"
    );
}
