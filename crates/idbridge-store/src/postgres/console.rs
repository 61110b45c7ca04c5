//! Console operators and sessions on PostgreSQL.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PostgresStore, overfetch, tenant_from_row, uuid_of};
use crate::console::contains_pattern;
use crate::{
    ActiveConsoleSession, ConsoleRepo, ConsoleSession, Operator, Page, PageRequest, Result,
    StoreError, Tenant,
};

/// Every console request asks this; `token_hash` is unique, so indexed.
pub(super) const ACTIVE_CONSOLE_SESSION: &str = "SELECT s.*, o.email FROM console_sessions s \
     JOIN operators o ON o.id = s.operator_id \
     WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
     AND o.disabled_at IS NULL";

fn operator_from_row(row: &PgRow) -> Result<Operator> {
    Ok(Operator {
        id: uuid_of(row, "id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

#[async_trait]
impl ConsoleRepo for PostgresStore {
    async fn create_operator(&self, o: &Operator) -> Result<()> {
        sqlx::query(
            "INSERT INTO operators (id, email, password_hash, created_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(o.id)
        .bind(&o.email)
        .bind(&o.password_hash)
        .bind(o.created_at)
        .bind(o.disabled_at)
        .execute(&self.pool)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("an operator with this email exists"),
            other => other,
        })?;
        Ok(())
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>> {
        sqlx::query("SELECT * FROM operators WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(operator_from_row)
            .transpose()
    }

    async fn create_console_session(
        &self,
        s: &ConsoleSession,
        token_hash: &SecretHash,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO console_sessions (id, token_hash, operator_id, created_at, expires_at, \
             last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id)
        .bind(token_hash.as_bytes().as_slice())
        .bind(s.operator_id)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.last_seen_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn active_console_session(
        &self,
        token_hash: &SecretHash,
        now: OffsetDateTime,
        idle_since: OffsetDateTime,
    ) -> Result<Option<ActiveConsoleSession>> {
        let row = sqlx::query(ACTIVE_CONSOLE_SESSION)
            .bind(token_hash.as_bytes().as_slice())
            .bind(now)
            .bind(idle_since)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(ActiveConsoleSession {
                session: ConsoleSession {
                    id: uuid_of(&row, "id")?,
                    operator_id: uuid_of(&row, "operator_id")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                },
                operator_email: row.try_get("email")?,
            })
        })
        .transpose()
    }

    async fn touch_console_session(&self, id: Uuid, now: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE console_sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_console_session(&self, token_hash: &SecretHash) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash.as_bytes().as_slice())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_ended_console_sessions(
        &self,
        now: OffsetDateTime,
        idle_since: OffsetDateTime,
    ) -> Result<u64> {
        Ok(
            sqlx::query(
                "DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
            )
            .bind(now)
            .bind(idle_since)
            .execute(&self.pool)
            .await?
            .rows_affected(),
        )
    }

    async fn search_tenants(&self, needle: &str, page: PageRequest) -> Result<Page<Tenant>> {
        let (after, limit) = overfetch(page);
        let rows = sqlx::query(
            "SELECT * FROM tenants WHERE ($1::uuid IS NULL OR id > $1) \
             AND (slug LIKE $2 ESCAPE '\\' OR lower(name) LIKE $2 ESCAPE '\\') \
             ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(contains_pattern(needle))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(tenant_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |t| {
            t.id
        }))
    }
}
