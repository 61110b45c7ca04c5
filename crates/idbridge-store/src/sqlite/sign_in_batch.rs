//! A sign-in's writes on SQLite, for the group commit of `crate::sign_in_batch`: a
//! batch is one IMMEDIATE transaction on the writer, and each write in it one
//! message to the connection's thread.

use sqlx::SqlitePool;
use uuid::Uuid;

use crate::db::micros;
use crate::sign_in_batch::{SeenAssertion, SignInWrite, Written};
use crate::{AuthorizationCodeRecord, Result, SignInEvent, StoreError, sign_in_event};
use idbridge_core::secret::SecretHash;

/// All of `batch` in one IMMEDIATE transaction on the writer, in order.
pub(super) async fn write_together(
    writer: &SqlitePool,
    batch: &[&SignInWrite],
) -> Result<Vec<Written>> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut answers = Vec::with_capacity(batch.len());
    for write in batch {
        answers.push(match write {
            SignInWrite::Record(record) => {
                write_one(&mut tx, &record.event, record.code.as_ref()).await?;
                Written::Recorded
            }
            SignInWrite::Remember(seen) => Written::Remembered {
                fresh: remember(&mut tx, seen).await?,
            },
        });
    }
    tx.commit().await?;
    Ok(answers)
}

/// One statement decides: a new id is inserted; a remembered one that has expired
/// is renewed; a live one is left alone (0 rows: a replay).
async fn remember(conn: &mut sqlx::SqliteConnection, seen: &SeenAssertion) -> Result<bool> {
    let affected = sqlx::query(
        "INSERT INTO saml_assertions_seen (tenant_id, assertion_id, expires_at) \
         VALUES (?1, ?2, ?3) ON CONFLICT (tenant_id, assertion_id) DO UPDATE \
         SET expires_at = excluded.expires_at WHERE saml_assertions_seen.expires_at < ?4",
    )
    .bind(seen.tenant_id)
    .bind(&seen.assertion_id)
    .bind(micros(seen.expires_at))
    .bind(micros(seen.now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(affected == 1)
}

/// The code, the sign-in log row and its event in the tenant's feed, sent as one
/// multi-statement message: a statement is a hand-off to the connection's thread
/// and back, and this is the hot path of every sign-in.
///
/// How sqlx binds such a message: each statement takes `?N` as the N-th value, but
/// counts every number it skips below its highest as a positional parameter, across
/// statements, and stops binding once that count passes the number of values. The
/// statements are ordered and numbered to stay under it (skipped: 0, 0, 5, 15 of 27);
/// the store contract tests read back every column written here.
async fn write_one(
    conn: &mut sqlx::SqliteConnection,
    e: &SignInEvent,
    code: Option<&(SecretHash, AuthorizationCodeRecord)>,
) -> Result<()> {
    let event = sign_in_event(e);
    let (hash, c) = match code {
        Some((hash, c)) => (Some(hash.as_bytes().to_vec()), Some(c)),
        None => (None, None),
    };
    let sequenced = sqlx::query_scalar::<_, i64>(
        "UPDATE tenants SET event_seq = event_seq + 1 WHERE id = ?1 RETURNING event_seq; \
         INSERT INTO directory_events (tenant_id, seq, id, type, resource_type, resource_id, \
         occurred_at, data) \
         SELECT ?1, event_seq, ?3, ?4, ?5, ?6, ?2, ?7 FROM tenants WHERE id = ?1; \
         INSERT INTO sign_in_events (id, tenant_id, occurred_at, outcome, reason, detail, \
         email, user_id, test, request_id, connection_id) \
         VALUES (?8, ?1, ?2, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16); \
         INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, tenant_id, \
         user_id, nonce, code_challenge, auth_time, created_at, expires_at, scope, \
         connection_id) \
         SELECT ?17, ?18, ?19, ?1, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27 WHERE ?17 IS NOT NULL",
    )
    .bind(e.tenant_id)
    .bind(micros(e.occurred_at))
    .bind(Uuid::now_v7())
    .bind(event.kind.as_str())
    .bind(event.resource_type.as_str())
    .bind(event.resource_id)
    .bind(event.data.to_string())
    .bind(e.id)
    .bind(if e.success { "success" } else { "failure" })
    .bind(&e.reason)
    .bind(&e.detail)
    .bind(&e.email)
    .bind(e.user_id)
    .bind(e.test)
    .bind(&e.request_id)
    .bind(e.connection_id)
    .bind(hash)
    .bind(c.map(|c| c.client_id))
    .bind(c.map(|c| c.redirect_uri.as_str()))
    .bind(c.map(|c| c.user_id))
    .bind(c.and_then(|c| c.nonce.as_deref()))
    .bind(c.and_then(|c| c.code_challenge.as_deref()))
    .bind(c.map(|c| micros(c.auth_time)))
    .bind(c.map(|c| micros(c.created_at)))
    .bind(c.map(|c| micros(c.expires_at)))
    .bind(c.map(|c| c.scope.as_str()))
    .bind(c.and_then(|c| c.connection_id))
    // `fetch_all`, never `fetch_optional`: that stops at the first row, and the
    // statements after it would not run.
    .fetch_all(&mut *conn)
    .await?;
    if sequenced.len() != 1 {
        // No tenant row: the caller's transaction is rolled back.
        return Err(StoreError::NotFound);
    }
    Ok(())
}
