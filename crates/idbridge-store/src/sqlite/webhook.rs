//! Webhook endpoints, cursors and attempts on SQLite. Writes go through the single
//! writer, which also makes a claim exclusive.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqliteStore, from_micros, micros, opt_from_micros, overfetch, uuid_of};
use crate::webhook::{
    AttemptOutcome, ClaimScope, ReplayFrom, WebhookAttempt, WebhookChanges, WebhookClaim,
    WebhookCursor, WebhookEndpoint, WebhookFailure, WebhookRepo,
};
use crate::{Page, PageRequest, Result, StoreError};

/// Pairs with something to deliver and due now, among the pairs `$from` joins
/// (`e` endpoints, `t` tenants): the enabled endpoint's tenant feed is past the
/// cursor. A missing cursor row means the tenant was created after the endpoint:
/// deliver from its first event. `?1` is now.
macro_rules! due_pairs {
    ($from:expr) => {
        concat!(
            "SELECT e.id AS endpoint_id, t.id AS tenant_id, \
               coalesce(c.next_attempt_at, 0) AS due_at FROM ",
            $from,
            " LEFT JOIN webhook_cursors c ON c.endpoint_id = e.id AND c.tenant_id = t.id \
             WHERE e.enabled = 1 AND t.event_seq > coalesce(c.delivered_seq, 0) \
               AND (c.endpoint_id IS NULL OR (c.state = 'active' AND c.next_attempt_at <= ?1 \
                    AND (c.lease_until IS NULL OR c.lease_until <= ?1)))"
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

/// The due pairs of [`ClaimScope::Everything`]; `?4` is the limit.
macro_rules! due_everywhere {
    () => {
        concat!(
            "SELECT endpoint_id, tenant_id FROM (",
            due_pairs!(every_pair!()),
            ") ORDER BY due_at LIMIT ?4"
        )
    };
}

/// The due pairs of [`ClaimScope::Recent`], driven from what happened lately, each
/// found by an index: feed events after `?5` (the events' UUIDv7 ids are
/// time-ordered; `directory_events.id` is unique, so indexed) and cursors that came
/// due after `?6` (`webhook_cursors_next_attempt_idx`: retries, replays). Each
/// `CROSS JOIN` makes SQLite loop over its left side first, so an idle poll reads
/// two empty index ranges and never walks the tenants.
macro_rules! due_recently {
    () => {
        concat!(
            "SELECT p.endpoint_id, p.tenant_id FROM ( \
               SELECT e.id AS endpoint_id, t.id AS tenant_id, t.event_seq \
               FROM (SELECT tenant_id FROM directory_events WHERE id > ?5 \
                     UNION SELECT tenant_id FROM webhook_cursors \
                       WHERE next_attempt_at > ?6 AND next_attempt_at <= ?1) k \
               CROSS JOIN tenants t ON t.id = k.tenant_id \
               CROSS JOIN webhook_endpoints e \
                 ON e.enabled = 1 AND (e.tenant_id IS NULL OR e.tenant_id = t.id) \
             ) p \
             LEFT JOIN webhook_cursors c ON c.endpoint_id = p.endpoint_id AND c.tenant_id = p.tenant_id \
             WHERE p.event_seq > coalesce(c.delivered_seq, 0) \
               AND (c.endpoint_id IS NULL OR (c.state = 'active' AND c.next_attempt_at <= ?1 \
                    AND (c.lease_until IS NULL OR c.lease_until <= ?1))) \
             ORDER BY coalesce(c.next_attempt_at, 0) LIMIT ?4"
        )
    };
}

/// Asked first on the read pool: an idle poll (nothing due, the usual answer) then
/// never takes the single writer, which SCIM and sign-in writes queue for.
const ANY_DUE_EVERYWHERE: &str = concat!("SELECT EXISTS (", due_everywhere!(), ")");
pub(super) const ANY_DUE_RECENTLY: &str = concat!("SELECT EXISTS (", due_recently!(), ")");

/// The due pairs, leased by the conditional upsert, which re-checks each under the
/// writer lock.
macro_rules! claim {
    ($due:expr) => {
        concat!(
            "WITH due AS (",
            $due,
            ") INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, \
               failures, next_attempt_at, lease_token, lease_until) \
             SELECT endpoint_id, tenant_id, 0, 'active', 0, ?1, ?2, ?3 FROM due WHERE true \
             ON CONFLICT (endpoint_id, tenant_id) DO UPDATE \
               SET lease_token = excluded.lease_token, lease_until = excluded.lease_until \
               WHERE webhook_cursors.state = 'active' AND webhook_cursors.next_attempt_at <= ?1 \
                 AND (webhook_cursors.lease_until IS NULL OR webhook_cursors.lease_until <= ?1) \
             RETURNING endpoint_id, tenant_id, delivered_seq, failures, first_failed_at"
        )
    };
}
const CLAIM_DUE_EVERYWHERE: &str = claim!(due_everywhere!());
const CLAIM_DUE_RECENTLY: &str = claim!(due_recently!());

fn endpoint_from_row(row: &SqliteRow) -> Result<WebhookEndpoint> {
    let event_types: Option<String> = row.try_get("event_types")?;
    Ok(WebhookEndpoint {
        id: uuid_of(row, "id")?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        event_types: event_types
            .map(|raw| serde_json::from_str(&raw))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("webhook event_types: {e}")))?,
        tenant_id: row.try_get("tenant_id")?,
        secret: row.try_get("secret")?,
        previous_secret: row.try_get("previous_secret")?,
        previous_secret_until: opt_from_micros(row.try_get("previous_secret_until")?)?,
        enabled: row.try_get("enabled")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn attempt_from_row(row: &SqliteRow) -> Result<WebhookAttempt> {
    Ok(WebhookAttempt {
        id: uuid_of(row, "id")?,
        endpoint_id: uuid_of(row, "endpoint_id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        event_id: uuid_of(row, "event_id")?,
        seq: row.try_get("seq")?,
        attempt: row.try_get("attempt")?,
        attempted_at: from_micros(row.try_get("attempted_at")?)?,
        duration_ms: row.try_get("duration_ms")?,
        status_code: row.try_get("status_code")?,
        error: row.try_get("error")?,
        outcome: AttemptOutcome::parse(row.try_get("outcome")?)?,
    })
}

fn cursor_from_row(row: &SqliteRow) -> Result<WebhookCursor> {
    let state: String = row.try_get("state")?;
    Ok(WebhookCursor {
        endpoint_id: uuid_of(row, "endpoint_id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        tenant_slug: row.try_get("slug")?,
        delivered_seq: row.try_get("delivered_seq")?,
        latest_seq: row.try_get("event_seq")?,
        dead: state == "dead",
        failures: row.try_get("failures")?,
        failing_seq: row.try_get("failing_seq")?,
        first_failed_at: opt_from_micros(row.try_get("first_failed_at")?)?,
        next_attempt_at: from_micros(row.try_get("next_attempt_at")?)?,
        last_attempt_at: opt_from_micros(row.try_get("last_attempt_at")?)?,
        last_error: row.try_get("last_error")?,
        dead_at: opt_from_micros(row.try_get("dead_at")?)?,
    })
}

fn event_types_json(types: Option<&Vec<String>>) -> Option<String> {
    types.map(|t| serde_json::Value::from(t.clone()).to_string())
}

async fn insert_attempt(conn: &mut sqlx::SqliteConnection, attempt: &WebhookAttempt) -> Result<()> {
    sqlx::query(
        "INSERT INTO webhook_attempts (id, endpoint_id, tenant_id, event_id, seq, attempt, \
         attempted_at, duration_ms, status_code, error, outcome) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(attempt.id)
    .bind(attempt.endpoint_id)
    .bind(attempt.tenant_id)
    .bind(attempt.event_id)
    .bind(attempt.seq)
    .bind(attempt.attempt)
    .bind(micros(attempt.attempted_at))
    .bind(attempt.duration_ms)
    .bind(attempt.status_code)
    .bind(&attempt.error)
    .bind(attempt.outcome.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts an endpoint's pairs in trouble. The last term is the partial index's
/// predicate word for word (`webhook_cursors_trouble_idx`, migration 0023), so only
/// failing and dead pairs are read.
pub(crate) const WEBHOOK_TROUBLE: &str = "SELECT COUNT(*) AS troubled, COALESCE(SUM(state = 'dead'), 0) AS dead \
     FROM webhook_cursors WHERE endpoint_id = ?1 AND (state = 'dead' OR failures > 0)";

#[async_trait]
impl WebhookRepo for SqliteStore {
    async fn create_webhook(&self, e: &WebhookEndpoint) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, description, event_types, tenant_id, secret, \
             previous_secret, previous_secret_until, enabled, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL, ?7, ?8, ?8)",
        )
        .bind(e.id)
        .bind(&e.url)
        .bind(&e.description)
        .bind(event_types_json(e.event_types.as_ref()))
        .bind(e.tenant_id)
        .bind(&e.secret)
        .bind(e.enabled)
        .bind(micros(e.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|err| match StoreError::from(err) {
            // The only foreign key: the tenant vanished meanwhile.
            StoreError::Backend(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                StoreError::NotFound
            }
            other => other,
        })?;
        // Caught up, so never due until a failure sets a time: the epoch, which also
        // keeps a new endpoint's thousands of cursors out of the recent polls' "came
        // due lately" range.
        sqlx::query(
            "INSERT INTO webhook_cursors (endpoint_id, tenant_id, delivered_seq, state, failures, \
             next_attempt_at) SELECT ?1, id, event_seq, 'active', 0, 0 FROM tenants \
             WHERE ?2 IS NULL OR id = ?2",
        )
        .bind(e.id)
        .bind(e.tenant_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook(&self, id: Uuid) -> Result<Option<WebhookEndpoint>> {
        sqlx::query("SELECT * FROM webhook_endpoints WHERE id = ?1")
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
            "SELECT * FROM webhook_endpoints WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2",
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
            "UPDATE webhook_endpoints SET url = coalesce(?2, url), \
             description = coalesce(?3, description), \
             event_types = CASE WHEN ?4 THEN ?5 ELSE event_types END, \
             enabled = coalesce(?6, enabled), updated_at = ?7 WHERE id = ?1 RETURNING *",
        )
        .bind(id)
        .bind(&changes.url)
        .bind(&changes.description)
        .bind(set_types)
        .bind(types)
        .bind(changes.enabled)
        .bind(micros(now))
        .fetch_optional(&self.writer)
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
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = ?3, \
             secret = ?2, updated_at = ?4 WHERE id = ?1",
        )
        .bind(id)
        .bind(secret)
        .bind(micros(previous_until))
        .bind(micros(now))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_webhook(&self, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = ?1")
            .bind(id)
            .execute(&self.writer)
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
        let (any_due, claim) = match scope {
            ClaimScope::Everything => (ANY_DUE_EVERYWHERE, CLAIM_DUE_EVERYWHERE),
            ClaimScope::Recent { .. } => (ANY_DUE_RECENTLY, CLAIM_DUE_RECENTLY),
        };
        // Both statements take ?1..?4, and ?5, ?6 in the recent scope.
        let bind = |sql| {
            let query = sqlx::query(sql)
                .bind(micros(now))
                .bind(lease_token)
                .bind(micros(lease_until))
                .bind(i64::from(limit));
            match scope {
                ClaimScope::Everything => query,
                ClaimScope::Recent {
                    events_after,
                    due_after,
                } => query.bind(events_after).bind(micros(due_after)),
            }
        };
        let due: bool = bind(any_due).fetch_one(&self.pool).await?.try_get(0)?;
        if !due {
            return Ok(Vec::new());
        }
        let rows = bind(claim).fetch_all(&self.writer).await?;
        rows.iter()
            .map(|row| {
                Ok(WebhookClaim {
                    endpoint_id: uuid_of(row, "endpoint_id")?,
                    tenant_id: uuid_of(row, "tenant_id")?,
                    lease_token,
                    delivered_seq: row.try_get("delivered_seq")?,
                    failures: row.try_get("failures")?,
                    first_failed_at: opt_from_micros(row.try_get("first_failed_at")?)?,
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE webhook_cursors SET delivered_seq = ?4, failures = 0, first_failed_at = NULL, \
             failing_seq = NULL, last_error = NULL, lease_until = ?5, \
             last_attempt_at = coalesce(?6, last_attempt_at) \
             WHERE endpoint_id = ?1 AND tenant_id = ?2 AND lease_token = ?3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(delivered_seq)
        .bind(micros(lease_until))
        .bind(attempt.map(|a| micros(a.attempted_at)))
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE webhook_cursors SET delivered_seq = ?4, failures = ?5, first_failed_at = ?6, \
             failing_seq = ?7, last_error = ?8, last_attempt_at = ?9, \
             state = CASE WHEN ?10 IS NULL THEN 'dead' ELSE 'active' END, \
             next_attempt_at = coalesce(?10, next_attempt_at), \
             dead_at = CASE WHEN ?10 IS NULL THEN ?9 ELSE NULL END, \
             lease_token = NULL, lease_until = NULL \
             WHERE endpoint_id = ?1 AND tenant_id = ?2 AND lease_token = ?3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(failure.delivered_seq)
        .bind(failure.failures)
        .bind(micros(failure.first_failed_at))
        .bind(failure.failing_seq)
        .bind(&failure.error)
        .bind(micros(attempt.attempted_at))
        .bind(failure.next_attempt_at.map(micros))
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
             next_attempt_at = coalesce(?4, next_attempt_at) \
             WHERE endpoint_id = ?1 AND tenant_id = ?2 AND lease_token = ?3",
        )
        .bind(claim.endpoint_id)
        .bind(claim.tenant_id)
        .bind(claim.lease_token)
        .bind(due_again_at.map(micros))
        .execute(&self.writer)
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
             WHERE c.endpoint_id = ?1 AND (?2 IS NULL OR c.tenant_id > ?2) \
             ORDER BY c.tenant_id LIMIT ?3",
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
            "SELECT * FROM webhook_attempts WHERE endpoint_id = ?1 \
             AND (?2 IS NULL OR tenant_id = ?2) AND (?3 IS NULL OR id < ?3) \
             ORDER BY id DESC LIMIT ?4",
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
                     SELECT ?1, ?2, ?3, 'active', 0, ?4 WHERE EXISTS \
                       (SELECT 1 FROM tenants WHERE id = ?2) \
                     ON CONFLICT (endpoint_id, tenant_id) DO UPDATE SET delivered_seq = ?3, \
                     next_attempt_at = ?4, lease_token = NULL, lease_until = NULL, state = 'active', failures = 0, first_failed_at = NULL, \
                     failing_seq = NULL, dead_at = NULL, last_error = NULL")
                .bind(endpoint_id)
                .bind(tenant_id)
                .bind(seq - 1)
                .bind(micros(now))
                .execute(&self.writer)
                .await?
            }
            (ReplayFrom::Seq(seq), None) => {
                sqlx::query(
                    "UPDATE webhook_cursors SET delivered_seq = ?2, next_attempt_at = ?3, \
                     lease_token = NULL, lease_until = NULL, state = 'active', failures = 0, first_failed_at = NULL, \
                     failing_seq = NULL, dead_at = NULL, last_error = NULL WHERE endpoint_id = ?1")
                .bind(endpoint_id)
                .bind(seq - 1)
                .bind(micros(now))
                .execute(&self.writer)
                .await?
            }
            (ReplayFrom::FailedEvent | ReplayFrom::SkipFailedEvent, tenant_id) => {
                let skip = matches!(from, ReplayFrom::SkipFailedEvent);
                sqlx::query(
                    "UPDATE webhook_cursors SET \
                     delivered_seq = CASE WHEN ?4 THEN coalesce(failing_seq, delivered_seq) \
                       ELSE delivered_seq END, \
                     next_attempt_at = ?3, state = 'active', failures = 0, first_failed_at = NULL, \
                     failing_seq = NULL, dead_at = NULL, last_error = NULL \
                     WHERE endpoint_id = ?1 AND (?2 IS NULL OR tenant_id = ?2) AND state = 'dead'")
                .bind(endpoint_id)
                .bind(tenant_id)
                .bind(micros(now))
                .bind(skip)
                .execute(&self.writer)
                .await?
            }
        };
        Ok(done.rows_affected())
    }

    async fn sweep_webhook_attempts(&self, before: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM webhook_attempts WHERE attempted_at < ?1")
            .bind(micros(before))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
