use std::sync::Arc;

use idbridge_app::App;
use idbridge_core::secret::BootstrapAdminKey;

use crate::client_address::TrustedProxies;
use crate::metrics::Metrics;
use crate::rate_limit::{ClientRateLimiter, RateLimitQuota};

/// What every handler can reach: the application, and what only the HTTP surfaces
/// need. Cheap to clone (all `Arc`s). Holds no state of its own that matters across
/// requests: that lives in the store, shared by all processes. (The rate limiter's
/// counters are the one deliberate exception: approximate, per process, and kept
/// out of the database so that counting is not a write.)
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub config: Arc<ServerConfig>,
    pub metrics: Arc<Metrics>,
    /// The per-client-address limit on the unauthenticated routes that write rows;
    /// `None` when `--rate-limit-per-minute 0` turned it off.
    pub rate_limiter: Option<Arc<ClientRateLimiter>>,
    /// The same limit, a budget of its own, on the provisioning log lines written
    /// for SCIM requests refused before their caller was known (a bad token):
    /// anyone can send those, and each would otherwise be a row.
    pub scim_refusal_limiter: Option<Arc<ClientRateLimiter>>,
}

impl AppState {
    pub fn new(app: App, config: ServerConfig) -> Self {
        let limiter = || {
            config.rate_limit.map(|quota| {
                Arc::new(ClientRateLimiter::new(
                    quota,
                    config.trusted_proxies.clone(),
                ))
            })
        };
        Self {
            rate_limiter: limiter(),
            scim_refusal_limiter: limiter(),
            app,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
        }
    }
}

/// Settings only the HTTP surfaces need (the application's are in [`App`]).
#[derive(Debug, Default)]
pub struct ServerConfig {
    /// The operator's bootstrap key from `--admin-api-key`, if any.
    pub bootstrap_admin_key: Option<BootstrapAdminKey>,
    /// `--rate-limit-per-minute` and `--rate-limit-burst`: the budget of each client
    /// address on `/saml/{slug}/login`, `/saml/{slug}/acs` and `/oauth/authorize`.
    /// `None` turns the limit off.
    pub rate_limit: Option<RateLimitQuota>,
    /// `--trusted-proxies`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// `--scim-max-body-bytes`: the largest SCIM request body.
    pub scim_body_limit: ScimBodyLimit,
}

/// The largest SCIM request body accepted, in bytes; a larger one gets 413 in SCIM's
/// error format before it is read, and `/ServiceProviderConfig` advertises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimBodyLimit(usize);

impl ScimBodyLimit {
    /// 1 MiB: a group PATCH adding some 20,000 members, or a user a hundred times
    /// larger than any IdP sends.
    pub const DEFAULT_BYTES: usize = 1024 * 1024;
    /// Below this no real user fits (a user with its enterprise extension is ~1 KiB).
    pub const MIN_BYTES: usize = 4 * 1024;

    /// `None` below [`Self::MIN_BYTES`].
    pub fn new(bytes: usize) -> Option<Self> {
        (bytes >= Self::MIN_BYTES).then_some(Self(bytes))
    }

    pub fn bytes(self) -> usize {
        self.0
    }
}

/// A `--scim-max-body-bytes` that is not a whole number of at least
/// [`ScimBodyLimit::MIN_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("the SCIM body limit must be a whole number of bytes, at least {min}", min = ScimBodyLimit::MIN_BYTES)]
pub struct InvalidScimBodyLimit;

impl std::str::FromStr for ScimBodyLimit {
    type Err = InvalidScimBodyLimit;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<usize>()
            .ok()
            .and_then(Self::new)
            .ok_or(InvalidScimBodyLimit)
    }
}

impl std::fmt::Display for ScimBodyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Default for ScimBodyLimit {
    fn default() -> Self {
        Self(Self::DEFAULT_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::ScimBodyLimit;

    #[test]
    fn a_scim_body_limit_is_a_whole_number_of_at_least_4_kib() {
        assert_eq!(
            "1048576"
                .parse::<ScimBodyLimit>()
                .map(ScimBodyLimit::bytes)
                .ok(),
            Some(1_048_576)
        );
        assert_eq!(
            " 4096 "
                .parse::<ScimBodyLimit>()
                .map(ScimBodyLimit::bytes)
                .ok(),
            Some(4096)
        );
        for bad in ["4095", "0", "-1", "1MiB", "", "1e6"] {
            assert!(bad.parse::<ScimBodyLimit>().is_err(), "{bad:?}");
        }
        assert_eq!(ScimBodyLimit::default().to_string(), "1048576");
    }
}
