//! Group commit: many callers' writes in one transaction.
//!
//! One task per kind of write (and per process) owns the writes: it takes every
//! write waiting, up to [`MAX_BATCH`], hands them to its [`BatchWriter`] to run in
//! order in one transaction, and answers each caller after the commit. Under no load
//! a batch is one write and costs what a lone transaction did; under load a commit,
//! and on SQLite the single writer's `BEGIN`/`COMMIT` hand-offs, are shared. Nothing
//! is acknowledged before it is committed, so a caller sees exactly what it would
//! have seen writing alone.
//!
//! A batch that fails is rolled back whole and each of its writes is then run in its
//! own transaction, so a write that cannot be made (its tenant deleted a moment ago,
//! a name already taken) fails alone, with its own error, and takes no other down. A
//! batch the database itself failed (unreachable, pool timed out) is not redone:
//! every write in it gets that error at once ([`StoreError::BatchUnavailable`]),
//! rather than each waiting it out again in turn.
//!
//! The task is a spawned task, not part of any request: a client that disconnects
//! cancels its wait, never a write in flight.
//!
//! Used by the sign-in records (`sign_in_batch.rs`) and the directory's writes
//! (`repo/directory/writes.rs`).

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::{Result, StoreError};

/// The most writes one transaction takes: enough to share a commit widely, few
/// enough that the writer (or a tenant's row) is soon free for other writes.
const MAX_BATCH: usize = 64;
/// Writes that may wait before callers wait to enqueue (backpressure).
const QUEUE_DEPTH: usize = 1024;
/// How often a write alone is tried when the database aborts it to break a deadlock.
const TRANSIENT_ATTEMPTS: u32 = 3;

/// How a backend runs one kind of write: all of `batch` in one transaction, in
/// order, with one answer per write; or (on any error) none of it.
#[async_trait]
pub(crate) trait BatchWriter: Send + Sync + 'static {
    type Write: Send + Sync + 'static;
    type Answer: Send + 'static;

    async fn write_together(&self, batch: &[&Self::Write]) -> Result<Vec<Self::Answer>>;
}

struct Pending<W: BatchWriter> {
    write: W::Write,
    done: oneshot::Sender<Result<W::Answer>>,
}

/// The way into the writing task, started on first use (a store is built before a
/// runtime may exist; its first write always runs inside one). The task ends when
/// the store is dropped, with the sender.
pub(crate) struct GroupCommit<W: BatchWriter> {
    writer: Arc<W>,
    queue: OnceLock<mpsc::Sender<Pending<W>>>,
}

impl<W: BatchWriter> GroupCommit<W> {
    pub(crate) fn new(writer: W) -> Self {
        Self {
            writer: Arc::new(writer),
            queue: OnceLock::new(),
        }
    }

    /// The write's answer, once the transaction that made it has committed.
    pub(crate) async fn submit(&self, write: W::Write) -> Result<W::Answer> {
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

/// A write in its own transaction. One the database aborted to break a deadlock
/// with another process's batch (PostgreSQL: two batches may take the same rows in
/// different orders) is run again, a few times, rather than failing a request that
/// did nothing wrong.
async fn write_alone<W: BatchWriter>(writer: &W, write: &W::Write) -> Result<W::Answer> {
    let mut attempt = 1;
    loop {
        match writer.write_together(&[write]).await {
            Err(e) if e.is_transient_conflict() && attempt < TRANSIENT_ATTEMPTS => attempt += 1,
            outcome => {
                return outcome?
                    .into_iter()
                    .next()
                    .ok_or_else(|| StoreError::Corrupt("a write was given no answer".into()));
            }
        }
    }
}

async fn write_batches<W: BatchWriter>(writer: Arc<W>, mut queue: mpsc::Receiver<Pending<W>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() > 1 {
            let writes: Vec<&W::Write> = batch.iter().map(|p| &p.write).collect();
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
            let _ = pending
                .done
                .send(write_alone(&*writer, &pending.write).await);
        }
    }
}
