//! The mail outbox: e-mail idbridge owes someone, queued in the transaction of the
//! change that calls for it and sent by a background job of any process.
//!
//! A row holds the facts a message is made from (its kind, its recipient, the user
//! it is about); the message is rendered when it is sent. A worker claims due rows
//! with a lease (an owner id and an expiry), so of several processes polling at
//! once each row goes to exactly one, and a crashed worker's claim just runs out.
//! A row is marked sent only after the SMTP server accepted the message: a process
//! that dies between the two sends that message again, once, after its lease.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Page, PageRequest, Result};

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// "You have been given access": to a user created while the tenant invites
    /// new users.
    Invitation,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invitation => "invitation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invitation" => Some(Self::Invitation),
            _ => None,
        }
    }
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    /// Not sent yet: due at `next_attempt_at`.
    Pending,
    /// The SMTP server accepted it.
    Sent,
    /// Every attempt failed for the whole retry period: given up.
    Failed,
    /// Not sent, and never will be: what it was about went away first (the user was
    /// deleted or deactivated).
    Cancelled,
}

impl MailState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: MailKind,
    /// The address it goes to.
    pub recipient: String,
    /// The directory user it is about.
    pub user_id: Uuid,
    /// When it was queued; it is due at once.
    pub created_at: OffsetDateTime,
}

impl NewMail {
    /// An invitation for a user just created, due at once.
    pub fn invitation(
        tenant_id: Uuid,
        user_id: Uuid,
        recipient: impl Into<String>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            kind: MailKind::Invitation,
            recipient: recipient.into(),
            user_id,
            created_at: now,
        }
    }
}

/// A queued message and how its delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: MailKind,
    pub recipient: String,
    pub user_id: Uuid,
    pub state: MailState,
    /// Attempts started so far (a claim starts one).
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_attempt_at: Option<OffsetDateTime>,
    /// Why the last attempt failed (or why the message was cancelled).
    pub last_error: Option<String>,
    /// The subject of the message that went out.
    pub subject: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

/// The mail outbox. Every method is one statement or one transaction.
#[async_trait]
pub trait MailRepo {
    /// Queues `mail`, due at once. `false` (and nothing written) when a message of
    /// the same kind about the same user is already pending; [`crate::StoreError::NotFound`]
    /// when the tenant is gone. A change that calls for mail queues it in its own
    /// transaction instead (`repo::mail::insert_outbox_mail`).
    async fn enqueue_mail(&self, mail: &NewMail) -> Result<bool>;

    /// Pending messages due at `now` whose lease (if any) has run out, leased to
    /// `owner` until `lease_until`: at most `limit`, the longest due first. Each
    /// counts an attempt. Of several claimers at once, each message goes to one.
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        owner: Uuid,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMail>>;

    /// The SMTP server accepted the message: it is sent (whoever holds its lease, so
    /// that what went out is never sent again). `false` if it was no longer pending.
    async fn mark_mail_sent(&self, id: Uuid, now: OffsetDateTime, subject: &str) -> Result<bool>;

    /// The attempt failed: due again at `next_attempt_at`, the lease given back.
    /// `false` (nothing written) unless `owner` still holds the lease.
    async fn mark_mail_retry(
        &self,
        id: Uuid,
        owner: Uuid,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<bool>;

    /// The attempt failed and the retry period is over: given up for good. `false`
    /// unless `owner` still holds the lease.
    async fn mark_mail_failed(&self, id: Uuid, owner: Uuid, error: &str) -> Result<bool>;

    /// Never to be sent (what it was about is gone). `false` unless `owner` still
    /// holds the lease.
    async fn mark_mail_cancelled(&self, id: Uuid, owner: Uuid, reason: &str) -> Result<bool>;

    /// The tenant's messages and their delivery state, newest first.
    async fn mail_for_tenant(&self, tenant_id: Uuid, page: PageRequest)
    -> Result<Page<OutboxMail>>;
}
