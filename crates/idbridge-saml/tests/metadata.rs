//! IdP metadata shaped like what Entra ID and Okta publish, and what must be refused.

use idbridge_saml::metadata::{MetadataError, parse};
use idbridge_saml::xml::XmlError;
use idbridge_saml::{Certificate, CertificateError};

fn body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n")
}

const RSA: &str = include_str!("fixtures/idp-rsa2048.pem");
const EC: &str = include_str!("fixtures/idp-p256.pem");
const WEAK: &str = include_str!("fixtures/idp-rsa1024.pem");

/// The shape of Entra ID's App Federation Metadata: a signed EntityDescriptor with
/// WS-Federation role descriptors (own keys) before the SAML IDPSSODescriptor, and the
/// next certificate published beside the current one.
fn entra(current: &str, next: &str) -> String {
    format!(
        r##"<?xml version="1.0" encoding="utf-8"?><EntityDescriptor ID="_5b7c0ba2-77b2-4fcb-9c0c-3d0f4e1a2b3c" entityID="https://sts.windows.net/8e2b5c4a-1f3d-4b6e-9a7c-2d1e0f9a8b7c/" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI="#_5b7c0ba2-77b2-4fcb-9c0c-3d0f4e1a2b3c"><DigestValue>AAAA</DigestValue></Reference></SignedInfo><SignatureValue>AAAA</SignatureValue><KeyInfo><X509Data><X509Certificate>{current}</X509Certificate></X509Data></KeyInfo></Signature><RoleDescriptor xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{weak}</X509Certificate></X509Data></KeyInfo></KeyDescriptor></RoleDescriptor><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{current}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{next}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/8e2b5c4a-1f3d-4b6e-9a7c-2d1e0f9a8b7c/saml2"/><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://login.microsoftonline.com/8e2b5c4a-1f3d-4b6e-9a7c-2d1e0f9a8b7c/saml2"/><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://login.microsoftonline.com/8e2b5c4a-1f3d-4b6e-9a7c-2d1e0f9a8b7c/saml2"/></IDPSSODescriptor></EntityDescriptor>"##,
        current = body(current),
        next = body(next),
        weak = body(WEAK),
    )
}

/// The shape of Okta's app metadata: `md:` prefix, one signing key, NameIDFormats.
fn okta(cert: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor entityID="http://www.okta.com/exk1a2b3c4d5E6f7g8h9" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://dev-123.okta.com/app/dev-123_idbridge_1/exk1a2b3c4d5E6f7g8h9/sso/saml"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://dev-123.okta.com/app/dev-123_idbridge_1/exk1a2b3c4d5E6f7g8h9/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        cert = body(cert),
    )
}

#[test]
fn entra_metadata_gives_the_saml_role_and_both_certificates() {
    let m = parse(&entra(RSA, EC)).expect("parses");
    assert_eq!(
        m.entity_id,
        "https://sts.windows.net/8e2b5c4a-1f3d-4b6e-9a7c-2d1e0f9a8b7c/"
    );
    assert_eq!(
        m.sso_redirect_url.as_deref(),
        Some("https://login.microsoftonline.com/8e2b5c4a-1f3d-4b6e-9a7c-2d1e0f9a8b7c/saml2")
    );
    assert!(m.sso_post_url.is_some());
    // The WS-Fed role's key (here a weak one, which would be refused) is not read.
    assert_eq!(m.signing_certificates.len(), 2);
    assert_eq!(
        m.signing_certificates[0],
        Certificate::from_pem(RSA).expect("rsa")
    );
    assert_eq!(
        m.signing_certificates[1],
        Certificate::from_pem(EC).expect("ec")
    );
}

#[test]
fn a_repeated_certificate_is_kept_once() {
    let m = parse(&entra(RSA, RSA)).expect("parses");
    assert_eq!(m.signing_certificates.len(), 1);
}

#[test]
fn okta_metadata_parses() {
    let m = parse(&okta(EC)).expect("parses");
    assert_eq!(m.entity_id, "http://www.okta.com/exk1a2b3c4d5E6f7g8h9");
    assert!(!m.want_authn_requests_signed);
    assert!(
        m.sso_redirect_url
            .as_deref()
            .is_some_and(|u| u.ends_with("/sso/saml"))
    );
    assert_eq!(m.signing_certificates[0].subject, "CN=dev-123.okta.com");
}

#[test]
fn metadata_without_a_signing_certificate_is_refused() {
    let xml = okta(EC).replace(r#"use="signing""#, r#"use="encryption""#);
    assert_eq!(parse(&xml), Err(MetadataError::NoSigningCertificate));
}

#[test]
fn weak_keys_are_refused() {
    assert!(matches!(
        parse(&okta(WEAK)),
        Err(MetadataError::BadCertificate(
            CertificateError::WeakOrUnknownKey(_)
        ))
    ));
}

#[test]
fn garbage_certificates_are_refused() {
    let xml = okta(EC).replace("<ds:X509Certificate>", "<ds:X509Certificate>!!");
    assert_eq!(
        parse(&xml),
        Err(MetadataError::BadCertificate(CertificateError::Base64))
    );
}

#[test]
fn sso_urls_must_be_http_urls() {
    let xml = okta(EC).replace("https://dev-123.okta.com", "javascript:alert(1)//");
    assert!(matches!(parse(&xml), Err(MetadataError::BadSsoUrl(_))));
}

#[test]
fn not_metadata_is_refused_with_what_it_was() {
    let err = parse("<html><body>Sign in</body></html>").expect_err("refused");
    assert_eq!(err, MetadataError::NotMetadata("html".into()));
    assert_eq!(
        parse(r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#),
        Err(MetadataError::Xml(XmlError::Dtd))
    );
}

#[test]
fn an_sp_only_descriptor_is_not_an_identity_provider() {
    let xml = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>"#;
    assert_eq!(parse(xml), Err(MetadataError::NoIdentityProvider));
}

#[test]
fn aggregates_must_hold_exactly_one_identity_provider() {
    let one = okta(EC);
    let inner = one.trim_start_matches(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let wrap = |n: usize| {
        format!(
            r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{}</md:EntitiesDescriptor>"#,
            inner.repeat(n)
        )
    };
    assert!(parse(&wrap(1)).is_ok());
    assert_eq!(
        parse(&wrap(2)),
        Err(MetadataError::SeveralIdentityProviders(2))
    );
}

#[test]
fn certificates_report_expiry() {
    let cert = Certificate::from_pem(RSA).expect("rsa");
    let now = time::OffsetDateTime::now_utc();
    assert!(!cert.expires_within(now, time::Duration::days(30)));
    assert!(cert.expires_within(now, time::Duration::days(4000)));
    assert_eq!(cert.sha256_fingerprint.len(), 32 * 3 - 1);
    assert_eq!(
        Certificate::from_pem(&cert.to_pem()).expect("round trip"),
        cert
    );
}
