//! The mail outbox, written once for both backends.
//!
//! A claim is a read on a reader (is anything due?), so that an idle poll writes
//! nothing and on SQLite never queues for the single writer, and then one `UPDATE
//! … RETURNING` that leases the due rows: [`Db::MAIL_CLAIM`], the one statement
//! whose SQL differs (PostgreSQL skips rows another claimer has locked; SQLite's
//! writer runs one claim at a time). Every later mark names the row, and all but
//! "sent" also the lease's owner.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, overfetch, page_of};
use crate::db::{Db, FromRow, Row, Scalar, Ts, query};
use crate::mail::{MailKind, MailRepo, MailState, NewMail, OutboxMail};
use crate::{Page, PageRequest, Result, StoreError};

/// Pending, due at `$1`, and not leased to anyone at `$1`. `state = 'pending'` is
/// the partial index's predicate word for word (`mail_outbox_due_idx`).
macro_rules! due_mail {
    () => {
        "state = 'pending' AND next_attempt_at <= $1 \
         AND (leased_until IS NULL OR leased_until <= $1)"
    };
}

/// Whether anything is due at `$1`.
pub(crate) const ANY_MAIL_DUE: &str = concat!(
    "SELECT EXISTS (SELECT 1 FROM mail_outbox WHERE ",
    due_mail!(),
    ")"
);

/// The claim: the due rows `$4` at most, longest due first, leased to `$2` until
/// `$3`, each counting an attempt. `$lock` is what follows the row selection
/// (PostgreSQL's `FOR UPDATE SKIP LOCKED`).
macro_rules! claim_mail {
    ($lock:expr) => {
        concat!(
            "UPDATE mail_outbox SET lease_owner = $2, leased_until = $3, \
               attempts = attempts + 1, last_attempt_at = $1 \
             WHERE id IN (SELECT id FROM mail_outbox WHERE ",
            due_mail!(),
            " ORDER BY next_attempt_at LIMIT $4",
            $lock,
            ") RETURNING *"
        )
    };
}

/// PostgreSQL's claim: a row another claimer has locked is skipped, not waited
/// for, and a row a concurrent claim just leased fails the re-check of
/// the due condition on its newest version, so no two claimers get the same row.
pub(crate) const CLAIM_SKIP_LOCKED: &str = claim_mail!(" FOR UPDATE SKIP LOCKED");
/// SQLite's claim: the single writer runs one claim at a time.
pub(crate) const CLAIM_ON_THE_WRITER: &str = claim_mail!("");

/// Longest error text kept.
const MAX_ERROR_CHARS: usize = 300;

fn short(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &error[..cut]),
        None => error.to_owned(),
    }
}

impl FromRow for OutboxMail {
    fn from_row(row: &impl Row) -> Result<Self> {
        let attempts: i32 = row.get("attempts")?;
        Ok(OutboxMail {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            kind: row.parsed("kind", MailKind::parse)?,
            recipient: row.get("recipient")?,
            user_id: row.get("user_id")?,
            state: row.parsed("state", MailState::parse)?,
            attempts: u32::try_from(attempts)
                .map_err(|_| StoreError::Corrupt(format!("mail_outbox.attempts {attempts}")))?,
            next_attempt_at: row.time("next_attempt_at")?,
            last_attempt_at: row.opt_time("last_attempt_at")?,
            last_error: row.get("last_error")?,
            subject: row.get("subject")?,
            created_at: row.time("created_at")?,
            sent_at: row.opt_time("sent_at")?,
        })
    }
}

/// Queues `mail` on `conn`, inside the caller's transaction: the write that calls
/// for a message (a user created while the tenant invites new users) queues it
/// with the same commit, so the message exists exactly when the change does.
/// `false` when a message of the same kind about the same user is already pending
/// (nothing written). [`StoreError::NotFound`] when the tenant is gone.
pub(crate) async fn insert_outbox_mail<D: Db>(
    conn: &mut D::Connection,
    mail: &NewMail,
) -> Result<bool> {
    let inserted = query::<D>(
        "INSERT INTO mail_outbox (id, tenant_id, kind, recipient, user_id, state, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) \
         ON CONFLICT DO NOTHING",
    )
    .bind(mail.id)
    .bind(mail.tenant_id)
    .bind(mail.kind.as_str())
    .bind(&mail.recipient)
    .bind(mail.user_id)
    .bind(Ts(mail.created_at))
    .execute(conn)
    .await?;
    Ok(inserted == 1)
}

#[async_trait]
impl<D: Db> MailRepo for SqlStore<D> {
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<bool> {
        insert_outbox_mail::<D>(&mut *self.write().await?, mail).await
    }

    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        owner: Uuid,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMail>> {
        let Scalar(due): Scalar<bool> = query::<D>(ANY_MAIL_DUE)
            .bind(Ts(now))
            .fetch_one(&mut *self.read().await?)
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        query::<D>(D::MAIL_CLAIM)
            .bind(Ts(now))
            .bind(owner)
            .bind(Ts(lease_until))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.write().await?)
            .await
    }

    async fn mark_mail_sent(&self, id: Uuid, now: OffsetDateTime, subject: &str) -> Result<bool> {
        let done = query::<D>(
            "UPDATE mail_outbox SET state = 'sent', sent_at = $2, subject = $3, \
             last_error = NULL, lease_owner = NULL, leased_until = NULL \
             WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(Ts(now))
        .bind(subject)
        .execute(&mut *self.write().await?)
        .await?;
        Ok(done == 1)
    }

    async fn mark_mail_retry(
        &self,
        id: Uuid,
        owner: Uuid,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<bool> {
        let done = query::<D>(
            "UPDATE mail_outbox SET next_attempt_at = $3, last_error = $4, \
             lease_owner = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
        .bind(id)
        .bind(owner)
        .bind(Ts(next_attempt_at))
        .bind(short(error))
        .execute(&mut *self.write().await?)
        .await?;
        Ok(done == 1)
    }

    async fn mark_mail_failed(&self, id: Uuid, owner: Uuid, error: &str) -> Result<bool> {
        self.finish(id, owner, MailState::Failed, error).await
    }

    async fn mark_mail_cancelled(&self, id: Uuid, owner: Uuid, reason: &str) -> Result<bool> {
        self.finish(id, owner, MailState::Cancelled, reason).await
    }

    async fn mail_for_tenant(
        &self,
        tenant_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<OutboxMail>> {
        let (before, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM mail_outbox WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(tenant_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |m: &OutboxMail| m.id))
    }
}

impl<D: Db> SqlStore<D> {
    /// Ends a pending message's life unsent, if `owner` holds its lease.
    async fn finish(&self, id: Uuid, owner: Uuid, state: MailState, why: &str) -> Result<bool> {
        let done = query::<D>(
            "UPDATE mail_outbox SET state = $3, last_error = $4, \
             lease_owner = NULL, leased_until = NULL \
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
        .bind(id)
        .bind(owner)
        .bind(state.as_str())
        .bind(short(why))
        .execute(&mut *self.write().await?)
        .await?;
        Ok(done == 1)
    }
}
