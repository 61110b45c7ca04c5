//! The gate: structural rules a SAML response must pass before any signature is
//! checked, in pure Rust on the parsed tree. It exists because XML signature
//! libraries answer "is some element of this document validly signed?", while the
//! question that matters is "is the element I am about to read the one that was
//! signed?". Signature wrapping attacks (XSW1–8) live in that gap; the gate closes it
//! by allowing only one shape:
//!
//! - the root is a `samlp:Response`;
//! - exactly one `Assertion` or `EncryptedAssertion` in the whole document, and it is
//!   a direct child of the Response (nothing hidden in `Extensions`, an `Object`, or
//!   another assertion's `Advice`);
//! - no two elements share an ID (`ID`, `Id` or `id`), so a reference resolves to
//!   one element only;
//! - a `ds:Signature` appears only as a direct child of the Response or of the
//!   Assertion, at most one each, and signs exactly its parent: one `Reference`,
//!   whose URI is `#` + the parent's `ID`;
//! - transforms are exactly enveloped-signature and exclusive C14N (without
//!   comments), canonicalisation is exclusive C14N, and the algorithms are SHA-256
//!   or stronger (RSA or ECDSA); SHA-1 is refused.
//!
//! Keys are never taken from `KeyInfo`: verification uses the certificates the
//! tenant configured, so KeyInfo is ignored here.

use roxmltree::{Document, Node};

use crate::ns;
use crate::xml::{children, is};

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
}

impl SignatureAlgorithm {
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Self::RsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Self::RsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Self::RsaSha512,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Self::EcdsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Self::EcdsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512" => Self::EcdsaSha512,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2001/04/xmlenc#sha256" => Self::Sha256,
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Self::Sha384,
            "http://www.w3.org/2001/04/xmlenc#sha512" => Self::Sha512,
            _ => return None,
        })
    }
}

/// A signature that passed the gate: it signs its parent, whose ID this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatedSignature {
    pub signed_id: String,
    pub algorithm: SignatureAlgorithm,
    pub digest: DigestAlgorithm,
}

/// The assertion the response carries.
#[derive(Debug, Clone, Copy)]
pub enum GatedAssertion<'a, 'input> {
    Plain(Node<'a, 'input>),
    Encrypted(Node<'a, 'input>),
}

/// A response in the one shape idbridge reads.
#[derive(Debug, Clone)]
pub struct GatedResponse<'a, 'input> {
    pub response: Node<'a, 'input>,
    pub response_signature: Option<GatedSignature>,
    pub assertion: GatedAssertion<'a, 'input>,
    /// Always `None` for an encrypted assertion (its signature is inside the
    /// ciphertext and is gated after decryption).
    pub assertion_signature: Option<GatedSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    #[error("the document is not a SAML 2.0 Response")]
    NotAResponse,
    #[error("the response carries no assertion")]
    NoAssertion,
    #[error("the document carries {0} assertions; exactly one is accepted")]
    SeveralAssertions(usize),
    #[error("the assertion is not a direct child of the Response")]
    MisplacedAssertion,
    #[error("two elements share the ID {0:?}")]
    DuplicateId(String),
    #[error(
        "a Signature appears where none is accepted (only directly in the Response or the Assertion)"
    )]
    MisplacedSignature,
    #[error("an element carries more than one Signature")]
    SeveralSignatures,
    #[error("a signature must sign exactly its parent element: {0}")]
    BadReference(String),
    #[error(
        "a signature uses a transform or canonicalisation other than enveloped-signature and exclusive C14N: {0}"
    )]
    BadTransform(String),
    #[error(
        "a signature uses an algorithm idbridge does not accept (SHA-1 and unknown algorithms are refused): {0}"
    )]
    WeakAlgorithm(String),
    #[error("a Signature element is incomplete: {0}")]
    MalformedSignature(&'static str),
}

impl GateError {
    /// The sign-in log's reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            GateError::WeakAlgorithm(_) => "unsupported_algorithm",
            GateError::NotAResponse | GateError::NoAssertion => "malformed_response",
            _ => "signature_structure_invalid",
        }
    }
}

/// Applies the gate to a parsed response.
pub fn gate<'a, 'input>(
    document: &'a Document<'input>,
) -> Result<GatedResponse<'a, 'input>, GateError> {
    let response = document.root_element();
    if !is(response, ns::PROTOCOL, "Response") {
        return Err(GateError::NotAResponse);
    }
    check_unique_ids(document)?;

    let assertions: Vec<Node<'a, 'input>> = document
        .descendants()
        .filter(|n| {
            is(*n, ns::ASSERTION, "Assertion") || is(*n, ns::ASSERTION, "EncryptedAssertion")
        })
        .collect();
    let assertion = match assertions.as_slice() {
        [] => return Err(GateError::NoAssertion),
        [one] => *one,
        many => return Err(GateError::SeveralAssertions(many.len())),
    };
    if assertion.parent() != Some(response) {
        return Err(GateError::MisplacedAssertion);
    }
    let encrypted = is(assertion, ns::ASSERTION, "EncryptedAssertion");

    // Every Signature in the document must be one of the (at most) two allowed.
    for signature in document
        .descendants()
        .filter(|n| is(*n, ns::XMLDSIG, "Signature"))
    {
        let parent = signature.parent();
        let allowed = parent == Some(response) || (!encrypted && parent == Some(assertion));
        if !allowed {
            return Err(GateError::MisplacedSignature);
        }
    }
    let response_signature = signature_of(response)?;
    let (assertion, assertion_signature) = if encrypted {
        (GatedAssertion::Encrypted(assertion), None)
    } else {
        (GatedAssertion::Plain(assertion), signature_of(assertion)?)
    };
    Ok(GatedResponse {
        response,
        response_signature,
        assertion,
        assertion_signature,
    })
}

fn check_unique_ids(document: &Document<'_>) -> Result<(), GateError> {
    let mut seen = std::collections::HashSet::new();
    for node in document.descendants().filter(Node::is_element) {
        for attribute in node.attributes() {
            if matches!(attribute.name(), "ID" | "Id" | "id") && !seen.insert(attribute.value()) {
                return Err(GateError::DuplicateId(attribute.value().to_owned()));
            }
        }
    }
    Ok(())
}

/// The signature that is a direct child of `parent`, checked to sign `parent`.
fn signature_of(parent: Node<'_, '_>) -> Result<Option<GatedSignature>, GateError> {
    let mut signatures = children(parent, ns::XMLDSIG, "Signature");
    let Some(signature) = signatures.next() else {
        return Ok(None);
    };
    if signatures.next().is_some() {
        return Err(GateError::SeveralSignatures);
    }
    let parent_id = parent
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| GateError::BadReference("the signed element has no ID".into()))?;
    let signed_info = only_child(signature, "SignedInfo")?;
    let c14n = only_child(signed_info, "CanonicalizationMethod")?
        .attribute("Algorithm")
        .unwrap_or_default();
    if c14n != EXC_C14N {
        return Err(GateError::BadTransform(c14n.to_owned()));
    }
    let method = only_child(signed_info, "SignatureMethod")?
        .attribute("Algorithm")
        .unwrap_or_default();
    let algorithm = SignatureAlgorithm::from_uri(method)
        .ok_or_else(|| GateError::WeakAlgorithm(method.to_owned()))?;
    let mut references = children(signed_info, ns::XMLDSIG, "Reference");
    let reference = references
        .next()
        .ok_or(GateError::MalformedSignature("SignedInfo has no Reference"))?;
    if references.next().is_some() {
        return Err(GateError::BadReference(
            "SignedInfo has more than one Reference".into(),
        ));
    }
    let uri = reference.attribute("URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(parent_id) {
        return Err(GateError::BadReference(format!(
            "the Reference URI {uri:?} is not \"#{parent_id}\""
        )));
    }
    check_transforms(reference)?;
    let digest_uri = only_child(reference, "DigestMethod")?
        .attribute("Algorithm")
        .unwrap_or_default();
    let digest = DigestAlgorithm::from_uri(digest_uri)
        .ok_or_else(|| GateError::WeakAlgorithm(digest_uri.to_owned()))?;
    only_child(reference, "DigestValue")?;
    only_child(signature, "SignatureValue")?;
    Ok(Some(GatedSignature {
        signed_id: parent_id.to_owned(),
        algorithm,
        digest,
    }))
}

fn check_transforms(reference: Node<'_, '_>) -> Result<(), GateError> {
    let transforms = only_child(reference, "Transforms")?;
    let mut seen_enveloped = false;
    let mut seen_c14n = false;
    for transform in transforms.children().filter(Node::is_element) {
        if !is(transform, ns::XMLDSIG, "Transform") {
            return Err(GateError::BadTransform(
                transform.tag_name().name().to_owned(),
            ));
        }
        match transform.attribute("Algorithm").unwrap_or_default() {
            ENVELOPED if !seen_enveloped => seen_enveloped = true,
            EXC_C14N if !seen_c14n => seen_c14n = true,
            other => return Err(GateError::BadTransform(other.to_owned())),
        }
        // Exclusive C14N may name inclusive namespace prefixes; nothing else.
        if transform
            .children()
            .filter(Node::is_element)
            .any(|c| c.tag_name().name() != "InclusiveNamespaces")
        {
            return Err(GateError::BadTransform(
                "a transform with parameters".into(),
            ));
        }
    }
    if !seen_enveloped {
        return Err(GateError::BadTransform(
            "the enveloped-signature transform is missing".into(),
        ));
    }
    Ok(())
}

fn only_child<'a, 'input>(
    parent: Node<'a, 'input>,
    local: &'static str,
) -> Result<Node<'a, 'input>, GateError> {
    let mut found = children(parent, ns::XMLDSIG, local);
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(GateError::MalformedSignature(local)),
        (Some(_), Some(_)) => Err(GateError::MalformedSignature("a repeated element")),
    }
}
