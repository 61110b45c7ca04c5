//! The SP metadata idbridge serves at `/saml/{slug}/metadata`: what an IdP admin
//! uploads (Okta, Entra's "Upload metadata file") or copies by hand (Identifier
//! (Entity ID), Reply URL (Assertion Consumer Service URL)).
//!
//! Encryption certificates are published as `use="encryption"` keys, each listing
//! the algorithms `decrypt` accepts (`md:EncryptionMethod`, SAML metadata §2.4.1.1),
//! authenticated modes first: IdPs that read metadata (Shibboleth, Okta's metadata
//! upload) pick from this list, so they never choose something idbridge refuses.
//! During rollover both the current and the next certificate are listed.

use crate::decrypt::{BlockCipher, KeyTransport};
use crate::xml::escape;
use crate::{SpEndpoints, ns};

#[derive(Debug, Clone)]
pub struct SpMetadata<'a> {
    pub endpoints: &'a SpEndpoints,
    pub want_assertions_signed: bool,
    /// Whether idbridge signs its AuthnRequests (then `signing_certificates` is set).
    pub authn_requests_signed: bool,
    /// DER of the SP's signing certificates, each published as a `use="signing"` key.
    pub signing_certificates: &'a [&'a [u8]],
    /// DER of the SP's encryption certificates (those of its `SpDecryptionKey`s),
    /// each published as a `use="encryption"` key, for IdPs that encrypt assertions.
    pub encryption_certificates: &'a [&'a [u8]],
}

impl SpMetadata<'_> {
    pub fn to_xml(&self) -> String {
        use base64::Engine;
        let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
        let methods: String = BlockCipher::ALL
            .iter()
            .map(|c| c.uri())
            .chain(KeyTransport::ALL.iter().map(|t| t.uri()))
            .map(|uri| format!("<md:EncryptionMethod Algorithm=\"{uri}\"/>"))
            .collect();
        let key = |usage: &str, der: &[u8], methods: &str| {
            format!(
                "<md:KeyDescriptor use=\"{usage}\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{methods}</md:KeyDescriptor>",
                b64(der)
            )
        };
        let mut keys = String::new();
        for der in self.signing_certificates {
            keys.push_str(&key("signing", der, ""));
        }
        for der in self.encryption_certificates {
            keys.push_str(&key("encryption", der, &methods));
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
            signing_certificates: &[],
            encryption_certificates: &[],
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
            signing_certificates: &[],
            encryption_certificates: &[],
        }
        .to_xml();
        let doc = parse_str(&xml, &METADATA_LIMITS).expect("well-formed");
        assert_eq!(
            doc.root_element().attribute("entityID"),
            Some("https://x/\"><evil/>")
        );
        assert!(doc.descendants().all(|n| n.tag_name().name() != "evil"));
    }

    #[test]
    fn certificates_are_published_with_the_accepted_encryption_methods() {
        use base64::Engine;
        let endpoints = SpEndpoints::for_tenant("https://id.example.com", "acme");
        let (signing, current, next) = (&b"signing-der"[..], &b"current-der"[..], &b"next-der"[..]);
        let xml = SpMetadata {
            endpoints: &endpoints,
            want_assertions_signed: true,
            authn_requests_signed: true,
            signing_certificates: &[signing],
            encryption_certificates: &[current, next],
        }
        .to_xml();
        let doc = parse_str(&xml, &METADATA_LIMITS).expect("well-formed");
        let sp = children(doc.root_element(), ns::METADATA, "SPSSODescriptor")
            .next()
            .expect("SP role");
        let keys: Vec<_> = children(sp, ns::METADATA, "KeyDescriptor").collect();
        let published: Vec<(Option<&str>, Vec<u8>)> = keys
            .iter()
            .map(|k| {
                let cert = k
                    .descendants()
                    .find(|n| is(*n, ns::XMLDSIG, "X509Certificate"))
                    .and_then(|n| n.text())
                    .expect("certificate");
                let der = base64::engine::general_purpose::STANDARD
                    .decode(cert)
                    .expect("base64");
                (k.attribute("use"), der)
            })
            .collect();
        assert_eq!(
            published,
            vec![
                (Some("signing"), signing.to_vec()),
                (Some("encryption"), current.to_vec()),
                (Some("encryption"), next.to_vec()),
            ]
        );
        // Signing keys list no encryption methods; each encryption key lists exactly
        // what `decrypt` accepts, GCM first, and never rsa-1_5.
        assert_eq!(
            children(keys[0], ns::METADATA, "EncryptionMethod").count(),
            0
        );
        for key in &keys[1..] {
            let methods: Vec<&str> = children(*key, ns::METADATA, "EncryptionMethod")
                .filter_map(|m| m.attribute("Algorithm"))
                .collect();
            assert_eq!(
                methods,
                vec![
                    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
                    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
                    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
                    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
                    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
                    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
                ]
            );
            for method in methods {
                assert!(
                    BlockCipher::from_uri(method).is_some()
                        || KeyTransport::from_uri(method).is_some()
                );
            }
        }
        // KeyDescriptors come before NameIDFormat and the ACS (the schema's order).
        let first_other = sp
            .children()
            .filter(|n| n.is_element())
            .position(|n| !is(n, ns::METADATA, "KeyDescriptor"));
        assert_eq!(first_other, Some(3));
        assert_eq!(sp.attribute("AuthnRequestsSigned"), Some("true"));
    }
}
