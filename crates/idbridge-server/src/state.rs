use std::sync::Arc;

use idbridge_core::secret::BootstrapAdminKey;
use idbridge_core::{Clock, TenantSlug};
use idbridge_store::Store;
use url::Url;

use crate::client_address::TrustedProxies;
use crate::dns::DomainVerifier;
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::rate_limit::{ClientRateLimiter, RateLimitQuota};

/// What every handler can reach. Cheap to clone (all `Arc`s). Holds no state of its
/// own that matters across requests: that lives in the store, shared by all processes.
/// (The rate limiter's counters are the one deliberate exception: approximate,
/// per process, and kept out of the database so that counting is not a write.)
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<ServerConfig>,
    pub metrics: Arc<Metrics>,
    /// The client for URLs that come from outside (metadata URLs).
    pub fetcher: Fetcher,
    /// Parsed ID token signing keys by kid (which key is active is read from the
    /// store on every use).
    pub signing_keys: Arc<crate::oidc::KeyCache>,
    /// DNS lookups for domain verification (`--dns-resolver`, else the system's).
    pub domains: DomainVerifier,
    /// The per-client-address limit on the unauthenticated routes that write rows;
    /// `None` when `--rate-limit-per-minute 0` turned it off.
    pub rate_limiter: Option<Arc<ClientRateLimiter>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ServerConfig) -> Self {
        Self {
            fetcher: Fetcher::new(config.allow_private_urls),
            domains: DomainVerifier::new(config.dns_resolver),
            rate_limiter: config.rate_limit.map(|quota| {
                Arc::new(ClientRateLimiter::new(
                    quota,
                    config.trusted_proxies.clone(),
                ))
            }),
            store,
            clock,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            signing_keys: Arc::default(),
        }
    }
}

/// Settings the HTTP surfaces need.
#[derive(Debug)]
pub struct ServerConfig {
    /// Base of every URL idbridge hands out. Never ends with `/`.
    pub public_url: PublicUrl,
    /// The operator's bootstrap key from `--admin-api-key`, if any.
    pub bootstrap_admin_key: Option<BootstrapAdminKey>,
    /// `--allow-private-urls`: outside URLs may reach private and loopback addresses
    /// (and use http). Off in production; tests and private deployments need it.
    pub allow_private_urls: bool,
    /// `--dns-resolver`: the one DNS server domain verification asks; `None` means
    /// the system's resolvers.
    pub dns_resolver: Option<std::net::SocketAddr>,
    /// `--rate-limit-per-minute` and `--rate-limit-burst`: the budget of each client
    /// address on `/saml/{slug}/login`, `/saml/{slug}/acs` and `/oauth/authorize`.
    /// `None` turns the limit off.
    pub rate_limit: Option<RateLimitQuota>,
    /// `--trusted-proxies`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

/// The externally visible base URL: scheme, host, optional port and optional path
/// prefix, with no trailing slash, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPublicUrl {
    #[error("the public URL is not an absolute URL: {0}")]
    NotAbsolute(String),
    #[error("the public URL must use http or https")]
    BadScheme,
    #[error("the public URL must not carry a query, a fragment or user info")]
    HasExtras,
}

impl PublicUrl {
    pub fn parse(input: &str) -> Result<Self, InvalidPublicUrl> {
        let url = Url::parse(input).map_err(|e| InvalidPublicUrl::NotAbsolute(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(InvalidPublicUrl::BadScheme);
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(InvalidPublicUrl::HasExtras);
        }
        Ok(Self(url.as_str().trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{public-url}{path}`; `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// SP Entity ID = `{public-url}/saml/{slug}` (fixed by the contract).
    pub fn saml_entity_id(&self, slug: &TenantSlug) -> String {
        self.join(&format!("/saml/{slug}"))
    }

    /// ACS URL = `{public-url}/saml/{slug}/acs`.
    pub fn saml_acs_url(&self, slug: &TenantSlug) -> String {
        self.join(&format!("/saml/{slug}/acs"))
    }

    pub fn saml_metadata_url(&self, slug: &TenantSlug) -> String {
        self.join(&format!("/saml/{slug}/metadata"))
    }

    /// The SCIM "Tenant URL" pasted into Entra ID or Okta.
    pub fn scim_base_url(&self, slug: &TenantSlug) -> String {
        self.join(&format!("/scim/v2/{slug}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_is_normalised_without_trailing_slash() {
        let url = PublicUrl::parse("https://id.example.com/").expect("valid");
        assert_eq!(url.as_str(), "https://id.example.com");
        let slug = TenantSlug::parse("acme").expect("slug");
        assert_eq!(
            url.saml_entity_id(&slug),
            "https://id.example.com/saml/acme"
        );
        assert_eq!(
            url.saml_acs_url(&slug),
            "https://id.example.com/saml/acme/acs"
        );
        assert_eq!(
            url.scim_base_url(&slug),
            "https://id.example.com/scim/v2/acme"
        );
        let prefixed = PublicUrl::parse("https://example.com/idp/").expect("valid");
        assert_eq!(
            prefixed.scim_base_url(&slug),
            "https://example.com/idp/scim/v2/acme"
        );
    }

    #[test]
    fn public_url_refuses_what_cannot_be_a_base() {
        assert_eq!(
            PublicUrl::parse("ftp://x.example"),
            Err(InvalidPublicUrl::BadScheme)
        );
        assert_eq!(
            PublicUrl::parse("https://x.example/?a=b"),
            Err(InvalidPublicUrl::HasExtras)
        );
        assert_eq!(
            PublicUrl::parse("https://u:p@x.example"),
            Err(InvalidPublicUrl::HasExtras)
        );
        assert!(matches!(
            PublicUrl::parse("x.example"),
            Err(InvalidPublicUrl::NotAbsolute(_))
        ));
    }
}
