//! The relying-party side: idbridge signing a tenant's users in at the tenant's own
//! OpenID provider (an Entra ID app registration, an Okta OIDC app, Google
//! Workspace, any provider with discovery).
//!
//! Pure, like the rest of this crate: the caller fetches the discovery document,
//! the JWKS and the token response, and passes them in with `now`; this module
//! says what to send and whether what came back can be believed.
//!
//! - [`ProviderMetadata::parse`]: the discovery document, whose `issuer` must be
//!   exactly the configured one (OpenID Connect Discovery §4.3).
//! - [`authorization_url`]: code flow, PKCE S256, `state`, `nonce`.
//! - [`Callback::parse`]: the redirect back (`code`, `state`, RFC 9207 `iss`, or
//!   `error`).
//! - [`verify_id_token`]: the signature with a key of the issuer's JWKS and an
//!   asymmetric algorithm the issuer advertises (never `none`, never HMAC: a
//!   public key used as an HMAC secret is the classic forgery), then `iss`, `aud`,
//!   `azp`, `exp`, `iat`, `nbf` and `nonce`.
//! - [`Identity`]: what the claims of Entra ID, Okta and Google say about the
//!   person.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use url::Url;

use crate::params::Params;

/// Largest discovery document, JWKS or token response read.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// The signature algorithms idbridge accepts on an upstream ID token: asymmetric
/// only, so that nothing but the issuer's private key can make one.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Where discovery starts for `issuer` (a trailing `/` is not doubled).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Why a discovery document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the discovery document is not JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("the discovery document names the issuer {found:?}, not {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("the discovery document's {0} is not an absolute http(s) URL")]
    BadEndpoint(&'static str),
    #[error(
        "the provider signs ID tokens only with algorithms idbridge does not accept ({0}); it needs RS256, PS256, ES256 or EdDSA"
    )]
    NoUsableAlgorithm(String),
    #[error("the provider does not offer PKCE with S256")]
    NoPkce,
}

impl DiscoveryError {
    pub fn reason(&self) -> &'static str {
        match self {
            DiscoveryError::Malformed(_) => "discovery_malformed",
            DiscoveryError::IssuerMismatch { .. } => "discovery_issuer_mismatch",
            DiscoveryError::BadEndpoint(_) => "discovery_bad_endpoint",
            DiscoveryError::NoUsableAlgorithm(_) => "discovery_no_usable_algorithm",
            DiscoveryError::NoPkce => "discovery_no_pkce",
        }
    }
}

/// What idbridge uses of an issuer's discovery document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl ProviderMetadata {
    /// Reads a discovery document fetched for `configured_issuer`.
    pub fn parse(bytes: &[u8], configured_issuer: &str) -> Result<Self, DiscoveryError> {
        let meta: ProviderMetadata = serde_json::from_slice(bytes)
            .map_err(|e| DiscoveryError::Malformed(bounded(&e.to_string())))?;
        meta.checked(configured_issuer)
    }

    /// [`ProviderMetadata::parse`] of a document already read as JSON (the copy
    /// cached on a connection), with the same checks.
    pub fn from_value(value: &Value, configured_issuer: &str) -> Result<Self, DiscoveryError> {
        let meta = ProviderMetadata::deserialize(value)
            .map_err(|e| DiscoveryError::Malformed(bounded(&e.to_string())))?;
        meta.checked(configured_issuer)
    }

    fn checked(self, configured_issuer: &str) -> Result<Self, DiscoveryError> {
        let meta = self;
        // Exactly equal (Discovery §4.3): an issuer that serves another issuer's
        // document is the mix-up this rule exists to stop.
        if meta.issuer != configured_issuer {
            return Err(DiscoveryError::IssuerMismatch {
                expected: configured_issuer.to_owned(),
                found: bounded(&meta.issuer),
            });
        }
        for (name, url) in [
            ("authorization_endpoint", Some(&meta.authorization_endpoint)),
            ("token_endpoint", Some(&meta.token_endpoint)),
            ("jwks_uri", Some(&meta.jwks_uri)),
            ("userinfo_endpoint", meta.userinfo_endpoint.as_ref()),
        ] {
            if let Some(url) = url
                && !is_web_url(url)
            {
                return Err(DiscoveryError::BadEndpoint(name));
            }
        }
        if meta.algorithms().is_empty() {
            return Err(DiscoveryError::NoUsableAlgorithm(bounded(
                &meta.id_token_signing_alg_values_supported.join(", "),
            )));
        }
        // Absent means "not said": Entra ID's and Google's documents omit it and
        // both do S256. Listed without S256 means it would not be checked.
        if let Some(methods) = &meta.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(DiscoveryError::NoPkce);
        }
        Ok(meta)
    }

    /// The advertised algorithms idbridge accepts (RS256 when none is advertised:
    /// the spec's default).
    pub fn algorithms(&self) -> Vec<Algorithm> {
        if self.id_token_signing_alg_values_supported.is_empty() {
            return vec![Algorithm::RS256];
        }
        self.id_token_signing_alg_values_supported
            .iter()
            .filter_map(|name| name.parse::<Algorithm>().ok())
            .filter(|alg| ASYMMETRIC.contains(alg))
            .collect()
    }

    /// How the token request authenticates the client: HTTP Basic unless the
    /// provider lists only `client_secret_post`.
    pub fn client_auth(&self) -> ClientAuthMethod {
        match &self.token_endpoint_auth_methods_supported {
            Some(methods)
                if !methods.iter().any(|m| m == "client_secret_basic")
                    && methods.iter().any(|m| m == "client_secret_post") =>
            {
                ClientAuthMethod::Post
            }
            _ => ClientAuthMethod::Basic,
        }
    }
}

fn is_web_url(raw: &str) -> bool {
    Url::parse(raw).is_ok_and(|u| {
        matches!(u.scheme(), "https" | "http") && u.host().is_some() && u.fragment().is_none()
    })
}

/// At most 200 characters of something the provider sent.
fn bounded(text: &str) -> String {
    let text = text.replace('\0', "\u{FFFD}");
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    Basic,
    Post,
}

/// An authorization request to the upstream provider.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub state: &'a str,
    pub nonce: &'a str,
    /// PKCE S256 challenge of the flow's verifier.
    pub code_challenge: &'a str,
    /// The app's `login_hint`, passed on so the IdP can skip its account picker.
    pub login_hint: Option<&'a str>,
    /// `login` for "test connection": the admin signs in afresh.
    pub prompt: Option<&'a str>,
}

/// The URL that sends the browser to the provider.
pub fn authorization_url(
    meta: &ProviderMetadata,
    request: &AuthorizationRequest<'_>,
) -> Result<Url, DiscoveryError> {
    let mut url = Url::parse(&meta.authorization_endpoint)
        .map_err(|_| DiscoveryError::BadEndpoint("authorization_endpoint"))?;
    let mut scopes: Vec<&str> = vec!["openid"];
    scopes.extend(
        request
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| *s != "openid"),
    );
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", request.client_id)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", request.state)
            .append_pair("nonce", request.nonce)
            .append_pair("code_challenge", request.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = request.login_hint {
            q.append_pair("login_hint", hint);
        }
        if let Some(prompt) = request.prompt {
            q.append_pair("prompt", prompt);
        }
    }
    Ok(url)
}

/// What came back on the redirect URI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207: which provider answered.
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Callback {
    /// A query (or form body) with each parameter at most once.
    pub fn parse(query: &[u8]) -> Result<Self, CallbackRefusal> {
        let params = Params::parse(query).map_err(|_| CallbackRefusal::Malformed)?;
        let take = |name: &str| params.get(name).map(bounded);
        Ok(Callback {
            code: params.get("code").map(str::to_owned),
            state: params.get("state").map(str::to_owned),
            iss: take("iss"),
            error: take("error"),
            error_description: take("error_description"),
        })
    }

    /// RFC 9207 §2.4: an `iss` that is sent must be the issuer; a provider that
    /// says it always sends one must have sent it.
    pub fn check_issuer(&self, meta: &ProviderMetadata) -> Result<(), CallbackRefusal> {
        match &self.iss {
            Some(iss) if *iss != meta.issuer => Err(CallbackRefusal::IssuerMismatch),
            None if meta.authorization_response_iss_parameter_supported => {
                Err(CallbackRefusal::IssuerMissing)
            }
            _ => Ok(()),
        }
    }
}

/// Why a callback was refused before any token was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefusal {
    #[error("the callback's parameters cannot be read")]
    Malformed,
    #[error("the callback's iss is not the connection's issuer (RFC 9207)")]
    IssuerMismatch,
    #[error("the provider promises an iss parameter and sent none (RFC 9207)")]
    IssuerMissing,
}

impl CallbackRefusal {
    pub fn reason(&self) -> &'static str {
        match self {
            CallbackRefusal::Malformed => "callback_malformed",
            CallbackRefusal::IssuerMismatch => "callback_issuer_mismatch",
            CallbackRefusal::IssuerMissing => "callback_issuer_missing",
        }
    }
}

/// The token request's form, and its `Authorization` header for HTTP Basic.
pub fn token_request(
    method: ClientAuthMethod,
    client_id: &str,
    client_secret: Option<&str>,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> (Vec<(&'static str, String)>, Option<String>) {
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
        ("code_verifier", code_verifier.to_owned()),
    ];
    let mut header = None;
    match (method, client_secret) {
        (ClientAuthMethod::Basic, Some(secret)) => {
            // RFC 6749 §2.3.1: each part form-urlencoded before base64.
            let user = form_urlencode(client_id);
            let pass = form_urlencode(secret);
            header = Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{user}:{pass}"))
            ));
        }
        (ClientAuthMethod::Post, Some(secret)) => {
            form.push(("client_id", client_id.to_owned()));
            form.push(("client_secret", secret.to_owned()));
        }
        (_, None) => form.push(("client_id", client_id.to_owned())),
    }
    (form, header)
}

fn form_urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The token endpoint's answer, as far as idbridge reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl TokenResponse {
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// What an ID token must satisfy.
#[derive(Debug, Clone)]
pub struct IdTokenExpectations<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce the flow sent.
    pub nonce: &'a str,
    pub algorithms: &'a [Algorithm],
    pub now: OffsetDateTime,
    pub skew: time::Duration,
}

/// Why an ID token was not believed. Nothing it says is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenRefusal {
    #[error("the ID token is not a signed JWT")]
    Malformed,
    #[error("the ID token is signed with {0}, which the connection does not accept")]
    AlgorithmNotAllowed(String),
    #[error("the ID token's key ({0}) is not in the provider's JWKS")]
    UnknownKey(String),
    #[error("the provider's key for the ID token cannot be used: {0}")]
    BadKey(&'static str),
    #[error("the ID token's signature does not verify")]
    SignatureInvalid,
    #[error("the ID token's iss is not the connection's issuer")]
    IssuerMismatch,
    #[error("the ID token is not for this client (aud)")]
    AudienceMismatch,
    #[error("the ID token has several audiences and azp is not this client")]
    AuthorizedPartyMismatch,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the ID token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("the ID token's nonce is not the sign-in's")]
    NonceMismatch,
    #[error("the ID token has no {0} claim")]
    MissingClaim(&'static str),
    /// A claim's name or value holds U+0000, which no identity attribute holds and
    /// PostgreSQL cannot store: the token is refused, not cut.
    #[error("the ID token's {0} claim holds U+0000 (NUL)")]
    ClaimHoldsNul(String),
}

impl IdTokenRefusal {
    pub fn reason(&self) -> &'static str {
        match self {
            IdTokenRefusal::Malformed => "id_token_malformed",
            IdTokenRefusal::AlgorithmNotAllowed(_) => "id_token_algorithm_not_allowed",
            IdTokenRefusal::UnknownKey(_) => "id_token_unknown_key",
            IdTokenRefusal::BadKey(_) => "id_token_bad_key",
            IdTokenRefusal::SignatureInvalid => "id_token_signature_invalid",
            IdTokenRefusal::IssuerMismatch => "id_token_issuer_mismatch",
            IdTokenRefusal::AudienceMismatch => "id_token_audience_mismatch",
            IdTokenRefusal::AuthorizedPartyMismatch => "id_token_azp_mismatch",
            IdTokenRefusal::Expired => "id_token_expired",
            IdTokenRefusal::NotYetValid => "id_token_not_yet_valid",
            IdTokenRefusal::IssuedInFuture => "id_token_issued_in_future",
            IdTokenRefusal::NonceMismatch => "id_token_nonce_mismatch",
            IdTokenRefusal::MissingClaim(_) => "id_token_missing_claim",
            IdTokenRefusal::ClaimHoldsNul(_) => "id_token_claim_invalid",
        }
    }
}

/// Reads a JWKS document (keys of a type jsonwebtoken cannot use are dropped, so
/// one exotic key does not take the others down).
pub fn parse_jwks(bytes: &[u8]) -> Option<JwkSet> {
    jwks_from_value(&serde_json::from_slice(bytes).ok()?)
}

/// [`parse_jwks`] of a document already read as JSON.
pub fn jwks_from_value(raw: &Value) -> Option<JwkSet> {
    let keys = raw.get("keys")?.as_array()?;
    Some(JwkSet {
        keys: keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect(),
    })
}

/// The key id the token's header names (to know whether the JWKS must be
/// fetched again), or `None` when the header cannot be read or names none.
pub fn key_id(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}

/// Verifies `token` and returns its claims. [`IdTokenRefusal::UnknownKey`] means
/// the JWKS may be stale: the caller may fetch it again (rate-limited) and retry.
pub fn verify_id_token(
    token: &str,
    jwks: &JwkSet,
    expect: &IdTokenExpectations<'_>,
) -> Result<Map<String, Value>, IdTokenRefusal> {
    // The header's `alg` is read before anything is trusted: only the connection's
    // asymmetric algorithms go on (`none` does not even parse as an algorithm).
    let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::Json(_) => {
            IdTokenRefusal::AlgorithmNotAllowed(header_alg(token))
        }
        _ => IdTokenRefusal::Malformed,
    })?;
    if !expect.algorithms.contains(&header.alg) || !ASYMMETRIC.contains(&header.alg) {
        return Err(IdTokenRefusal::AlgorithmNotAllowed(format!(
            "{:?}",
            header.alg
        )));
    }
    let jwk = select_key(jwks, header.kid.as_deref(), header.alg)?;
    let key = match &jwk.algorithm {
        // A symmetric key in a JWKS is never used: the JWKS is public.
        AlgorithmParameters::OctetKey(_) => {
            return Err(IdTokenRefusal::BadKey("a symmetric key"));
        }
        _ => DecodingKey::from_jwk(jwk).map_err(|_| IdTokenRefusal::BadKey("unreadable"))?,
    };
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    // Time and audience are checked below, with the tenant's skew and our words.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(
        |e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => IdTokenRefusal::SignatureInvalid,
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => {
                IdTokenRefusal::AlgorithmNotAllowed(format!("{:?}", header.alg))
            }
            jsonwebtoken::errors::ErrorKind::InvalidKeyFormat
            | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
            | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey => {
                IdTokenRefusal::BadKey("does not fit the algorithm")
            }
            _ => IdTokenRefusal::Malformed,
        },
    )?;
    check_claims(&data.claims, expect)?;
    Ok(data.claims)
}

/// The header's `alg` as text, for a header jsonwebtoken would not read (`none`).
fn header_alg(token: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(bounded))
        .unwrap_or_else(|| "an unknown algorithm".to_owned())
}

/// The JWKS key for `kid`; without a `kid`, the one signing key of the right type.
fn select_key<'a>(
    jwks: &'a JwkSet,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<&'a Jwk, IdTokenRefusal> {
    let usable = |k: &&Jwk| {
        !matches!(
            k.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) && fits(k, alg)
    };
    match kid {
        Some(kid) => jwks
            .keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .find(usable)
            .ok_or_else(|| IdTokenRefusal::UnknownKey(bounded(kid))),
        None => {
            let mut candidates = jwks.keys.iter().filter(usable);
            match (candidates.next(), candidates.next()) {
                (Some(key), None) => Ok(key),
                _ => Err(IdTokenRefusal::UnknownKey("no kid".to_owned())),
            }
        }
    }
}

/// Whether a key's type can verify `alg`.
fn fits(key: &Jwk, alg: Algorithm) -> bool {
    match &key.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(_) => {
            matches!(alg, Algorithm::ES256 | Algorithm::ES384)
        }
        AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
        // Never: see `verify_id_token`. Kept as candidates so the refusal says why.
        AlgorithmParameters::OctetKey(_) => true,
        _ => false,
    }
}

fn check_claims(
    claims: &Map<String, Value>,
    expect: &IdTokenExpectations<'_>,
) -> Result<(), IdTokenRefusal> {
    let text = |name: &'static str| claims.get(name).and_then(Value::as_str);
    let number = |name: &'static str| claims.get(name).and_then(Value::as_i64);
    if text("iss") != Some(expect.issuer) {
        return Err(IdTokenRefusal::IssuerMismatch);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => return Err(IdTokenRefusal::MissingClaim("aud")),
    };
    if !audiences.contains(&expect.client_id) {
        return Err(IdTokenRefusal::AudienceMismatch);
    }
    // Core §3.1.3.7 (4, 5): with several audiences, azp must be there and be us;
    // when azp is there at all, it must be us.
    match text("azp") {
        Some(azp) if azp != expect.client_id => {
            return Err(IdTokenRefusal::AuthorizedPartyMismatch);
        }
        None if audiences.len() > 1 => return Err(IdTokenRefusal::AuthorizedPartyMismatch),
        _ => {}
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(IdTokenRefusal::MissingClaim("sub"));
    }
    let now = expect.now.unix_timestamp();
    let skew = expect.skew.whole_seconds();
    let exp = number("exp").ok_or(IdTokenRefusal::MissingClaim("exp"))?;
    if now >= exp.saturating_add(skew) {
        return Err(IdTokenRefusal::Expired);
    }
    let iat = number("iat").ok_or(IdTokenRefusal::MissingClaim("iat"))?;
    if iat > now.saturating_add(skew) {
        return Err(IdTokenRefusal::IssuedInFuture);
    }
    if let Some(nbf) = number("nbf")
        && nbf > now.saturating_add(skew)
    {
        return Err(IdTokenRefusal::NotYetValid);
    }
    // Compared in constant time: it is the flow's secret binding.
    match text("nonce") {
        Some(nonce)
            if subtle::ConstantTimeEq::ct_eq(nonce.as_bytes(), expect.nonce.as_bytes()).into() => {}
        _ => return Err(IdTokenRefusal::NonceMismatch),
    }
    if let Some(name) = idbridge_core::json::member_holding_nul(claims) {
        return Err(IdTokenRefusal::ClaimHoldsNul(bounded(name)));
    }
    Ok(())
}

/// Who the person is, from an ID token's claims (and userinfo's, merged by
/// [`Identity::add_userinfo`]) as Entra ID, Okta and Google send them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    /// `Some(false)` when the provider says the address is not verified.
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// Entra ID app roles (`roles`).
    pub roles: Vec<String>,
    /// Group names (Okta) or object IDs (Entra ID).
    pub groups: Vec<String>,
    /// Google Workspace's hosted domain (`hd`).
    pub hosted_domain: Option<String>,
}

impl Identity {
    pub fn from_claims(claims: &Map<String, Value>) -> Self {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        // Entra ID sends `email` only when the token configuration adds it; its
        // `preferred_username` is then the UPN, an address in the tenant's domain.
        let email = text("email")
            .or_else(|| text("preferred_username").filter(|v| v.contains('@') && !v.contains(' ')));
        Identity {
            subject: text("sub").unwrap_or_default(),
            email,
            email_verified: match claims.get("email_verified") {
                Some(Value::Bool(b)) => Some(*b),
                // Some providers send it as a string.
                Some(Value::String(s)) => Some(s == "true"),
                _ => None,
            },
            name: text("name"),
            given_name: text("given_name"),
            family_name: text("family_name"),
            roles: strings(claims.get("roles")),
            groups: strings(claims.get("groups")),
            hosted_domain: text("hd"),
        }
    }

    /// Fills what the ID token lacked from userinfo, if userinfo is about the same
    /// subject (Core §5.3.2); otherwise userinfo is ignored, as it is when any of
    /// its claims holds U+0000 (the ID token's own are refused for it).
    pub fn add_userinfo(&mut self, userinfo: &Map<String, Value>) {
        if userinfo.get("sub").and_then(Value::as_str) != Some(self.subject.as_str())
            || idbridge_core::json::member_holding_nul(userinfo).is_some()
        {
            return;
        }
        let more = Identity::from_claims(userinfo);
        if self.email.is_none() {
            self.email = more.email;
            self.email_verified = more.email_verified;
        }
        self.name = self.name.take().or(more.name);
        self.given_name = self.given_name.take().or(more.given_name);
        self.family_name = self.family_name.take().or(more.family_name);
        if self.roles.is_empty() {
            self.roles = more.roles;
        }
        if self.groups.is_empty() {
            self.groups = more.groups;
        }
    }

    /// Whether userinfo could add something the pipeline needs.
    pub fn wants_userinfo(&self) -> bool {
        self.email.is_none() || (self.name.is_none() && self.given_name.is_none())
    }
}

/// A claim that is a string or an array of strings, as a list (at most 1,000).
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .take(1000)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
