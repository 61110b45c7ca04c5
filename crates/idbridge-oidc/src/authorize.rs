//! `/oauth/authorize`: which requests start a sign-in, and how refusals travel.
//!
//! Two kinds of refusal, in this order (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6):
//! 1. the client or its redirect URI cannot be trusted (missing, unknown, not
//!    registered exactly): [`check_client`] refuses, and the server shows a page. It
//!    never redirects, or idbridge would be an open redirector.
//! 2. everything else ([`validate`]): an error redirected to the (now trusted)
//!    redirect URI with `error`, `error_description`, `state` and `iss`.

use idbridge_core::TenantSlug;
use idbridge_core::domain::{DomainName, email_domain};

use crate::params::Params;
use crate::pkce;

/// Upper bounds on what the app may make idbridge store and echo: generous for any
/// real client, small enough that a hostile one cannot bloat the database.
pub const MAX_STATE_LEN: usize = 2048;
pub const MAX_NONCE_LEN: usize = 512;
pub const MAX_LOGIN_HINT_LEN: usize = 320;

/// Why the client or redirect URI is not trusted: shown as a page, never redirected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientRefusal {
    /// A parameter appears twice, or holds U+0000.
    #[error("{0}")]
    Params(crate::params::ParamsError),
    #[error("the request has no client_id")]
    MissingClientId,
    #[error("no app is registered with this client_id")]
    UnknownClient,
    #[error("the request has no redirect_uri")]
    MissingRedirectUri,
    #[error("this redirect_uri is not registered for the app")]
    RedirectUriNotRegistered,
}

impl ClientRefusal {
    /// The machine-readable code shown on the page.
    pub fn code(&self) -> &'static str {
        match self {
            ClientRefusal::Params(_) | ClientRefusal::MissingClientId => "invalid_request",
            ClientRefusal::UnknownClient => "invalid_client",
            ClientRefusal::MissingRedirectUri | ClientRefusal::RedirectUriNotRegistered => {
                "invalid_redirect_uri"
            }
        }
    }
}

/// A parsed authorization request whose client and redirect URI are not yet checked.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    params: Params,
}

impl AuthorizeRequest {
    pub fn parse(query: &[u8]) -> Result<Self, ClientRefusal> {
        Params::parse(query)
            .map(|params| AuthorizeRequest { params })
            .map_err(ClientRefusal::Params)
    }

    /// The `client_id` to look up.
    pub fn client_id(&self) -> Result<&str, ClientRefusal> {
        self.params
            .get("client_id")
            .ok_or(ClientRefusal::MissingClientId)
    }

    /// `state`, when it is safe to echo (for error redirects made before
    /// [`validate`] succeeds).
    pub fn state(&self) -> Option<&str> {
        self.params
            .get("state")
            .filter(|s| s.len() <= MAX_STATE_LEN)
    }

    /// The redirect URI, if it is exactly one of `registered` (simple string
    /// comparison, RFC 6749 §3.1.2.3 and OAuth 2.1: no prefix or pattern matching).
    pub fn check_client<'a>(
        &self,
        registered: impl IntoIterator<Item = &'a str>,
    ) -> Result<String, ClientRefusal> {
        let given = self
            .params
            .get("redirect_uri")
            .ok_or(ClientRefusal::MissingRedirectUri)?;
        registered
            .into_iter()
            .find(|r| *r == given)
            .map(str::to_owned)
            .ok_or(ClientRefusal::RedirectUriNotRegistered)
    }
}

/// The error codes of RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6 that idbridge sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeErrorCode {
    InvalidRequest,
    UnauthorizedClient,
    AccessDenied,
    UnsupportedResponseType,
    InvalidScope,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    RequestNotSupported,
    RequestUriNotSupported,
}

impl AuthorizeErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizeErrorCode::InvalidRequest => "invalid_request",
            AuthorizeErrorCode::UnauthorizedClient => "unauthorized_client",
            AuthorizeErrorCode::AccessDenied => "access_denied",
            AuthorizeErrorCode::UnsupportedResponseType => "unsupported_response_type",
            AuthorizeErrorCode::InvalidScope => "invalid_scope",
            AuthorizeErrorCode::ServerError => "server_error",
            AuthorizeErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            AuthorizeErrorCode::LoginRequired => "login_required",
            AuthorizeErrorCode::RequestNotSupported => "request_not_supported",
            AuthorizeErrorCode::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

/// A refusal sent back to the app's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct AuthorizeError {
    pub code: AuthorizeErrorCode,
    pub description: String,
}

impl AuthorizeError {
    pub fn new(code: AuthorizeErrorCode, description: impl Into<String>) -> Self {
        AuthorizeError {
            code,
            description: description.into(),
        }
    }
}

fn invalid(description: impl Into<String>) -> AuthorizeError {
    AuthorizeError::new(AuthorizeErrorCode::InvalidRequest, description)
}

/// Which tenant's IdP signs the user in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Realm {
    /// `tenant=<slug>`.
    Tenant(TenantSlug),
    /// Found from `login_hint`'s domain, which must be verified by a tenant.
    EmailDomain(DomainName),
}

/// An authorization request that may start a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidAuthorize {
    /// The requested scopes that idbridge knows (`openid` among them), in request
    /// order; unknown ones are dropped (OIDC Core §3.1.2.1: ignore what you do not
    /// understand), and the list is what the tokens grant.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: Option<String>,
    pub realm: Realm,
    pub login_hint: Option<String>,
    /// `connection=<id>`: the tenant's connection to sign in through (else the one
    /// serving the `login_hint`'s domain, else the tenant's default).
    pub connection: Option<String>,
}

/// Checks everything after the client: response type, scope, PKCE, `prompt`,
/// the realm. `client_is_public`: a client without a secret must use PKCE.
pub fn validate(
    request: &AuthorizeRequest,
    client_is_public: bool,
) -> Result<ValidAuthorize, AuthorizeError> {
    let p = &request.params;
    if p.get("request").is_some() {
        return Err(AuthorizeError::new(
            AuthorizeErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if p.get("request_uri").is_some() {
        return Err(AuthorizeError::new(
            AuthorizeErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match p.get("response_type") {
        None => return Err(invalid("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(AuthorizeError::new(
                AuthorizeErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if p.get("response_mode").is_some_and(|mode| mode != "query") {
        return Err(invalid("only response_mode=query is supported"));
    }
    let state = match p.get("state") {
        Some(s) if s.len() > MAX_STATE_LEN => return Err(invalid("state is too long")),
        s => s.map(str::to_owned),
    };
    let requested: Vec<&str> = p.get("scope").unwrap_or("").split(' ').collect();
    if !requested.contains(&"openid") {
        return Err(AuthorizeError::new(
            AuthorizeErrorCode::InvalidScope,
            "scope must include openid",
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in requested {
        if crate::SUPPORTED_SCOPES.contains(&s) && !scopes.iter().any(|k| k == s) {
            scopes.push(s.to_owned());
        }
    }
    let nonce = match p.get("nonce") {
        Some(n) if n.len() > MAX_NONCE_LEN => return Err(invalid("nonce is too long")),
        n => n.map(str::to_owned),
    };
    let code_challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (None, None) if client_is_public => {
            return Err(invalid(
                "this client is public: PKCE (code_challenge, S256) is required",
            ));
        }
        (None, None) => None,
        (None, Some(_)) => return Err(invalid("code_challenge_method without code_challenge")),
        // RFC 7636 §4.3: a missing method means `plain`, which is refused.
        (Some(_), None | Some("plain")) => {
            return Err(invalid(
                "code_challenge_method must be S256 (plain is not supported)",
            ));
        }
        (Some(c), Some("S256")) if pkce::is_valid_challenge(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => return Err(invalid("code_challenge is not an S256 challenge")),
        (Some(_), Some(_)) => return Err(invalid("code_challenge_method must be S256")),
    };
    if let Some(prompt) = p.get("prompt") {
        let values: Vec<&str> = prompt.split(' ').collect();
        if values.contains(&"none") {
            // idbridge keeps no browser session of its own: every sign-in goes to the
            // IdP, so it can never answer without showing something.
            return Err(AuthorizeError::new(
                AuthorizeErrorCode::LoginRequired,
                "idbridge keeps no session; the user must sign in at the identity provider",
            ));
        }
    }
    let login_hint = match p.get("login_hint") {
        Some(h) if h.len() > MAX_LOGIN_HINT_LEN => return Err(invalid("login_hint is too long")),
        h => h.map(str::to_owned),
    };
    let realm = match (p.get("tenant"), &login_hint) {
        (Some(slug), _) => Realm::Tenant(
            TenantSlug::parse(slug).map_err(|_| invalid("tenant is not a tenant slug"))?,
        ),
        (None, Some(hint)) => Realm::EmailDomain(
            email_domain(hint).map_err(|_| invalid("login_hint is not an email address"))?,
        ),
        (None, None) => {
            return Err(invalid(
                "say whose sign-in this is: tenant=<slug> or login_hint=<email>",
            ));
        }
    };
    let connection = match p.get("connection") {
        Some(c) if c.len() > 64 => return Err(invalid("connection is too long")),
        c => c.map(str::to_owned),
    };
    Ok(ValidAuthorize {
        scopes,
        state,
        nonce,
        code_challenge,
        realm,
        login_hint,
        connection,
    })
}

/// `redirect_uri` with an authorization response's parameters appended (RFC 6749
/// §4.1.2, RFC 9207 `iss`). Existing query parameters of the registered URI stay.
pub fn response_url(redirect_uri: &str, params: &[(&str, &str)]) -> Option<url::Url> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
    }
    Some(url)
}

/// The redirect that carries `error` back to the app.
pub fn error_url(
    redirect_uri: &str,
    error: &AuthorizeError,
    state: Option<&str>,
    issuer: &str,
) -> Option<url::Url> {
    let mut params = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    response_url(redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn req(q: &str) -> AuthorizeRequest {
        AuthorizeRequest::parse(q.as_bytes()).unwrap()
    }

    fn base() -> String {
        "response_type=code&client_id=c&redirect_uri=https%3A%2F%2Fapp%2Fcb&scope=openid%20email&state=s1&tenant=acme".into()
    }

    #[test]
    fn a_plain_request_is_valid() {
        let v = validate(&req(&base()), false).unwrap();
        assert_eq!(v.scopes, vec!["openid", "email"]);
        assert_eq!(v.state.as_deref(), Some("s1"));
        assert_eq!(v.realm, Realm::Tenant(TenantSlug::parse("acme").unwrap()));
        assert_eq!(v.code_challenge, None);
    }

    #[test]
    fn redirect_uri_must_match_exactly() {
        let r = req(&base());
        assert_eq!(
            r.check_client(["https://app/cb"]).unwrap(),
            "https://app/cb"
        );
        assert_eq!(
            r.check_client(["https://app/cb/", "https://app"]),
            Err(ClientRefusal::RedirectUriNotRegistered)
        );
        assert_eq!(
            req("client_id=c").check_client(["https://app/cb"]),
            Err(ClientRefusal::MissingRedirectUri)
        );
        assert_eq!(req("x=1").client_id(), Err(ClientRefusal::MissingClientId));
        assert!(matches!(
            AuthorizeRequest::parse(b"client_id=a&client_id=b"),
            Err(ClientRefusal::Params(_))
        ));
        assert!(matches!(
            AuthorizeRequest::parse(b"client_id=a&nonce=%00"),
            Err(ClientRefusal::Params(_))
        ));
    }

    #[test]
    fn response_type_and_scope() {
        let e = validate(
            &req(&base().replace("response_type=code", "response_type=token")),
            false,
        )
        .unwrap_err();
        assert_eq!(e.code, AuthorizeErrorCode::UnsupportedResponseType);
        let e = validate(&req(&base().replace("response_type=code&", "")), false).unwrap_err();
        assert_eq!(e.code, AuthorizeErrorCode::InvalidRequest);
        let e = validate(&req(&base().replace("openid%20", "")), false).unwrap_err();
        assert_eq!(e.code, AuthorizeErrorCode::InvalidScope);
        let v = validate(
            &req(&base().replace("email", "email%20offline_access%20email")),
            false,
        )
        .unwrap();
        assert_eq!(v.scopes, vec!["openid", "email"]);
    }

    #[test]
    fn pkce_rules() {
        let with = |extra: &str| validate(&req(&format!("{}{extra}", base())), false);
        assert_eq!(
            with(&format!(
                "&code_challenge={CHALLENGE}&code_challenge_method=S256"
            ))
            .unwrap()
            .code_challenge
            .as_deref(),
            Some(CHALLENGE)
        );
        assert!(
            with(&format!("&code_challenge={CHALLENGE}")).is_err(),
            "plain by default"
        );
        assert!(
            with(&format!(
                "&code_challenge={CHALLENGE}&code_challenge_method=plain"
            ))
            .is_err()
        );
        assert!(with("&code_challenge=short&code_challenge_method=S256").is_err());
        assert!(with("&code_challenge_method=S256").is_err());
        let public = validate(&req(&base()), true).unwrap_err();
        assert!(public.description.contains("PKCE"));
    }

    #[test]
    fn realm_from_tenant_or_login_hint() {
        let q = base().replace("&tenant=acme", "&login_hint=Ann%40Example.COM");
        let v = validate(&req(&q), false).unwrap();
        assert_eq!(
            v.realm,
            Realm::EmailDomain(DomainName::parse("example.com").unwrap())
        );
        assert_eq!(v.login_hint.as_deref(), Some("Ann@Example.COM"));
        let q = base().replace("&tenant=acme", "");
        assert_eq!(
            validate(&req(&q), false).unwrap_err().code,
            AuthorizeErrorCode::InvalidRequest
        );
        let q = base().replace("&tenant=acme", "&login_hint=nobody");
        assert!(validate(&req(&q), false).is_err());
        let q = base().replace("tenant=acme", "tenant=Not_A_Slug");
        assert!(validate(&req(&q), false).is_err());
    }

    #[test]
    fn prompt_none_and_request_objects_are_refused() {
        let e = validate(&req(&format!("{}&prompt=none", base())), false).unwrap_err();
        assert_eq!(e.code, AuthorizeErrorCode::LoginRequired);
        let e = validate(&req(&format!("{}&request=eyJ", base())), false).unwrap_err();
        assert_eq!(e.code, AuthorizeErrorCode::RequestNotSupported);
        let e = validate(&req(&format!("{}&response_mode=fragment", base())), false).unwrap_err();
        assert_eq!(e.code, AuthorizeErrorCode::InvalidRequest);
    }

    #[test]
    fn oversized_state_is_not_echoed() {
        let q = format!(
            "{}{}",
            base().replace("state=s1", "state="),
            "x".repeat(3000)
        );
        let r = req(&q);
        assert_eq!(r.state(), None);
        assert!(validate(&r, false).is_err());
    }

    #[test]
    fn error_url_keeps_the_registered_query() {
        let e = AuthorizeError::new(AuthorizeErrorCode::AccessDenied, "no");
        let url = error_url("https://app/cb?x=1", &e, Some("st"), "https://idb").unwrap();
        assert_eq!(
            url.as_str(),
            "https://app/cb?x=1&error=access_denied&error_description=no&state=st&iss=https%3A%2F%2Fidb"
        );
    }
}
