//! Webhook endpoints and the delivery state of each (endpoint, tenant) pair.
//!
//! The tenant's feed (`directory_events`) is the outbox: every change appends its
//! events in its own transaction, and delivery reads the feed after a cursor. A
//! worker claims due pairs with a lease (a token and an expiry): one atomic
//! conditional upsert per batch, so of several processes asking at once each pair
//! goes to exactly one, and a crashed worker's claim just runs out. Progress and
//! failures are recorded only by the lease holder.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Page, PageRequest, Result};

/// A registered receiver of events.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// `None`: every type; else types and `prefix.*` patterns.
    pub event_types: Option<Vec<String>>,
    /// `None`: every tenant's events; else only this tenant's.
    pub tenant_id: Option<Uuid>,
    /// The signing key. Never returned by the API after creation.
    pub secret: String,
    /// The key before the last rotation, also signing until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<OffsetDateTime>,
    pub enabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("tenant_id", &self.tenant_id)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// What an operator may change on an endpoint; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    /// `Some(None)` sets "every type".
    pub event_types: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
}

/// Which (endpoint, tenant) pairs a claim considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimScope {
    /// Every pair: endpoints × the tenants they cover, which no index answers (at
    /// 10,000 tenants a few tens of milliseconds). The safety net, run now and then.
    Everything,
    /// Only pairs where something happened lately, found through indexes: tenants
    /// with a feed event whose id (a UUIDv7, so time-ordered) is after
    /// `events_after`, and cursors that came due after `due_after` (a retry, a
    /// replay). An idle poll costs two empty index range scans. What this does not
    /// see (an endpoint enabled again, a lease that lapsed with work left) waits
    /// for the next [`ClaimScope::Everything`].
    Recent {
        events_after: Uuid,
        due_after: OffsetDateTime,
    },
}

/// A pair a worker now holds: deliver events of `tenant_id` after `delivered_seq`
/// to `endpoint_id`, while `lease_token` is still the pair's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookClaim {
    pub endpoint_id: Uuid,
    pub tenant_id: Uuid,
    pub lease_token: Uuid,
    pub delivered_seq: i64,
    /// Failed attempts so far at the next event.
    pub failures: u32,
    pub first_failed_at: Option<OffsetDateTime>,
}

/// One delivery attempt, as the attempt log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub tenant_id: Uuid,
    pub event_id: Uuid,
    pub seq: i64,
    /// 1 for the first attempt at this event.
    pub attempt: u32,
    pub attempted_at: OffsetDateTime,
    pub duration_ms: u32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed: a non-2xx status, a timeout, a refused connection.
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; another attempt is scheduled.
    Failed,
    /// Failed, and the retry period is over: the pair is now dead-lettered.
    Dead,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            "dead" => Ok(Self::Dead),
            _ => Err(crate::StoreError::Corrupt(format!(
                "unknown webhook attempt outcome {s:?}"
            ))),
        }
    }
}

/// After a failed attempt: when to try again, or that the pair is dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFailure {
    /// The events before the failing one (delivered or skipped in this claim).
    pub delivered_seq: i64,
    pub failing_seq: i64,
    pub failures: u32,
    pub first_failed_at: OffsetDateTime,
    /// `None`: the retry period is over and the pair goes to the dead-letter state.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub error: String,
}

/// The delivery state of one (endpoint, tenant) pair, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCursor {
    pub endpoint_id: Uuid,
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub delivered_seq: i64,
    /// The tenant's newest event.
    pub latest_seq: i64,
    pub dead: bool,
    pub failures: u32,
    pub failing_seq: Option<i64>,
    pub first_failed_at: Option<OffsetDateTime>,
    pub next_attempt_at: OffsetDateTime,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub dead_at: Option<OffsetDateTime>,
}

/// How many of an endpoint's tenants are in trouble, for the operator's list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookTrouble {
    /// Failing, with another attempt scheduled.
    pub retrying: u64,
    /// Failed for the whole retry period; waiting for a replay.
    pub dead: u64,
}

/// Which pairs a replay resumes, and from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayFrom {
    /// Dead pairs resume at the event that failed.
    FailedEvent,
    /// The pair rewinds so that the next delivery is the event with this `seq`
    /// (events are delivered again: receivers de-duplicate by event id).
    Seq(i64),
    /// Dead pairs resume after the event that failed (the operator gives it up).
    SkipFailedEvent,
}

#[async_trait]
pub trait WebhookRepo {
    /// Stores a new endpoint, and starts it at the current end of the feed of every
    /// tenant it covers (it receives what happens from now on, not history).
    async fn create_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;

    async fn webhook(&self, id: Uuid) -> Result<Option<WebhookEndpoint>>;

    async fn list_webhooks(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>>;

    async fn count_webhooks(&self) -> Result<u64>;

    /// Applies `changes`; `None` when there is no such endpoint.
    async fn update_webhook(
        &self,
        id: Uuid,
        changes: &WebhookChanges,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<Option<WebhookEndpoint>>;

    /// Replaces the signing secret; the current one keeps signing beside it until
    /// `previous_until`. `false` when there is no such endpoint.
    async fn rotate_webhook_secret(
        &self,
        id: Uuid,
        secret: &str,
        previous_until: OffsetDateTime,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<bool>;

    /// `false` when there was no such endpoint.
    async fn delete_webhook(&self, id: Uuid, audit: Option<&crate::AuditRecord>) -> Result<bool>;

    /// Claims up to `limit` pairs, among those `scope` looks at, that have events to
    /// deliver and are due at `now` (enabled endpoint, not dead, no live lease),
    /// leasing them to `lease_token` until `lease_until`. Concurrent callers never
    /// get the same pair. Asks on a read first, so a poll with nothing due writes
    /// nothing.
    async fn claim_webhook_work(
        &self,
        now: OffsetDateTime,
        lease_token: Uuid,
        lease_until: OffsetDateTime,
        limit: u32,
        scope: ClaimScope,
    ) -> Result<Vec<WebhookClaim>>;

    /// Records that every event up to `delivered_seq` is done (with the attempt that
    /// delivered the last one, if any), clears failures and extends the lease.
    /// `false` when the lease is no longer the caller's: it must stop.
    async fn record_webhook_progress(
        &self,
        claim: &WebhookClaim,
        delivered_seq: i64,
        attempt: Option<&WebhookAttempt>,
        lease_until: OffsetDateTime,
    ) -> Result<bool>;

    /// Records a failed attempt and releases the lease (the pair is next due at
    /// `failure.next_attempt_at`, or dead). `false` when the lease was lost.
    async fn record_webhook_failure(
        &self,
        claim: &WebhookClaim,
        failure: &WebhookFailure,
        attempt: &WebhookAttempt,
    ) -> Result<bool>;

    /// Gives the pair back (caught up, or the worker stops).
    /// `due_again_at`: the worker stopped with events left (it takes a batch at a
    /// time), so the pair is due again then; recent polls find it through its due
    /// time even when the events left are old.
    async fn release_webhook_claim(
        &self,
        claim: &WebhookClaim,
        due_again_at: Option<OffsetDateTime>,
    ) -> Result<()>;

    /// The pairs of an endpoint that have a cursor, by tenant id.
    async fn webhook_cursors(
        &self,
        endpoint_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<WebhookCursor>>;

    /// How many of the endpoint's pairs are retrying and how many are dead. Reads
    /// only the pairs in trouble (a partial index), however many tenants there are.
    async fn webhook_trouble(&self, endpoint_id: Uuid) -> Result<WebhookTrouble>;

    /// Attempts at an endpoint, newest first, optionally of one tenant.
    async fn webhook_attempts(
        &self,
        endpoint_id: Uuid,
        tenant_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<WebhookAttempt>>;

    /// Resumes the endpoint's pairs (one tenant's, or every dead one) as `from`
    /// says, due at `now`. Returns how many pairs changed.
    async fn replay_webhook(
        &self,
        endpoint_id: Uuid,
        tenant_id: Option<Uuid>,
        from: ReplayFrom,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<u64>;

    /// Deletes attempt records older than `before`.
    async fn sweep_webhook_attempts(&self, before: OffsetDateTime) -> Result<u64>;
}
