//! The settings the application needs, and the public URL every handed-out address
//! is built from.

use idbridge_core::TenantSlug;
use url::Url;

/// What the application is told at start.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Base of every URL idbridge hands out. Never ends with `/`.
    pub public_url: PublicUrl,
    /// `--allow-private-urls`: outside URLs may reach private and loopback addresses
    /// (and use http). Off in production; tests and private deployments need it.
    pub allow_private_urls: bool,
    /// `--dns-resolver`: the one DNS server domain verification asks; `None` means
    /// the system's resolvers.
    pub dns_resolver: Option<std::net::SocketAddr>,
    /// How long the directory's history is kept.
    pub retention: Retention,
    /// The operator's secret keys (`--secret-key`): seal the client secrets of
    /// OpenID Connect connections. `None`: such secrets cannot be stored.
    pub secret_keys: Option<std::sync::Arc<idbridge_core::sealed::Keyring>>,
}

/// How long the directory's history is kept, in days; `0` keeps it for ever. The
/// housekeeping round deletes what is older.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `--event-retention-days`: the event feed. An event a webhook endpoint (even a
    /// disabled or dead one) has not yet delivered is kept whatever its age.
    pub event_days: u32,
    /// `--provisioning-log-retention-days`: the SCIM provisioning log.
    pub provisioning_log_days: u32,
    /// `--audit-log-retention-days`: the audit log (0: for ever).
    pub audit_days: u32,
}

impl Retention {
    pub const DEFAULT_EVENT_DAYS: u32 = 90;
    pub const DEFAULT_PROVISIONING_LOG_DAYS: u32 = 30;
    /// Security reviews ask for a year of who-changed-what (SOC 2's usual window).
    pub const DEFAULT_AUDIT_DAYS: u32 = 365;

    /// History older than this may go, for a setting of `days` (`None`: kept).
    pub fn cutoff(days: u32, now: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
        (days > 0).then(|| now - time::Duration::days(i64::from(days)))
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            event_days: Self::DEFAULT_EVENT_DAYS,
            provisioning_log_days: Self::DEFAULT_PROVISIONING_LOG_DAYS,
            audit_days: Self::DEFAULT_AUDIT_DAYS,
        }
    }
}

impl AppConfig {
    /// Production defaults for everything but the public URL.
    pub fn new(public_url: PublicUrl) -> Self {
        Self {
            public_url,
            allow_private_urls: false,
            dns_resolver: None,
            retention: Retention::default(),
            secret_keys: None,
        }
    }
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
    /// Where a tenant's OpenID providers send the browser back (the "Redirect URI"
    /// an IT admin registers at the IdP).
    pub fn oidc_callback_url(&self, slug: &TenantSlug) -> String {
        self.join(&format!("/oidc/{slug}/callback"))
    }

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

#[cfg(test)]
mod retention_tests {
    use super::Retention;
    use time::macros::datetime;

    #[test]
    fn zero_days_keeps_history_for_ever() {
        let now = datetime!(2026-12-06 12:00 UTC);
        assert_eq!(Retention::cutoff(0, now), None);
        assert_eq!(
            Retention::cutoff(30, now),
            Some(datetime!(2026-11-06 12:00 UTC))
        );
    }
}
