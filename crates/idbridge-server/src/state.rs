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
}

impl AppState {
    pub fn new(app: App, config: ServerConfig) -> Self {
        Self {
            rate_limiter: config.rate_limit.map(|quota| {
                Arc::new(ClientRateLimiter::new(
                    quota,
                    config.trusted_proxies.clone(),
                ))
            }),
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
}
