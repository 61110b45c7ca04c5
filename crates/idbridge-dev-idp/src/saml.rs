//! SAML 2.0 IdP messages shaped the way Entra ID and Okta send them, signed through
//! xmlsec (samael). Shared by the dev IdP and the test suite's `TestIdp`
//! (`idbridge-testkit::saml`), which builds its bad cases from the same code.
//!
//! - Entra ID ("Single sign-on SAML protocol", Microsoft Learn): `samlp:Response`
//!   with an unprefixed assertion namespace, only the assertion signed, claims named
//!   by URI (`…/claims/emailaddress`, `…/claims/givenname`, the
//!   `…/2008/06/identity/claims/role` app roles), NameID in emailAddress format.
//! - Okta (Okta SAML app defaults): `saml2p:`/`saml2:` prefixes, response and
//!   assertion both signed, attribute values with `xsi:type="xs:string"`.

use samael::crypto::{Crypto, CryptoProvider};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `SignatureMethod` for RSA keys.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// `SignatureMethod` for ECDSA P-256 keys.
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Whose response this looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Entra,
    Okta,
}

/// A key that signs: its private half (PKCS#8 DER), the certificate that goes into
/// the signature's KeyInfo, and the algorithm.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    pub private_key_der: &'a [u8],
    /// The certificate's base64 DER (no PEM armour, no line breaks).
    pub certificate_base64: &'a str,
    /// [`RSA_SHA256`] or [`ECDSA_SHA256`].
    pub signature_method: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("xmlsec could not sign the message: {0}")]
pub struct SignError(String);

/// What one response says, every field as sent.
#[derive(Debug, Clone)]
pub struct ResponseFields<'a> {
    pub response_id: &'a str,
    pub assertion_id: &'a str,
    pub issuer: &'a str,
    pub destination: Option<&'a str>,
    pub recipient: &'a str,
    pub audience: &'a str,
    pub in_response_to: Option<&'a str>,
    pub name_id: &'a str,
    pub name_id_format: &'a str,
    pub attributes: &'a [(String, Vec<String>)],
    pub issued_at: OffsetDateTime,
    pub not_before: OffsetDateTime,
    pub not_on_or_after: OffsetDateTime,
    pub status: &'a str,
    pub sign_response: bool,
    pub sign_assertion: bool,
}

/// An instant as SAML writes it (`xs:dateTime`, UTC).
pub fn instant(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Escapes text for an XML attribute value or element content.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An enveloped-signature template over the element whose ID is `reference`
/// (exclusive C14N, SHA-256), for xmlsec to fill in.
pub fn signature_template(reference: &str, signer: &Signer<'_>, ds_prefix: &str) -> String {
    let p = ds_prefix;
    format!(
        concat!(
            "<{p}:Signature xmlns:{p}=\"http://www.w3.org/2000/09/xmldsig#\"><{p}:SignedInfo>",
            "<{p}:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "<{p}:SignatureMethod Algorithm=\"{method}\"/>",
            "<{p}:Reference URI=\"#{reference}\"><{p}:Transforms>",
            "<{p}:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
            "<{p}:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            "</{p}:Transforms><{p}:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
            "<{p}:DigestValue/></{p}:Reference></{p}:SignedInfo><{p}:SignatureValue/>",
            "<{p}:KeyInfo><{p}:X509Data><{p}:X509Certificate>{cert}</{p}:X509Certificate>",
            "</{p}:X509Data></{p}:KeyInfo></{p}:Signature>"
        ),
        p = p,
        method = escape(signer.signature_method),
        reference = escape(reference),
        cert = signer.certificate_base64,
    )
}

/// Signs the first `Signature` template in `xml` (document order) with the private
/// key (PKCS#8 DER).
pub fn sign(xml: &str, private_key_der: &[u8]) -> Result<String, SignError> {
    let signed =
        Crypto::sign_xml(xml, private_key_der).map_err(|err| SignError(err.to_string()))?;
    // libxml2 adds an XML declaration; an IdP's response starts with the root element.
    Ok(match signed.find("?>") {
        Some(end) if signed.starts_with("<?xml") => signed[end + 2..].trim_start().to_owned(),
        _ => signed,
    })
}

/// IdP metadata: an EntityDescriptor with an IDPSSODescriptor naming the signing
/// certificate and the SSO URL (HTTP-Redirect, and HTTP-POST when `post_too`).
pub fn metadata_xml(
    entity_id: &str,
    sso_url: &str,
    certificate_base64: &str,
    post_too: bool,
) -> String {
    let post = if post_too {
        format!(
            "<md:SingleSignOnService Binding=\"{BINDING_POST}\" Location=\"{}\"/>",
            escape(sso_url)
        )
    } else {
        String::new()
    };
    format!(
        concat!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">",
            "<md:IDPSSODescriptor WantAuthnRequestsSigned=\"false\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">",
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data>",
            "<ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            "<md:SingleSignOnService Binding=\"{redirect}\" Location=\"{sso}\"/>{post}",
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        ),
        entity = escape(entity_id),
        cert = certificate_base64,
        redirect = BINDING_REDIRECT,
        sso = escape(sso_url),
        post = post,
    )
}

/// The response XML for `fields`, shaped as `shape`, signed by `signer` where the
/// fields say. `seal` gets the (signed) Assertion element and returns what takes its
/// place in the Response: itself, or an EncryptedAssertion (the testkit encrypts).
pub fn response_xml(
    shape: Shape,
    fields: &ResponseFields<'_>,
    signer: &Signer<'_>,
    seal: impl FnOnce(String) -> String,
) -> Result<String, SignError> {
    let (p, a) = match shape {
        Shape::Entra => ("samlp", ""),
        Shape::Okta => ("saml2p", "saml2:"),
    };
    let assertion_ns = match shape {
        Shape::Entra => " xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\"",
        Shape::Okta => " xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"",
    };
    let in_response_to = |name: &str| {
        fields
            .in_response_to
            .map(|id| format!(" {name}=\"{}\"", escape(id)))
            .unwrap_or_default()
    };
    let value_type = match shape {
        Shape::Entra => "",
        Shape::Okta => {
            " xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\""
        }
    };
    let attributes: String = fields
        .attributes
        .iter()
        .map(|(name, values)| {
            let values: String = values
                .iter()
                .map(|v| {
                    format!(
                        "<{a}AttributeValue{value_type}>{}</{a}AttributeValue>",
                        escape(v)
                    )
                })
                .collect();
            format!(
                "<{a}Attribute Name=\"{}\">{values}</{a}Attribute>",
                escape(name)
            )
        })
        .collect();
    let assertion_signature = if fields.sign_assertion {
        signature_template(fields.assertion_id, signer, "ds")
    } else {
        String::new()
    };
    let assertion = format!(
        concat!(
            "<{a}Assertion{ns} ID=\"{id}\" IssueInstant=\"{issued}\" Version=\"2.0\">",
            "<{a}Issuer>{issuer}</{a}Issuer>{signature}",
            "<{a}Subject><{a}NameID Format=\"{nameid_format}\">{nameid}</{a}NameID>",
            "<{a}SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">",
            "<{a}SubjectConfirmationData{irt} NotOnOrAfter=\"{until}\" Recipient=\"{recipient}\"/>",
            "</{a}SubjectConfirmation></{a}Subject>",
            "<{a}Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{until}\">",
            "<{a}AudienceRestriction><{a}Audience>{audience}</{a}Audience></{a}AudienceRestriction></{a}Conditions>",
            "<{a}AttributeStatement>{attributes}</{a}AttributeStatement>",
            "<{a}AuthnStatement AuthnInstant=\"{issued}\" SessionIndex=\"{id}\"><{a}AuthnContext>",
            "<{a}AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</{a}AuthnContextClassRef>",
            "</{a}AuthnContext></{a}AuthnStatement></{a}Assertion>"
        ),
        a = a,
        ns = assertion_ns,
        id = escape(fields.assertion_id),
        issued = instant(fields.issued_at),
        issuer = escape(fields.issuer),
        signature = assertion_signature,
        nameid_format = escape(fields.name_id_format),
        nameid = escape(fields.name_id),
        irt = in_response_to("InResponseTo"),
        until = instant(fields.not_on_or_after),
        recipient = escape(fields.recipient),
        not_before = instant(fields.not_before),
        audience = escape(fields.audience),
        attributes = attributes,
    );
    let assertion = if fields.sign_assertion {
        sign(&assertion, signer.private_key_der)?
    } else {
        assertion
    };
    // Sign, then encrypt (as Entra ID and Okta do); the Response's signature, if
    // any, then covers the EncryptedAssertion.
    let assertion = seal(assertion);
    let response_signature = if fields.sign_response {
        signature_template(fields.response_id, signer, "ds")
    } else {
        String::new()
    };
    let destination = fields
        .destination
        .map(|d| format!(" Destination=\"{}\"", escape(d)))
        .unwrap_or_default();
    let issuer_element = match shape {
        Shape::Entra => format!(
            "<Issuer xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\">{}</Issuer>",
            escape(fields.issuer)
        ),
        Shape::Okta => format!(
            "<saml2:Issuer xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\">{}</saml2:Issuer>",
            escape(fields.issuer)
        ),
    };
    let response = format!(
        concat!(
            "<{p}:Response xmlns:{p}=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"{id}\" Version=\"2.0\" ",
            "IssueInstant=\"{issued}\"{destination}{irt}>{issuer}{signature}",
            "<{p}:Status><{p}:StatusCode Value=\"{status}\"/></{p}:Status>{assertion}</{p}:Response>"
        ),
        p = p,
        id = escape(fields.response_id),
        issued = instant(fields.issued_at),
        destination = destination,
        irt = in_response_to("InResponseTo"),
        issuer = issuer_element,
        signature = response_signature,
        status = escape(fields.status),
        assertion = assertion,
    );
    if fields.sign_response {
        sign(&response, signer.private_key_der)
    } else {
        Ok(response)
    }
}
