//! `/oauth/token`: the request, how the client authenticates, and whether a stored
//! authorization code may be exchanged (RFC 6749 §4.1.3, §5.2; RFC 7636 §4.6).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::params::Params;
use crate::pkce;

/// The error codes of RFC 6749 §5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
}

impl TokenErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenErrorCode::InvalidRequest => "invalid_request",
            TokenErrorCode::InvalidClient => "invalid_client",
            TokenErrorCode::InvalidGrant => "invalid_grant",
            TokenErrorCode::UnauthorizedClient => "unauthorized_client",
            TokenErrorCode::UnsupportedGrantType => "unsupported_grant_type",
        }
    }

    /// 401 for a client that failed to authenticate (with `WWW-Authenticate`), 400
    /// for everything else (RFC 6749 §5.2).
    pub fn http_status(self) -> u16 {
        match self {
            TokenErrorCode::InvalidClient => 401,
            _ => 400,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct TokenError {
    pub code: TokenErrorCode,
    pub description: String,
}

impl TokenError {
    pub fn new(code: TokenErrorCode, description: impl Into<String>) -> Self {
        TokenError {
            code,
            description: description.into(),
        }
    }
}

fn invalid_request(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidRequest, description)
}

fn invalid_client(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidClient, description)
}

/// How the client said who it is. The secret is checked by the caller against the
/// stored digest; this only reads the request.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    Basic { client_id: String, secret: String },
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    Post { client_id: String, secret: String },
    /// A public client: `client_id` only, PKCE required.
    None { client_id: String },
}

impl ClientAuth {
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuth::Basic { client_id, .. }
            | ClientAuth::Post { client_id, .. }
            | ClientAuth::None { client_id } => client_id,
        }
    }

    pub fn secret(&self) -> Option<&str> {
        match self {
            ClientAuth::Basic { secret, .. } | ClientAuth::Post { secret, .. } => Some(secret),
            ClientAuth::None { .. } => None,
        }
    }
}

/// A parsed `grant_type=authorization_code` request.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub client: ClientAuth,
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

/// Reads the `Authorization: Basic` value: base64 of `id:secret`, each
/// form-urlencoded first (RFC 6749 §2.3.1).
fn basic_credentials(header: &str) -> Result<(String, String), TokenError> {
    let bad = || invalid_client("malformed HTTP Basic credentials");
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client("client authentication must use HTTP Basic"));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((unescape(id), unescape(secret)))
}

impl TokenRequest {
    /// Parses the form body and the `Authorization` header. Refuses two ways of
    /// authenticating at once (RFC 6749 §2.3), a grant type other than
    /// `authorization_code`, and a missing code.
    pub fn parse(body: &[u8], authorization: Option<&str>) -> Result<Self, TokenError> {
        let p = Params::parse(body).map_err(|d| invalid_request(&d.to_string()))?;
        match p.get("grant_type") {
            None => return Err(invalid_request("grant_type is required")),
            Some("authorization_code") => {}
            Some(_) => {
                return Err(TokenError::new(
                    TokenErrorCode::UnsupportedGrantType,
                    "only grant_type=authorization_code is supported",
                ));
            }
        }
        let client = match (authorization, p.get("client_secret")) {
            (Some(_), Some(_)) => {
                return Err(invalid_request(
                    "use one client authentication method, not both",
                ));
            }
            (Some(header), None) => {
                let (client_id, secret) = basic_credentials(header)?;
                if p.get("client_id")
                    .is_some_and(|body_id| body_id != client_id)
                {
                    return Err(invalid_request(
                        "client_id differs from the Basic credentials",
                    ));
                }
                ClientAuth::Basic { client_id, secret }
            }
            (None, Some(secret)) => ClientAuth::Post {
                client_id: p
                    .get("client_id")
                    .ok_or_else(|| invalid_client("client_secret without client_id"))?
                    .to_owned(),
                secret: secret.to_owned(),
            },
            (None, None) => ClientAuth::None {
                client_id: p
                    .get("client_id")
                    .ok_or_else(|| invalid_client("no client authentication"))?
                    .to_owned(),
            },
        };
        let code = p
            .get("code")
            .ok_or_else(|| invalid_request("code is required"))?
            .to_owned();
        Ok(TokenRequest {
            client,
            code,
            redirect_uri: p.get("redirect_uri").map(str::to_owned),
            code_verifier: p.get("code_verifier").map(str::to_owned),
        })
    }
}

/// What a stored code is bound to.
#[derive(Debug, Clone, Copy)]
pub struct CodeBinding<'a> {
    pub client_id: Uuid,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    pub expires_at: OffsetDateTime,
}

/// Why a code, found unused, may not be exchanged. All are `invalid_grant` to the
/// client; the variants are for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    #[error("the code has expired")]
    Expired,
    #[error("the code was issued to another client")]
    WrongClient,
    #[error("redirect_uri differs from the authorization request's")]
    RedirectUriMismatch,
    #[error("the code was issued with PKCE: code_verifier is required")]
    VerifierMissing,
    #[error("code_verifier does not match the code_challenge")]
    VerifierMismatch,
    #[error("code_verifier sent for a code issued without PKCE")]
    VerifierUnexpected,
    #[error("the code has already been used")]
    AlreadyUsed,
    #[error("the code is not known")]
    Unknown,
    #[error("the user is deactivated")]
    UserInactive,
}

impl GrantRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            GrantRefusal::Expired => "code_expired",
            GrantRefusal::WrongClient => "code_wrong_client",
            GrantRefusal::RedirectUriMismatch => "redirect_uri_mismatch",
            GrantRefusal::VerifierMissing => "pkce_verifier_missing",
            GrantRefusal::VerifierMismatch => "pkce_mismatch",
            GrantRefusal::VerifierUnexpected => "pkce_unexpected",
            GrantRefusal::AlreadyUsed => "code_reused",
            GrantRefusal::Unknown => "code_unknown",
            GrantRefusal::UserInactive => "user_inactive",
        }
    }

    pub fn to_error(self) -> TokenError {
        TokenError::new(TokenErrorCode::InvalidGrant, self.to_string())
    }
}

/// Whether `request`, from the authenticated client `client_id`, may exchange a
/// code bound as `code` at `now`.
pub fn check_code(
    code: &CodeBinding<'_>,
    client_id: Uuid,
    request: &TokenRequest,
    now: OffsetDateTime,
) -> Result<(), GrantRefusal> {
    if code.client_id != client_id {
        return Err(GrantRefusal::WrongClient);
    }
    if now >= code.expires_at {
        return Err(GrantRefusal::Expired);
    }
    // The authorization request always carries redirect_uri (OIDC requires it), so
    // the token request must repeat it (RFC 6749 §4.1.3).
    if request.redirect_uri.as_deref() != Some(code.redirect_uri) {
        return Err(GrantRefusal::RedirectUriMismatch);
    }
    match (code.code_challenge, request.code_verifier.as_deref()) {
        (Some(_), None) => Err(GrantRefusal::VerifierMissing),
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(GrantRefusal::VerifierMismatch),
        // A verifier for a code without a challenge: the request that started the
        // flow was not the one this client made (a PKCE downgrade).
        (None, Some(_)) => Err(GrantRefusal::VerifierUnexpected),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn client_secret_basic() {
        let r = TokenRequest::parse(
            b"grant_type=authorization_code&code=c1&redirect_uri=https%3A%2F%2Fa%2Fcb",
            Some(&basic("id%3A1", "s%2Bx")),
        )
        .unwrap();
        assert_eq!(
            r.client,
            ClientAuth::Basic {
                client_id: "id:1".into(),
                secret: "s+x".into()
            }
        );
        assert_eq!(r.redirect_uri.as_deref(), Some("https://a/cb"));
    }

    #[test]
    fn client_secret_post_and_public() {
        let r = TokenRequest::parse(
            b"grant_type=authorization_code&code=c&client_id=a&client_secret=b",
            None,
        )
        .unwrap();
        assert_eq!(r.client.secret(), Some("b"));
        let r =
            TokenRequest::parse(b"grant_type=authorization_code&code=c&client_id=a", None).unwrap();
        assert_eq!(
            r.client,
            ClientAuth::None {
                client_id: "a".into()
            }
        );
    }

    #[test]
    fn refusals() {
        let e = |body: &[u8], auth: Option<&str>| TokenRequest::parse(body, auth).unwrap_err().code;
        assert_eq!(
            e(b"code=c&client_id=a", None),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            e(b"grant_type=password&code=c", None),
            TokenErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            e(b"grant_type=authorization_code&code=c", None),
            TokenErrorCode::InvalidClient
        );
        assert_eq!(
            e(
                b"grant_type=authorization_code&code=c&client_secret=x",
                Some(&basic("a", "b"))
            ),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            e(b"grant_type=authorization_code&code=c", Some("Bearer x")),
            TokenErrorCode::InvalidClient
        );
        assert_eq!(
            e(b"grant_type=authorization_code&code=c", Some("Basic !!!")),
            TokenErrorCode::InvalidClient
        );
        assert_eq!(
            e(
                b"grant_type=authorization_code&client_id=a&client_secret=b",
                None
            ),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            e(
                b"grant_type=authorization_code&code=c&code=d&client_id=a",
                None
            ),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(TokenErrorCode::InvalidClient.http_status(), 401);
    }

    fn request(redirect: Option<&str>, verifier: Option<&str>) -> TokenRequest {
        TokenRequest {
            client: ClientAuth::None {
                client_id: "x".into(),
            },
            code: "c".into(),
            redirect_uri: redirect.map(str::to_owned),
            code_verifier: verifier.map(str::to_owned),
        }
    }

    #[test]
    fn code_binding() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let client = Uuid::from_u128(7);
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = pkce::s256(verifier);
        let code = CodeBinding {
            client_id: client,
            redirect_uri: "https://a/cb",
            code_challenge: Some(&challenge),
            expires_at: now + time::Duration::seconds(60),
        };
        let ok = request(Some("https://a/cb"), Some(verifier));
        assert_eq!(check_code(&code, client, &ok, now), Ok(()));
        assert_eq!(
            check_code(&code, Uuid::from_u128(8), &ok, now),
            Err(GrantRefusal::WrongClient)
        );
        assert_eq!(
            check_code(&code, client, &ok, now + time::Duration::seconds(60)),
            Err(GrantRefusal::Expired)
        );
        assert_eq!(
            check_code(
                &code,
                client,
                &request(Some("https://a/cb2"), Some(verifier)),
                now
            ),
            Err(GrantRefusal::RedirectUriMismatch)
        );
        assert_eq!(
            check_code(&code, client, &request(None, Some(verifier)), now),
            Err(GrantRefusal::RedirectUriMismatch)
        );
        assert_eq!(
            check_code(&code, client, &request(Some("https://a/cb"), None), now),
            Err(GrantRefusal::VerifierMissing)
        );
        let wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            check_code(
                &code,
                client,
                &request(Some("https://a/cb"), Some(wrong)),
                now
            ),
            Err(GrantRefusal::VerifierMismatch)
        );
        let plain = CodeBinding {
            code_challenge: None,
            ..code
        };
        assert_eq!(
            check_code(&plain, client, &ok, now),
            Err(GrantRefusal::VerifierUnexpected)
        );
        assert_eq!(
            check_code(&plain, client, &request(Some("https://a/cb"), None), now),
            Ok(())
        );
    }
}
