//! What the webhook routes answer. Only [`WebhookCreated`] carries a secret.

use idbridge_store::webhook::{AttemptOutcome, WebhookAttempt, WebhookCursor, WebhookEndpoint};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// `null`: every event type.
    pub event_types: Option<Vec<String>>,
    /// `null`: every tenant's events.
    pub tenant: Option<String>,
    pub enabled: bool,
    /// While a rotated-out secret still signs beside the current one.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl WebhookView {
    pub fn new(e: &WebhookEndpoint, tenant: Option<String>, now: OffsetDateTime) -> Self {
        Self {
            id: e.id,
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            tenant,
            enabled: e.enabled,
            previous_secret_expires_at: e
                .previous_secret_until
                .filter(|until| e.previous_secret.is_some() && *until > now),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint just created, or its secret just rotated: the only answer that
/// carries the signing secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The HMAC-SHA256 key of `Idbridge-Signature`. Shown once.
    pub secret: String,
}

/// How far an endpoint has got in one tenant's feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookTenantView {
    pub tenant: String,
    /// `delivering` (up to date or working through a backlog), `retrying` (the
    /// event `failing_seq` failed; next try at `next_attempt_at`), or `dead` (failed
    /// for the whole retry period; waits for a replay).
    #[schema(example = "retrying")]
    pub state: &'static str,
    /// Every event up to this position was delivered (or not asked for).
    pub delivered_seq: i64,
    /// The tenant's newest event.
    pub latest_seq: i64,
    pub failing_seq: Option<i64>,
    pub failures: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_failed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub dead_at: Option<OffsetDateTime>,
}

impl From<WebhookCursor> for WebhookTenantView {
    fn from(c: WebhookCursor) -> Self {
        let state = if c.dead {
            "dead"
        } else if c.failures > 0 {
            "retrying"
        } else {
            "delivering"
        };
        Self {
            tenant: c.tenant_slug,
            state,
            delivered_seq: c.delivered_seq,
            latest_seq: c.latest_seq,
            failing_seq: c.failing_seq,
            failures: c.failures,
            first_failed_at: c.first_failed_at,
            next_attempt_at: (state == "retrying").then_some(c.next_attempt_at),
            last_attempt_at: c.last_attempt_at,
            last_error: c.last_error,
            dead_at: c.dead_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttemptView {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub event_id: Uuid,
    pub seq: i64,
    /// 1 for the first attempt at this event.
    pub attempt: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub attempted_at: OffsetDateTime,
    pub duration_ms: u32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    pub error: Option<String>,
    /// `delivered`, `failed` (to be retried) or `dead`.
    #[schema(example = "delivered")]
    pub outcome: &'static str,
}

impl From<WebhookAttempt> for WebhookAttemptView {
    fn from(a: WebhookAttempt) -> Self {
        Self {
            id: a.id,
            tenant_id: a.tenant_id,
            event_id: a.event_id,
            seq: a.seq,
            attempt: a.attempt,
            attempted_at: a.attempted_at,
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            error: a.error,
            outcome: match a.outcome {
                AttemptOutcome::Delivered => "delivered",
                AttemptOutcome::Failed => "failed",
                AttemptOutcome::Dead => "dead",
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayView {
    /// How many tenants' deliveries were resumed or rewound.
    pub resumed: u64,
}
