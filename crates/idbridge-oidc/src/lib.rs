//! The OpenID Connect provider's protocol core: what `/oauth/authorize` and
//! `/oauth/token` accept and refuse, PKCE, ID token claims, signing keys and the
//! discovery document.
//!
//! Pure, like `idbridge-saml`: inputs are parsed requests, stored records and the
//! time the caller passes in; outputs are decisions, URLs and signed tokens. The
//! server looks things up and stores them; every rule about what is allowed lives
//! here, where it is tested without a database or a socket.

// Tests unwrap freely: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod authorize;
pub mod claims;
pub mod discovery;
pub mod keys;
pub mod params;
pub mod pkce;
pub mod token;
pub mod upstream;

pub use authorize::{AuthorizeError, AuthorizeErrorCode, AuthorizeRequest, ValidAuthorize};
pub use keys::{KeyError, SigningAlgorithm, SigningKey};
pub use token::{ClientAuth, GrantRefusal, TokenError, TokenErrorCode, TokenRequest};

/// The scopes idbridge knows. `openid` is required; `email` and `profile` select
/// claims.
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "email", "profile"];

/// How long an authorization code waits for the token endpoint (at most 60 s, as the
/// OIDC core spec and OAuth 2.1 recommend: codes travel through browsers and logs).
pub const CODE_TTL: time::Duration = time::Duration::seconds(60);

/// How long an access token (for `/oauth/userinfo`) and an ID token are valid. Short:
/// the app keeps its own session; idbridge's tokens only carry the sign-in to it.
pub const TOKEN_TTL: time::Duration = time::Duration::minutes(15);
