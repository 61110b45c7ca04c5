//! idbridge's application layer: the rules of the product, between the HTTP
//! surfaces (`idbridge-server`) and storage (`idbridge-store`).
//!
//! It knows nothing of HTTP: no requests, status codes, headers or pages. A caller
//! (an HTTP handler, the CLI, a test) hands it plain values and gets back records,
//! typed outcomes or typed errors with a stable `reason()`; each surface decides
//! how to say them. Protocol work stays in the pure cores (`idbridge-saml`,
//! `idbridge-scim`, `idbridge-oidc`); this crate looks things up, applies the
//! product's rules, and stores what comes out, in one place for every surface.
//!
//! Like the server, it holds no state that matters across requests: that lives in
//! the store, shared by every process.

pub mod audit;
pub mod branding;
pub mod clients;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod directory;
pub mod domains;
mod error;
pub mod idp_connections;
pub mod jobs;
pub mod keys;
pub mod mail;
pub mod net;
pub mod operators;
pub mod paging;
pub mod roles;
pub mod setup_links;
pub mod shown_once;
pub mod sign_in;
pub mod tenants;
pub mod views;
pub mod webhooks;

use std::sync::{Arc, OnceLock};

use idbridge_core::Clock;
use idbridge_store::Store;

pub use config::{AppConfig, InvalidPublicUrl, PublicUrl, Retention};
pub use error::{Error, Result};

/// The application: what every operation needs. Cheap to clone (all `Arc`s), and
/// cheap to make: the outbound clients are built on first use, so an operator
/// command that never fetches or asks DNS builds neither.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<AppConfig>,
    outbound: Arc<Outbound>,
    /// Parsed ID token signing keys by kid (which key is active is read from the
    /// store on every use).
    pub signing_keys: Arc<keys::KeyCache>,
    /// Outbound mail (`--smtp-url`); `None`: no mail is queued or sent.
    mailer: Option<mail::SharedMailer>,
}

#[derive(Default)]
struct Outbound {
    fetcher: OnceLock<net::Fetcher>,
    dns: OnceLock<net::DomainVerifier>,
}

impl App {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: AppConfig) -> Self {
        Self {
            store,
            clock,
            config: Arc::new(config),
            outbound: Arc::default(),
            signing_keys: Arc::default(),
            mailer: None,
        }
    }

    /// With outbound mail: invitations are queued and [`jobs::spawn`] sends them.
    pub fn with_mailer(mut self, mailer: mail::Mailer) -> Self {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    /// The outbound mail settings, when SMTP is configured. A write that would
    /// queue mail (an invitation) queues it only then.
    pub fn mailer(&self) -> Option<&mail::Mailer> {
        self.mailer.as_deref()
    }

    /// Builds the outbound clients now rather than on first use: `serve` does, so
    /// that a TLS backend or resolver configuration that cannot start shows at
    /// start-up, not at the first fetch.
    pub fn build_outbound(&self) {
        self.fetcher();
        self.dns();
    }

    /// The client for URLs that come from outside (metadata URLs, webhooks).
    pub fn fetcher(&self) -> &net::Fetcher {
        self.outbound
            .fetcher
            .get_or_init(|| net::Fetcher::new(self.config.allow_private_urls))
    }

    /// DNS lookups for domain verification (`--dns-resolver`, else the system's).
    pub fn dns(&self) -> &net::DomainVerifier {
        self.outbound
            .dns
            .get_or_init(|| net::DomainVerifier::new(self.config.dns_resolver))
    }
}
