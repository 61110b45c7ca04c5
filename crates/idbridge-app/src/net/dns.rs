//! DNS lookups for domain verification: the TXT record at
//! `_idbridge-verification.<domain>`, asked fresh on every check.
//!
//! The resolver is the system's (`/etc/resolv.conf`) unless `--dns-resolver` names one
//! server, which is then the only one asked, over UDP and TCP. Answers are not cached:
//! an admin who has just published the record, or a re-check after it was removed,
//! must see DNS as it is now, not as this process saw it an hour ago.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use idbridge_core::domain::{DnsCheck, DomainName, txt_record_value, txt_records_match};

/// How long one query may take; a whole check is bounded by [`CHECK_TIMEOUT`].
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// A check answers the admin's request, so it must end quickly whatever DNS does.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Looks verification records up. Cheap to clone.
#[derive(Clone)]
pub struct DomainVerifier {
    resolver: Result<Arc<TokioResolver>, Arc<str>>,
}

impl std::fmt::Debug for DomainVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainVerifier")
            .field("ready", &self.resolver.is_ok())
            .finish()
    }
}

impl DomainVerifier {
    /// The system's resolvers, or only `name_server` when given.
    ///
    /// Never fails: a system without a usable resolver configuration gets a verifier
    /// whose every check reports `dns_error` (and a warning now), so the rest of the
    /// service still starts.
    pub fn new(name_server: Option<SocketAddr>) -> Self {
        let built = match name_server {
            Some(addr) => Ok(Resolver::builder_with_config(
                single_server(addr),
                TokioRuntimeProvider::default(),
            )),
            None => Resolver::builder_tokio(),
        }
        .and_then(|mut builder| {
            fresh_answers(builder.options_mut());
            builder.build()
        });
        let resolver = match built {
            Ok(resolver) => Ok(Arc::new(resolver)),
            Err(error) => {
                tracing::warn!(%error, "no usable DNS resolver configuration; domain verification will fail until this is fixed");
                Err(Arc::from(error.to_string()))
            }
        };
        Self { resolver }
    }

    /// Whether a TXT record at the domain's verification name carries
    /// `idbridge-verification=<token>`.
    pub async fn check(&self, domain: &DomainName, token: &str) -> DnsCheck {
        let resolver = match &self.resolver {
            Ok(resolver) => resolver,
            Err(_) => return DnsCheck::DnsError,
        };
        // The trailing dot makes the name absolute: no search domains are tried.
        let name = format!("{}.", domain.txt_record_name());
        let lookup = match tokio::time::timeout(CHECK_TIMEOUT, resolver.txt_lookup(name)).await {
            Ok(lookup) => lookup,
            Err(_) => return DnsCheck::Timeout,
        };
        match lookup {
            Ok(lookup) => {
                let records = lookup.answers().iter().filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(txt.txt_data.iter()),
                    _ => None,
                });
                if txt_records_match(records, &txt_record_value(token)) {
                    DnsCheck::Found
                } else {
                    DnsCheck::TxtRecordNotFound
                }
            }
            Err(error) => classify(&error, domain),
        }
    }
}

fn classify(error: &NetError, domain: &DomainName) -> DnsCheck {
    if error.is_nx_domain() {
        DnsCheck::NxDomain
    } else if error.is_no_records_found() {
        DnsCheck::TxtRecordNotFound
    } else if matches!(error, NetError::Timeout) {
        DnsCheck::Timeout
    } else {
        tracing::info!(%domain, %error, "DNS lookup of a verification record failed");
        DnsCheck::DnsError
    }
}

/// One name server, UDP first and TCP for truncated answers.
fn single_server(addr: SocketAddr) -> ResolverConfig {
    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
    for connection in &mut server.connections {
        connection.port = addr.port();
    }
    ResolverConfig::from_name_servers(vec![server])
}

/// No cache worth the name (every TTL clamped to zero), short timeouts, and no
/// `/etc/hosts`: a verification must reflect DNS now.
fn fresh_answers(options: &mut ResolverOpts) {
    options.timeout = QUERY_TIMEOUT;
    options.attempts = 2;
    options.cache_size = 0;
    options.positive_min_ttl = Some(Duration::ZERO);
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_min_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    options.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
}
