//! The SAML 2.0 service provider's protocol core (SAML 2.0 core, bindings, metadata).
//! No I/O, no clock, no randomness of its own: callers pass the time, fresh ids and
//! the bytes they received, and persist what comes back. Everything here treats its
//! input as hostile.
//!
//! Built so far: parsing an IdP's metadata (`metadata`), the SP's own metadata
//! (`sp_metadata`), SP-initiated AuthnRequests for the HTTP-Redirect binding
//! (`authn_request`), the strict XML parse every document goes through first
//! (`xml`), and response verification (`verify`: `gate`, xmlsec, `response`),
//! including encrypted assertions (`decrypt`).

pub mod authn_request;
pub mod certificate;
pub mod claims;
pub mod decrypt;
pub mod gate;
pub mod metadata;
pub mod response;
pub mod sp_key;
pub mod sp_metadata;
pub mod verify;
pub mod xml;

pub use certificate::{Certificate, CertificateError};
pub use decrypt::{DecryptError, DecryptionKeyError, SpDecryptionKey};
pub use metadata::{IdpMetadata, MetadataError};

/// SAML 2.0 namespaces and URIs used across the crate.
pub mod ns {
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
    pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
}

/// The SP's own identifiers for one tenant, as the contract fixes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpEndpoints {
    /// `{public-url}/saml/{slug}`
    pub entity_id: String,
    /// `{public-url}/saml/{slug}/acs`
    pub acs_url: String,
}

impl SpEndpoints {
    /// The endpoints of tenant `slug` under `public_url` (no trailing slash needed).
    pub fn for_tenant(public_url: &str, slug: &str) -> Self {
        let base = public_url.trim_end_matches('/');
        Self {
            entity_id: format!("{base}/saml/{slug}"),
            acs_url: format!("{base}/saml/{slug}/acs"),
        }
    }
}
