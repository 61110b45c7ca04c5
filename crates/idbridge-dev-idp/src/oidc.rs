//! The dev IdP as an OpenID Provider (authorization code flow), the protocol side
//! only: no I/O, no clock, no randomness (the caller passes `now`, codes and
//! tokens). The router of [`crate::web`] serves it.
//!
//! - The issuer is the dev IdP's public URL (`http://127.0.0.1:9090`), one for
//!   every flavor: the flavor is picked in the sign-in form, and shapes the ID
//!   token's claims and header.
//! - Clients: any `client_id` (or only the one given with `--oidc-client-id`), one
//!   shared secret ([`DEFAULT_CLIENT_SECRET`] unless `--oidc-client-secret`),
//!   checked at the token endpoint (`client_secret_basic` or `client_secret_post`).
//!   Every redirect URI is accepted: the dev IdP has no registrations to check it
//!   against, as its SAML side takes the ACS URL from the request.
//! - Codes live [`CODE_TTL`], are used once, and are bound to the client, the
//!   redirect URI and the PKCE S256 challenge when one was sent.
//!
//! Claim shapes, from the providers' documentation:
//! - Entra ID (Microsoft Learn, "ID token claims reference", v2.0 tokens): header
//!   `typ`/`alg`/`kid`; `ver` "2.0", `oid`, `tid`, `preferred_username` (the UPN),
//!   a pairwise `sub`, `aio`, `rh`, `uti`, `sid`, `nbf`, `roles` (app roles),
//!   `groups`, and `email` as the optional claim adds it. (Entra sends group object
//!   IDs; the dev IdP sends what is typed.)
//! - Okta (org authorization server ID tokens): header `kid`/`alg` only; `ver` 1,
//!   `jti` "ID.…", `amr`, `idp` (the org's `00o…` ID), `auth_time`, `at_hash`,
//!   `sub` `00u…`, `preferred_username`, `email`, `email_verified`, `name`,
//!   `groups` (the groups claim configured); given and family names only from
//!   userinfo, as Okta leaves profile claims out of an ID token issued with an
//!   access token. `roles` as a custom claim when roles are typed.
//! - Google ("OpenID Connect" for Google Identity): `azp`, numeric `sub`, `hd`
//!   (the Workspace domain: left out for gmail.com and googlemail.com accounts),
//!   `email`, `email_verified`, `at_hash`, `name`, `given_name`, `family_name`; no
//!   roles or groups.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::sso::{Person, digest_hex, entity_id, stable_guid};

/// The client secret unless `--oidc-client-secret` says otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "dev-idp-secret";
/// How long a code may wait for its token request.
pub const CODE_TTL: Duration = Duration::seconds(60);
/// Lifetime of ID tokens and access tokens.
pub const TOKEN_TTL: Duration = Duration::hours(1);
/// Most codes, and most access tokens, held at once.
pub const MAX_PENDING: usize = 1000;
/// Longest `client_id`, `state`, `nonce`, … taken.
pub const MAX_PARAM_CHARS: usize = 2048;

/// Whose ID tokens the dev IdP imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OidcFlavor {
    #[default]
    Entra,
    Okta,
    Google,
}

impl OidcFlavor {
    pub const ALL: [OidcFlavor; 3] = [OidcFlavor::Entra, OidcFlavor::Okta, OidcFlavor::Google];

    pub fn as_str(self) -> &'static str {
        match self {
            OidcFlavor::Entra => "entra",
            OidcFlavor::Okta => "okta",
            OidcFlavor::Google => "google",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OidcFlavor::Entra => "Microsoft Entra ID",
            OidcFlavor::Okta => "Okta",
            OidcFlavor::Google => "Google Workspace",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == value)
    }
}

/// A deliberate failure of the OpenID Provider side, for testing that the relying
/// party refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OidcFailure {
    #[default]
    None,
    /// The ID token expired an hour ago.
    Expired,
    /// `aud` names another client.
    WrongAudience,
    /// `iss` is not the issuer.
    WrongIssuer,
    /// Signed by a key not in the JWKS, under the published `kid`.
    WrongKey,
    /// `nonce` is not the one the request sent.
    WrongNonce,
    /// No `email` (nor `preferred_username`), in the ID token or userinfo.
    MissingEmail,
    /// `email_verified: false`.
    EmailUnverified,
    /// No code: the redirect carries `error=access_denied`.
    AccessDenied,
}

impl OidcFailure {
    pub const ALL: [OidcFailure; 9] = [
        OidcFailure::None,
        OidcFailure::Expired,
        OidcFailure::WrongAudience,
        OidcFailure::WrongIssuer,
        OidcFailure::WrongKey,
        OidcFailure::WrongNonce,
        OidcFailure::MissingEmail,
        OidcFailure::EmailUnverified,
        OidcFailure::AccessDenied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OidcFailure::None => "none",
            OidcFailure::Expired => "expired",
            OidcFailure::WrongAudience => "wrong_audience",
            OidcFailure::WrongIssuer => "wrong_issuer",
            OidcFailure::WrongKey => "wrong_key",
            OidcFailure::WrongNonce => "wrong_nonce",
            OidcFailure::MissingEmail => "missing_email",
            OidcFailure::EmailUnverified => "email_unverified",
            OidcFailure::AccessDenied => "access_denied",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OidcFailure::None => "None: a valid ID token",
            OidcFailure::Expired => "Expired ID token (exp an hour ago)",
            OidcFailure::WrongAudience => "Wrong audience (aud of another client)",
            OidcFailure::WrongIssuer => "Wrong issuer (iss)",
            OidcFailure::WrongKey => "Signed with the wrong key (the published kid)",
            OidcFailure::WrongNonce => "Wrong nonce",
            OidcFailure::MissingEmail => "No email claim",
            OidcFailure::EmailUnverified => "email_verified: false",
            OidcFailure::AccessDenied => "The user declines (error=access_denied, no code)",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == value)
    }
}

/// Who may ask for tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// `None`: any `client_id`.
    pub client_id: Option<String>,
    pub client_secret: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
        }
    }
}

/// An authorization request as it arrived (query or the form's hidden fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The PKCE S256 challenge, when one was sent.
    pub code_challenge: Option<String>,
}

/// Why an authorization request is refused on a page: the client or its
/// redirect URI cannot be trusted with a redirect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizePageError {
    #[error("the authorization request has no {0}")]
    Missing(&'static str),
    #[error("this dev IdP accepts only the client_id {expected:?} (--oidc-client-id), not {got:?}")]
    UnknownClient { expected: String, got: String },
    #[error("the redirect_uri {0:?} is not an absolute http(s) URL without a fragment")]
    BadRedirectUri(String),
    #[error("the {0} is too long")]
    TooLong(&'static str),
}

/// Why an authorization request is refused; `Redirect` goes back to the client
/// (RFC 6749 §4.1.2.1), `Page` cannot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    #[error(transparent)]
    Page(#[from] AuthorizePageError),
    #[error("{error}: {description}")]
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A parameter as sent (not trimmed: `state` and `nonce` are opaque), `None` when
/// absent or blank.
fn bounded_param(
    value: Option<&str>,
    name: &'static str,
) -> Result<Option<String>, AuthorizePageError> {
    match value.filter(|v| !v.trim().is_empty()) {
        Some(v) if v.chars().count() > MAX_PARAM_CHARS => Err(AuthorizePageError::TooLong(name)),
        other => Ok(other.map(str::to_owned)),
    }
}

/// Whether `raw` is a redirect URI the dev IdP may send a browser to.
pub fn check_redirect_uri(raw: &str) -> Result<String, AuthorizePageError> {
    match url::Url::parse(raw.trim()) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.fragment().is_none() =>
        {
            Ok(raw.trim().to_owned())
        }
        _ => Err(AuthorizePageError::BadRedirectUri(raw.to_owned())),
    }
}

impl AuthorizeParams {
    /// Checks the request: the client and redirect URI first (a refusal there is a
    /// page), then the rest (a refusal is a redirect with `error=`).
    pub fn check(&self, clients: &ClientConfig) -> Result<AuthorizationRequest, AuthorizeError> {
        let client_id = bounded_param(self.client_id.as_deref(), "client_id")?
            .ok_or(AuthorizePageError::Missing("client_id"))?;
        if let Some(expected) = &clients.client_id
            && *expected != client_id
        {
            return Err(AuthorizePageError::UnknownClient {
                expected: expected.clone(),
                got: client_id,
            }
            .into());
        }
        let redirect_uri = bounded_param(self.redirect_uri.as_deref(), "redirect_uri")?
            .ok_or(AuthorizePageError::Missing("redirect_uri"))?;
        let redirect_uri = check_redirect_uri(&redirect_uri)?;
        let state = bounded_param(self.state.as_deref(), "state")?;
        let refuse = |error: &'static str, description: String| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
            description,
        };
        match present(self.response_type.as_deref()) {
            Some("code") => {}
            Some(other) => {
                return Err(refuse(
                    "unsupported_response_type",
                    format!("only the code flow is offered, not {other:?}"),
                ));
            }
            None => return Err(refuse("invalid_request", "response_type is missing".into())),
        }
        let scope = bounded_param(self.scope.as_deref(), "scope")?.unwrap_or_default();
        if !scope.split(' ').any(|s| s == "openid") {
            return Err(refuse(
                "invalid_scope",
                "the scope must include openid".into(),
            ));
        }
        let nonce = bounded_param(self.nonce.as_deref(), "nonce")?;
        let code_challenge = bounded_param(self.code_challenge.as_deref(), "code_challenge")?;
        let method = present(self.code_challenge_method.as_deref());
        let code_challenge = match (code_challenge, method) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(refuse(
                    "invalid_request",
                    "code_challenge_method without code_challenge".into(),
                ));
            }
            (Some(challenge), Some("S256")) => Some(challenge),
            (Some(_), other) => {
                return Err(refuse(
                    "invalid_request",
                    format!(
                        "only PKCE S256 is offered, not {}",
                        other.unwrap_or("plain (the default without a method)")
                    ),
                ));
            }
        };
        Ok(AuthorizationRequest {
            client_id,
            redirect_uri,
            scope,
            state,
            nonce,
            code_challenge,
        })
    }
}

/// `redirect_uri` with `params` added to its query (its own query kept).
pub fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
            }
            url.to_string()
        }
        // Only checked URIs get here; say nothing rather than invent one.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// What a code stands for.
#[derive(Debug, Clone)]
pub struct Grant {
    pub request: AuthorizationRequest,
    pub person: Person,
    pub flavor: OidcFlavor,
    pub failure: OidcFailure,
    /// When the person "signed in" (the form was posted).
    pub auth_time: OffsetDateTime,
}

/// What an access token stands for (userinfo).
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub client_id: String,
    pub person: Person,
    pub flavor: OidcFlavor,
    pub failure: OidcFailure,
}

/// Entries that expire, at most `capacity` of them: when full, the expired go
/// first, then the ones closest to expiry.
#[derive(Debug)]
pub struct Pending<V> {
    entries: HashMap<String, (OffsetDateTime, V)>,
    capacity: usize,
}

impl<V> Pending<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn insert(&mut self, key: String, value: V, expires: OffsetDateTime, now: OffsetDateTime) {
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, (until, _)| *until > now);
        }
        while self.entries.len() >= self.capacity {
            let soonest = self
                .entries
                .iter()
                .min_by_key(|(_, (until, _))| *until)
                .map(|(k, _)| k.clone());
            match soonest {
                Some(k) => {
                    self.entries.remove(&k);
                }
                None => break,
            }
        }
        self.entries.insert(key, (expires, value));
    }

    /// Removes and returns the entry, unless it has expired (it is removed anyway).
    pub fn take(&mut self, key: &str, now: OffsetDateTime) -> Option<V> {
        let (until, value) = self.entries.remove(key)?;
        (until > now).then_some(value)
    }

    pub fn get(&self, key: &str, now: OffsetDateTime) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, v)| v)
    }
}

/// The token endpoint's form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// A refused token request (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    /// `basic` when the client tried HTTP Basic (the answer is a 401 with a
    /// challenge).
    #[error("{message}")]
    InvalidClient { message: String, basic: bool },
    #[error("{0}")]
    InvalidGrant(String),
    #[error("only authorization_code is offered, not {0:?}")]
    UnsupportedGrantType(String),
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient { .. } => "invalid_client",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::UnsupportedGrantType(_) => "unsupported_grant_type",
        }
    }
}

/// How the client authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub basic: bool,
}

fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("v={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The client's credentials: HTTP Basic (`client_secret_basic`, each part
/// form-urlencoded, RFC 6749 §2.3.1) or the form (`client_secret_post`), not both.
pub fn client_credentials(
    authorization: Option<&str>,
    form: &TokenForm,
) -> Result<ClientCredentials, TokenError> {
    let basic = authorization.and_then(|value| {
        let (scheme, rest) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
    });
    match (basic, present(form.client_secret.as_deref())) {
        (Some(_), Some(_)) => Err(TokenError::InvalidRequest(
            "the client authenticated twice (HTTP Basic and client_secret)".into(),
        )),
        (Some(encoded), None) => {
            let invalid = || TokenError::InvalidClient {
                message: "the Authorization header is not Basic base64(client_id:secret)".into(),
                basic: true,
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| invalid())?;
            let text = String::from_utf8(decoded).map_err(|_| invalid())?;
            let (id, secret) = text.split_once(':').ok_or_else(invalid)?;
            let client_id = form_decode(id);
            if let Some(in_form) = present(form.client_id.as_deref())
                && in_form != client_id
            {
                return Err(TokenError::InvalidRequest(
                    "client_id in the form is not the one in the Authorization header".into(),
                ));
            }
            Ok(ClientCredentials {
                client_id,
                client_secret: form_decode(secret),
                basic: true,
            })
        }
        (None, Some(secret)) => Ok(ClientCredentials {
            client_id: present(form.client_id.as_deref())
                .ok_or_else(|| TokenError::InvalidRequest("client_id is missing".into()))?
                .to_owned(),
            client_secret: secret.to_owned(),
            basic: false,
        }),
        (None, None) => Err(TokenError::InvalidClient {
            message: "no client authentication (client_secret_basic or client_secret_post)".into(),
            basic: false,
        }),
    }
}

/// Compares two secrets by their digests, so the time taken says nothing about
/// how much of the secret matched.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Checks the client against the configuration.
pub fn authenticate(
    clients: &ClientConfig,
    credentials: &ClientCredentials,
) -> Result<(), TokenError> {
    let refuse = |message: &str| TokenError::InvalidClient {
        message: message.to_owned(),
        basic: credentials.basic,
    };
    if let Some(expected) = &clients.client_id
        && *expected != credentials.client_id
    {
        return Err(refuse("unknown client_id"));
    }
    if !same_secret(&credentials.client_secret, &clients.client_secret) {
        return Err(refuse(
            "wrong client secret (the dev IdP's is dev-idp-secret unless --oidc-client-secret says otherwise)",
        ));
    }
    Ok(())
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks a token request against the code's grant (the code already taken).
pub fn check_grant(
    grant: &Grant,
    credentials: &ClientCredentials,
    form: &TokenForm,
) -> Result<(), TokenError> {
    if grant.request.client_id != credentials.client_id {
        return Err(TokenError::InvalidGrant(
            "the code was issued to another client".into(),
        ));
    }
    if present(form.redirect_uri.as_deref()) != Some(grant.request.redirect_uri.as_str()) {
        return Err(TokenError::InvalidGrant(
            "redirect_uri is not the authorization request's".into(),
        ));
    }
    let verifier = present(form.code_verifier.as_deref());
    match (&grant.request.code_challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(TokenError::InvalidGrant(
            "code_verifier sent, but the authorization request had no code_challenge".into(),
        )),
        (Some(_), None) => Err(TokenError::InvalidGrant("code_verifier is missing".into())),
        (Some(challenge), Some(verifier)) => {
            if same_secret(&s256(verifier), challenge) {
                Ok(())
            } else {
                Err(TokenError::InvalidGrant(
                    "code_verifier does not match the code_challenge (S256)".into(),
                ))
            }
        }
    }
}

/// The grant type and code of a token request.
pub fn code_of(form: &TokenForm) -> Result<&str, TokenError> {
    match present(form.grant_type.as_deref()) {
        Some("authorization_code") => {}
        Some(other) => return Err(TokenError::UnsupportedGrantType(other.to_owned())),
        None => return Err(TokenError::InvalidRequest("grant_type is missing".into())),
    }
    present(form.code.as_deref())
        .ok_or_else(|| TokenError::InvalidRequest("code is missing".into()))
}

/// The identifiers a flavor gives a person (stable across restarts: derived from
/// the public URL, the email and the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub sub: String,
    /// Entra: the tenant ID.
    pub tid: String,
    /// Entra: the object ID (the same as the SAML side's for that email).
    pub oid: String,
}

/// `sub` (and Entra's `oid`, `tid`) of `person` under `flavor`.
pub fn subject(public_url: &str, person: &Person, flavor: OidcFlavor, client_id: &str) -> Subject {
    let email = person.email.trim().to_lowercase();
    let tid = stable_guid(&[public_url]);
    let oid = stable_guid(&[&entity_id(public_url, crate::sso::Flavor::Entra), &email]);
    let sub = match flavor {
        // Pairwise: per application.
        OidcFlavor::Entra => URL_SAFE_NO_PAD
            .encode(Sha256::digest(format!("{client_id}\0{oid}").as_bytes()))
            .chars()
            .take(43)
            .collect(),
        OidcFlavor::Okta => format!(
            "00u{}",
            &digest_hex(&[&entity_id(public_url, crate::sso::Flavor::Okta), &email])[..17]
        ),
        OidcFlavor::Google => {
            let digits: String =
                Sha256::digest(format!("google\0{public_url}\0{email}").as_bytes())
                    .iter()
                    .take(20)
                    .map(|b| char::from(b'0' + b % 10))
                    .collect();
            format!("1{digits}")
        }
    };
    Subject { sub, tid, oid }
}

/// Google's `hd`: the email's domain, unless a consumer one.
fn hosted_domain(email: &str) -> Option<String> {
    let domain = email.rsplit_once('@')?.1.trim().to_lowercase();
    (!domain.is_empty() && !matches!(domain.as_str(), "gmail.com" | "googlemail.com"))
        .then_some(domain)
}

/// Half the SHA-256 of the access token, base64url (Core §3.1.3.6 `at_hash`).
pub fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

/// An opaque value derived from `seed` (Entra's `aio`, `uti`, Okta's `jti`, …).
fn opaque(seed: &str, what: &str, len: usize) -> String {
    URL_SAFE_NO_PAD
        .encode(Sha256::digest(format!("{what}\0{seed}").as_bytes()))
        .chars()
        .take(len)
        .collect()
}

/// What an ID token is made from.
#[derive(Debug, Clone)]
pub struct IdTokenInput<'a> {
    /// The issuer: the dev IdP's public URL.
    pub issuer: &'a str,
    pub grant: &'a Grant,
    /// The access token issued with it (`at_hash`, and the seed of opaque claims).
    pub access_token: &'a str,
    pub now: OffsetDateTime,
}

fn put(claims: &mut Map<String, Value>, name: &str, value: impl Into<Value>) {
    claims.insert(name.to_owned(), value.into());
}

fn put_text(claims: &mut Map<String, Value>, name: &str, value: &str) {
    if !value.trim().is_empty() {
        put(claims, name, value.trim());
    }
}

fn put_list(claims: &mut Map<String, Value>, name: &str, values: &[String]) {
    if !values.is_empty() {
        put(claims, name, values.to_vec());
    }
}

/// The ID token's header (its `kid` is the signing key's, also under the
/// wrong-key failure).
pub fn id_token_header(flavor: OidcFlavor, kid: &str) -> Map<String, Value> {
    let mut header = Map::new();
    if flavor != OidcFlavor::Okta {
        put(&mut header, "typ", "JWT");
    }
    put(&mut header, "alg", "RS256");
    put(&mut header, "kid", kid);
    header
}

/// The ID token's claims for the grant, shaped by its flavor, its failure applied.
pub fn id_token_claims(input: &IdTokenInput<'_>) -> Map<String, Value> {
    let grant = input.grant;
    let person = &grant.person;
    let request = &grant.request;
    let failure = grant.failure;
    let ids = subject(input.issuer, person, grant.flavor, &request.client_id);
    let email = person.email.trim();
    let with_email = failure != OidcFailure::MissingEmail;
    let verified = failure != OidcFailure::EmailUnverified;
    let (iat, exp) = match failure {
        OidcFailure::Expired => (
            input.now - Duration::hours(2),
            input.now - Duration::hours(1),
        ),
        _ => (input.now, input.now + TOKEN_TTL),
    };
    let auth_time = grant.auth_time.min(iat);
    let iss = match failure {
        OidcFailure::WrongIssuer => format!("{}/not-this-issuer", input.issuer),
        _ => input.issuer.to_owned(),
    };
    let aud = match failure {
        OidcFailure::WrongAudience => format!("{}-another-app", request.client_id),
        _ => request.client_id.clone(),
    };
    let nonce = match failure {
        OidcFailure::WrongNonce => Some("not-the-nonce-you-sent".to_owned()),
        _ => request.nonce.clone(),
    };
    let seed = input.access_token;
    let mut c = Map::new();
    match grant.flavor {
        OidcFlavor::Entra => {
            put(&mut c, "aud", aud);
            put(&mut c, "iss", iss);
            put(&mut c, "iat", iat.unix_timestamp());
            put(&mut c, "nbf", iat.unix_timestamp());
            put(&mut c, "exp", exp.unix_timestamp());
            put(&mut c, "aio", opaque(seed, "aio", 64));
            if with_email {
                put_text(&mut c, "email", email);
            }
            if !verified {
                put(&mut c, "email_verified", false);
            }
            put_list(&mut c, "groups", &person.groups);
            put_text(&mut c, "name", &person.display_name());
            if let Some(nonce) = &nonce {
                put(&mut c, "nonce", nonce.as_str());
            }
            put(&mut c, "oid", ids.oid);
            if with_email {
                put_text(&mut c, "preferred_username", email);
            }
            put(&mut c, "rh", format!("0.{}.", opaque(seed, "rh", 60)));
            put_list(&mut c, "roles", &person.roles);
            put(&mut c, "sid", stable_guid(&[seed, "sid"]));
            put(&mut c, "sub", ids.sub);
            put(&mut c, "tid", ids.tid);
            put(&mut c, "uti", opaque(seed, "uti", 22));
            put(&mut c, "ver", "2.0");
        }
        OidcFlavor::Okta => {
            put(&mut c, "sub", ids.sub);
            put_text(&mut c, "name", &person.display_name());
            if with_email {
                put_text(&mut c, "email", email);
                put(&mut c, "email_verified", verified);
            }
            put(&mut c, "ver", 1);
            put(&mut c, "iss", iss);
            put(&mut c, "aud", aud);
            put(&mut c, "iat", iat.unix_timestamp());
            put(&mut c, "exp", exp.unix_timestamp());
            put(&mut c, "jti", format!("ID.{}", opaque(seed, "jti", 43)));
            put(&mut c, "amr", vec!["pwd"]);
            put(
                &mut c,
                "idp",
                format!("00o{}", &digest_hex(&[input.issuer, "okta-org"])[..17]),
            );
            if let Some(nonce) = &nonce {
                put(&mut c, "nonce", nonce.as_str());
            }
            if with_email {
                put_text(&mut c, "preferred_username", email);
            }
            put(&mut c, "auth_time", auth_time.unix_timestamp());
            put(&mut c, "at_hash", at_hash(input.access_token));
            put_list(&mut c, "groups", &person.groups);
            put_list(&mut c, "roles", &person.roles);
        }
        OidcFlavor::Google => {
            put(&mut c, "iss", iss);
            put(&mut c, "azp", request.client_id.as_str());
            put(&mut c, "aud", aud);
            put(&mut c, "sub", ids.sub);
            if with_email {
                if let Some(hd) = hosted_domain(email) {
                    put(&mut c, "hd", hd);
                }
                put_text(&mut c, "email", email);
                put(&mut c, "email_verified", verified);
            }
            put(&mut c, "at_hash", at_hash(input.access_token));
            if let Some(nonce) = &nonce {
                put(&mut c, "nonce", nonce.as_str());
            }
            put_text(&mut c, "name", &person.display_name());
            put_text(&mut c, "given_name", &person.first_name);
            put_text(&mut c, "family_name", &person.last_name);
            put(&mut c, "iat", iat.unix_timestamp());
            put(&mut c, "exp", exp.unix_timestamp());
        }
    }
    c
}

/// What `/oidc/userinfo` says for an access token.
pub fn userinfo_claims(public_url: &str, access: &AccessGrant) -> Map<String, Value> {
    let person = &access.person;
    let ids = subject(public_url, person, access.flavor, &access.client_id);
    let email = person.email.trim();
    let with_email = access.failure != OidcFailure::MissingEmail;
    let verified = access.failure != OidcFailure::EmailUnverified;
    let mut c = Map::new();
    put(&mut c, "sub", ids.sub);
    put_text(&mut c, "name", &person.display_name());
    put_text(&mut c, "given_name", &person.first_name);
    put_text(&mut c, "family_name", &person.last_name);
    if with_email {
        put_text(&mut c, "email", email);
        match access.flavor {
            OidcFlavor::Entra => {}
            OidcFlavor::Okta => {
                put_text(&mut c, "preferred_username", email);
                put(&mut c, "email_verified", verified);
            }
            OidcFlavor::Google => {
                put(&mut c, "email_verified", verified);
                if let Some(hd) = hosted_domain(email) {
                    put(&mut c, "hd", hd);
                }
            }
        }
    }
    if access.flavor == OidcFlavor::Okta {
        put_list(&mut c, "groups", &person.groups);
    }
    c
}

/// The discovery document (OpenID Connect Discovery §3).
pub fn discovery(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oidc/authorize"),
        "token_endpoint": format!("{issuer}/oidc/token"),
        "userinfo_endpoint": format!("{issuer}/oidc/userinfo"),
        "jwks_uri": format!("{issuer}/oidc/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "at_hash",
            "name", "given_name", "family_name", "email", "email_verified",
            "preferred_username", "oid", "tid", "roles", "groups", "hd", "azp"
        ],
        "authorization_response_iss_parameter_supported": true,
    })
}

/// The signing key's JWK, and its `kid`: the RFC 7638 thumbprint.
pub fn signing_jwk(n: &[u8], e: &[u8], certificate_base64: &str) -> (String, Value) {
    let n = URL_SAFE_NO_PAD.encode(n);
    let e = URL_SAFE_NO_PAD.encode(e);
    // RFC 7638 §3.2: the required members, in lexicographic order, no whitespace.
    let canonical = format!("{{\"e\":\"{e}\",\"kty\":\"RSA\",\"n\":\"{n}\"}}");
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    let jwk = json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": n,
        "e": e,
        "x5c": [certificate_base64],
    });
    (kid, jwk)
}

/// A compact JWS: `header.claims.signature`, base64url, `sign` making the
/// signature over the first two parts.
pub fn encode_jwt<E>(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<String, E> {
    let encode = |value: &Map<String, Value>| {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
    };
    let signing_input = format!("{}.{}", encode(header), encode(claims));
    let signature = sign(signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> AuthorizeParams {
        AuthorizeParams {
            client_id: Some("my-app".into()),
            redirect_uri: Some("http://127.0.0.1:8080/oidc/acme/callback".into()),
            response_type: Some("code".into()),
            scope: Some("openid email profile".into()),
            state: Some("st".into()),
            nonce: Some("n".into()),
            code_challenge: Some(s256("verifier")),
            code_challenge_method: Some("S256".into()),
            login_hint: None,
        }
    }

    fn grant(flavor: OidcFlavor, failure: OidcFailure) -> Grant {
        let now = time::macros::datetime!(2026-11-01 09:00:00 UTC);
        Grant {
            request: params().check(&ClientConfig::default()).expect("valid"),
            person: Person {
                email: "ada@acme.example".into(),
                first_name: "Ada".into(),
                last_name: "Byron".into(),
                roles: vec!["Admin".into()],
                groups: vec!["Engineering".into()],
                ..Person::sample()
            },
            flavor,
            failure,
            auth_time: now,
        }
    }

    #[test]
    fn the_client_and_redirect_uri_come_first() {
        let any = ClientConfig::default();
        let request = params().check(&any).expect("valid");
        assert_eq!(request.code_challenge, Some(s256("verifier")));
        let only = ClientConfig {
            client_id: Some("other".into()),
            ..ClientConfig::default()
        };
        assert!(matches!(
            params().check(&only),
            Err(AuthorizeError::Page(
                AuthorizePageError::UnknownClient { .. }
            ))
        ));
        let javascript = AuthorizeParams {
            redirect_uri: Some("javascript:alert(1)".into()),
            response_type: Some("token".into()),
            ..params()
        };
        assert!(matches!(
            javascript.check(&any),
            Err(AuthorizeError::Page(AuthorizePageError::BadRedirectUri(_)))
        ));
        let implicit = AuthorizeParams {
            response_type: Some("token".into()),
            ..params()
        };
        assert!(matches!(
            implicit.check(&any),
            Err(AuthorizeError::Redirect { error: "unsupported_response_type", state: Some(s), .. }) if s == "st"
        ));
        let plain = AuthorizeParams {
            code_challenge_method: None,
            ..params()
        };
        assert!(matches!(
            plain.check(&any),
            Err(AuthorizeError::Redirect {
                error: "invalid_request",
                ..
            })
        ));
        let no_openid = AuthorizeParams {
            scope: Some("email".into()),
            ..params()
        };
        assert!(matches!(
            no_openid.check(&any),
            Err(AuthorizeError::Redirect {
                error: "invalid_scope",
                ..
            })
        ));
        assert_eq!(
            redirect_to(
                "https://app.example/cb?x=1",
                &[("code", "a b"), ("state", "s")]
            ),
            "https://app.example/cb?x=1&code=a+b&state=s"
        );
    }

    #[test]
    fn client_authentication_basic_or_post_not_both() {
        let form = TokenForm::default();
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%3Aapp:dev-idp-secret")
        );
        let creds = client_credentials(Some(&basic), &form).expect("basic");
        assert_eq!(creds.client_id, "my:app");
        assert!(creds.basic);
        authenticate(&ClientConfig::default(), &creds).expect("the default secret");
        let post = TokenForm {
            client_id: Some("my-app".into()),
            client_secret: Some("wrong".into()),
            ..TokenForm::default()
        };
        let creds = client_credentials(None, &post).expect("post");
        assert!(!creds.basic);
        assert_eq!(
            authenticate(&ClientConfig::default(), &creds).map_err(|e| e.code()),
            Err("invalid_client")
        );
        assert_eq!(
            client_credentials(Some(&basic), &post).map_err(|e| e.code()),
            Err("invalid_request")
        );
        assert_eq!(
            client_credentials(None, &form).map_err(|e| e.code()),
            Err("invalid_client")
        );
    }

    #[test]
    fn pkce_and_the_redirect_uri_bind_the_code() {
        let grant = grant(OidcFlavor::Entra, OidcFailure::None);
        let creds = ClientCredentials {
            client_id: "my-app".into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            basic: false,
        };
        let form = TokenForm {
            grant_type: Some("authorization_code".into()),
            code: Some("c".into()),
            redirect_uri: Some(grant.request.redirect_uri.clone()),
            code_verifier: Some("verifier".into()),
            ..TokenForm::default()
        };
        assert_eq!(code_of(&form), Ok("c"));
        check_grant(&grant, &creds, &form).expect("matches");
        let wrong = TokenForm {
            code_verifier: Some("another".into()),
            ..form.clone()
        };
        assert!(matches!(
            check_grant(&grant, &creds, &wrong),
            Err(TokenError::InvalidGrant(_))
        ));
        let missing = TokenForm {
            code_verifier: None,
            ..form.clone()
        };
        assert!(check_grant(&grant, &creds, &missing).is_err());
        let elsewhere = TokenForm {
            redirect_uri: Some("https://evil.example/cb".into()),
            ..form.clone()
        };
        assert!(check_grant(&grant, &creds, &elsewhere).is_err());
        let other_client = ClientCredentials {
            client_id: "other".into(),
            ..creds
        };
        assert!(check_grant(&grant, &other_client, &form).is_err());
    }

    #[test]
    fn pending_entries_expire_are_taken_once_and_are_bounded() {
        let now = time::macros::datetime!(2026-11-01 09:00:00 UTC);
        let mut pending = Pending::new(2);
        pending.insert("a".into(), 1, now + CODE_TTL, now);
        assert_eq!(pending.take("a", now), Some(1));
        assert_eq!(pending.take("a", now), None, "once");
        pending.insert("b".into(), 2, now + CODE_TTL, now);
        assert_eq!(pending.take("b", now + CODE_TTL), None, "expired");
        pending.insert("c".into(), 3, now + Duration::seconds(10), now);
        pending.insert("d".into(), 4, now + Duration::seconds(20), now);
        pending.insert("e".into(), 5, now + Duration::seconds(30), now);
        assert_eq!(pending.len(), 2);
        assert_eq!(pending.get("c", now), None, "the soonest to expire went");
        assert_eq!(pending.get("e", now), Some(&5));
    }

    #[test]
    fn claims_follow_the_flavor() {
        let now = time::macros::datetime!(2026-11-01 09:00:00 UTC);
        let issuer = "http://127.0.0.1:9090";
        let claims = |flavor, failure| {
            let grant = grant(flavor, failure);
            id_token_claims(&IdTokenInput {
                issuer,
                grant: &grant,
                access_token: "at",
                now,
            })
        };
        let entra = claims(OidcFlavor::Entra, OidcFailure::None);
        assert_eq!(entra["ver"], "2.0");
        assert_eq!(entra["iss"], issuer);
        assert_eq!(entra["aud"], "my-app");
        assert_eq!(entra["nonce"], "n");
        assert_eq!(entra["preferred_username"], "ada@acme.example");
        assert_eq!(entra["roles"], json!(["Admin"]));
        assert_eq!(entra["sub"].as_str().map(str::len), Some(43));
        assert_eq!(entra["oid"].as_str().map(str::len), Some(36));
        assert!(entra.contains_key("tid") && entra.contains_key("nbf"));
        let okta = claims(OidcFlavor::Okta, OidcFailure::None);
        assert_eq!(okta["ver"], 1);
        assert!(okta["sub"].as_str().is_some_and(|s| s.starts_with("00u")));
        assert!(okta["jti"].as_str().is_some_and(|s| s.starts_with("ID.")));
        assert_eq!(okta["groups"], json!(["Engineering"]));
        assert_eq!(okta["at_hash"], at_hash("at"));
        assert!(
            !okta.contains_key("given_name"),
            "profile claims are userinfo's"
        );
        let google = claims(OidcFlavor::Google, OidcFailure::None);
        assert_eq!(google["hd"], "acme.example");
        assert_eq!(google["email_verified"], true);
        assert_eq!(google["azp"], "my-app");
        assert!(!google.contains_key("roles") && !google.contains_key("groups"));
        assert!(
            google["sub"]
                .as_str()
                .is_some_and(|s| s.len() == 21 && s.bytes().all(|b| b.is_ascii_digit()))
        );

        let expired = claims(OidcFlavor::Entra, OidcFailure::Expired);
        assert!(expired["exp"].as_i64() < Some(now.unix_timestamp()));
        assert_ne!(
            claims(OidcFlavor::Okta, OidcFailure::WrongIssuer)["iss"],
            issuer
        );
        assert_ne!(
            claims(OidcFlavor::Okta, OidcFailure::WrongAudience)["aud"],
            "my-app"
        );
        assert_ne!(
            claims(OidcFlavor::Okta, OidcFailure::WrongNonce)["nonce"],
            "n"
        );
        let no_email = claims(OidcFlavor::Entra, OidcFailure::MissingEmail);
        assert!(!no_email.contains_key("email") && !no_email.contains_key("preferred_username"));
        assert_eq!(
            claims(OidcFlavor::Google, OidcFailure::EmailUnverified)["email_verified"],
            false
        );

        // Userinfo names the same subject.
        let access = AccessGrant {
            client_id: "my-app".into(),
            person: grant(OidcFlavor::Okta, OidcFailure::None).person,
            flavor: OidcFlavor::Okta,
            failure: OidcFailure::None,
        };
        let info = userinfo_claims(issuer, &access);
        assert_eq!(info["sub"], okta["sub"]);
        assert_eq!(info["given_name"], "Ada");
    }

    #[test]
    fn a_signed_token_verifies_with_the_published_key() {
        let identity = crate::Identity::generate().expect("keys");
        let (n, e) = identity.signing.rsa_public_numbers().expect("rsa");
        let (kid, jwk) = signing_jwk(&n, &e, identity.signing.certificate_base64());
        assert_eq!(jwk["kid"], kid.as_str());
        let mut claims = Map::new();
        claims.insert("sub".into(), json!("x"));
        let token = encode_jwt(&id_token_header(OidcFlavor::Entra, &kid), &claims, |m| {
            identity.signing.sign_rs256(m)
        })
        .expect("signed");
        let (input, signature) = token.rsplit_once('.').expect("three parts");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        let key = openssl::pkey::PKey::from_rsa(
            openssl::rsa::Rsa::from_public_components(
                openssl::bn::BigNum::from_slice(&n).expect("n"),
                openssl::bn::BigNum::from_slice(&e).expect("e"),
            )
            .expect("rsa"),
        )
        .expect("pkey");
        let mut verifier =
            openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).expect("v");
        verifier.update(input.as_bytes()).expect("update");
        assert!(verifier.verify(&signature).expect("verify"));
    }
}
