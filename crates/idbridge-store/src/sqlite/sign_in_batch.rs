//! Sign-in records, written many to a transaction (group commit).
//!
//! Every sign-in, accepted or refused, writes its log row and feed event (and its
//! authorization code) before the browser gets an answer. SQLite has one writer, and
//! a transaction per sign-in held it across three hand-offs to the connection's
//! thread, each waiting for a busy async worker to come back, and wrote the same hot
//! pages (the tenant's row, the tables' last pages) to the WAL again per sign-in.
//! That, not the CPU, bounded sign-ins per second.
//!
//! Here one task owns the sign-in writes: it takes every record waiting, writes them
//! in one transaction, and answers each caller after the commit. Under no load a
//! batch is one record and costs what a lone transaction did; under load the cost of
//! a commit is shared. Nothing is acknowledged before it is committed, so a caller
//! sees exactly what it would have seen writing alone.
//!
//! A batch that fails is rolled back whole and each of its records is then written
//! in its own transaction, so a record that cannot be written (its tenant deleted a
//! moment ago) fails alone, with its own error, and takes no other down.
//!
//! The task is a spawned task, not part of any request: a client that disconnects
//! cancels its wait, never a write in flight.

use std::sync::OnceLock;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::micros;
use crate::{AuthorizationCodeRecord, Result, SignInEvent, StoreError, sign_in_event};
use idbridge_core::secret::SecretHash;

/// The most records one transaction takes: enough to share a commit widely, few
/// enough that the writer is soon free for other writes.
const MAX_BATCH: usize = 64;
/// Records that may wait before callers wait to enqueue (backpressure).
const QUEUE_DEPTH: usize = 1024;

/// One sign-in to record, and where to say how it went.
struct Pending {
    event: SignInEvent,
    code: Option<(SecretHash, AuthorizationCodeRecord)>,
    done: oneshot::Sender<Result<()>>,
}

/// The way into the writing task, started on first use (the store is built before
/// a runtime may exist; its first write always runs inside one). The task ends when
/// the store is dropped, with the sender.
pub(super) struct SignInBatcher {
    writer: SqlitePool,
    queue: OnceLock<mpsc::Sender<Pending>>,
}

impl SignInBatcher {
    pub(super) fn new(writer: SqlitePool) -> Self {
        Self {
            writer,
            queue: OnceLock::new(),
        }
    }

    pub(super) async fn record(
        &self,
        event: &SignInEvent,
        code: Option<(&SecretHash, &AuthorizationCodeRecord)>,
    ) -> Result<()> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
            tokio::spawn(write_batches(self.writer.clone(), receiver));
            sender
        });
        let (done, outcome) = oneshot::channel();
        let pending = Pending {
            event: event.clone(),
            code: code.map(|(hash, record)| (*hash, record.clone())),
            done,
        };
        queue
            .send(pending)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        outcome.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn write_batches(writer: SqlitePool, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() > 1 && write_together(&writer, &batch).await.is_ok() {
            for pending in batch.drain(..) {
                let _ = pending.done.send(Ok(()));
            }
            continue;
        }
        // One record, or a batch that failed (rolled back whole): each alone, with
        // its own answer.
        for pending in batch.drain(..) {
            let outcome = write_together(&writer, std::slice::from_ref(&pending)).await;
            let _ = pending.done.send(outcome);
        }
    }
}

/// Writes `batch` in one transaction: all of it, or (on any error) none.
async fn write_together(writer: &SqlitePool, batch: &[Pending]) -> Result<()> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    for pending in batch {
        write_one(&mut tx, &pending.event, pending.code.as_ref()).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The code, the sign-in log row and its event in the tenant's feed, sent as one
/// multi-statement message: a statement is a hand-off to the connection's thread
/// and back, and this is the hot path of every sign-in.
///
/// How sqlx binds such a message: each statement takes `?N` as the N-th value, but
/// counts every number it skips below its highest as a positional parameter, across
/// statements, and stops binding once that count passes the number of values. The
/// statements are ordered and numbered to stay under it (skipped: 0, 0, 5, 14 of 25);
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
         email, user_id, test, request_id) \
         VALUES (?8, ?1, ?2, ?9, ?10, ?11, ?12, ?13, ?14, ?15); \
         INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, tenant_id, \
         user_id, nonce, code_challenge, auth_time, created_at, expires_at, scope) \
         SELECT ?16, ?17, ?18, ?1, ?19, ?20, ?21, ?22, ?23, ?24, ?25 WHERE ?16 IS NOT NULL",
    )
    .bind(e.tenant_id)
    .bind(micros(e.occurred_at))
    .bind(Uuid::now_v7())
    .bind(event.kind)
    .bind(event.resource_type)
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
