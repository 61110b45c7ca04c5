//! SP-initiated login: the AuthnRequest (SAML core §3.4.1) and its HTTP-Redirect
//! binding encoding (SAML bindings §3.4.4: raw DEFLATE, base64, URL query).

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::xml::escape;
use crate::{SpEndpoints, ns};

/// Largest inflated redirect payload read back (a real AuthnRequest is under 1 KB);
/// the cap makes a deflate bomb harmless.
pub const MAX_INFLATED: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    #[error("the IdP's SSO URL {0:?} is not a URL")]
    BadDestination(String),
    #[error("the SAMLRequest is not base64")]
    Base64,
    #[error("the SAMLRequest is not raw DEFLATE data")]
    Deflate,
    #[error("the SAMLRequest inflates to more than {MAX_INFLATED} bytes")]
    TooLarge,
    #[error("the SAMLRequest is not UTF-8")]
    NotUtf8,
    #[error("signing the request failed: the SP key cannot be used")]
    Signing,
}

/// `SigAlg` of signed HTTP-Redirect requests: RSA with SHA-256 (SHA-1 is not offered).
pub const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// An AuthnRequest idbridge sends.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    /// Unique and unguessable; see [`request_id`]. Stored server-side, it is what the
    /// response's `InResponseTo` must name.
    pub id: &'a str,
    pub issue_instant: OffsetDateTime,
    /// The IdP's SSO URL for the HTTP-Redirect binding.
    pub destination: &'a str,
    pub sp: &'a SpEndpoints,
    /// Ask the IdP to authenticate again even with a session (used by "test connection").
    pub force_authn: bool,
}

/// A request ID from 16 random bytes: `_` and 32 hex digits (an `xs:ID` must not
/// start with a digit).
pub fn request_id(random: [u8; 16]) -> String {
    let mut id = String::with_capacity(33);
    id.push('_');
    for b in random {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

impl AuthnRequest<'_> {
    pub fn to_xml(&self) -> String {
        let instant = self
            .issue_instant
            .replace_nanosecond(0)
            .unwrap_or(self.issue_instant)
            .format(&Rfc3339)
            .unwrap_or_default();
        format!(
            concat!(
                "<samlp:AuthnRequest xmlns:samlp=\"{protocol}\" xmlns:saml=\"{assertion}\" ",
                "ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{destination}\" ",
                "AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{post}\"{force}>",
                "<saml:Issuer>{issuer}</saml:Issuer>",
                "<samlp:NameIDPolicy Format=\"{unspecified}\" AllowCreate=\"true\"/>",
                "</samlp:AuthnRequest>"
            ),
            protocol = ns::PROTOCOL,
            assertion = ns::ASSERTION,
            id = escape(self.id),
            instant = instant,
            destination = escape(self.destination),
            acs = escape(&self.sp.acs_url),
            post = ns::BINDING_POST,
            force = if self.force_authn {
                " ForceAuthn=\"true\""
            } else {
                ""
            },
            issuer = escape(&self.sp.entity_id),
            unspecified = ns::NAMEID_UNSPECIFIED,
        )
    }

    /// The `SAMLRequest` form value of the HTTP-POST binding (SAML Bindings §3.5.4):
    /// the XML in base64, not deflated.
    pub fn post_value(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.to_xml())
    }

    /// The URL to send the browser to: the destination with `SAMLRequest` and
    /// `RelayState` added to whatever query it already has.
    pub fn redirect_url(&self, relay_state: &str) -> Result<String, RedirectError> {
        let mut url = url::Url::parse(self.destination)
            .map_err(|_| RedirectError::BadDestination(self.destination.to_owned()))?;
        url.query_pairs_mut()
            .append_pair("SAMLRequest", &deflate_base64(self.to_xml().as_bytes()))
            .append_pair("RelayState", relay_state);
        Ok(url.into())
    }
}

impl AuthnRequest<'_> {
    /// [`AuthnRequest::redirect_url`], signed with the SP's RSA key (PKCS#8 DER) as
    /// the HTTP-Redirect binding signs (SAML bindings §3.4.4.1): the signature covers
    /// the URL-encoded `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as sent, so the
    /// query is written here by hand rather than by a URL library that might encode
    /// differently.
    pub fn signed_redirect_url(
        &self,
        relay_state: &str,
        private_key_pkcs8: &[u8],
    ) -> Result<String, RedirectError> {
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::sign::Signer;
        use url::form_urlencoded::byte_serialize;

        let url = url::Url::parse(self.destination)
            .map_err(|_| RedirectError::BadDestination(self.destination.to_owned()))?;
        let encode = |v: &str| byte_serialize(v.as_bytes()).collect::<String>();
        let signed_part = format!(
            "SAMLRequest={}&RelayState={}&SigAlg={}",
            encode(&deflate_base64(self.to_xml().as_bytes())),
            encode(relay_state),
            encode(SIG_ALG_RSA_SHA256),
        );
        let key =
            PKey::private_key_from_pkcs8(private_key_pkcs8).map_err(|_| RedirectError::Signing)?;
        let mut signer =
            Signer::new(MessageDigest::sha256(), &key).map_err(|_| RedirectError::Signing)?;
        let signature = signer
            .sign_oneshot_to_vec(signed_part.as_bytes())
            .map_err(|_| RedirectError::Signing)?;
        let separator = if url.query().is_some() { '&' } else { '?' };
        Ok(format!(
            "{}{separator}{signed_part}&Signature={}",
            url.as_str(),
            encode(&STANDARD.encode(signature))
        ))
    }
}

/// Checks a signed HTTP-Redirect query as an IdP does: the signature over
/// `SAMLRequest`, `RelayState` and `SigAlg` as they appear (still URL-encoded) in
/// `query`, with the SP certificate. For tests and the test IdP.
pub fn verify_redirect_signature(query: &str, certificate_der: &[u8]) -> bool {
    use openssl::hash::MessageDigest;
    use openssl::sign::Verifier;
    use openssl::x509::X509;

    let raw = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    let (Some(request), Some(relay), Some(alg), Some(signature)) = (
        raw("SAMLRequest"),
        raw("RelayState"),
        raw("SigAlg"),
        raw("Signature"),
    ) else {
        return false;
    };
    let signed = format!("SAMLRequest={request}&RelayState={relay}&SigAlg={alg}");
    let signature: String = url::form_urlencoded::parse(format!("s={signature}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (Ok(signature), Ok(cert)) = (STANDARD.decode(signature), X509::from_der(certificate_der))
    else {
        return false;
    };
    let Ok(key) = cert.public_key() else {
        return false;
    };
    Verifier::new(MessageDigest::sha256(), &key)
        .and_then(|mut v| v.verify_oneshot(&signature, signed.as_bytes()))
        .unwrap_or(false)
}

fn deflate_base64(bytes: &[u8]) -> String {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    let compressed = encoder.finish().unwrap_or_default();
    STANDARD.encode(compressed)
}

/// Decodes an HTTP-Redirect `SAMLRequest` value (already URL-decoded) back to XML:
/// what an IdP does. Used by the test IdP; capped against deflate bombs.
pub fn inflate_redirect_payload(value: &str) -> Result<String, RedirectError> {
    let compressed = STANDARD
        .decode(value.trim())
        .map_err(|_| RedirectError::Base64)?;
    let mut out = Vec::new();
    DeflateDecoder::new(compressed.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|_| RedirectError::Deflate)?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(RedirectError::TooLarge);
    }
    String::from_utf8(out).map_err(|_| RedirectError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{RESPONSE_LIMITS, is, parse_str};
    use time::macros::datetime;

    fn sample<'a>(sp: &'a SpEndpoints, destination: &'a str) -> AuthnRequest<'a> {
        AuthnRequest {
            id: "_0123456789abcdef0123456789abcdef",
            issue_instant: datetime!(2026-11-29 12:00:00.123 UTC),
            destination,
            sp,
            force_authn: false,
        }
    }

    #[test]
    fn redirect_round_trips_and_keeps_the_destination_query() {
        let sp = SpEndpoints::for_tenant("https://id.example.com", "acme");
        // Entra ID's SSO URL has no query; some IdPs' (and Okta's app-specific) do.
        let request = sample(&sp, "https://idp.example.com/sso/saml?app=42");
        let url =
            url::Url::parse(&request.redirect_url("rs-handle").expect("url")).expect("parses");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("app".into(), "42".into()));
        assert_eq!(pairs[1].0, "SAMLRequest");
        assert_eq!(pairs[2], ("RelayState".into(), "rs-handle".into()));
        let xml = inflate_redirect_payload(&pairs[1].1).expect("inflates");
        let doc = parse_str(&xml, &RESPONSE_LIMITS).expect("well-formed");
        let root = doc.root_element();
        assert!(is(root, ns::PROTOCOL, "AuthnRequest"));
        assert_eq!(
            root.attribute("ID"),
            Some("_0123456789abcdef0123456789abcdef")
        );
        assert_eq!(root.attribute("IssueInstant"), Some("2026-11-29T12:00:00Z"));
        assert_eq!(
            root.attribute("Destination"),
            Some("https://idp.example.com/sso/saml?app=42")
        );
        assert_eq!(
            root.attribute("AssertionConsumerServiceURL"),
            Some("https://id.example.com/saml/acme/acs")
        );
        let issuer = root
            .children()
            .find(|n| is(*n, ns::ASSERTION, "Issuer"))
            .expect("issuer");
        assert_eq!(issuer.text(), Some("https://id.example.com/saml/acme"));
    }

    #[test]
    fn request_ids_are_ncnames() {
        let id = request_id([0xab; 16]);
        assert_eq!(id.len(), 33);
        assert!(id.starts_with('_'));
    }

    #[test]
    fn inflate_refuses_garbage_and_bombs() {
        assert_eq!(
            inflate_redirect_payload("not base64!"),
            Err(RedirectError::Base64)
        );
        let bomb = deflate_base64(&vec![b'a'; (MAX_INFLATED as usize) * 4]);
        assert_eq!(
            inflate_redirect_payload(&bomb),
            Err(RedirectError::TooLarge)
        );
    }

    #[test]
    fn signed_redirects_verify_and_tampering_breaks_them() {
        let sp = SpEndpoints {
            entity_id: "https://idb.example.com/saml/acme".into(),
            acs_url: "https://idb.example.com/saml/acme/acs".into(),
        };
        let request = sample(&sp, "https://login.example.com/saml2?tenant=x");
        let now = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).expect("time");
        let key = crate::sp_key::generate("idbridge test", now).expect("key");
        let url = request
            .signed_redirect_url("relay+/=state", &key.private_key_pkcs8)
            .expect("signs");
        assert!(url.starts_with("https://login.example.com/saml2?tenant=x&SAMLRequest="));
        let query = url.split_once('?').expect("query").1;
        assert!(verify_redirect_signature(query, &key.certificate_der));
        let tampered = query.replace("RelayState=relay", "RelayState=other");
        assert!(!verify_redirect_signature(&tampered, &key.certificate_der));
        let other = crate::sp_key::generate("someone else", now).expect("key");
        assert!(!verify_redirect_signature(query, &other.certificate_der));
        assert!(matches!(
            request.signed_redirect_url("r", b"not a key"),
            Err(RedirectError::Signing)
        ));
    }
}
