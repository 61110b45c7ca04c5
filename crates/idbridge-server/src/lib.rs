//! idbridge's HTTP surfaces. Only this crate knows HTTP: handlers read the request,
//! call the application (`idbridge-app`), and say its answer in their surface's
//! words; every rule of the product is the application's.
//!
//! - `/healthz`: readiness (database reachable; migrations ran before we listened).
//! - `/metrics`: Prometheus metrics by route template.
//! - `/api/v1`: the admin API ([`admin`]), documented at `/api/v1/openapi.json`.
//! - `/scim/v2/{slug}`: the SCIM service provider ([`scim`]).
//! - `/saml/{slug}`: the SAML service provider's browser routes ([`saml`]).
//! - `/oauth/…`, `/.well-known/openid-configuration`: the OpenID Connect provider
//!   ([`oidc`]).
//! - `/admin` and `/setup`: the operator console and the setup portal ([`web`]).

pub mod admin;
mod bearer;
pub mod client_address;
pub mod error;
mod extract;
pub mod mail;
mod metrics;
pub mod oidc;
pub mod rate_limit;
pub mod saml;
pub mod scim;
mod state;
mod telemetry;
mod upstream;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

pub use crate::client_address::{InvalidTrustedProxies, TrustedProxies};
pub use crate::error::AdminError;
pub use crate::mail::MailTemplateSet;
pub use crate::metrics::Metrics;
pub use crate::rate_limit::RateLimitQuota;
pub use crate::state::{AppState, InvalidScimBodyLimit, ScimBodyLimit, ServerConfig};
pub use idbridge_app::{App, AppConfig, InvalidPublicUrl, PublicUrl};

/// Largest request body the admin API reads (IdP metadata XML is the biggest thing
/// an operator sends; real metadata documents are a few tens of kilobytes).
pub const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// The whole service as one router.
pub fn app(state: AppState) -> Router {
    let (admin, openapi) = admin::router(&state);
    let openapi = Arc::new(openapi);
    let api = Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let openapi = Arc::clone(&openapi);
                async move { axum::Json(openapi) }
            }),
        )
        .merge(admin)
        .fallback(|| async { AdminError::NoRoute })
        .method_not_allowed_fallback(|| async { AdminError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT));

    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::serve_metrics))
        .nest("/api/v1", api)
        .nest("/scim/v2/{slug}", scim::router(&state))
        .route("/saml/post.js", axum::routing::get(saml::post_script))
        .nest("/saml/{slug}", saml::router(&state))
        .nest("/saml/{slug}/c/{connection}", saml::router(&state))
        .nest("/oidc/{slug}", upstream::router(&state))
        .nest("/admin", web::console::router(&state))
        .nest("/setup", web::portal::router(&state))
        .merge(oidc::router(&state))
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .with_state(state);
    telemetry::wrap(router)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.app.store.ping().await {
        Ok(()) => (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], "ok"),
        Err(err) => {
            tracing::warn!(error = %err, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CACHE_CONTROL, "no-store")],
                "database unreachable",
            )
        }
    }
}

/// Serves until `shutdown` completes, then stops accepting connections and lets
/// in-flight requests finish, for at most `drain` (after which it returns anyway).
/// Each request carries its TCP peer (`ConnectInfo<SocketAddr>`), which the rate
/// limit keys on; the limiter's idle addresses are forgotten while it runs.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = signalled_tx.send(());
    };
    let forgetting = rate_limit::spawn_forgetting(&state).map(AbortOnDrop);
    let server = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown);
    let deadline = async move {
        // Only a real signal starts the clock; a dropped sender means the server ended.
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(drain).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(?drain, "requests still in flight after the drain period; stopping anyway");
            Ok(())
        }
    };
    drop(forgetting);
    result
}

/// A background task that ends with its owner, however the owner returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
