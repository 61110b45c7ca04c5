//! A sign-in's writes, many to a transaction (group commit).
//!
//! Every accepted response first records its assertion in the replay cache, and
//! every sign-in, accepted or refused, then writes its log row and feed event (and
//! its authorization code) before the browser gets an answer. The record appends to
//! its
//! tenant's gapless feed, whose sequencer is the tenant's row. One transaction per
//! sign-in made that row, or SQLite's single writer, a queue with one commit per
//! place in it: on SQLite the writer was held across three hand-offs to the
//! connection's thread, and the same hot pages went to the WAL again per sign-in; on
//! PostgreSQL a tenant's sign-ins waited for each other's commit to reach the disk.
//! That, not the CPU, bounded sign-ins per second.
//!
//! Here one task per process owns these writes: it takes every write waiting, runs
//! them in order in one transaction, and answers each caller after the commit. Under
//! no load a batch is one record and costs what a lone transaction did; under load a
//! commit is shared. Nothing is acknowledged before it is committed, so a caller sees
//! exactly what it would have seen writing alone.
//!
//! A replay record's answer (new, or seen before) is what its statement saw inside
//! the transaction, in order: the same assertion twice in one batch is new once.
//! It is given only once the batch has committed, so no other process can accept
//! that assertion after this one was told it is new.
//!
//! A batch that fails is rolled back whole and each of its writes is then run in its
//! own transaction, so a write that cannot be made (its tenant deleted a moment ago)
//! fails alone, with its own error, and takes no other down. A batch the database
//! itself failed (unreachable, pool timed out) is not redone: every write in it
//! gets that error at once, rather than each waiting it out again in turn.
//!
//! The task is a spawned task, not part of any request: a client that disconnects
//! cancels its wait, never a write in flight.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use time::OffsetDateTime;
use uuid::Uuid;

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

/// An accepted assertion for the replay cache, kept until `expires_at`.
pub(crate) struct SeenAssertion {
    pub tenant_id: Uuid,
    pub assertion_id: String,
    pub expires_at: OffsetDateTime,
    pub now: OffsetDateTime,
}

pub(crate) enum SignInWrite {
    Record(Box<SignInRecord>),
    Remember(SeenAssertion),
}

/// What a write did: a record is written; an assertion is new (`true`) or was seen
/// before and is still live (`false`, a replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Recorded,
    Remembered { fresh: bool },
}

/// How a backend runs writes: all of `batch` in one transaction, in order, with one
/// answer per write; or (on any error) none of it.
#[async_trait]
pub(crate) trait SignInWriter: Send + Sync + 'static {
    async fn write_together(&self, batch: &[&SignInWrite]) -> Result<Vec<Written>>;
}

struct Pending {
    write: SignInWrite,
    done: oneshot::Sender<Result<Written>>,
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
        let record = SignInRecord {
            event: event.clone(),
            code: code.map(|(hash, record)| (*hash, record.clone())),
        };
        self.submit(SignInWrite::Record(Box::new(record)))
            .await
            .map(|_| ())
    }

    /// Whether the assertion is new (and now remembered) rather than a replay.
    pub(crate) async fn remember(&self, seen: SeenAssertion) -> Result<bool> {
        match self.submit(SignInWrite::Remember(seen)).await? {
            Written::Remembered { fresh } => Ok(fresh),
            Written::Recorded => Err(StoreError::Corrupt(
                "a replay record was answered as a sign-in record".into(),
            )),
        }
    }

    async fn submit(&self, write: SignInWrite) -> Result<Written> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
            tokio::spawn(write_batches(self.writer.clone(), receiver));
            sender
        });
        let (done, outcome) = oneshot::channel();
        queue
            .send(Pending { write, done })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        outcome.await.map_err(|_| StoreError::WriterGone)?
    }
}

async fn write_batches<W: SignInWriter>(writer: Arc<W>, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() > 1 {
            let writes: Vec<&SignInWrite> = batch.iter().map(|p| &p.write).collect();
            match writer.write_together(&writes).await {
                Ok(answers) if answers.len() == batch.len() => {
                    for (pending, answer) in batch.drain(..).zip(answers) {
                        let _ = pending.done.send(Ok(answer));
                    }
                    continue;
                }
                // The database's failure, not one write's: redoing each write alone
                // would make every caller wait out the same failure again, one after
                // another. All of them get it now.
                Err(e) if e.is_unavailable() => {
                    let shared = Arc::new(e);
                    for pending in batch.drain(..) {
                        let _ = pending
                            .done
                            .send(Err(StoreError::BatchUnavailable(shared.clone())));
                    }
                    continue;
                }
                _ => {}
            }
        }
        // One write, or a batch that failed because of a write in it (rolled back
        // whole): each alone, with its own answer.
        for pending in batch.drain(..) {
            let outcome = writer
                .write_together(&[&pending.write])
                .await
                .and_then(|answers| {
                    answers
                        .into_iter()
                        .next()
                        .ok_or_else(|| StoreError::Corrupt("a write was given no answer".into()))
                });
            let _ = pending.done.send(outcome);
        }
    }
}
