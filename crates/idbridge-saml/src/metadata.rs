//! An IdP's SAML metadata (SAML 2.0 metadata, §2.4.3 IDPSSODescriptor): its entity
//! ID, where to send AuthnRequests, and the certificates its signatures verify with.
//!
//! Entra ID's federation metadata also carries WS-Federation `RoleDescriptor`s with
//! their own keys; only the `IDPSSODescriptor`'s signing keys are SAML keys, so only
//! those are read. Several signing certificates are kept: Entra ID and Okta publish
//! the next certificate beside the current one before a rollover.

use roxmltree::Node;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::certificate::{Certificate, CertificateError};
use crate::ns;
use crate::xml::{self, XmlError, children, is, text_of};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// `SingleSignOnService` with the HTTP-Redirect binding (SP-initiated login).
    pub sso_redirect_url: Option<String>,
    /// `SingleSignOnService` with the HTTP-POST binding.
    pub sso_post_url: Option<String>,
    /// Every signing certificate of the IdP role, in document order, without repeats.
    pub signing_certificates: Vec<Certificate>,
    pub want_authn_requests_signed: bool,
    /// `validUntil` of the descriptor, when given.
    pub valid_until: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error(
        "this is not SAML metadata: the root element is {0}, not md:EntityDescriptor or md:EntitiesDescriptor"
    )]
    NotMetadata(String),
    #[error(
        "the metadata describes no identity provider (no md:IDPSSODescriptor supporting SAML 2.0)"
    )]
    NoIdentityProvider,
    #[error("the metadata describes {0} identity providers; paste the metadata of one")]
    SeveralIdentityProviders(usize),
    #[error("the identity provider's EntityDescriptor has no entityID")]
    MissingEntityId,
    #[error(
        "the identity provider has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding"
    )]
    NoSingleSignOnService,
    #[error("the SingleSignOnService location {0:?} is not an http(s) URL")]
    BadSsoUrl(String),
    #[error(
        "the identity provider publishes no signing certificate; idbridge never accepts unsigned sign-ins"
    )]
    NoSigningCertificate,
    #[error("a signing certificate cannot be used: {0}")]
    BadCertificate(#[from] CertificateError),
}

/// Parses IdP metadata: an `EntityDescriptor`, or an `EntitiesDescriptor` holding
/// exactly one identity provider.
pub fn parse(text: &str) -> Result<IdpMetadata, MetadataError> {
    let document = xml::parse_str(text, &xml::METADATA_LIMITS)?;
    let root = document.root_element();
    let idps: Vec<Node<'_, '_>> = if is(root, ns::METADATA, "EntityDescriptor") {
        idp_descriptors(root).map(|_| root).into_iter().collect()
    } else if is(root, ns::METADATA, "EntitiesDescriptor") {
        root.descendants()
            .filter(|n| is(*n, ns::METADATA, "EntityDescriptor"))
            .filter(|e| idp_descriptors(*e).is_some())
            .collect()
    } else {
        return Err(MetadataError::NotMetadata(describe(root)));
    };
    let entity = match idps.as_slice() {
        [] => return Err(MetadataError::NoIdentityProvider),
        [one] => *one,
        many => return Err(MetadataError::SeveralIdentityProviders(many.len())),
    };
    let descriptor = idp_descriptors(entity).ok_or(MetadataError::NoIdentityProvider)?;
    let entity_id = entity
        .attribute("entityID")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or(MetadataError::MissingEntityId)?
        .to_owned();

    let mut sso_redirect_url = None;
    let mut sso_post_url = None;
    for service in children(descriptor, ns::METADATA, "SingleSignOnService") {
        let (Some(binding), Some(location)) =
            (service.attribute("Binding"), service.attribute("Location"))
        else {
            continue;
        };
        let slot = match binding.trim() {
            ns::BINDING_REDIRECT => &mut sso_redirect_url,
            ns::BINDING_POST => &mut sso_post_url,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(check_url(location.trim())?);
        }
    }
    if sso_redirect_url.is_none() && sso_post_url.is_none() {
        return Err(MetadataError::NoSingleSignOnService);
    }

    let mut signing_certificates: Vec<Certificate> = Vec::new();
    for key in children(descriptor, ns::METADATA, "KeyDescriptor") {
        // `use` absent means the key serves both signing and encryption.
        if !matches!(key.attribute("use").map(str::trim), None | Some("signing")) {
            continue;
        }
        for x509 in key
            .descendants()
            .filter(|n| is(*n, ns::XMLDSIG, "X509Certificate"))
        {
            let certificate = Certificate::from_base64(&text_of(x509))?;
            if !signing_certificates.contains(&certificate) {
                signing_certificates.push(certificate);
            }
        }
    }
    if signing_certificates.is_empty() {
        return Err(MetadataError::NoSigningCertificate);
    }

    let want_authn_requests_signed = descriptor
        .attribute("WantAuthnRequestsSigned")
        .is_some_and(|v| matches!(v.trim(), "true" | "1"));
    let valid_until = descriptor
        .attribute("validUntil")
        .or_else(|| entity.attribute("validUntil"))
        .and_then(|v| OffsetDateTime::parse(v.trim(), &Rfc3339).ok());
    Ok(IdpMetadata {
        entity_id,
        sso_redirect_url,
        sso_post_url,
        signing_certificates,
        want_authn_requests_signed,
        valid_until,
    })
}

/// The IDPSSODescriptor of an EntityDescriptor that supports SAML 2.0.
fn idp_descriptors<'a, 'input>(entity: Node<'a, 'input>) -> Option<Node<'a, 'input>> {
    children(entity, ns::METADATA, "IDPSSODescriptor").find(|d| {
        d.attribute("protocolSupportEnumeration")
            .is_some_and(|p| p.split_ascii_whitespace().any(|p| p == ns::PROTOCOL))
    })
}

fn check_url(location: &str) -> Result<String, MetadataError> {
    match url::Url::parse(location) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {
            Ok(location.to_owned())
        }
        _ => Err(MetadataError::BadSsoUrl(location.to_owned())),
    }
}

fn describe(node: Node<'_, '_>) -> String {
    let name = node.tag_name();
    match name.namespace() {
        Some(ns) => format!("{{{ns}}}{}", name.name()),
        None => name.name().to_owned(),
    }
}
