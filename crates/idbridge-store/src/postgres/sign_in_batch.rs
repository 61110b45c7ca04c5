//! A sign-in's writes on PostgreSQL, for the group commit of `crate::sign_in_batch`:
//! a batch is one transaction, and each write in it one statement. A batch of one is
//! its statement alone, committed on its own (one round trip).

use async_trait::async_trait;
use sqlx::PgPool;

use crate::sign_in_batch::{SeenAssertion, SignInWrite, SignInWriter, Written};
use crate::{AuthorizationCodeRecord, Result, SignInEvent, sign_in_event};
use idbridge_core::secret::SecretHash;

pub(super) struct PgSignIns {
    pub(super) pool: PgPool,
}

#[async_trait]
impl SignInWriter for PgSignIns {
    async fn write_together(&self, batch: &[&SignInWrite]) -> Result<Vec<Written>> {
        if let [write] = batch {
            return Ok(vec![write_alone(&self.pool, write).await?]);
        }
        let mut tx = self.pool.begin().await?;
        let mut answers = Vec::with_capacity(batch.len());
        for write in batch {
            answers.push(write_alone(&mut *tx, write).await?);
        }
        tx.commit().await?;
        Ok(answers)
    }
}

async fn write_alone<'c>(conn: impl sqlx::PgExecutor<'c>, write: &SignInWrite) -> Result<Written> {
    Ok(match write {
        SignInWrite::Record(record) => {
            write_one(conn, &record.event, record.code.as_ref()).await?;
            Written::Recorded
        }
        SignInWrite::Remember(seen) => Written::Remembered {
            fresh: remember(conn, seen).await?,
        },
    })
}

/// One statement decides: a new id is inserted; a remembered one that has expired
/// is renewed; a live one is left alone (0 rows: a replay).
async fn remember<'c>(conn: impl sqlx::PgExecutor<'c>, seen: &SeenAssertion) -> Result<bool> {
    let affected = sqlx::query(
        "INSERT INTO saml_assertions_seen (tenant_id, assertion_id, expires_at) \
         VALUES ($1, $2, $3) ON CONFLICT (tenant_id, assertion_id) DO UPDATE \
         SET expires_at = excluded.expires_at WHERE saml_assertions_seen.expires_at < $4",
    )
    .bind(seen.tenant_id)
    .bind(&seen.assertion_id)
    .bind(seen.expires_at)
    .bind(seen.now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(affected == 1)
}

async fn write_one<'c>(
    conn: impl sqlx::PgExecutor<'c>,
    e: &SignInEvent,
    code: Option<&(SecretHash, AuthorizationCodeRecord)>,
) -> Result<()> {
    // The sign-in log row, the code it issued and its event in the tenant's feed:
    // one statement. The tenant row (the feed's sequencer) is locked from here to
    // the commit, so nothing else in a batch waits on a round trip to idbridge
    // while holding it longer than the batch's own statements.
    let event = sign_in_event(e);
    let (hash, c) = match code {
        Some((hash, c)) => (Some(hash.as_bytes().to_vec()), Some(c)),
        None => (None, None),
    };
    sqlx::query_scalar::<_, i64>(
        "WITH seq AS ( \
             UPDATE tenants SET event_seq = event_seq + 1 WHERE id = $2 RETURNING event_seq \
         ), log AS ( \
             INSERT INTO sign_in_events (id, tenant_id, occurred_at, outcome, reason, detail, \
             email, user_id, test, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ), code AS ( \
             INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, tenant_id, \
             user_id, nonce, code_challenge, auth_time, created_at, expires_at, scope) \
             SELECT $11, $12, $13, $2, $14, $15, $16, $17, $18, $19, $20 \
             WHERE $11::bytea IS NOT NULL \
         ), event AS ( \
             INSERT INTO directory_events (tenant_id, seq, id, type, resource_type, \
             resource_id, occurred_at, data) \
             SELECT $2, seq.event_seq, $21, $22, $23, $24, $3, $25::jsonb FROM seq \
         ) SELECT event_seq FROM seq",
    )
    .bind(e.id)
    .bind(e.tenant_id)
    .bind(e.occurred_at)
    .bind(if e.success { "success" } else { "failure" })
    .bind(&e.reason)
    .bind(&e.detail)
    .bind(&e.email)
    .bind(e.user_id)
    .bind(e.test)
    .bind(&e.request_id)
    .bind(hash)
    .bind(c.map(|c| c.client_id))
    .bind(c.map(|c| c.redirect_uri.as_str()))
    .bind(c.map(|c| c.user_id))
    .bind(c.and_then(|c| c.nonce.as_deref()))
    .bind(c.and_then(|c| c.code_challenge.as_deref()))
    .bind(c.map(|c| c.auth_time))
    .bind(c.map(|c| c.created_at))
    .bind(c.map(|c| c.expires_at))
    .bind(c.map(|c| c.scope.as_str()))
    .bind(uuid::Uuid::now_v7())
    .bind(event.kind)
    .bind(event.resource_type)
    .bind(event.resource_id)
    .bind(event.data.to_string())
    .fetch_optional(conn)
    .await?
    .ok_or(crate::StoreError::NotFound)?;
    Ok(())
}
