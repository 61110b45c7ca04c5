//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format.
//!
//! Requests are labelled by route template (`/api/v1/tenants/{slug}`), never by raw
//! path: raw paths carry tenant slugs and ids, which would make label cardinality
//! unbounded and leak identifiers into the metrics system.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    method: String,
    route: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    rate_limited: Family<RouteLabels, Counter>,
    rate_limit_tracked: Gauge,
    scim_refusals_not_logged: Counter,
}

/// Latency buckets from 0.5 ms to 10 s: token checks sit at the bottom, metadata
/// fetches and DNS lookups near the top.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("idbridge");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            latency.clone(),
        );
        let rate_limited = Family::<RouteLabels, Counter>::default();
        registry.register(
            "rate_limited_requests",
            "Requests refused with 429 by the per-client-address limit, by route template",
            rate_limited.clone(),
        );
        let rate_limit_tracked = Gauge::default();
        registry.register(
            "rate_limit_tracked_clients",
            "Client addresses (IPv6 by /64) the rate limiter holds in memory",
            rate_limit_tracked.clone(),
        );
        let scim_refusals_not_logged = Counter::default();
        registry.register(
            "scim_refusals_not_logged",
            "SCIM requests refused before their caller was known (401) whose provisioning \
             log line was left out: past the client address's budget",
            scim_refusals_not_logged.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            rate_limited,
            rate_limit_tracked,
            scim_refusals_not_logged,
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.into(),
                route: route.into(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                method: method.into(),
                route: route.into(),
            })
            .observe(seconds);
    }

    pub(crate) fn count_rate_limited(&self, route: &str) {
        self.rate_limited
            .get_or_create(&RouteLabels {
                route: route.into(),
            })
            .inc();
    }

    pub(crate) fn count_scim_refusal_not_logged(&self) {
        self.scim_refusals_not_logged.inc();
    }

    pub(crate) fn set_rate_limit_tracked(&self, clients: usize) {
        self.rate_limit_tracked
            .set(i64::try_from(clients).unwrap_or(i64::MAX));
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Records every request's count and latency under its route template.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    state.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

pub async fn serve_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}
