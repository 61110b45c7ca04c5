//! What the sign-in form turns into: the AuthnRequest read back from the
//! HTTP-Redirect binding, the user the developer typed, the flavor, the deliberate
//! failure, and the signed response built from them.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::read::DeflateDecoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::identity::Identity;
use crate::oidc::OidcFlavor;
use crate::saml::{self, NAMEID_EMAIL, NAMEID_PERSISTENT, ResponseFields, STATUS_SUCCESS, Shape};

/// Largest inflated `SAMLRequest` read (a real AuthnRequest is under 1 KB).
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;
/// Most roles, groups or characters of one field the form takes.
pub const MAX_VALUES: usize = 100;
pub const MAX_FIELD_CHARS: usize = 1024;

/// Whose assertions the dev IdP imitates. Each flavor is its own IdP, with its own
/// Entity ID (`{public-url}/entra`, `{public-url}/okta`): an SP configured with one
/// flavor's metadata refuses the other's responses (issuer mismatch), as it would
/// refuse a response from another real IdP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    #[default]
    Entra,
    Okta,
}

impl Flavor {
    pub const ALL: [Flavor; 2] = [Flavor::Entra, Flavor::Okta];

    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Entra => "entra",
            Flavor::Okta => "okta",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Flavor::Entra => "Microsoft Entra ID",
            Flavor::Okta => "Okta",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == value)
    }

    pub fn shape(self) -> Shape {
        match self {
            Flavor::Entra => Shape::Entra,
            Flavor::Okta => Shape::Okta,
        }
    }
}

/// A deliberate failure, for testing that the SP refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    #[default]
    None,
    /// The assertion's NotOnOrAfter is ten minutes in the past.
    Expired,
    /// The Audience names another SP.
    WrongAudience,
    /// Neither the response nor the assertion is signed.
    Unsigned,
    /// Signed by a key that is in no metadata.
    WrongKey,
}

impl Failure {
    pub const ALL: [Failure; 5] = [
        Failure::None,
        Failure::Expired,
        Failure::WrongAudience,
        Failure::Unsigned,
        Failure::WrongKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Failure::None => "none",
            Failure::Expired => "expired",
            Failure::WrongAudience => "wrong_audience",
            Failure::Unsigned => "unsigned",
            Failure::WrongKey => "wrong_key",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Failure::None => "None: a valid response",
            Failure::Expired => "Expired (NotOnOrAfter in the past)",
            Failure::WrongAudience => "Wrong audience",
            Failure::Unsigned => "Unsigned",
            Failure::WrongKey => "Signed with the wrong key",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == value)
    }
}

/// The NameID the assertion carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NameIdFormat {
    /// The email address (`…:emailAddress`).
    #[default]
    Email,
    /// An opaque, stable identifier per issuer and email (`…:persistent`), as Entra's
    /// `user.objectid` NameID or Okta's persistent one.
    Persistent,
}

impl NameIdFormat {
    pub const ALL: [NameIdFormat; 2] = [NameIdFormat::Email, NameIdFormat::Persistent];

    pub fn as_str(self) -> &'static str {
        match self {
            NameIdFormat::Email => "email",
            NameIdFormat::Persistent => "persistent",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NameIdFormat::Email => "Email address",
            NameIdFormat::Persistent => "Persistent (opaque ID)",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    #[error("the SAMLRequest is not base64")]
    Base64,
    #[error("the SAMLRequest is not raw DEFLATE data")]
    Deflate,
    #[error("the SAMLRequest inflates to more than {MAX_REQUEST_BYTES} bytes")]
    TooLarge,
    #[error("the SAMLRequest is not XML: {0}")]
    Xml(String),
    #[error("the SAMLRequest is not an AuthnRequest")]
    NotAuthnRequest,
    #[error("the AuthnRequest has no {0}")]
    Missing(&'static str),
    #[error(
        "the ACS URL {0:?} is not an http(s) URL (the dev IdP has no SP metadata to find it in)"
    )]
    BadAcsUrl(String),
    #[error("the audience (the SP's Entity ID) is empty")]
    NoAudience,
    #[error("the email is empty")]
    NoEmail,
    #[error("{0} is too long or has too many values")]
    TooMuch(&'static str),
    #[error("unknown {field} {value:?}")]
    Unknown { field: &'static str, value: String },
    #[error(transparent)]
    Sign(#[from] saml::SignError),
}

/// What the dev IdP needs from an AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequestInfo {
    pub id: String,
    /// The SP's Entity ID: the response's Audience.
    pub issuer: String,
    /// `AssertionConsumerServiceURL`: where the response is posted.
    pub acs_url: String,
}

/// Reads an HTTP-Redirect `SAMLRequest` (already URL-decoded): base64, raw DEFLATE,
/// an AuthnRequest whose ID, Issuer and AssertionConsumerServiceURL are taken.
pub fn decode_authn_request(value: &str) -> Result<AuthnRequestInfo, SsoError> {
    let compressed = STANDARD
        .decode(value.trim())
        .map_err(|_| SsoError::Base64)?;
    let mut inflated = Vec::new();
    DeflateDecoder::new(compressed.as_slice())
        .take(MAX_REQUEST_BYTES + 1)
        .read_to_end(&mut inflated)
        .map_err(|_| SsoError::Deflate)?;
    if inflated.len() as u64 > MAX_REQUEST_BYTES {
        return Err(SsoError::TooLarge);
    }
    let text = String::from_utf8(inflated).map_err(|_| SsoError::Xml("not UTF-8".into()))?;
    // roxmltree refuses DTDs (and so entity expansion) unless told otherwise.
    let document = roxmltree::Document::parse(&text).map_err(|e| SsoError::Xml(e.to_string()))?;
    let root = document.root_element();
    const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    if root.tag_name().namespace() != Some(PROTOCOL) || root.tag_name().name() != "AuthnRequest" {
        return Err(SsoError::NotAuthnRequest);
    }
    let id = root
        .attribute("ID")
        .filter(|v| !v.is_empty())
        .ok_or(SsoError::Missing("ID"))?;
    let acs_url = root
        .attribute("AssertionConsumerServiceURL")
        .filter(|v| !v.is_empty())
        .ok_or(SsoError::Missing("AssertionConsumerServiceURL"))?;
    let issuer = root
        .children()
        .find(|n| n.tag_name().namespace() == Some(ASSERTION) && n.tag_name().name() == "Issuer")
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(SsoError::Missing("Issuer"))?;
    Ok(AuthnRequestInfo {
        id: id.to_owned(),
        issuer: issuer.to_owned(),
        acs_url: check_acs_url(acs_url)?,
    })
}

/// An ACS URL the auto-post form may target: http or https only.
pub fn check_acs_url(raw: &str) -> Result<String, SsoError> {
    match url::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(raw.trim().to_owned())
        }
        _ => Err(SsoError::BadAcsUrl(raw.to_owned())),
    }
}

/// The user and choices the developer typed into the form.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Person {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub flavor: Flavor,
    pub name_id_format: NameIdFormat,
    /// The flavor of the OpenID Provider side's ID tokens (remembered apart from the
    /// SAML flavor: a cookie from before it existed reads as the default).
    #[serde(default)]
    pub oidc_flavor: OidcFlavor,
}

impl Person {
    /// The form's default: an invented user.
    pub fn sample() -> Self {
        Self {
            email: "dana.okafor@example.com".into(),
            first_name: "Dana".into(),
            last_name: "Okafor".into(),
            roles: vec!["Admin".into()],
            groups: vec!["Engineering".into()],
            flavor: Flavor::Entra,
            name_id_format: NameIdFormat::Email,
            oidc_flavor: OidcFlavor::Entra,
        }
    }

    /// Checks sizes and the email.
    pub fn check(&self) -> Result<(), SsoError> {
        if self.email.trim().is_empty() {
            return Err(SsoError::NoEmail);
        }
        for (name, value) in [
            ("the email", &self.email),
            ("the first name", &self.first_name),
            ("the last name", &self.last_name),
        ] {
            if value.chars().count() > MAX_FIELD_CHARS {
                return Err(SsoError::TooMuch(name));
            }
        }
        for (name, values) in [("roles", &self.roles), ("groups", &self.groups)] {
            if values.len() > MAX_VALUES
                || values.iter().any(|v| v.chars().count() > MAX_FIELD_CHARS)
            {
                return Err(SsoError::TooMuch(name));
            }
        }
        Ok(())
    }

    pub(crate) fn display_name(&self) -> String {
        format!("{} {}", self.first_name.trim(), self.last_name.trim())
            .trim()
            .to_owned()
    }

    /// The attribute statement, as the flavor's IdP names its claims.
    pub fn attributes(&self, tenant_id: &str, object_id: &str) -> Vec<(String, Vec<String>)> {
        let one = |v: &str| vec![v.to_owned()];
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut push = |name: &str, values: Vec<String>| {
            if values.iter().any(|v| !v.is_empty()) {
                out.push((name.to_owned(), values));
            }
        };
        let email = self.email.trim();
        match self.flavor {
            Flavor::Entra => {
                push(
                    "http://schemas.microsoft.com/identity/claims/tenantid",
                    one(tenant_id),
                );
                push(
                    "http://schemas.microsoft.com/identity/claims/objectidentifier",
                    one(object_id),
                );
                push(
                    "http://schemas.microsoft.com/identity/claims/displayname",
                    one(&self.display_name()),
                );
                push(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                    one(self.first_name.trim()),
                );
                push(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                    one(self.last_name.trim()),
                );
                push(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                    one(email),
                );
                push(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                    one(email),
                );
                push(
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
                    self.roles.clone(),
                );
                push(
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                    self.groups.clone(),
                );
            }
            Flavor::Okta => {
                push("email", one(email));
                push("firstName", one(self.first_name.trim()));
                push("lastName", one(self.last_name.trim()));
                push("roles", self.roles.clone());
                push("groups", self.groups.clone());
            }
        }
        out
    }
}

/// Where the response goes and what it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub acs_url: String,
    /// The SP's Entity ID.
    pub audience: String,
    /// The AuthnRequest's ID; `None` for an IdP-initiated response.
    pub in_response_to: Option<String>,
}

/// A built response and what went into it (for the auto-post page).
#[derive(Debug, Clone)]
pub struct Issued {
    pub xml: String,
    pub issuer: String,
    pub audience: String,
    pub name_id: String,
}

/// The Entity ID of `flavor` at `public_url` (no trailing slash).
pub fn entity_id(public_url: &str, flavor: Flavor) -> String {
    format!("{public_url}/{}", flavor.as_str())
}

pub(crate) fn digest_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A GUID-shaped identifier derived from `parts` (stable across restarts).
pub(crate) fn stable_guid(parts: &[&str]) -> String {
    let h = digest_hex(parts);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Builds and signs the response for `person` at `target`, at `now`, with
/// `failure` applied.
pub fn issue(
    identity: &Identity,
    public_url: &str,
    person: &Person,
    target: &Target,
    failure: Failure,
    now: OffsetDateTime,
) -> Result<Issued, SsoError> {
    person.check()?;
    let issuer = entity_id(public_url, person.flavor);
    let email = person.email.trim();
    let tenant_id = stable_guid(&[public_url]);
    let object_id = stable_guid(&[&issuer, &email.to_lowercase()]);
    let name_id = match person.name_id_format {
        NameIdFormat::Email => email.to_owned(),
        NameIdFormat::Persistent => match person.flavor {
            Flavor::Entra => object_id.clone(),
            Flavor::Okta => format!("00u{}", &digest_hex(&[&issuer, email])[..17]),
        },
    };
    let name_id_format = match person.name_id_format {
        NameIdFormat::Email => NAMEID_EMAIL,
        NameIdFormat::Persistent => NAMEID_PERSISTENT,
    };
    let attributes = person.attributes(&tenant_id, &object_id);
    let audience = match failure {
        Failure::WrongAudience => format!("{}/not-this-sp", target.audience.trim_end_matches('/')),
        _ => target.audience.clone(),
    };
    let (issued_at, not_before, not_on_or_after) = match failure {
        Failure::Expired => (
            now - Duration::minutes(15),
            now - Duration::minutes(20),
            now - Duration::minutes(10),
        ),
        _ => (now, now - Duration::minutes(5), now + Duration::minutes(65)),
    };
    let signed = failure != Failure::Unsigned;
    let response_id = format!("_{}", uuid::Uuid::now_v7().simple());
    let assertion_id = format!("_{}", uuid::Uuid::now_v7().simple());
    let fields = ResponseFields {
        response_id: &response_id,
        assertion_id: &assertion_id,
        issuer: &issuer,
        destination: Some(&target.acs_url),
        recipient: &target.acs_url,
        audience: &audience,
        in_response_to: target.in_response_to.as_deref(),
        name_id: &name_id,
        name_id_format,
        attributes: &attributes,
        issued_at,
        not_before,
        not_on_or_after,
        status: STATUS_SUCCESS,
        // Entra signs the assertion; Okta both the response and the assertion.
        sign_response: signed && person.flavor == Flavor::Okta,
        sign_assertion: signed,
    };
    let key = match failure {
        Failure::WrongKey => &identity.wrong,
        _ => &identity.signing,
    };
    let xml = saml::response_xml(person.flavor.shape(), &fields, &key.signer(), |a| a)?;
    Ok(Issued {
        xml,
        issuer,
        audience,
        name_id,
    })
}

/// Splits a form's comma- or newline-separated list into trimmed, non-empty values.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split([',', '\n'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::DeflateEncoder;
    use std::io::Write;

    fn deflate(xml: &str) -> String {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(xml.as_bytes()).expect("write");
        STANDARD.encode(encoder.finish().expect("finish"))
    }

    const REQUEST: &str = concat!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ",
        "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_abc\" Version=\"2.0\" ",
        "IssueInstant=\"2026-11-01T09:00:00Z\" AssertionConsumerServiceURL=\"http://127.0.0.1:8080/saml/acme/acs\">",
        "<saml:Issuer>http://127.0.0.1:8080/saml/acme</saml:Issuer></samlp:AuthnRequest>"
    );

    #[test]
    fn an_authn_request_is_read_back() {
        let info = decode_authn_request(&deflate(REQUEST)).expect("decodes");
        assert_eq!(info.id, "_abc");
        assert_eq!(info.issuer, "http://127.0.0.1:8080/saml/acme");
        assert_eq!(info.acs_url, "http://127.0.0.1:8080/saml/acme/acs");
    }

    #[test]
    fn bad_requests_are_refused() {
        assert_eq!(decode_authn_request("***"), Err(SsoError::Base64));
        assert_eq!(
            decode_authn_request(&STANDARD.encode("not deflate at all, really")),
            Err(SsoError::Deflate)
        );
        let dtd = "<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>";
        assert!(matches!(
            decode_authn_request(&deflate(dtd)),
            Err(SsoError::Xml(_))
        ));
        let js = REQUEST.replace("http://127.0.0.1:8080/saml/acme/acs", "javascript:alert(1)");
        assert!(matches!(
            decode_authn_request(&deflate(&js)),
            Err(SsoError::BadAcsUrl(_))
        ));
        let bomb = "a".repeat(200_000);
        assert_eq!(
            decode_authn_request(&deflate(&bomb)),
            Err(SsoError::TooLarge)
        );
    }

    #[test]
    fn failures_change_what_they_say() {
        let identity = Identity::generate().expect("keys");
        let now = time::macros::datetime!(2026-11-01 09:00:00 UTC);
        let target = Target {
            acs_url: "http://127.0.0.1:8080/saml/acme/acs".into(),
            audience: "http://127.0.0.1:8080/saml/acme".into(),
            in_response_to: Some("_abc".into()),
        };
        let mut person = Person::sample();
        let ok = issue(
            &identity,
            "http://idp",
            &person,
            &target,
            Failure::None,
            now,
        )
        .expect("issue");
        assert!(ok.xml.contains("InResponseTo=\"_abc\""));
        assert!(ok.xml.contains("<ds:SignatureValue>"));
        assert!(ok.xml.contains(identity.signing.certificate_base64()));
        assert!(
            ok.xml
                .contains("http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
        );
        assert_eq!(ok.issuer, "http://idp/entra");
        let unsigned = issue(
            &identity,
            "http://idp",
            &person,
            &target,
            Failure::Unsigned,
            now,
        )
        .expect("issue");
        assert!(!unsigned.xml.contains("Signature"));
        let wrong = issue(
            &identity,
            "http://idp",
            &person,
            &target,
            Failure::WrongKey,
            now,
        )
        .expect("issue");
        assert!(wrong.xml.contains(identity.wrong.certificate_base64()));
        let audience = issue(
            &identity,
            "http://idp",
            &person,
            &target,
            Failure::WrongAudience,
            now,
        )
        .expect("issue");
        assert_ne!(audience.audience, target.audience);
        let expired = issue(
            &identity,
            "http://idp",
            &person,
            &target,
            Failure::Expired,
            now,
        )
        .expect("issue");
        assert!(
            expired
                .xml
                .contains("NotOnOrAfter=\"2026-11-01T08:50:00Z\"")
        );
        person.flavor = Flavor::Okta;
        person.name_id_format = NameIdFormat::Persistent;
        let okta = issue(
            &identity,
            "http://idp",
            &person,
            &target,
            Failure::None,
            now,
        )
        .expect("issue");
        assert!(okta.xml.starts_with("<saml2p:Response"));
        assert!(okta.xml.contains("Name=\"firstName\""));
        assert!(okta.name_id.starts_with("00u"));
        assert_eq!(okta.xml.matches("<ds:SignatureValue>").count(), 2);
        person.email = "a\"<b>&@example.com".into();
        person.name_id_format = NameIdFormat::Email;
        let escaped = issue(
            &identity,
            "http://idp",
            &person,
            &target,
            Failure::None,
            now,
        )
        .expect("issue");
        let document = roxmltree::Document::parse(&escaped.xml).expect("well-formed");
        let name_id = document
            .descendants()
            .find(|n| n.tag_name().name() == "NameID")
            .and_then(|n| n.text());
        assert_eq!(name_id, Some("a\"<b>&@example.com"));
    }
}
