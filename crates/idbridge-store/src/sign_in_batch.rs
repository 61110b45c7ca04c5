//! A sign-in's writes, many to a transaction (group commit).
//!
//! Every accepted response first records its assertion in the replay cache, and
//! every sign-in, accepted or refused, then writes its log row and feed event (and
//! its authorization code) before the browser gets an answer. The record appends to
//! its tenant's gapless feed, whose sequencer is the tenant's row. One transaction per
//! sign-in made that row, or SQLite's single writer, a queue with one commit per
//! place in it: on SQLite the writer was held across three hand-offs to the
//! connection's thread, and the same hot pages went to the WAL again per sign-in; on
//! PostgreSQL a tenant's sign-ins waited for each other's commit to reach the disk.
//! That, not the CPU, bounded sign-ins per second.
//!
//! Here they are group-committed (`crate::group_commit`): one task per process takes
//! every write waiting, runs them in order in one transaction, and answers each
//! caller after the commit.
//!
//! A replay record's answer (new, or seen before) is what its statement saw inside
//! the transaction, in order: the same assertion twice in one batch is new once.
//! It is given only once the batch has committed, so no other process can accept
//! that assertion after this one was told it is new.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::group_commit::{BatchWriter, GroupCommit};
use crate::{AuthorizationCodeRecord, Result, SignInEvent, StoreError};
use idbridge_core::secret::SecretHash;

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

/// A sign-in's log line quotes what arrived (a provider's error description, say),
/// which may hold U+0000: written as U+FFFD, so the line is always written
/// (PostgreSQL stores no NUL in text) and both backends store the same.
fn without_nul(text: &mut Option<String>) {
    if let Some(t) = text
        && t.contains('\0')
    {
        *t = t.replace('\0', "\u{FFFD}");
    }
}

/// The sign-in records' group commit, over a backend's [`BatchWriter`].
pub(crate) struct SignInBatcher<W: BatchWriter<Write = SignInWrite, Answer = Written>> {
    commit: GroupCommit<W>,
}

impl<W: BatchWriter<Write = SignInWrite, Answer = Written>> SignInBatcher<W> {
    pub(crate) fn new(writer: W) -> Self {
        Self {
            commit: GroupCommit::new(writer),
        }
    }

    pub(crate) async fn record(
        &self,
        event: &SignInEvent,
        code: Option<(&SecretHash, &AuthorizationCodeRecord)>,
    ) -> Result<()> {
        let mut event = event.clone();
        for text in [
            &mut event.reason,
            &mut event.detail,
            &mut event.email,
            &mut event.request_id,
        ] {
            without_nul(text);
        }
        let record = SignInRecord {
            event,
            code: code.map(|(hash, record)| (*hash, record.clone())),
        };
        self.commit
            .submit(SignInWrite::Record(Box::new(record)))
            .await
            .map(|_| ())
    }

    /// Whether the assertion is new (and now remembered) rather than a replay.
    pub(crate) async fn remember(&self, seen: SeenAssertion) -> Result<bool> {
        match self.commit.submit(SignInWrite::Remember(seen)).await? {
            Written::Remembered { fresh } => Ok(fresh),
            Written::Recorded => Err(StoreError::Corrupt(
                "a replay record was answered as a sign-in record".into(),
            )),
        }
    }
}
