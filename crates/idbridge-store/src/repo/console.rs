//! Console operators and sessions, written once for both backends.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, digest, overfetch, page_of};
use crate::console::contains_pattern;
use crate::db::{Db, FromRow, Row, Ts, query};
use crate::{
    ActiveConsoleSession, ConsoleRepo, ConsoleSession, Operator, Page, PageRequest, Result,
    StoreError, Tenant,
};

/// Every console request asks this; `token_hash` is unique, so indexed.
pub(crate) const ACTIVE_CONSOLE_SESSION: &str = "SELECT s.*, o.email FROM console_sessions s \
     JOIN operators o ON o.id = s.operator_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
     AND o.disabled_at IS NULL";

impl FromRow for Operator {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(Operator {
            id: row.get("id")?,
            email: row.get("email")?,
            password_hash: row.get("password_hash")?,
            created_at: row.time("created_at")?,
            disabled_at: row.opt_time("disabled_at")?,
        })
    }
}

/// A row of [`ACTIVE_CONSOLE_SESSION`].
impl FromRow for ActiveConsoleSession {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(ActiveConsoleSession {
            session: ConsoleSession {
                id: row.get("id")?,
                operator_id: row.get("operator_id")?,
                created_at: row.time("created_at")?,
                expires_at: row.time("expires_at")?,
                last_seen_at: row.time("last_seen_at")?,
            },
            operator_email: row.get("email")?,
        })
    }
}

/// A row of `shown_once`, as taking it returns it.
struct ShownOnce {
    sealed: Vec<u8>,
    expires_at: OffsetDateTime,
}

impl FromRow for ShownOnce {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(ShownOnce {
            sealed: row.get("sealed")?,
            expires_at: row.time("expires_at")?,
        })
    }
}

#[async_trait]
impl<D: Db> ConsoleRepo for SqlStore<D> {
    async fn create_operator(
        &self,
        o: &Operator,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "INSERT INTO operators (id, email, password_hash, created_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(o.id)
        .bind(&o.email)
        .bind(&o.password_hash)
        .bind(Ts(o.created_at))
        .bind(o.disabled_at.map(Ts))
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict("an operator with this email exists"),
            other => other,
        })?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>> {
        query::<D>("SELECT * FROM operators WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn create_console_session(
        &self,
        s: &ConsoleSession,
        token_hash: &SecretHash,
    ) -> Result<()> {
        query::<D>(
            "INSERT INTO console_sessions (id, token_hash, operator_id, created_at, expires_at, \
             last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id)
        .bind(digest(token_hash))
        .bind(s.operator_id)
        .bind(Ts(s.created_at))
        .bind(Ts(s.expires_at))
        .bind(Ts(s.last_seen_at))
        .execute(&mut *self.write().await?)
        .await?;
        Ok(())
    }

    async fn active_console_session(
        &self,
        token_hash: &SecretHash,
        now: OffsetDateTime,
        idle_since: OffsetDateTime,
    ) -> Result<Option<ActiveConsoleSession>> {
        query::<D>(ACTIVE_CONSOLE_SESSION)
            .bind(digest(token_hash))
            .bind(Ts(now))
            .bind(Ts(idle_since))
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn touch_console_session(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        query::<D>("UPDATE console_sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(Ts(now))
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }

    async fn delete_console_session(&self, token_hash: &SecretHash) -> Result<()> {
        query::<D>("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(digest(token_hash))
            .execute(&mut *self.write().await?)
            .await?;
        Ok(())
    }

    async fn delete_ended_console_sessions(
        &self,
        now: OffsetDateTime,
        idle_since: OffsetDateTime,
    ) -> Result<u64> {
        query::<D>("DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(Ts(now))
            .bind(Ts(idle_since))
            .execute(&mut *self.write().await?)
            .await
    }

    async fn search_tenants(&self, needle: &str, page: PageRequest) -> Result<Page<Tenant>> {
        let (after, limit) = overfetch(page);
        let rows = query::<D>(
            "SELECT * FROM tenants WHERE ($1 IS NULL OR id > $1) \
             AND (slug LIKE $2 ESCAPE '\\' OR lower(name) LIKE $2 ESCAPE '\\') \
             ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(contains_pattern(needle))
        .bind(limit)
        .fetch_all(&mut *self.read().await?)
        .await?;
        Ok(page_of(rows, page, |t: &Tenant| t.id))
    }

    async fn keep_shown_once(
        &self,
        id: Uuid,
        sealed: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>("DELETE FROM shown_once WHERE expires_at <= $1")
            .bind(Ts(now))
            .execute(&mut *tx)
            .await?;
        query::<D>("INSERT INTO shown_once (id, sealed, expires_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(sealed)
            .bind(Ts(expires_at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_shown_once(&self, id: Uuid, now: OffsetDateTime) -> Result<Option<Vec<u8>>> {
        let taken: Option<ShownOnce> =
            query::<D>("DELETE FROM shown_once WHERE id = $1 RETURNING sealed, expires_at")
                .bind(id)
                .fetch_optional(&mut *self.write().await?)
                .await?;
        Ok(taken.filter(|t| t.expires_at > now).map(|t| t.sealed))
    }

    async fn peek_shown_once(&self, id: Uuid, now: OffsetDateTime) -> Result<Option<Vec<u8>>> {
        let kept: Option<ShownOnce> =
            query::<D>("SELECT sealed, expires_at FROM shown_once WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *self.read().await?)
                .await?;
        Ok(kept.filter(|k| k.expires_at > now).map(|k| k.sealed))
    }
}
