//! Per-client flood protection for the unauthenticated routes that write rows:
//! `GET /saml/{slug}/login` and `GET /oauth/authorize` (each stores an AuthnRequest
//! for ten minutes) and `POST /saml/{slug}/acs` (every refusal is a sign-in log row
//! and a feed event). One budget per client address covers all three, since a
//! sign-in is one of the first two followed by the third.
//!
//! The counters live in this process's memory, on purpose: a counter in the
//! database would add a write to the very requests being limited, which is what a
//! flood must not be able to cause. So the limit is approximate and per process
//! (N processes behind a load balancer allow up to N times the budget): flood
//! protection, not accounting.
//!
//! Requests over the budget are answered 429 with `Retry-After` and the sign-in
//! error page before any handler runs, so they read and write nothing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, MonotonicClock};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::AppState;
use crate::client_address::{TrustedProxies, limit_key};
use crate::extract::request_client;
use crate::web::flow::FlowError;

/// How often addresses whose budget is full again are forgotten. The limiter's map
/// holds about the addresses seen in this interval (plus those still over budget),
/// so it stays small even when a flood comes from many addresses.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(10);

/// `--rate-limit-per-minute` and `--rate-limit-burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitQuota {
    /// Sustained requests per minute per client address.
    pub per_minute: NonZeroU32,
    /// Requests a client address may make at once before the sustained rate applies.
    pub burst: NonZeroU32,
}

impl RateLimitQuota {
    /// The defaults, sized for a large enterprise whose staff all come through one
    /// NAT egress address at 9 am (docs/operator-guide.md, "Rate limits"): 50,000 people, a quarter
    /// signing in within ten minutes, is 1,250 sign-ins a minute, two limited
    /// requests each.
    pub const DEFAULT_PER_MINUTE: u32 = 3000;
    pub const DEFAULT_BURST: NonZeroU32 = NonZeroU32::new(600).expect("non-zero");

    /// `None` when `per_minute` is 0: the limit is off.
    pub fn new(per_minute: u32, burst: NonZeroU32) -> Option<Self> {
        NonZeroU32::new(per_minute).map(|per_minute| Self { per_minute, burst })
    }
}

type KeyedLimiter = RateLimiter<IpAddr, DashMapStateStore<IpAddr>, MonotonicClock>;

/// The per-client-address limiter.
pub struct ClientRateLimiter {
    limiter: KeyedLimiter,
    trusted_proxies: TrustedProxies,
}

impl ClientRateLimiter {
    pub fn new(quota: RateLimitQuota, trusted_proxies: TrustedProxies) -> Self {
        let quota = Quota::per_minute(quota.per_minute).allow_burst(quota.burst);
        Self {
            // The clock is named rather than left to governor's default, which a
            // feature switched on elsewhere in the build could change.
            limiter: RateLimiter::dashmap_with_clock(quota, MonotonicClock),
            trusted_proxies,
        }
    }

    /// Takes one request from `client`'s budget; `Err` carries how long until the
    /// next one would be allowed.
    fn check(&self, client: IpAddr) -> Result<(), Duration> {
        self.limiter
            .check_key(&limit_key(client))
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// The client a request comes from, as this limiter keys it (the TCP peer, or
    /// `X-Forwarded-For` walked past the trusted proxies).
    pub fn client(&self, extensions: &http::Extensions, headers: &http::HeaderMap) -> IpAddr {
        request_client(extensions, headers, &self.trusted_proxies)
    }

    /// Takes one request from `client`'s budget: whether it had one.
    pub fn allows(&self, client: IpAddr) -> bool {
        self.check(client).is_ok()
    }

    /// Forgets addresses whose budget is full again (indistinguishable from a new
    /// client) and gives the memory back. Returns how many addresses are tracked.
    pub fn forget_idle(&self) -> usize {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.limiter.len()
    }
}

/// The middleware on the limited routes.
pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limiter) = state.rate_limiter.as_deref() else {
        return next.run(request).await;
    };
    // A router driven without the peer (an in-process test) puts every such request
    // in one shared bucket rather than none.
    let client = request_client(
        request.extensions(),
        request.headers(),
        &limiter.trusted_proxies,
    );
    let Err(wait) = limiter.check(client) else {
        return next.run(request).await;
    };
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let retry_after = retry_after.max(1);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    state.metrics.count_rate_limited(route);
    tracing::info!(
        client = %limit_key(client),
        route,
        retry_after_seconds = retry_after,
        "rate limited: too many sign-in requests from this client address"
    );
    let mut response = FlowError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "Too many sign-in attempts have come from your network. Wait {retry_after} \
             second{} and try again.",
            if retry_after == 1 { "" } else { "s" }
        ),
    )
    .page_unbranded(&state.app.config.public_url, request.headers());
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// Runs [`ClientRateLimiter::forget_idle`] every few seconds, for as long as the
/// returned task is not aborted.
pub fn spawn_forgetting(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let limiter = state.rate_limiter.clone()?;
    let refusals = state.scim_refusal_limiter.clone();
    let metrics = std::sync::Arc::clone(&state.metrics);
    Some(tokio::spawn(async move {
        let mut every = tokio::time::interval(FORGET_IDLE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let tracked = limiter.forget_idle()
                + refusals
                    .as_deref()
                    .map_or(0, ClientRateLimiter::forget_idle);
            metrics.set_rate_limit_tracked(tracked);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    #[test]
    fn zero_per_minute_turns_the_limit_off() {
        assert_eq!(RateLimitQuota::new(0, nz(5)), None);
        assert!(RateLimitQuota::new(1, nz(5)).is_some());
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_unaffected() {
        let limiter = ClientRateLimiter::new(
            RateLimitQuota::new(60, nz(2)).expect("on"),
            TrustedProxies::default(),
        );
        let a: IpAddr = "203.0.113.1".parse().expect("ip");
        let b: IpAddr = "203.0.113.2".parse().expect("ip");
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        let wait = limiter.check(a).expect_err("over the burst");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limiter.check(b).is_ok());
        // Another address in the same IPv6 /64 shares the budget.
        let v6a: IpAddr = "2001:db8::1".parse().expect("ip");
        let v6b: IpAddr = "2001:db8::ffff".parse().expect("ip");
        assert!(limiter.check(v6a).is_ok());
        assert!(limiter.check(v6b).is_ok());
        assert!(limiter.check(v6a).is_err());
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let limiter = ClientRateLimiter::new(
            RateLimitQuota::new(60_000, nz(10)).expect("on"),
            TrustedProxies::default(),
        );
        for i in 0..=255u8 {
            let _ = limiter.check(IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)));
        }
        assert_eq!(limiter.limiter.len(), 256);
        // One request at 1,000 a second is replenished after a millisecond.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(limiter.forget_idle(), 0);
    }
}
