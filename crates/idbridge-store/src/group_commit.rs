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
//! cancels its wait, never a write in flight. A write that panics (a bug) is caught
//! like a failed one: its batch is rolled back (the transaction is dropped) and
//! redone write by write, the write that panics alone gets
//! [`StoreError::WritePanicked`], and the task goes on serving every later write.
//!
//! Used by the sign-in records (`sign_in_batch.rs`) and the directory's writes
//! (`repo/directory/writes.rs`).

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use futures::FutureExt;
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

/// [`BatchWriter::write_together`], with a panic inside it turned into an error.
/// Nothing the writer shares with the task outlives a batch (its transaction is
/// dropped while unwinding), so going on after the panic is sound.
async fn write_caught<W: BatchWriter>(writer: &W, batch: &[&W::Write]) -> Result<Vec<W::Answer>> {
    AssertUnwindSafe(writer.write_together(batch))
        .catch_unwind()
        .await
        .unwrap_or(Err(StoreError::WritePanicked))
}

/// A write in its own transaction. One the database aborted to break a deadlock
/// with another process's batch (PostgreSQL: two batches may take the same rows in
/// different orders) is run again, a few times, rather than failing a request that
/// did nothing wrong.
async fn write_alone<W: BatchWriter>(writer: &W, write: &W::Write) -> Result<W::Answer> {
    let mut attempt = 1;
    loop {
        match write_caught(writer, &[write]).await {
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
            match write_caught(&*writer, &writes).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::sync::Semaphore;

    /// Doubles each number; panics on 13, as a bug in a write would. A batch
    /// holding 0 waits for the gate, so writes pile up behind it.
    struct Doubler {
        batches: Mutex<Vec<Vec<u32>>>,
        gate: Semaphore,
    }

    #[async_trait]
    impl BatchWriter for Doubler {
        type Write = u32;
        type Answer = u32;

        async fn write_together(&self, batch: &[&u32]) -> Result<Vec<u32>> {
            let numbers: Vec<u32> = batch.iter().map(|&&n| n).collect();
            self.batches.lock().expect("lock").push(numbers.clone());
            if numbers.contains(&0) {
                self.gate.acquire().await.expect("gate").forget();
            }
            numbers
                .into_iter()
                .map(|n| {
                    assert_ne!(n, 13, "a write that panics");
                    Ok(n * 2)
                })
                .collect()
        }
    }

    fn doubler() -> Arc<GroupCommit<Doubler>> {
        Arc::new(GroupCommit::new(Doubler {
            batches: Mutex::new(Vec::new()),
            gate: Semaphore::new(0),
        }))
    }

    #[tokio::test]
    async fn a_write_that_panics_alone_fails_alone_and_the_writer_goes_on() {
        let writes = doubler();
        assert!(matches!(
            writes.submit(13).await,
            Err(StoreError::WritePanicked)
        ));
        assert_eq!(writes.submit(4).await.expect("after the panic"), 8);
    }

    #[tokio::test]
    async fn a_batch_with_a_write_that_panics_answers_every_other_write() {
        let writes = doubler();
        let submit = |n: u32| {
            let writes = writes.clone();
            tokio::spawn(async move { (n, writes.submit(n).await) })
        };
        // 0 holds the writer while 1..=30 queue up behind it.
        let mut crowd = vec![submit(0)];
        while writes.writer.batches.lock().expect("lock").is_empty() {
            tokio::task::yield_now().await;
        }
        crowd.extend((1..=30).map(submit));
        let queue = writes.queue.get().expect("started");
        while queue.capacity() > QUEUE_DEPTH - 30 {
            tokio::task::yield_now().await;
        }
        writes.writer.gate.add_permits(1);
        for task in crowd {
            let (n, outcome) = task.await.expect("task");
            match outcome {
                Ok(doubled) => assert_eq!(doubled, n * 2),
                Err(StoreError::WritePanicked) => assert_eq!(n, 13),
                Err(e) => panic!("write {n}: {e}"),
            }
        }
        // The thirty went in as one batch, which panicked, then one by one.
        let batches = writes.writer.batches.lock().expect("lock").clone();
        assert_eq!(batches[1], (1..=30).collect::<Vec<_>>());
        assert_eq!(batches.len(), 2 + 30);
        assert_eq!(writes.submit(21).await.expect("after the panic"), 42);
    }
}
