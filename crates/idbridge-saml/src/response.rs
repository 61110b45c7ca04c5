//! The rules a gated, signature-checked response must meet (SAML core §2–3, profiles
//! §4.1.4), and what idbridge reads from it. Every value is read from the one
//! assertion the gate admitted, with all of its text nodes.
//!
//! `verified` says which of the gated signatures were cryptographically verified
//! against the tenant's configured certificates; this module decides whether that is
//! enough for the tenant's settings, and never reads an element no verified
//! signature covers.

use std::collections::BTreeMap;

use roxmltree::Node;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::gate::{GatedAssertion, GatedResponse};
use crate::ns;
use crate::xml::{children, text_of};

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the tenant's configuration and the moment expect of a response.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub now: OffsetDateTime,
    pub clock_skew: Duration,
    pub want_response_signed: bool,
    pub want_assertions_signed: bool,
}

/// Which gated signatures were verified with a configured certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verified {
    pub response: bool,
    pub assertion: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    pub value: String,
    pub format: Option<String>,
}

/// What a valid response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAssertion {
    pub assertion_id: String,
    /// The AuthnRequest this answers; `None` for an IdP-initiated response.
    pub in_response_to: Option<String>,
    pub name_id: Option<NameId>,
    /// Attribute name → values, in document order.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub session_index: Option<String>,
    pub authn_instant: Option<OffsetDateTime>,
    /// Until when the assertion could be replayed: keep it in the replay cache
    /// until then.
    pub replay_until: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    #[error("the response is not signed as this connection requires ({0})")]
    SignatureMissing(&'static str),
    #[error("the assertion is encrypted: `verify::verify_response` decrypts it before these rules")]
    EncryptedAssertion,
    #[error("the response comes from {found:?}, not the configured IdP {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("the IdP reports failure: {0}")]
    StatusNotSuccess(String),
    #[error("the response is addressed to {0:?}, not this ACS URL")]
    DestinationMismatch(String),
    #[error("the assertion is for audience(s) {0:?}, not this SP's Entity ID")]
    AudienceMismatch(Vec<String>),
    #[error("no bearer subject confirmation is addressed to this ACS URL and still valid")]
    RecipientMismatch,
    #[error("the assertion expired at {0}")]
    Expired(String),
    #[error("the assertion is not valid before {0}")]
    NotYetValid(String),
    #[error("InResponseTo differs between the response and the assertion")]
    InResponseToMismatch,
    #[error("the response is malformed: {0}")]
    Malformed(String),
}

impl ResponseError {
    /// The sign-in log's reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            ResponseError::SignatureMissing(_) => "signature_missing",
            ResponseError::EncryptedAssertion => "encrypted_assertion_unsupported",
            ResponseError::IssuerMismatch { .. } => "issuer_mismatch",
            ResponseError::StatusNotSuccess(_) => "status_not_success",
            ResponseError::DestinationMismatch(_) => "destination_mismatch",
            ResponseError::AudienceMismatch(_) => "audience_mismatch",
            ResponseError::RecipientMismatch => "recipient_mismatch",
            ResponseError::Expired(_) => "expired",
            ResponseError::NotYetValid(_) => "not_yet_valid",
            ResponseError::InResponseToMismatch => "in_response_to_mismatch",
            ResponseError::Malformed(_) => "malformed_response",
        }
    }
}

fn malformed(what: impl Into<String>) -> ResponseError {
    ResponseError::Malformed(what.into())
}

fn instant(node: Node<'_, '_>, name: &str) -> Result<Option<OffsetDateTime>, ResponseError> {
    node.attribute(name)
        .map(|v| {
            OffsetDateTime::parse(v.trim(), &Rfc3339)
                .map_err(|_| malformed(format!("{name} {v:?} is not an xs:dateTime")))
        })
        .transpose()
}

fn first<'a, 'input>(
    node: Node<'a, 'input>,
    ns: &'a str,
    local: &'a str,
) -> Option<Node<'a, 'input>> {
    children(node, ns, local).next()
}

/// Checks every rule and reads the assertion, from the gated document itself.
pub fn validate(
    gated: &GatedResponse<'_, '_>,
    verified: Verified,
    expect: &Expectations<'_>,
) -> Result<ValidAssertion, ResponseError> {
    let assertion = match gated.assertion {
        GatedAssertion::Plain(node) => node,
        GatedAssertion::Encrypted(_) => return Err(ResponseError::EncryptedAssertion),
    };
    validate_parts(gated.response, assertion, verified, expect)
}

/// Checks every rule, reading the Response's envelope from `response` and
/// everything about the user from `assertion`. The verifier passes the assertion
/// from the signature library's reduced, verified copy of the document.
pub fn validate_parts(
    response: Node<'_, '_>,
    assertion: Node<'_, '_>,
    verified: Verified,
    expect: &Expectations<'_>,
) -> Result<ValidAssertion, ResponseError> {
    // Signatures: what the tenant requires, and never nothing.
    if expect.want_response_signed && !verified.response {
        return Err(ResponseError::SignatureMissing(
            "the Response must be signed",
        ));
    }
    if expect.want_assertions_signed && !verified.assertion {
        return Err(ResponseError::SignatureMissing(
            "the Assertion must be signed",
        ));
    }
    if !verified.response && !verified.assertion {
        return Err(ResponseError::SignatureMissing("nothing in it is signed"));
    }

    if response.attribute("Version") != Some("2.0") {
        return Err(malformed("the Response is not SAML 2.0"));
    }
    // Destination must name us; when the response itself is signed it must be there
    // (SAML bindings §3.5.5.2).
    match response.attribute("Destination") {
        Some(destination) if destination != expect.acs_url => {
            return Err(ResponseError::DestinationMismatch(destination.to_owned()));
        }
        None if verified.response => {
            return Err(ResponseError::DestinationMismatch(String::new()));
        }
        _ => {}
    }
    if let Some(issuer) = first(response, ns::ASSERTION, "Issuer") {
        check_issuer(issuer, expect)?;
    }
    let status_code = first(response, ns::PROTOCOL, "Status")
        .and_then(|s| first(s, ns::PROTOCOL, "StatusCode"))
        .ok_or_else(|| malformed("the Response has no StatusCode"))?;
    let status = status_code.attribute("Value").unwrap_or_default();
    if status != STATUS_SUCCESS {
        let detail = first(status_code, ns::PROTOCOL, "StatusCode")
            .and_then(|c| c.attribute("Value"))
            .map(|sub| format!("{status} ({sub})"))
            .unwrap_or_else(|| status.to_owned());
        return Err(ResponseError::StatusNotSuccess(detail));
    }
    let response_in_response_to = response.attribute("InResponseTo").map(str::to_owned);

    // The assertion.
    if assertion.attribute("Version") != Some("2.0") {
        return Err(malformed("the Assertion is not SAML 2.0"));
    }
    let assertion_id = assertion
        .attribute("ID")
        .ok_or_else(|| malformed("the Assertion has no ID"))?
        .to_owned();
    let issuer = first(assertion, ns::ASSERTION, "Issuer")
        .ok_or_else(|| malformed("the Assertion has no Issuer"))?;
    check_issuer(issuer, expect)?;

    let skew = expect.clock_skew;
    let now = expect.now;
    let mut replay_until: Option<OffsetDateTime> = None;
    let mut limit = |t: OffsetDateTime| {
        replay_until = Some(replay_until.map_or(t, |r| r.min(t)));
    };

    // Conditions: validity window and audience.
    if let Some(conditions) = first(assertion, ns::ASSERTION, "Conditions") {
        if let Some(not_before) = instant(conditions, "NotBefore")?
            && now + skew < not_before
        {
            return Err(ResponseError::NotYetValid(fmt(not_before)));
        }
        if let Some(not_on_or_after) = instant(conditions, "NotOnOrAfter")? {
            if now - skew >= not_on_or_after {
                return Err(ResponseError::Expired(fmt(not_on_or_after)));
            }
            limit(not_on_or_after);
        }
        // Each AudienceRestriction must be met (SAML core §2.5.1.4).
        for restriction in children(conditions, ns::ASSERTION, "AudienceRestriction") {
            let audiences: Vec<String> = children(restriction, ns::ASSERTION, "Audience")
                .map(|a| text_of(a).trim().to_owned())
                .collect();
            if !audiences.iter().any(|a| a == expect.sp_entity_id) {
                return Err(ResponseError::AudienceMismatch(audiences));
            }
        }
        if children(conditions, ns::ASSERTION, "AudienceRestriction")
            .next()
            .is_none()
        {
            return Err(ResponseError::AudienceMismatch(Vec::new()));
        }
    } else {
        return Err(ResponseError::AudienceMismatch(Vec::new()));
    }

    // Subject: a bearer confirmation for our ACS, unexpired (profiles §4.1.4.2).
    let subject = first(assertion, ns::ASSERTION, "Subject")
        .ok_or_else(|| malformed("the Assertion has no Subject"))?;
    let mut confirmed_in_response_to: Option<Option<String>> = None;
    let mut last_problem = ResponseError::RecipientMismatch;
    for confirmation in children(subject, ns::ASSERTION, "SubjectConfirmation") {
        if confirmation.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = first(confirmation, ns::ASSERTION, "SubjectConfirmationData") else {
            continue;
        };
        if data.attribute("Recipient") != Some(expect.acs_url) {
            continue;
        }
        let Some(not_on_or_after) = instant(data, "NotOnOrAfter")? else {
            continue;
        };
        if now - skew >= not_on_or_after {
            last_problem = ResponseError::Expired(fmt(not_on_or_after));
            continue;
        }
        if let Some(not_before) = instant(data, "NotBefore")?
            && now + skew < not_before
        {
            last_problem = ResponseError::NotYetValid(fmt(not_before));
            continue;
        }
        limit(not_on_or_after);
        confirmed_in_response_to = Some(data.attribute("InResponseTo").map(str::to_owned));
        break;
    }
    let Some(confirmation_in_response_to) = confirmed_in_response_to else {
        return Err(last_problem);
    };
    let in_response_to = match (response_in_response_to, confirmation_in_response_to) {
        (Some(a), Some(b)) if a != b => return Err(ResponseError::InResponseToMismatch),
        (a, b) => a.or(b),
    };

    let name_id = first(subject, ns::ASSERTION, "NameID").map(|n| NameId {
        value: text_of(n).trim().to_owned(),
        format: n.attribute("Format").map(str::to_owned),
    });
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in children(assertion, ns::ASSERTION, "AttributeStatement") {
        for attribute in children(statement, ns::ASSERTION, "Attribute") {
            let Some(name) = attribute.attribute("Name") else {
                continue;
            };
            let values = attributes.entry(name.to_owned()).or_default();
            values.extend(
                children(attribute, ns::ASSERTION, "AttributeValue")
                    .map(|v| text_of(v).trim().to_owned())
                    .filter(|v| !v.is_empty()),
            );
        }
    }
    let authn = first(assertion, ns::ASSERTION, "AuthnStatement");
    let session_index = authn
        .and_then(|a| a.attribute("SessionIndex"))
        .map(str::to_owned);
    let authn_instant = authn
        .map(|a| instant(a, "AuthnInstant"))
        .transpose()?
        .flatten();
    let replay_until = replay_until.map_or(now, |t| t + skew);
    Ok(ValidAssertion {
        assertion_id,
        in_response_to,
        name_id,
        attributes,
        session_index,
        authn_instant,
        replay_until,
    })
}

fn check_issuer(issuer: Node<'_, '_>, expect: &Expectations<'_>) -> Result<(), ResponseError> {
    let found = text_of(issuer).trim().to_owned();
    if found != expect.idp_entity_id {
        return Err(ResponseError::IssuerMismatch {
            expected: expect.idp_entity_id.to_owned(),
            found,
        });
    }
    Ok(())
}

fn fmt(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}
