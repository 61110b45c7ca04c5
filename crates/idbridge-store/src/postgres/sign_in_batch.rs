//! A sign-in's writes on PostgreSQL, for the group commit of `crate::sign_in_batch`.
//!
//! A batch is one transaction of at most two statements, whatever its size: every
//! replay record in one `INSERT … SELECT FROM unnest(…)`, every sign-in record in
//! one statement that also moves each tenant's feed counter once and numbers the
//! batch's events from it. A round trip per write would hold the writing task (and
//! a tenant's row) for the batch's length in round trips; two hold it for two. A
//! batch of one is its own single statement, committed on its own.

use sqlx::PgPool;

use uuid::Uuid;

use crate::sign_in_batch::{SeenAssertion, SignInRecord, SignInWrite, Written};
use crate::{AuthorizationCodeRecord, Result, SignInEvent, StoreError, sign_in_event};

/// All of `batch` in one transaction (a batch of one is its own statement).
pub(super) async fn write_together(pool: &PgPool, batch: &[&SignInWrite]) -> Result<Vec<Written>> {
    if let [_] = batch {
        // One write is one statement, atomic on its own: no BEGIN and COMMIT
        // round trips.
        let mut conn = pool.acquire().await?;
        return write_all(&mut conn, batch).await;
    }
    let mut tx = pool.begin().await?;
    let answers = write_all(&mut tx, batch).await?;
    tx.commit().await?;
    Ok(answers)
}

/// The batch's replay records, then its sign-in records, each kind in one
/// statement; the answers in the batch's order.
async fn write_all(conn: &mut sqlx::PgConnection, batch: &[&SignInWrite]) -> Result<Vec<Written>> {
    let seen: Vec<&SeenAssertion> = batch
        .iter()
        .filter_map(|w| match w {
            SignInWrite::Remember(seen) => Some(seen),
            SignInWrite::Record(_) => None,
        })
        .collect();
    let records: Vec<&SignInRecord> = batch
        .iter()
        .filter_map(|w| match w {
            SignInWrite::Record(record) => Some(&**record),
            SignInWrite::Remember(_) => None,
        })
        .collect();
    let mut fresh = remember_many(conn, &seen).await?.into_iter();
    record_many(conn, &records).await?;
    batch
        .iter()
        .map(|w| match w {
            SignInWrite::Record(_) => Ok(Written::Recorded),
            SignInWrite::Remember(_) => fresh
                .next()
                .map(|fresh| Written::Remembered { fresh })
                .ok_or_else(|| StoreError::Corrupt("a replay record lost its answer".into())),
        })
        .collect()
}

/// Every replay record of a batch in one statement. The first of several for one
/// assertion is the one that may be new; the others are replays of it, as they
/// would be one after another (and PostgreSQL refuses to upsert a row twice in one
/// statement, so they are not sent).
async fn remember_many(tx: &mut sqlx::PgConnection, seen: &[&SeenAssertion]) -> Result<Vec<bool>> {
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let mut first = std::collections::HashSet::new();
    let is_first: Vec<bool> = seen
        .iter()
        .map(|s| first.insert((s.tenant_id, s.assertion_id.as_str())))
        .collect();
    let sent: Vec<&&SeenAssertion> = seen
        .iter()
        .zip(&is_first)
        .filter(|(_, first)| **first)
        .map(|(s, _)| s)
        .collect();
    let accepted: Vec<(Uuid, String)> = sqlx::query_as(
        "INSERT INTO saml_assertions_seen AS s (tenant_id, assertion_id, expires_at) \
         SELECT tenant_id, assertion_id, expires_at \
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS i(tenant_id, assertion_id, expires_at) \
         ON CONFLICT (tenant_id, assertion_id) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE s.expires_at < $4 \
         RETURNING s.tenant_id, s.assertion_id",
    )
    .bind(sent.iter().map(|s| s.tenant_id).collect::<Vec<_>>())
    .bind(sent.iter().map(|s| s.assertion_id.as_str()).collect::<Vec<_>>())
    .bind(sent.iter().map(|s| s.expires_at).collect::<Vec<_>>())
    // A remembered assertion may be renewed once it has expired: by the earliest
    // clock of the batch, so no caller sees a renewal its own clock would refuse.
    .bind(seen.iter().map(|s| s.now).min())
    .fetch_all(&mut *tx)
    .await?;
    let accepted: std::collections::HashSet<(Uuid, &str)> = accepted
        .iter()
        .map(|(tenant, id)| (*tenant, id.as_str()))
        .collect();
    Ok(seen
        .iter()
        .zip(is_first)
        .map(|(s, first)| first && accepted.contains(&(s.tenant_id, s.assertion_id.as_str())))
        .collect())
}

/// Every sign-in record of a batch in one statement: each tenant's feed counter
/// moves once, by its count of records, and the events are numbered from it in the
/// batch's order, so each tenant's feed stays gapless and ordered.
async fn record_many(tx: &mut sqlx::PgConnection, records: &[&SignInRecord]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let events: Vec<crate::NewEvent> = records.iter().map(|r| sign_in_event(&r.event)).collect();
    let codes: Vec<Option<&AuthorizationCodeRecord>> = records
        .iter()
        .map(|r| r.code.as_ref().map(|(_, c)| c))
        .collect();
    let logs: Vec<&SignInEvent> = records.iter().map(|r| &r.event).collect();
    let sequenced: i64 = sqlx::query_scalar(
        "WITH input AS ( \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], \
                 $5::text[], $6::text[], $7::text[], $8::uuid[], $9::bool[], $10::text[], \
                 $11::bytea[], $12::uuid[], $13::text[], $14::uuid[], $15::text[], $16::text[], \
                 $17::timestamptz[], $18::timestamptz[], $19::timestamptz[], $20::text[], \
                 $21::uuid[], $22::text[], $23::text[], $24::uuid[], $25::text[], $26::uuid[], \
                 $27::uuid[]) \
             WITH ORDINALITY AS i(id, tenant_id, occurred_at, outcome, reason, detail, email, \
                 user_id, test, request_id, code_hash, client_id, redirect_uri, code_user_id, \
                 nonce, code_challenge, auth_time, code_created_at, code_expires_at, scope, \
                 event_id, type, resource_type, resource_id, data, connection_id, \
                 log_connection_id, ord) \
         ), counts AS ( \
             SELECT tenant_id, count(*) AS n FROM input GROUP BY tenant_id \
         ), seq AS ( \
             UPDATE tenants t SET event_seq = t.event_seq + c.n FROM counts c \
             WHERE t.id = c.tenant_id RETURNING t.id, t.event_seq, c.n \
         ), log AS ( \
             INSERT INTO sign_in_events (id, tenant_id, occurred_at, outcome, reason, detail, \
             email, user_id, test, request_id, connection_id) \
             SELECT id, tenant_id, occurred_at, outcome, reason, detail, email, user_id, test, \
             request_id, log_connection_id FROM input \
         ), code AS ( \
             INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, tenant_id, \
             user_id, nonce, code_challenge, auth_time, created_at, expires_at, scope, \
             connection_id) \
             SELECT code_hash, client_id, redirect_uri, tenant_id, code_user_id, nonce, \
             code_challenge, auth_time, code_created_at, code_expires_at, scope, connection_id \
             FROM input WHERE code_hash IS NOT NULL \
         ), event AS ( \
             INSERT INTO directory_events (tenant_id, seq, id, type, resource_type, \
             resource_id, occurred_at, data) \
             SELECT i.tenant_id, \
                 s.event_seq - s.n + row_number() OVER (PARTITION BY i.tenant_id ORDER BY i.ord), \
                 i.event_id, i.type, i.resource_type, i.resource_id, i.occurred_at, i.data::jsonb \
             FROM input i JOIN seq s ON s.id = i.tenant_id \
         ) SELECT coalesce(sum(n), 0)::bigint FROM seq",
    )
    .bind(logs.iter().map(|e| e.id).collect::<Vec<_>>())
    .bind(logs.iter().map(|e| e.tenant_id).collect::<Vec<_>>())
    .bind(logs.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
    .bind(
        logs.iter()
            .map(|e| if e.success { "success" } else { "failure" })
            .collect::<Vec<_>>(),
    )
    .bind(logs.iter().map(|e| e.reason.as_deref()).collect::<Vec<_>>())
    .bind(logs.iter().map(|e| e.detail.as_deref()).collect::<Vec<_>>())
    .bind(logs.iter().map(|e| e.email.as_deref()).collect::<Vec<_>>())
    .bind(logs.iter().map(|e| e.user_id).collect::<Vec<_>>())
    .bind(logs.iter().map(|e| e.test).collect::<Vec<_>>())
    .bind(
        logs.iter()
            .map(|e| e.request_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        records
            .iter()
            .map(|r| r.code.as_ref().map(|(hash, _)| hash.as_bytes().to_vec()))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.map(|c| c.client_id))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.map(|c| c.redirect_uri.as_str()))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.map(|c| c.user_id))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.and_then(|c| c.nonce.as_deref()))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.and_then(|c| c.code_challenge.as_deref()))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.map(|c| c.auth_time))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.map(|c| c.created_at))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.map(|c| c.expires_at))
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.map(|c| c.scope.as_str()))
            .collect::<Vec<_>>(),
    )
    .bind(records.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
    .bind(events.iter().map(|ev| ev.kind.as_str()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|ev| ev.resource_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|ev| ev.resource_id).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|ev| ev.data.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        codes
            .iter()
            .map(|c| c.and_then(|c| c.connection_id))
            .collect::<Vec<_>>(),
    )
    .bind(logs.iter().map(|e| e.connection_id).collect::<Vec<_>>())
    .fetch_one(&mut *tx)
    .await?;
    if sequenced != records.len() as i64 {
        // A tenant is gone: the caller's transaction is rolled back.
        return Err(StoreError::NotFound);
    }
    Ok(())
}
