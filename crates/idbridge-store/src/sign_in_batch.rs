//! Sign-in records, written many to a transaction (group commit).
//!
//! Every sign-in, accepted or refused, writes its log row and feed event (and its
//! authorization code) before the browser gets an answer, and each appends to its
//! tenant's gapless feed, whose sequencer is the tenant's row. One transaction per
//! sign-in made that row, or SQLite's single writer, a queue with one commit per
//! place in it: on SQLite the writer was held across three hand-offs to the
//! connection's thread, and the same hot pages went to the WAL again per sign-in; on
//! PostgreSQL a tenant's sign-ins waited for each other's commit to reach the disk.
//! That, not the CPU, bounded sign-ins per second.
//!
//! Here one task per process owns the sign-in writes: it takes every record waiting,
//! writes them in one transaction, and answers each caller after the commit. Under
//! no load a batch is one record and costs what a lone transaction did; under load a
//! commit is shared. Nothing is acknowledged before it is committed, so a caller sees
//! exactly what it would have seen writing alone.
//!
//! A batch that fails is rolled back whole and each of its records is then written
//! in its own transaction, so a record that cannot be written (its tenant deleted a
//! moment ago) fails alone, with its own error, and takes no other down.
//!
//! The task is a spawned task, not part of any request: a client that disconnects
//! cancels its wait, never a write in flight.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::{AuthorizationCodeRecord, Result, SignInEvent, StoreError};
use idbridge_core::secret::SecretHash;

/// The most records one transaction takes: enough to share a commit widely, few
/// enough that the writer (or the tenant's row) is soon free for other writes.
const MAX_BATCH: usize = 64;
/// Records that may wait before callers wait to enqueue (backpressure).
const QUEUE_DEPTH: usize = 1024;

/// A sign-in to record: the log row, and the code it issued (if any).
pub(crate) struct SignInRecord {
    pub event: SignInEvent,
    pub code: Option<(SecretHash, AuthorizationCodeRecord)>,
}

/// How a backend writes records: all of `batch` in one transaction, or (on any
/// error) none of it.
#[async_trait]
pub(crate) trait SignInWriter: Send + Sync + 'static {
    async fn write_together(&self, batch: &[&SignInRecord]) -> Result<()>;
}

struct Pending {
    record: SignInRecord,
    done: oneshot::Sender<Result<()>>,
}

/// The way into the writing task, started on first use (a store is built before a
/// runtime may exist; its first write always runs inside one). The task ends when
/// the store is dropped, with the sender.
pub(crate) struct SignInBatcher<W> {
    writer: Arc<W>,
    queue: OnceLock<mpsc::Sender<Pending>>,
}

impl<W: SignInWriter> SignInBatcher<W> {
    pub(crate) fn new(writer: W) -> Self {
        Self {
            writer: Arc::new(writer),
            queue: OnceLock::new(),
        }
    }

    pub(crate) async fn record(
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
        let record = SignInRecord {
            event: event.clone(),
            code: code.map(|(hash, record)| (*hash, record.clone())),
        };
        queue
            .send(Pending { record, done })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        outcome.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn write_batches<W: SignInWriter>(writer: Arc<W>, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() > 1 {
            let records: Vec<&SignInRecord> = batch.iter().map(|p| &p.record).collect();
            if writer.write_together(&records).await.is_ok() {
                for pending in batch.drain(..) {
                    let _ = pending.done.send(Ok(()));
                }
                continue;
            }
        }
        // One record, or a batch that failed (rolled back whole): each alone, with
        // its own answer.
        for pending in batch.drain(..) {
            let outcome = writer.write_together(&[&pending.record]).await;
            let _ = pending.done.send(outcome);
        }
    }
}
