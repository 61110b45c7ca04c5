//! Delivering the tenants' feeds to the operator's webhook endpoints.
//!
//! Every process runs [`run`]. Each round claims due (endpoint, tenant) pairs with
//! a lease ([`idbridge_store::WebhookRepo::claim_webhook_work`]), so a pair is
//! worked by one process at a time, and delivers that tenant's events after the
//! pair's cursor, one POST per event, in feed order. A success moves the cursor and
//! extends the lease; a failure records the attempt, schedules the next one with
//! exponential backoff and jitter, and gives the pair back, so later events of that
//! tenant wait behind the failed one (in order per tenant). After
//! [`webhook::RETRY_FOR`] of failures the pair is dead-lettered until an operator
//! replays it. Delivery is at least once: a process that dies after the receiver
//! answered but before the cursor moved delivers that event again, with the same
//! event id.

use std::time::{Duration as StdDuration, Instant};

use futures::StreamExt as _;
use idbridge_core::webhook::{self, EventFilter};
use idbridge_store::webhook::{
    AttemptOutcome, WebhookAttempt, WebhookClaim, WebhookEndpoint, WebhookFailure,
};
use idbridge_store::{ClaimScope, StoreError, Tenant};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::App;
use crate::views::EventView;

/// How long a claim lasts without progress. Each delivery takes at most the
/// fetcher's 10-second timeout and extends the lease when it succeeds, so a live
/// worker never loses a lease it is using; a dead one's runs out after this.
pub const LEASE: Duration = Duration::seconds(60);
/// Pause between rounds that found nothing to do.
pub const POLL_EVERY: StdDuration = StdDuration::from_secs(1);
/// Pairs claimed per round, and delivered concurrently.
const CLAIM_BATCH: u32 = 16;
const CONCURRENCY: usize = 8;
/// Events read per pair per round.
const EVENTS_PER_CLAIM: u32 = 100;
/// Delivery attempt records are kept this long.
pub const ATTEMPTS_KEPT_FOR: Duration = Duration::days(30);
/// Longest error text kept with an attempt.
const MAX_ERROR_LEN: usize = 300;

/// How often a process looks at every (endpoint, tenant) pair; in between, its
/// polls look only at pairs where something happened lately ([`recent_scope`]).
/// This is the bound on how late a pair the recent polls cannot see is delivered:
/// a worker that died holding a lease, or an event committed long after its id
/// was made.
pub const FULL_CHECK_EVERY: StdDuration = StdDuration::from_secs(30);
/// How far back a recent poll looks: beyond one poll interval, it covers clock
/// differences between processes and transactions that commit a while after
/// their events' ids were made.
const RECENT_WINDOW: Duration = Duration::minutes(2);

/// Delivers until the task is dropped.
pub async fn run(app: App) {
    let mut last_full_check: Option<tokio::time::Instant> = None;
    loop {
        let scope = match last_full_check {
            Some(at) if at.elapsed() < FULL_CHECK_EVERY => recent_scope(&app),
            _ => {
                last_full_check = Some(tokio::time::Instant::now());
                ClaimScope::Everything
            }
        };
        match deliver_due_in(&app, scope).await {
            Ok(0) => tokio::time::sleep(POLL_EVERY).await,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "webhook delivery: storage failed");
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }
}

/// What happened in the last `RECENT_WINDOW`. Feed event ids are UUIDv7s made
/// from the writing process's system clock, so their floor comes from the system
/// clock too; cursors' due times are on the service's clock.
pub fn recent_scope(app: &App) -> ClaimScope {
    let since = std::time::SystemTime::now()
        - StdDuration::from_secs(RECENT_WINDOW.unsigned_abs().as_secs());
    let millis = since
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    ClaimScope::Recent {
        events_after: uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10]).into_uuid(),
        due_after: app.clock.now() - RECENT_WINDOW,
    }
}

/// One round over every pair: claims due pairs and works each. Returns how many
/// pairs it claimed.
pub async fn deliver_due(app: &App) -> Result<usize, StoreError> {
    deliver_due_in(app, ClaimScope::Everything).await
}

/// One round over the pairs `scope` looks at.
pub async fn deliver_due_in(app: &App, scope: ClaimScope) -> Result<usize, StoreError> {
    let now = app.clock.now();
    let claims = app
        .store
        .claim_webhook_work(now, Uuid::new_v4(), now + LEASE, CLAIM_BATCH, scope)
        .await?;
    let claimed = claims.len();
    futures::stream::iter(claims)
        .for_each_concurrent(CONCURRENCY, |claim| async move {
            if let Err(error) = work_pair(app, &claim).await {
                tracing::warn!(
                    endpoint_id = %claim.endpoint_id,
                    tenant_id = %claim.tenant_id,
                    %error,
                    "webhook delivery: storage failed; the lease will run out and another round retries"
                );
            }
        })
        .await;
    Ok(claimed)
}

/// Delivers one claimed pair's next events, stopping at the first failure.
async fn work_pair(app: &App, claim: &WebhookClaim) -> Result<(), StoreError> {
    let store = &app.store;
    let (Some(endpoint), Some(tenant)) = (
        store.webhook(claim.endpoint_id).await?,
        store.tenant_by_id(claim.tenant_id).await?,
    ) else {
        // Deleted meanwhile; the cascade removes the cursor.
        return Ok(());
    };
    let filter = match EventFilter::parse(endpoint.event_types.clone()) {
        Ok(filter) => filter,
        Err(error) => {
            // Validated when stored; a bad row is reported, not guessed at.
            tracing::error!(endpoint_id = %endpoint.id, %error, "stored event filter is invalid");
            store.release_webhook_claim(claim, None).await?;
            return Ok(());
        }
    };
    let events = store
        .list_events(tenant.id, claim.delivered_seq, EVENTS_PER_CLAIM)
        .await?;
    // A full batch: more may follow, and they may be too old for a recent poll to
    // notice, so the pair is released as due now rather than left for the next
    // full check (30 s away).
    let more_may_follow = events.len() >= EVENTS_PER_CLAIM as usize;
    let mut recorded_seq = claim.delivered_seq;
    let mut done_seq = claim.delivered_seq;
    // Failures so far at the head event: the claim's, until something succeeds.
    let mut failures = claim.failures;
    let mut first_failed_at = claim.first_failed_at;
    for event in events {
        if !filter.matches(event.kind) {
            done_seq = event.seq;
            continue;
        }
        let (event_id, seq) = (event.id, event.seq);
        let attempt_number = failures + 1;
        let attempted_at = app.clock.now();
        let started = Instant::now();
        let result = post(app, &endpoint, &tenant, event, attempt_number, attempted_at).await;
        let duration_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let mut attempt = WebhookAttempt {
            id: Uuid::now_v7(),
            endpoint_id: endpoint.id,
            tenant_id: tenant.id,
            event_id,
            seq,
            attempt: attempt_number,
            attempted_at,
            duration_ms,
            status_code: None,
            error: None,
            outcome: AttemptOutcome::Delivered,
        };
        match result {
            Ok(status) => {
                attempt.status_code = Some(status);
                let lease_until = app.clock.now() + LEASE;
                if !store
                    .record_webhook_progress(claim, seq, Some(&attempt), lease_until)
                    .await?
                {
                    tracing::info!(endpoint_id = %endpoint.id, tenant_id = %tenant.id, "webhook lease lost; stopping");
                    return Ok(());
                }
                recorded_seq = seq;
                done_seq = seq;
                failures = 0;
                first_failed_at = None;
            }
            Err(failure) => {
                attempt.status_code = failure.status;
                attempt.error = Some(truncate(&failure.error));
                let failures = failures + 1;
                let first_failed_at = first_failed_at.unwrap_or(attempted_at);
                let next_attempt_at = if attempted_at - first_failed_at >= webhook::RETRY_FOR {
                    attempt.outcome = AttemptOutcome::Dead;
                    None
                } else {
                    attempt.outcome = AttemptOutcome::Failed;
                    Some(attempted_at + webhook::backoff(failures, jitter()))
                };
                let failure = WebhookFailure {
                    delivered_seq: done_seq,
                    failing_seq: seq,
                    failures,
                    first_failed_at,
                    next_attempt_at,
                    error: attempt.error.clone().unwrap_or_default(),
                };
                store
                    .record_webhook_failure(claim, &failure, &attempt)
                    .await?;
                if next_attempt_at.is_none() {
                    tracing::warn!(
                        endpoint_id = %endpoint.id,
                        tenant = %tenant.slug,
                        seq,
                        "webhook endpoint failed for the whole retry period; dead-lettered until replayed"
                    );
                }
                return Ok(());
            }
        }
    }
    if done_seq > recorded_seq {
        // Trailing events the endpoint does not take.
        let lease_until = app.clock.now() + LEASE;
        if !store
            .record_webhook_progress(claim, done_seq, None, lease_until)
            .await?
        {
            return Ok(());
        }
    }
    let due_again_at = more_may_follow.then(|| app.clock.now());
    store.release_webhook_claim(claim, due_again_at).await
}

struct DeliveryFailure {
    status: Option<u16>,
    error: String,
}

/// Signs and POSTs one event. The body is the feed's JSON for the event, signed
/// with every secret the endpoint currently signs with.
async fn post(
    app: &App,
    endpoint: &WebhookEndpoint,
    tenant: &Tenant,
    event: idbridge_store::DirectoryEvent,
    attempt: u32,
    now: OffsetDateTime,
) -> Result<u16, DeliveryFailure> {
    let event_id = event.id;
    let body = serde_json::to_vec(&EventView::new(event, tenant.slug.as_str())).map_err(|e| {
        DeliveryFailure {
            status: None,
            error: format!("the event cannot be serialised: {e}"),
        }
    })?;
    let previous = endpoint.previous_secret.as_deref().filter(|_| {
        endpoint
            .previous_secret_until
            .is_some_and(|until| until > now)
    });
    let secrets = std::iter::once(endpoint.secret.as_bytes()).chain(previous.map(str::as_bytes));
    let headers = [
        (
            webhook::SIGNATURE_HEADER,
            webhook::signature_header(secrets, now.unix_timestamp(), &body),
        ),
        (webhook::EVENT_ID_HEADER, event_id.to_string()),
        (webhook::ATTEMPT_HEADER, attempt.to_string()),
    ];
    app.fetcher()
        .post_json(&endpoint.url, &headers, body)
        .await
        .map(|outcome| outcome.status)
        .map_err(|error| DeliveryFailure {
            status: match error {
                crate::net::FetchError::Status(status) => Some(status),
                _ => None,
            },
            error: error.to_string(),
        })
}

/// A fraction in [0, 1) from the OS's random source, for backoff jitter.
fn jitter() -> f64 {
    let bytes = idbridge_core::secret::random_bytes::<4>();
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_LEN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
