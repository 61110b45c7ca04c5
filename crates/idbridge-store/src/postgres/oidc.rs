//! OpenID Connect records on PostgreSQL.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::{PostgresStore, uuid_of};
use crate::{
    AccessTokenRecord, AuthorizationCodeRecord, CodeCheck, OidcRepo, Redemption, Result,
    StoredSigningKey,
};

pub(super) fn code_from_row(row: &PgRow) -> Result<AuthorizationCodeRecord> {
    Ok(AuthorizationCodeRecord {
        client_id: uuid_of(row, "client_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        user_id: uuid_of(row, "user_id")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        scope: row.try_get("scope")?,
        auth_time: row.try_get("auth_time")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

#[async_trait]
impl OidcRepo for PostgresStore {
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>> {
        sqlx::query("SELECT * FROM oidc_signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(StoredSigningKey {
                    kid: row.try_get("kid")?,
                    algorithm: row.try_get("algorithm")?,
                    private_key: row.try_get("private_key")?,
                    created_at: row.try_get("created_at")?,
                    retired_at: row.try_get("retired_at")?,
                })
            })
            .collect()
    }

    async fn add_signing_key(&self, key: &StoredSigningKey, rotate: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if rotate {
            sqlx::query(
                "UPDATE oidc_signing_keys SET retired_at = $1 \
                 WHERE algorithm = $2 AND retired_at IS NULL",
            )
            .bind(key.created_at)
            .bind(&key.algorithm)
            .execute(&mut *tx)
            .await?;
        }
        // The partial unique index allows one active key per algorithm: without
        // `rotate`, a second process's first key is the one that does nothing.
        let inserted = sqlx::query(
            "INSERT INTO oidc_signing_keys (kid, algorithm, private_key, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.private_key)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn redeem_authorization_code(
        &self,
        code_hash: &SecretHash,
        check: CodeCheck<'_>,
        token_hash: &SecretHash,
        token_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Redemption> {
        let mut tx = self.pool.begin().await?;
        let code = code_hash.as_bytes().as_slice();
        // FOR UPDATE: a concurrent redemption of the same code waits here until this
        // one commits, then finds it used (and revokes the token stored below).
        let Some(row) =
            sqlx::query("SELECT * FROM authorization_codes WHERE code_hash = $1 FOR UPDATE")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(Redemption::Unknown);
        };
        if row
            .try_get::<Option<OffsetDateTime>, _>("consumed_at")?
            .is_some()
        {
            sqlx::query(
                "UPDATE oidc_access_tokens SET revoked_at = $2 \
                 WHERE code_hash = $1 AND revoked_at IS NULL",
            )
            .bind(code)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Redemption::Reused);
        }
        let record = code_from_row(&row)?;
        sqlx::query("UPDATE authorization_codes SET consumed_at = $2 WHERE code_hash = $1")
            .bind(code)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if let Err(reason) = check(&record) {
            tx.commit().await?;
            return Ok(Redemption::Refused(reason));
        }
        sqlx::query(
            "INSERT INTO oidc_access_tokens (token_hash, code_hash, client_id, tenant_id, \
             user_id, scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token_hash.as_bytes().as_slice())
        .bind(code)
        .bind(record.client_id)
        .bind(record.tenant_id)
        .bind(record.user_id)
        .bind(&record.scope)
        .bind(now)
        .bind(token_expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Redemption::Issued(record))
    }

    async fn access_token(&self, hash: &SecretHash) -> Result<Option<AccessTokenRecord>> {
        sqlx::query("SELECT * FROM oidc_access_tokens WHERE token_hash = $1")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| {
                Ok(AccessTokenRecord {
                    client_id: uuid_of(&row, "client_id")?,
                    tenant_id: uuid_of(&row, "tenant_id")?,
                    user_id: uuid_of(&row, "user_id")?,
                    scope: row.try_get("scope")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            })
            .transpose()
    }

    async fn sweep_oidc(&self, now: OffsetDateTime, retired_before: OffsetDateTime) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut removed = sqlx::query("DELETE FROM oidc_access_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        removed += sqlx::query("DELETE FROM oidc_signing_keys WHERE retired_at < $1")
            .bind(retired_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }
}
