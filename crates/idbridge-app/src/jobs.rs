//! The background work every idbridge process runs, in one place: the housekeeping
//! round (metadata refresh, certificate expiry warnings, domain re-checks, sweeps of
//! expired state) and the webhook delivery loop.
//!
//! None of it holds state of its own: each step reads what is due from the store
//! and writes idempotently, so any number of processes may run it at once, and a
//! process that stops mid-round leaves nothing half done.

use std::time::Duration;

use crate::config::Retention;
use crate::{App, connections, domains, keys, mail, webhooks};

/// How often each process runs the housekeeping round.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(15 * 60);

/// One housekeeping round: [`connections::refresh_due`] and
/// [`connections::warn_expiring`], the daily re-check of verified domains
/// ([`domains::recheck_due`]), and removal of expired AuthnRequests, replay records
/// and authorization codes (kept off the sign-in path, where each would cost a
/// statement per request), of expired access tokens and long-retired signing keys,
/// of webhook attempt records older than [`webhooks::delivery::ATTEMPTS_KEPT_FOR`],
/// and of history past its retention ([`sweep_history`]).
/// Each step's failure is logged and the next step still runs.
pub async fn housekeeping(app: &App) {
    if let Err(error) = connections::refresh_due(app).await {
        tracing::warn!(%error, "IdP metadata refresh: storage failed");
    }
    if let Err(error) = connections::warn_expiring(app).await {
        tracing::warn!(%error, "certificate expiry check: storage failed");
    }
    match crate::idp_connections::reseal_secrets(app).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            resealed = n,
            "client secrets sealed again with the first --secret-key"
        ),
        Err(error) => tracing::warn!(%error, "re-sealing client secrets: storage failed"),
    }
    if let Err(error) = domains::recheck_due(app).await {
        tracing::warn!(%error, "domain re-check: storage failed");
    }
    if let Err(error) = app.store.sweep_expired(app.clock.now()).await {
        tracing::warn!(%error, "sweeping expired SAML state failed");
    }
    let now = app.clock.now();
    let retired_before = now - keys::RETIRED_KEY_PUBLISHED_FOR;
    if let Err(error) = app.store.sweep_oidc(now, retired_before).await {
        tracing::warn!(%error, "sweeping expired access tokens failed");
    }
    let attempts_before = now - webhooks::delivery::ATTEMPTS_KEPT_FOR;
    if let Err(error) = app.store.sweep_webhook_attempts(attempts_before).await {
        tracing::warn!(%error, "sweeping old webhook attempts failed");
    }
    sweep_history(app).await;
}

/// Deletes events, provisioning log lines and audit records past their retention
/// ([`crate::config::Retention`]); events a webhook endpoint still owes are kept.
pub async fn sweep_history(app: &App) {
    let now = app.clock.now();
    let retention = app.config.retention;
    if let Some(before) = Retention::cutoff(retention.audit_days, now) {
        match app.store.sweep_audit(before).await {
            Ok(0) => {}
            Ok(records) => tracing::info!(records, "deleted audit records past their retention"),
            Err(error) => tracing::warn!(%error, "sweeping the audit log failed"),
        }
    }
    let events_before = Retention::cutoff(retention.event_days, now);
    let log_before = Retention::cutoff(retention.provisioning_log_days, now);
    if events_before.is_none() && log_before.is_none() {
        return;
    }
    match app.store.sweep_history(events_before, log_before).await {
        Ok(swept) if swept.events > 0 || swept.log_lines > 0 => tracing::info!(
            events = swept.events,
            provisioning_log_lines = swept.log_lines,
            "deleted history past its retention"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "sweeping history past its retention failed"),
    }
}

/// The background tasks of one process; dropping it stops them. A webhook delivery
/// cut off by the stop is retried after its lease runs out (delivery is at least
/// once).
#[must_use = "the jobs stop when this is dropped"]
pub struct Jobs {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts the housekeeping round (every [`HOUSEKEEPING_EVERY`]), webhook
/// delivery, and, when the app has a [`mail::Mailer`], the mail outbox's sender
/// ([`mail::delivery::run`]). Must be called inside a tokio runtime.
pub fn spawn(app: &App) -> Jobs {
    let housekeeper = app.clone();
    let deliverer = app.clone();
    let mut jobs = Jobs {
        tasks: vec![
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HOUSEKEEPING_EVERY).await;
                    housekeeping(&housekeeper).await;
                }
            }),
            tokio::spawn(webhooks::delivery::run(deliverer)),
        ],
    };
    if app.mailer().is_some() {
        jobs.tasks
            .push(tokio::spawn(mail::delivery::run(app.clone())));
    }
    jobs
}
