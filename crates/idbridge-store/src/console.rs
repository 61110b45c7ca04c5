//! The operator console's accounts and sessions.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Page, PageRequest, Result, Tenant};

/// Someone who may sign in to the console.
#[derive(Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: Uuid,
    /// Lowercased.
    pub email: String,
    /// An argon2id PHC string. Not a secret in the sense of a token (it cannot be
    /// presented), but never shown: `Debug` leaves it out.
    pub password_hash: String,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// A signed-in console session (the token itself is only in the operator's cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub id: Uuid,
    pub operator_id: Uuid,
    pub created_at: OffsetDateTime,
    /// The absolute end, whatever the activity.
    pub expires_at: OffsetDateTime,
    /// The last request seen (written at most once a minute); the idle limit counts
    /// from here.
    pub last_seen_at: OffsetDateTime,
}

/// A session with the operator it belongs to, as a request presenting its token finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveConsoleSession {
    pub session: ConsoleSession,
    pub operator_email: String,
}

#[async_trait]
pub trait ConsoleRepo {
    /// [`crate::StoreError::Conflict`] if an operator has this email.
    async fn create_operator(
        &self,
        operator: &Operator,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()>;
    /// `email` is lowercased by the caller.
    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>>;
    /// Stores a new session under the digest of its token.
    async fn create_console_session(
        &self,
        session: &ConsoleSession,
        token_hash: &SecretHash,
    ) -> Result<()>;
    /// The session whose token has this digest, if it has not ended by `now` (past
    /// `expires_at`, or idle since before `idle_since`) and its operator is not
    /// disabled. An indexed lookup, on every console request.
    async fn active_console_session(
        &self,
        token_hash: &SecretHash,
        now: OffsetDateTime,
        idle_since: OffsetDateTime,
    ) -> Result<Option<ActiveConsoleSession>>;
    async fn touch_console_session(&self, id: Uuid, now: OffsetDateTime) -> Result<()>;
    /// Ends the session with this token digest (sign-out, or rotation at sign-in).
    /// Ending a session that is already gone is not an error.
    async fn delete_console_session(&self, token_hash: &SecretHash) -> Result<()>;
    /// Removes sessions that have ended by `now` either way; returns how many.
    async fn delete_ended_console_sessions(
        &self,
        now: OffsetDateTime,
        idle_since: OffsetDateTime,
    ) -> Result<u64>;
    /// Tenants whose slug or name contains `needle` (case-insensitively; `%`, `_` and
    /// `\` in it are literal), in id order. For the console's search box: tenants
    /// are the operator's customers, a table small enough to read through.
    async fn search_tenants(&self, needle: &str, page: PageRequest) -> Result<Page<Tenant>>;
    /// Keeps a sealed secret that a page will show once, until `expires_at`;
    /// removes the kept secrets that expired by `now` first (the table holds only a
    /// few minutes' worth).
    async fn keep_shown_once(
        &self,
        id: Uuid,
        sealed: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Removes the kept secret `id` and returns it if it had not expired by `now`:
    /// of two requests taking one id, one gets it.
    async fn take_shown_once(&self, id: Uuid, now: OffsetDateTime) -> Result<Option<Vec<u8>>>;
    /// The kept secret `id`, if it has not expired by `now`, left in place: the
    /// caller takes it only once its key has opened it.
    async fn peek_shown_once(&self, id: Uuid, now: OffsetDateTime) -> Result<Option<Vec<u8>>>;
}

/// `needle` as a LIKE pattern matching it anywhere, with the wildcards in it escaped
/// (`\` is the escape character).
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
