//! Webhook endpoints, cursors and attempts on PostgreSQL.
//!
//! A claim is a read (is anything due?) and then one `INSERT … ON CONFLICT DO
//! UPDATE … WHERE` statement: PostgreSQL locks each conflicting cursor row and
//! re-checks the condition on its newest version, so of several processes claiming
//! at once exactly one gets each pair, with no lock held beyond the statement (the
//! lease replaces a long transaction).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, overfetch, uuid_of};
use crate::webhook::{
    AttemptOutcome, ClaimScope, ReplayFrom, WebhookAttempt, WebhookChanges, WebhookClaim,
    WebhookCursor, WebhookEndpoint, WebhookFailure, WebhookRepo,
};
use crate::{Page, PageRequest, Result, StoreError};

/// See the SQLite twin for what counts as due and how each scope finds it. `$1` is
/// now and `$2` the limit; the recent scope adds `$3` (events after) and `$4` (due
/// after).
macro_rules! due_pairs {
    ($from:expr) => {
        concat!(
            "SELECT e.id AS endpoint_id, t.id AS tenant_id, c.next_attempt_at AS due_at FROM ",
            $from,
            " LEFT JOIN webhook_cursors c ON c.endpoint_id = e.id AND c.tenant_id = t.id \
             WHERE e.enabled AND t.event_seq > coalesce(c.delivered_seq, 0) \
               AND (c.endpoint_id IS NULL OR (c.state = 'active' AND c.next_attempt_at <= $1 \
                    AND (c.lease_until IS NULL OR c.lease_until <= $1)))"
        )
    };
}

macro_rules! every_pair {
    () => {
        "webhook_endpoints e JOIN tenants t ON (e.tenant_id IS NULL OR e.tenant_id = t.id)"
    };
}

macro_rules! due_everywhere {
    () => {
        concat!(
            "SELECT endpoint_id, tenant_id FROM (",
            due_pairs!(every_pair!()),
            ") d ORDER BY due_at NULLS FIRST LIMIT $2"
        )
    };
}

/// Starts from what happened lately, as on SQLite. Each `LATERAL … OFFSET 0` (the
/// `OFFSET` keeps the planner from flattening it into an ordinary join) is a loop
/// over the rows before it, whatever the statistics say: without that, a fresh or
/// never-analysed table invites a hash join over every tenant and cursor. An idle
/// poll reads two empty index ranges.
macro_rules! due_recently {
    () => {
        "SELECT p.endpoint_id, p.tenant_id FROM ( \
           SELECT e.id AS endpoint_id, t.id AS tenant_id, t.event_seq \
           FROM (SELECT tenant_id FROM directory_events WHERE id > $3 \
                 UNION SELECT tenant_id FROM webhook_cursors \
                   WHERE next_attempt_at > $4 AND next_attempt_at <= $1) k \
           CROSS JOIN LATERAL (SELECT id, event_seq FROM tenants \
             WHERE id = k.tenant_id OFFSET 0) t \
           CROSS JOIN LATERAL (SELECT id FROM webhook_endpoints \
             WHERE enabled AND (tenant_id IS NULL OR tenant_id = t.id) OFFSET 0) e \
         ) p \
         LEFT JOIN LATERAL (SELECT * FROM webhook_cursors w \
           WHERE w.endpoint_id = p.endpoint_id AND w.tenant_id = p.tenant_id OFFSET 0) c ON true \
         WHERE p.event_seq > coalesce(c.delivered_seq, 0) \
           AND (c.endpoint_id IS NULL OR (c.state = 'active' AND c.next_attempt_at <= $1 \
                AND (c.lease_until IS NULL OR c.lease_until <= $1))) \
         ORDER BY c.next_attempt_at NULLS FIRST LIMIT $2"
    };
}

/// A read first: an idle poll then writes nothing (the claim below is an upsert,
/// a write even when it claims nothing).
const ANY_DUE_EVERYWHERE: &str = concat!("SELECT EXISTS (", due_everywhere!(), ")");
pub(super) const ANY_DUE_RECENTLY: &str = concat!("SELECT EXISTS (", due_recently!(), ")");

/// One `INSERT … ON CONFLICT DO UPDATE … WHERE`: PostgreSQL locks each conflicting
/// cursor row and re-checks the condition on its newest version, so of several
/// processes claiming at once exactly one gets each pair. `$token` and `$until`
/// name the lease's parameters.
macro_rules! claim {
    ($due:expr, $token:expr, $until:expr) => {
        concat!(
            "WITH due AS (",
            $due,
            ") INSERT INTO webhook_cursors AS w (endpoint_id, tenant_id, delivered_seq, state, \
               failures, next_attempt_at, lease_token, lease_until) \
             SELECT endpoint_id, tenant_id, 0, 'active', 0, $1, ",
            $token,
            ", ",
            $until,
            " FROM due \
             ON CONFLICT (endpoint_id, tenant_id) DO UPDATE \
               SET lease_token = excluded.lease_token, lease_until = excluded.lease_until \
               WHERE w.state = 'active' AND w.next_attempt_at <= $1 \
                 AND (w.lease_until IS NULL OR w.lease_until <= $1) \
             RETURNING endpoint_id, tenant_id, delivered_seq, failures, first_failed_at"
        )
    };
}
const CLAIM_DUE_EVERYWHERE: &str = claim!(due_everywhere!(), "$3", "$4");
const CLAIM_DUE_RECENTLY: &str = claim!(due_recently!(), "$5", "$6");

fn unsigned(row: &PgRow, column: &str) -> Result<u32> {
    let value: i32 = row.try_get(column)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column} = {value}")))
}

fn signed(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn endpoint_from_row(row: &PgRow) -> Result<WebhookEndpoint> {
    let event_types: Option<serde_json::Value> = row.try_get("event_types")?;
    Ok(WebhookEndpoint {
        id: uuid_of(row, "id")?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        event_types: event_types
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("webhook event_types: {e}")))?,
        tenant_id: row.try_get("tenant_id")?,
        secret: row.try_get("secret")?,
        previous_secret: row.try_get("previous_secret")?,
        previous_secret_until: row.try_get("previous_secret_until")?,
        enabled: row.try_get("enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn attempt_from_row(row: &PgRow) -> Result<WebhookAttempt> {
    let status: Option<i32> = row.try_get("status_code")?;
    Ok(WebhookAttempt {
        id: uuid_of(row, "id")?,
        endpoint_id: uuid_of(row, "endpoint_id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        event_id: uuid_of(row, "event_id")?,
        seq: row.try_get("seq")?,
        attempt: unsigned(row, "attempt")?,
        attempted_at: row.try_get("attempted_at")?,
        duration_ms: unsigned(row, "duration_ms")?,
        status_code: status.and_then(|s| u16::try_from(s).ok()),
        error: row.try_get("error")?,
        outcome: AttemptOutcome::parse(row.try_get("outcome")?)?,
    })
}

fn cursor_from_row(row: &PgRow) -> Result<WebhookCursor> {
    let state: String = row.try_get("state")?;
    Ok(WebhookCursor {
        endpoint_id: uuid_of(row, "endpoint_id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        tenant_slug: row.try_get("slug")?,
        delivered_seq: row.try_get("delivered_seq")?,
        latest_seq: row.try_get("event_seq")?,
        dead: state == "dead",
        failures: unsigned(row, "failures")?,
        failing_seq: row.try_get("failing_seq")?,
        first_failed_at: row.try_get("first_failed_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        last_error: row.try_get("last_error")?,
        dead_at: row.try_get("dead_at")?,
    })
}

fn event_types_json(types: Option<&Vec<String>>) -> Option<serde_json::Value> {
    types.map(|t| serde_json::Value::from(t.clone()))
}

async fn insert_attempt(conn: &mut PgConnection, attempt: &WebhookAttempt) -> Result<()> {
    sqlx::query(
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
    .bind(attempt.attempted_at)
    .bind(signed(attempt.duration_ms))
    .bind(attempt.status_code.map(i32::from))
    .bind(&attempt.error)
    .bind(attempt.outcome.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts an endpoint's pairs in trouble. The last term is the partial index's
/// predicate word for word (`webhook_cursors_trouble_idx`, migration 0023), so only
/// failing and dead pairs are read.
pub(crate) const WEBHOOK_TROUBLE: &str = "SELECT COUNT(*) AS troubled, COUNT(*) FILTER (WHERE state = 'dead') AS dead \
     FROM webhook_cursors WHERE endpoint_id = $1 AND (state = 'dead' OR failures > 0)";

#[async_trait]
impl WebhookRepo for PostgresStore {
    async fn create_webhook(&self, e: &WebhookEndpoint) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, description, event_types, tenant_id, secret, \
             previous_secret, previous_secret_until, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, $8)",
        )
        .bind(e.id)
        .bind(&e.url)
        .bind(&e.description)
        .bind(event_types_json(e.event_types.as_ref()))
        .bind(e.tenant_id)
        .bind(&e.secret)
        .bind(e.enabled)
        .bind(e.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|err| match err {
            // The only foreign key: the tenant vanished meanwhile.
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            other => StoreError::from(other),
        })?;
        // Caught up, so never due until a failure sets a time: the epoch, which also
        // keeps a new endpoint's thousands of cursors out of the recent polls' "came
        // due lately" range.
        sqlx::query(
            "INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, failures, \
             next_attempt_at) SELECT $1, id, event_seq, 'active', 0, 'epoch' FROM tenants \
             WHERE $2::uuid IS NULL OR id = $2",
        )
        .bind(e.id)
        .bind(e.tenant_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook(&self, id: Uuid) -> Result<Option<WebhookEndpoint>> {
        sqlx::query("SELECT * FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(endpoint_from_row)
            .transpose()
    }

    async fn list_webhooks(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM webhook_endpoints WHERE ($1::uuid IS NULL OR id > $1) \
             ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(endpoint_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |e| {
            e.id
        }))
    }

    async fn count_webhooks(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_endpoints")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.try_into().unwrap_or(0))
    }

    async fn update_webhook(
        &self,
        id: Uuid,
        changes: &WebhookChanges,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookEndpoint>> {
        let (set_types, types) = match &changes.event_types {
            None => (false, None),
            Some(types) => (true, event_types_json(types.as_ref())),
        };
        sqlx::query(
            "UPDATE webhook_endpoints SET url = coalesce($2, url), \
             description = coalesce($3, description), \
             event_types = CASE WHEN $4 THEN $5::jsonb ELSE event_types END, \
             enabled = coalesce($6, enabled), updated_at = $7 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(&changes.url)
        .bind(&changes.description)
        .bind(set_types)
        .bind(types)
        .bind(changes.enabled)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(endpoint_from_row)
        .transpose()
    }

    async fn rotate_webhook_secret(
        &self,
        id: Uuid,
        secret: &str,
        previous_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $3, \
             secret = $2, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(secret)
        .bind(previous_until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_webhook(&self, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_webhook_work(
        &self,
        now: OffsetDateTime,
        lease_token: Uuid,
        lease_until: OffsetDateTime,
        limit: u32,
        scope: ClaimScope,
    ) -> Result<Vec<WebhookClaim>> {
        let rows = match scope {
            ClaimScope::Everything => {
                let due: bool = sqlx::query_scalar(ANY_DUE_EVERYWHERE)
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_one(&self.pool)
                    .await?;
                if !due {
                    return Ok(Vec::new());
                }
                sqlx::query(CLAIM_DUE_EVERYWHERE)
                    .bind(now)
                    .bind(i64::from(limit))
                    .bind(lease_token)
                    .bind(lease_until)
                    .fetch_all(&self.pool)
                    .await?
            }
            ClaimScope::Recent {
                events_after,
                due_after,
            } => {
                let due: bool = sqlx::query_scalar(ANY_DUE_RECENTLY)
                    .bind(now)
                    .bind(i64::from(limit))
                    .bind(events_after)
                    .bind(due_after)
                    .fetch_one(&self.pool)
                    .await?;
                if !due {
                    return Ok(Vec::new());
                }
                sqlx::query(CLAIM_DUE_RECENTLY)
                    .bind(now)
                    .bind(i64::from(limit))
                    .bind(events_after)
                    .bind(due_after)
                    .bind(lease_token)
                    .bind(lease_until)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|row| {
                Ok(WebhookClaim {
                    endpoint_id: uuid_of(row, "endpoint_id")?,
                    tenant_id: uuid_of(row, "tenant_id")?,
                    lease_token,
                    delivered_seq: row.try_get("delivered_seq")?,
                    failures: unsigned(row, "failures")?,
                    first_failed_at: row.try_get("first_failed_at")?,
                })
            })
            .collect()
    }

    async fn record_webhook_progress(
        &self,
        claim: &WebhookClaim,
        delivered_seq: i64,
        attempt: Option<&WebhookAttempt>,
        lease_until: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE webhook_cursors SET delivered_seq = $4, failures = 0, first_failed_at = NULL, \
             failing_seq = NULL, last_error = NULL, lease_until = $5, \
             last_attempt_at = coalesce($6, last_attempt_at) \
             WHERE endpoint_id = $1 AND tenant_id = $2 AND lease_token = $3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(delivered_seq)
        .bind(lease_until)
        .bind(attempt.map(|a| a.attempted_at))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !updated {
            return Ok(false);
        }
        if let Some(attempt) = attempt {
            insert_attempt(&mut tx, attempt).await?;
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
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE webhook_cursors SET delivered_seq = $4, failures = $5, first_failed_at = $6, \
             failing_seq = $7, last_error = $8, last_attempt_at = $9, \
             state = CASE WHEN $10::timestamptz IS NULL THEN 'dead' ELSE 'active' END, \
             next_attempt_at = coalesce($10, next_attempt_at), \
             dead_at = CASE WHEN $10::timestamptz IS NULL THEN $9 ELSE NULL END, \
             lease_token = NULL, lease_until = NULL \
             WHERE endpoint_id = $1 AND tenant_id = $2 AND lease_token = $3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(failure.delivered_seq)
        .bind(signed(failure.failures))
        .bind(failure.first_failed_at)
        .bind(failure.failing_seq)
        .bind(&failure.error)
        .bind(attempt.attempted_at)
        .bind(failure.next_attempt_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !updated {
            return Ok(false);
        }
        insert_attempt(&mut tx, attempt).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn release_webhook_claim(
        &self,
        claim: &WebhookClaim,
        due_again_at: Option<OffsetDateTime>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_cursors SET lease_token = NULL, lease_until = NULL, \
             next_attempt_at = coalesce($4, next_attempt_at) \
             WHERE endpoint_id = $1 AND tenant_id = $2 AND lease_token = $3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(due_again_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook_cursors(
        &self,
        endpoint_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<WebhookCursor>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT c.*, t.slug, t.event_seq FROM webhook_cursors c \
             JOIN tenants t ON t.id = c.tenant_id \
             WHERE c.endpoint_id = $1 AND ($2::uuid IS NULL OR c.tenant_id > $2) \
             ORDER BY c.tenant_id LIMIT $3",
        )
        .bind(endpoint_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(cursor_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |c| {
            c.tenant_id
        }))
    }

    async fn webhook_trouble(&self, endpoint_id: Uuid) -> Result<crate::webhook::WebhookTrouble> {
        let row = sqlx::query(WEBHOOK_TROUBLE)
            .bind(endpoint_id)
            .fetch_one(&self.pool)
            .await?;
        let count = |name: &str| -> Result<u64> {
            let n: i64 = row.try_get(name)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let (troubled, dead) = (count("troubled")?, count("dead")?);
        Ok(crate::webhook::WebhookTrouble {
            retrying: troubled.saturating_sub(dead),
            dead,
        })
    }

    async fn webhook_attempts(
        &self,
        endpoint_id: Uuid,
        tenant_id: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<WebhookAttempt>> {
        let (before, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM webhook_attempts WHERE endpoint_id = $1 \
             AND ($2::uuid IS NULL OR tenant_id = $2) AND ($3::uuid IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4",
        )
        .bind(endpoint_id)
        .bind(tenant_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(attempt_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |a| {
            a.id
        }))
    }

    async fn replay_webhook(
        &self,
        endpoint_id: Uuid,
        tenant_id: Option<Uuid>,
        from: ReplayFrom,
        now: OffsetDateTime,
    ) -> Result<u64> {
        let done = match (from, tenant_id) {
            (ReplayFrom::Seq(seq), Some(tenant_id)) => {
                // A rewind also takes the lease away, so a worker in the middle of
                // the pair cannot record progress past the rewound position.
                sqlx::query(
                    "INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, \
                     failures, next_attempt_at) \
                     SELECT $1, $2, $3, 'active', 0, $4 WHERE EXISTS \
                       (SELECT 1 FROM tenants WHERE id = $2) \
                     ON CONFLICT (endpoint_id, tenant_id) DO UPDATE SET delivered_seq = $3, \
                     next_attempt_at = $4, lease_token = NULL, lease_until = NULL, state = 'active', failures = 0, first_failed_at = NULL, \
                     failing_seq = NULL, dead_at = NULL, last_error = NULL")
                .bind(endpoint_id)
                .bind(tenant_id)
                .bind(seq - 1)
                .bind(now)
                .execute(&self.pool)
                .await?
            }
            (ReplayFrom::Seq(seq), None) => {
                sqlx::query(
                    "UPDATE webhook_cursors SET delivered_seq = $2, next_attempt_at = $3, \
                     lease_token = NULL, lease_until = NULL, state = 'active', failures = 0, first_failed_at = NULL, \
                     failing_seq = NULL, dead_at = NULL, last_error = NULL WHERE endpoint_id = $1")
                .bind(endpoint_id)
                .bind(seq - 1)
                .bind(now)
                .execute(&self.pool)
                .await?
            }
            (ReplayFrom::FailedEvent | ReplayFrom::SkipFailedEvent, tenant_id) => {
                let skip = matches!(from, ReplayFrom::SkipFailedEvent);
                sqlx::query(
                    "UPDATE webhook_cursors SET \
                     delivered_seq = CASE WHEN $4 THEN coalesce(failing_seq, delivered_seq) \
                       ELSE delivered_seq END, \
                     next_attempt_at = $3, state = 'active', failures = 0, first_failed_at = NULL, \
                     failing_seq = NULL, dead_at = NULL, last_error = NULL \
                     WHERE endpoint_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2) \
                       AND state = 'dead'")
                .bind(endpoint_id)
                .bind(tenant_id)
                .bind(now)
                .bind(skip)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected())
    }

    async fn sweep_webhook_attempts(&self, before: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM webhook_attempts WHERE attempted_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
