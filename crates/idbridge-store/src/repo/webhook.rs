//! Webhook endpoints, cursors and attempts, written once for both backends.
//!
//! A claim is a read (is anything due?) and then one `INSERT … ON CONFLICT DO
//! UPDATE … WHERE` statement that leases the due pairs. On PostgreSQL the upsert
//! locks each conflicting cursor row and re-checks the condition on its newest
//! version, so of several processes claiming at once exactly one gets each pair,
//! with no lock held beyond the statement (the lease replaces a long transaction).
//! On SQLite every write goes through the single writer, which also makes a claim
//! exclusive.
//!
//! What counts as due is written here once. How the recent scope finds it is each
//! backend's own statement ([`Db::WEBHOOK_ANY_DUE_RECENTLY`],
//! [`Db::WEBHOOK_CLAIM_DUE_RECENTLY`]): each planner must be made to start from the
//! two index ranges, and they are made to in different ways.

use async_trait::async_trait;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, overfetch, page_of};
use crate::db::{Db, FromRow, Row, Scalar, Ts, query};
use crate::webhook::{
    AttemptOutcome, ClaimScope, ReplayFrom, WebhookAttempt, WebhookChanges, WebhookClaim,
    WebhookCursor, WebhookEndpoint, WebhookFailure, WebhookRepo, WebhookTrouble,
};
use crate::{Page, PageRequest, Result, StoreError};

// Every claim statement, and the read before it, takes the same values: `$1` now,
// `$2` the lease's token, `$3` its expiry, `$4` the limit; the recent scope adds
// `$5` (events after) and `$6` (due after). A statement that does not use one still
// has it bound.

/// Pairs with something to deliver and due now, among the pairs `$from` joins
/// (`e` endpoints, `t` tenants): the enabled endpoint's tenant feed is past the
/// cursor. A missing cursor row means the tenant was created after the endpoint:
/// deliver from its first event. `$1` is now. (`enabled = TRUE`, not the bare
/// column: SQLite plans the comparison as it did `enabled = 1`, PostgreSQL reads
/// it as the column.)
macro_rules! due_pairs {
    ($from:expr) => {
        concat!(
            "SELECT e.id AS endpoint_id, t.id AS tenant_id, c.next_attempt_at AS due_at FROM ",
            $from,
            " LEFT JOIN webhook_cursors c ON c.endpoint_id = e.id AND c.tenant_id = t.id \
             WHERE e.enabled = TRUE AND t.event_seq > coalesce(c.delivered_seq, 0) \
               AND (c.endpoint_id IS NULL OR (c.state = 'active' AND c.next_attempt_at <= $1 \
                    AND (c.lease_until IS NULL OR c.lease_until <= $1)))"
        )
    };
}

/// Every endpoint with every tenant it covers: a scan of endpoints × tenants
/// (measured in docs/benchmarks.md), for [`ClaimScope::Everything`].
macro_rules! every_pair {
    () => {
        "webhook_endpoints e JOIN tenants t ON (e.tenant_id IS NULL OR e.tenant_id = t.id)"
    };
}

/// The due pairs of [`ClaimScope::Everything`], pairs without a cursor first;
/// `$4` is the limit.
macro_rules! due_everywhere {
    () => {
        concat!(
            "SELECT endpoint_id, tenant_id FROM (",
            due_pairs!(every_pair!()),
            ") d ORDER BY due_at NULLS FIRST LIMIT $4"
        )
    };
}

/// Whether `$due` has a row. Asked first, on a reader: an idle poll (nothing due,
/// the usual answer) then writes nothing (the claim is an upsert, a write even when
/// it claims nothing), and on SQLite never takes the single writer, which SCIM and
/// sign-in writes queue for.
macro_rules! any_due {
    ($due:expr) => {
        concat!("SELECT EXISTS (", $due, ")")
    };
}
pub(crate) use any_due;

/// The due pairs `$due` selects, leased to `$2` until `$3` by one conditional
/// upsert, which re-checks each pair on the row it would update (the cursor's newest
/// version on PostgreSQL; under the writer lock on SQLite). The `WHERE true` keeps
/// SQLite from reading `ON CONFLICT` as a join constraint, and the table is named
/// in `DO UPDATE … WHERE` rather than aliased, as SQLite requires.
macro_rules! claim {
    ($due:expr) => {
        concat!(
            "WITH due AS (",
            $due,
            ") INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, \
               failures, next_attempt_at, lease_token, lease_until) \
             SELECT endpoint_id, tenant_id, 0, 'active', 0, $1, $2, $3 FROM due WHERE true \
             ON CONFLICT (endpoint_id, tenant_id) DO UPDATE \
               SET lease_token = excluded.lease_token, lease_until = excluded.lease_until \
               WHERE webhook_cursors.state = 'active' AND webhook_cursors.next_attempt_at <= $1 \
                 AND (webhook_cursors.lease_until IS NULL OR webhook_cursors.lease_until <= $1) \
             RETURNING endpoint_id, tenant_id, delivered_seq, failures, first_failed_at"
        )
    };
}
pub(crate) use claim;

const ANY_DUE_EVERYWHERE: &str = any_due!(due_everywhere!());
const CLAIM_DUE_EVERYWHERE: &str = claim!(due_everywhere!());

/// Counts an endpoint's pairs in trouble. The last term is the partial index's
/// predicate word for word (`webhook_cursors_trouble_idx`, migration 0023), so only
/// failing and dead pairs are read.
pub(crate) const WEBHOOK_TROUBLE: &str = "SELECT COUNT(*) AS troubled, \
     COUNT(*) FILTER (WHERE state = 'dead') AS dead \
     FROM webhook_cursors WHERE endpoint_id = $1 AND (state = 'dead' OR failures > 0)";

/// A count kept in a PostgreSQL `integer` column (read as `i32` on both backends).
fn unsigned(row: &impl Row, column: &str) -> Result<u32> {
    let value: i32 = row.get(column)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value}")))
}

/// A count for a PostgreSQL `integer` column.
fn signed(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl FromRow for WebhookEndpoint {
    fn from_row(row: &impl Row) -> Result<Self> {
        let event_types: Option<Json<serde_json::Value>> = row.get("event_types")?;
        Ok(WebhookEndpoint {
            id: row.get("id")?,
            url: row.get("url")?,
            description: row.get("description")?,
            event_types: event_types
                .map(|Json(types)| serde_json::from_value(types))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("webhook event_types: {e}")))?,
            tenant_id: row.get("tenant_id")?,
            secret: row.get("secret")?,
            previous_secret: row.get("previous_secret")?,
            previous_secret_until: row.opt_time("previous_secret_until")?,
            enabled: row.get("enabled")?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
        })
    }
}

impl FromRow for WebhookAttempt {
    fn from_row(row: &impl Row) -> Result<Self> {
        let status: Option<i32> = row.get("status_code")?;
        Ok(WebhookAttempt {
            id: row.get("id")?,
            endpoint_id: row.get("endpoint_id")?,
            tenant_id: row.get("tenant_id")?,
            event_id: row.get("event_id")?,
            seq: row.get("seq")?,
            attempt: unsigned(row, "attempt")?,
            attempted_at: row.time("attempted_at")?,
            duration_ms: unsigned(row, "duration_ms")?,
            status_code: status.and_then(|s| u16::try_from(s).ok()),
            error: row.get("error")?,
            outcome: AttemptOutcome::parse(&row.get::<String>("outcome")?)?,
        })
    }
}

impl FromRow for WebhookCursor {
    fn from_row(row: &impl Row) -> Result<Self> {
        let state: String = row.get("state")?;
        Ok(WebhookCursor {
            endpoint_id: row.get("endpoint_id")?,
            tenant_id: row.get("tenant_id")?,
            tenant_slug: row.get("slug")?,
            delivered_seq: row.get("delivered_seq")?,
            latest_seq: row.get("event_seq")?,
            dead: state == "dead",
            failures: unsigned(row, "failures")?,
            failing_seq: row.get("failing_seq")?,
            first_failed_at: row.opt_time("first_failed_at")?,
            next_attempt_at: row.time("next_attempt_at")?,
            last_attempt_at: row.opt_time("last_attempt_at")?,
            last_error: row.get("last_error")?,
            dead_at: row.opt_time("dead_at")?,
        })
    }
}

impl FromRow for WebhookTrouble {
    fn from_row(row: &impl Row) -> Result<Self> {
        let count = |name: &str| -> Result<u64> {
            let n: i64 = row.get(name)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let (troubled, dead) = (count("troubled")?, count("dead")?);
        Ok(WebhookTrouble {
            retrying: troubled.saturating_sub(dead),
            dead,
        })
    }
}

/// A pair a claim returned; the lease's token is the caller's.
struct Claimed {
    endpoint_id: Uuid,
    tenant_id: Uuid,
    delivered_seq: i64,
    failures: u32,
    first_failed_at: Option<OffsetDateTime>,
}

impl FromRow for Claimed {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(Claimed {
            endpoint_id: row.get("endpoint_id")?,
            tenant_id: row.get("tenant_id")?,
            delivered_seq: row.get("delivered_seq")?,
            failures: unsigned(row, "failures")?,
            first_failed_at: row.opt_time("first_failed_at")?,
        })
    }
}

async fn insert_attempt<D: Db>(conn: &mut D::Connection, attempt: &WebhookAttempt) -> Result<()> {
    query::<D>(
        "INSERT INTO webhook_attempts (id, endpoint_id, tenant_id, event_id, seq, attempt, \
         attempted_at, duration_ms, status_code, error, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(attempt.id)
    .bind(attempt.endpoint_id)
    .bind(attempt.tenant_id)
    .bind(attempt.event_id)
    .bind(attempt.seq)
    .bind(signed(attempt.attempt))
    .bind(Ts(attempt.attempted_at))
    .bind(signed(attempt.duration_ms))
    .bind(attempt.status_code.map(i32::from))
    .bind(&attempt.error)
    .bind(attempt.outcome.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl<D: Db> WebhookRepo for SqlStore<D> {
    async fn create_webhook(
        &self,
        e: &WebhookEndpoint,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        // The only foreign key is the tenant's: NotFound when it vanished meanwhile.
        query::<D>(
            "INSERT INTO webhook_endpoints (id, url, description, event_types, tenant_id, secret, \
             previous_secret, previous_secret_until, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, $8)",
        )
        .bind(e.id)
        .bind(&e.url)
        .bind(&e.description)
        .bind(e.event_types.as_ref().map(Json))
        .bind(e.tenant_id)
        .bind(&e.secret)
        .bind(e.enabled)
        .bind(Ts(e.created_at))
        .execute(&mut tx)
        .await?;
        // Caught up, so never due until a failure sets a time: the epoch, which also
        // keeps a new endpoint's thousands of cursors out of the recent polls' "came
        // due lately" range.
        query::<D>(
            "INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, failures, \
             next_attempt_at) SELECT $1, id, event_seq, 'active', 0, $3 FROM tenants \
             WHERE $2 IS NULL OR id = $2",
        )
        .bind(e.id)
        .bind(e.tenant_id)
        .bind(Ts(OffsetDateTime::UNIX_EPOCH))
        .execute(&mut tx)
        .await?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook(&self, id: Uuid) -> Result<Option<WebhookEndpoint>> {
        query::<D>("SELECT * FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn list_webhooks(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM webhook_endpoints WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |e: &WebhookEndpoint| e.id))
    }

    async fn count_webhooks(&self) -> Result<u64> {
        let Scalar(n): Scalar<i64> = query::<D>("SELECT count(*) FROM webhook_endpoints")
            .fetch_one(&mut *self.read().await?)
            .await?;
        Ok(n.try_into().unwrap_or(0))
    }

    async fn update_webhook(
        &self,
        id: Uuid,
        changes: &WebhookChanges,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<Option<WebhookEndpoint>> {
        let (set_types, types) = match &changes.event_types {
            None => (false, None),
            Some(types) => (true, types.as_ref().map(Json)),
        };
        let mut tx = self.begin().await?;
        let updated: Option<WebhookEndpoint> = query::<D>(
            "UPDATE webhook_endpoints SET url = coalesce($2, url), \
             description = coalesce($3, description), \
             event_types = CASE WHEN $4 THEN $5 ELSE event_types END, \
             enabled = coalesce($6, enabled), updated_at = $7 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(&changes.url)
        .bind(&changes.description)
        .bind(set_types)
        .bind(types)
        .bind(changes.enabled)
        .bind(Ts(now))
        .fetch_optional(&mut *tx)
        .await?;
        if updated.is_some() {
            super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn rotate_webhook_secret(
        &self,
        id: Uuid,
        secret: &str,
        previous_until: OffsetDateTime,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = query::<D>(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $3, \
             secret = $2, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(secret)
        .bind(Ts(previous_until))
        .bind(Ts(now))
        .execute(&mut *tx)
        .await?;
        if done == 1 {
            super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(done == 1)
    }

    async fn delete_webhook(&self, id: Uuid, audit: Option<&crate::AuditRecord>) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = query::<D>("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done == 1 {
            super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(done == 1)
    }

    async fn claim_webhook_work(
        &self,
        now: OffsetDateTime,
        lease_token: Uuid,
        lease_until: OffsetDateTime,
        limit: u32,
        scope: ClaimScope,
    ) -> Result<Vec<WebhookClaim>> {
        let (any_due, claim) = match scope {
            ClaimScope::Everything => (ANY_DUE_EVERYWHERE, CLAIM_DUE_EVERYWHERE),
            ClaimScope::Recent { .. } => {
                (D::WEBHOOK_ANY_DUE_RECENTLY, D::WEBHOOK_CLAIM_DUE_RECENTLY)
            }
        };
        // Both statements take $1..$4, and $5, $6 in the recent scope.
        let bind = |sql| {
            let statement = query::<D>(sql)
                .bind(Ts(now))
                .bind(lease_token)
                .bind(Ts(lease_until))
                .bind(i64::from(limit));
            match scope {
                ClaimScope::Everything => statement,
                ClaimScope::Recent {
                    events_after,
                    due_after,
                } => statement.bind(events_after).bind(Ts(due_after)),
            }
        };
        let Scalar(due): Scalar<bool> = bind(any_due).fetch_one(&mut *self.read().await?).await?;
        if !due {
            return Ok(Vec::new());
        }
        let claimed: Vec<Claimed> = bind(claim).fetch_all(&mut *self.write().await?).await?;
        Ok(claimed
            .into_iter()
            .map(|c| WebhookClaim {
                endpoint_id: c.endpoint_id,
                tenant_id: c.tenant_id,
                lease_token,
                delivered_seq: c.delivered_seq,
                failures: c.failures,
                first_failed_at: c.first_failed_at,
            })
            .collect())
    }

    async fn record_webhook_progress(
        &self,
        claim: &WebhookClaim,
        delivered_seq: i64,
        attempt: Option<&WebhookAttempt>,
        lease_until: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let updated = query::<D>(
            "UPDATE webhook_cursors SET delivered_seq = $4, failures = 0, first_failed_at = NULL, \
             failing_seq = NULL, last_error = NULL, lease_until = $5, \
             last_attempt_at = coalesce($6, last_attempt_at) \
             WHERE endpoint_id = $1 AND tenant_id = $2 AND lease_token = $3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(delivered_seq)
        .bind(Ts(lease_until))
        .bind(attempt.map(|a| Ts(a.attempted_at)))
        .execute(&mut tx)
        .await?
            == 1;
        if !updated {
            return Ok(false);
        }
        if let Some(attempt) = attempt {
            insert_attempt::<D>(&mut tx, attempt).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn record_webhook_failure(
        &self,
        claim: &WebhookClaim,
        failure: &WebhookFailure,
        attempt: &WebhookAttempt,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let updated = query::<D>(
            "UPDATE webhook_cursors SET delivered_seq = $4, failures = $5, first_failed_at = $6, \
             failing_seq = $7, last_error = $8, last_attempt_at = $9, \
             state = CASE WHEN $10 IS NULL THEN 'dead' ELSE 'active' END, \
             next_attempt_at = coalesce($10, next_attempt_at), \
             dead_at = CASE WHEN $10 IS NULL THEN $9 ELSE NULL END, \
             lease_token = NULL, lease_until = NULL \
             WHERE endpoint_id = $1 AND tenant_id = $2 AND lease_token = $3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(failure.delivered_seq)
        .bind(signed(failure.failures))
        .bind(Ts(failure.first_failed_at))
        .bind(failure.failing_seq)
        .bind(&failure.error)
        .bind(Ts(attempt.attempted_at))
        .bind(failure.next_attempt_at.map(Ts))
        .execute(&mut tx)
        .await?
            == 1;
        if !updated {
            return Ok(false);
        }
        insert_attempt::<D>(&mut tx, attempt).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn release_webhook_claim(
        &self,
        claim: &WebhookClaim,
        due_again_at: Option<OffsetDateTime>,
    ) -> Result<()> {
        query::<D>(
            "UPDATE webhook_cursors SET lease_token = NULL, lease_until = NULL, \
             next_attempt_at = coalesce($4, next_attempt_at) \
             WHERE endpoint_id = $1 AND tenant_id = $2 AND lease_token = $3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(due_again_at.map(Ts))
        .execute(&mut *self.write().await?)
        .await?;
        Ok(())
    }

    async fn webhook_cursors(
        &self,
        endpoint_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<WebhookCursor>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT c.*, t.slug, t.event_seq FROM webhook_cursors c \
             JOIN tenants t ON t.id = c.tenant_id \
             WHERE c.endpoint_id = $1 AND ($2 IS NULL OR c.tenant_id > $2) \
             ORDER BY c.tenant_id LIMIT $3",
        )
        .bind(endpoint_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |c: &WebhookCursor| c.tenant_id))
    }

    async fn webhook_trouble(&self, endpoint_id: Uuid) -> Result<WebhookTrouble> {
        query::<D>(WEBHOOK_TROUBLE)
            .bind(endpoint_id)
            .fetch_one(&mut *self.read().await?)
            .await
    }

    async fn webhook_attempts(
        &self,
        endpoint_id: Uuid,
        tenant_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<WebhookAttempt>> {
        let (before, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM webhook_attempts WHERE endpoint_id = $1 \
             AND ($2 IS NULL OR tenant_id = $2) AND ($3 IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4",
        )
        .bind(endpoint_id)
        .bind(tenant_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |a: &WebhookAttempt| a.id))
    }

    async fn replay_webhook(
        &self,
        endpoint_id: Uuid,
        tenant_id: Option<Uuid>,
        from: ReplayFrom,
        now: OffsetDateTime,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<u64> {
        let statement = match (from, tenant_id) {
            (ReplayFrom::Seq(seq), Some(tenant_id)) => {
                // A rewind also takes the lease away, so a worker in the middle of
                // the pair cannot record progress past the rewound position.
                query::<D>(
                    "INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, \
                     failures, next_attempt_at) \
                     SELECT $1, $2, $3, 'active', 0, $4 WHERE EXISTS \
                       (SELECT 1 FROM tenants WHERE id = $2) \
                     ON CONFLICT (endpoint_id, tenant_id) DO UPDATE SET delivered_seq = $3, \
                     next_attempt_at = $4, lease_token = NULL, lease_until = NULL, state = 'active', failures = 0, first_failed_at = NULL, \
                     failing_seq = NULL, dead_at = NULL, last_error = NULL",
                )
                .bind(endpoint_id)
                .bind(tenant_id)
                .bind(seq - 1)
                .bind(Ts(now))
            }
            (ReplayFrom::Seq(seq), None) => query::<D>(
                "UPDATE webhook_cursors SET delivered_seq = $2, next_attempt_at = $3, \
                 lease_token = NULL, lease_until = NULL, state = 'active', failures = 0, first_failed_at = NULL, \
                 failing_seq = NULL, dead_at = NULL, last_error = NULL WHERE endpoint_id = $1",
            )
            .bind(endpoint_id)
            .bind(seq - 1)
            .bind(Ts(now)),
            (ReplayFrom::FailedEvent | ReplayFrom::SkipFailedEvent, tenant_id) => {
                let skip = matches!(from, ReplayFrom::SkipFailedEvent);
                query::<D>(
                    "UPDATE webhook_cursors SET \
                     delivered_seq = CASE WHEN $4 THEN coalesce(failing_seq, delivered_seq) \
                       ELSE delivered_seq END, \
                     next_attempt_at = $3, state = 'active', failures = 0, first_failed_at = NULL, \
                     failing_seq = NULL, dead_at = NULL, last_error = NULL \
                     WHERE endpoint_id = $1 AND ($2 IS NULL OR tenant_id = $2) \
                       AND state = 'dead'",
                )
                .bind(endpoint_id)
                .bind(tenant_id)
                .bind(Ts(now))
                .bind(skip)
            }
        };
        let mut tx = self.begin().await?;
        let resumed = statement.execute(&mut tx).await?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(resumed)
    }

    async fn sweep_webhook_attempts(&self, before: OffsetDateTime) -> Result<u64> {
        query::<D>("DELETE FROM webhook_attempts WHERE attempted_at < $1")
            .bind(Ts(before))
            .execute(&mut *self.write().await?)
            .await
    }
}
