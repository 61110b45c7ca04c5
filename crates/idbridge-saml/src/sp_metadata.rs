//! The SP metadata idbridge serves at `/saml/{slug}/metadata`: what an IdP admin
//! uploads (Okta, Entra's "Upload metadata file") or copies by hand (Identifier
//! (Entity ID), Reply URL (Assertion Consumer Service URL)).

use crate::xml::escape;
use crate::{SpEndpoints, ns};

#[derive(Debug, Clone)]
pub struct SpMetadata<'a> {
    pub endpoints: &'a SpEndpoints,
    pub want_assertions_signed: bool,
    /// Whether idbridge signs its AuthnRequests (then `signing_certificate` is set).
    pub authn_requests_signed: bool,
    /// DER of the SP's signing certificate, published as a `use="signing"` key.
    pub signing_certificate: Option<&'a [u8]>,
    /// DER of the SP's encryption certificate, for IdPs that encrypt assertions.
    pub encryption_certificate: Option<&'a [u8]>,
}

impl SpMetadata<'_> {
    pub fn to_xml(&self) -> String {
        use base64::Engine;
        let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
        let key = |usage: &str, der: &[u8]| {
            format!(
                "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                b64(der)
            )
        };
        let mut keys = String::new();
        if let Some(der) = self.signing_certificate {
            keys.push_str(&key("signing", der));
        }
        if let Some(der) = self.encryption_certificate {
            keys.push_str(&key("encryption", der));
        }
        format!(
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<md:EntityDescriptor xmlns:md=\"{md}\" xmlns:ds=\"{ds}\" entityID=\"{entity_id}\">",
                "<md:SPSSODescriptor protocolSupportEnumeration=\"{protocol}\" ",
                "AuthnRequestsSigned=\"{requests_signed}\" WantAssertionsSigned=\"{assertions_signed}\">",
                "{keys}",
                "<md:NameIDFormat>{email}</md:NameIDFormat>",
                "<md:NameIDFormat>{persistent}</md:NameIDFormat>",
                "<md:NameIDFormat>{unspecified}</md:NameIDFormat>",
                "<md:AssertionConsumerService Binding=\"{post}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>",
                "</md:SPSSODescriptor>",
                "</md:EntityDescriptor>\n"
            ),
            md = ns::METADATA,
            ds = ns::XMLDSIG,
            entity_id = escape(&self.endpoints.entity_id),
            protocol = ns::PROTOCOL,
            requests_signed = self.authn_requests_signed,
            assertions_signed = self.want_assertions_signed,
            keys = keys,
            email = ns::NAMEID_EMAIL,
            persistent = ns::NAMEID_PERSISTENT,
            unspecified = ns::NAMEID_UNSPECIFIED,
            post = ns::BINDING_POST,
            acs = escape(&self.endpoints.acs_url),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{METADATA_LIMITS, children, is, parse_str};

    #[test]
    fn carries_entity_id_and_acs_and_parses_back() {
        let endpoints = SpEndpoints::for_tenant("https://id.example.com/", "acme");
        let xml = SpMetadata {
            endpoints: &endpoints,
            want_assertions_signed: true,
            authn_requests_signed: false,
            signing_certificate: None,
            encryption_certificate: None,
        }
        .to_xml();
        let doc = parse_str(&xml, &METADATA_LIMITS).expect("well-formed");
        let root = doc.root_element();
        assert!(is(root, ns::METADATA, "EntityDescriptor"));
        assert_eq!(
            root.attribute("entityID"),
            Some("https://id.example.com/saml/acme")
        );
        let sp = children(root, ns::METADATA, "SPSSODescriptor")
            .next()
            .expect("SP role");
        assert_eq!(sp.attribute("WantAssertionsSigned"), Some("true"));
        let acs = children(sp, ns::METADATA, "AssertionConsumerService")
            .next()
            .expect("ACS");
        assert_eq!(
            acs.attribute("Location"),
            Some("https://id.example.com/saml/acme/acs")
        );
        assert_eq!(acs.attribute("Binding"), Some(ns::BINDING_POST));
    }

    #[test]
    fn hostile_urls_are_escaped() {
        let endpoints = SpEndpoints {
            entity_id: "https://x/\"><evil/>".into(),
            acs_url: "https://x/acs?a=1&b=2".into(),
        };
        let xml = SpMetadata {
            endpoints: &endpoints,
            want_assertions_signed: true,
            authn_requests_signed: false,
            signing_certificate: None,
            encryption_certificate: None,
        }
        .to_xml();
        let doc = parse_str(&xml, &METADATA_LIMITS).expect("well-formed");
        assert_eq!(
            doc.root_element().attribute("entityID"),
            Some("https://x/\"><evil/>")
        );
        assert!(doc.descendants().all(|n| n.tag_name().name() != "evil"));
    }
}
