//! `idbridge dev-idp`: a test identity provider for local development, so an app
//! developer can go from nothing to an ID token and a provisioned directory without
//! an Entra ID, Okta or Google tenant: a SAML IdP, an OpenID Provider (its issuer is
//! the dev IdP's URL; any client_id, the secret [`DEFAULT_CLIENT_SECRET`] unless
//! configured) and a SCIM provisioner. **Never for production: it signs whatever is
//! typed into it.**
//!
//! - [`identity`]: the signing key and self-signed certificate, made once and kept
//!   in a state directory (so the metadata an SP stored stays valid), and a second,
//!   wrong key. The same RSA key signs the OpenID Provider's ID tokens (RS256, its
//!   `kid` the RFC 7638 thumbprint, published at `/oidc/jwks`).
//! - [`saml`]: Response and Assertion XML shaped like Entra ID's or Okta's, signed
//!   through xmlsec; also what the test suite's `TestIdp` signs with.
//! - [`sso`]: the AuthnRequest read from the HTTP-Redirect binding, the sign-in form's
//!   person, flavor and deliberate failure, and the response they make.
//! - [`oidc`]: the OpenID Provider's rules, pure: authorization requests, client
//!   authentication, codes (single-use, 60 seconds, PKCE S256), and ID tokens and
//!   userinfo shaped like Entra ID's, Okta's or Google's, with deliberate failures.
//! - [`web`]: the axum router (`/metadata`, `/sso`, `/sso/initiate`, and the
//!   OpenID Provider's `/.well-known/openid-configuration`, `/oidc/authorize`,
//!   `/oidc/token`, `/oidc/jwks`, `/oidc/userinfo`), pages from askama templates.
//! - [`provision`]: a SCIM client that pushes a sample directory the way Entra ID's
//!   provisioning cycle does.

pub mod identity;
pub mod oidc;
mod oidc_web;
pub mod provision;
pub mod saml;
pub mod sso;
pub mod web;

use std::net::SocketAddr;

pub use identity::{Identity, IdentityError, default_state_dir};
pub use oidc::{ClientConfig as OidcClients, DEFAULT_CLIENT_SECRET, OidcFailure, OidcFlavor};
pub use provision::{ProvisionError, ProvisionOptions, Summary, provision};
pub use sso::{Failure, Flavor};
pub use web::{ConfigError, DevIdp, Now};

/// Printed (and logged) when the dev IdP starts.
pub const WARNING: &str = "idbridge dev-idp is a TEST identity provider: it signs whatever is typed into it. Never use it in production, and never configure a production tenant with its metadata.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to listen on {0}: it is not a loopback address, and the dev IdP signs whatever anyone who reaches it types. Listen on 127.0.0.1 or [::1], or pass --allow-non-loopback if you really mean it"
)]
pub struct NonLoopback(pub SocketAddr);

/// Refuses a listen address others could reach, unless `allow_non_loopback`.
pub fn check_listen(addr: SocketAddr, allow_non_loopback: bool) -> Result<(), NonLoopback> {
    if addr.ip().is_loopback() || allow_non_loopback {
        Ok(())
    } else {
        Err(NonLoopback(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_unless_allowed() {
        let ok: SocketAddr = "127.0.0.1:9090".parse().expect("addr");
        let v6: SocketAddr = "[::1]:9090".parse().expect("addr");
        let any: SocketAddr = "0.0.0.0:9090".parse().expect("addr");
        assert!(check_listen(ok, false).is_ok());
        assert!(check_listen(v6, false).is_ok());
        assert_eq!(check_listen(any, false), Err(NonLoopback(any)));
        assert!(check_listen(any, true).is_ok());
    }
}
