//! OpenID Connect records, written once for both backends.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use time::OffsetDateTime;

use super::{SqlStore, digest};
use crate::db::{Db, FromRow, Row, Ts, query};
use crate::{
    AccessTokenRecord, AuthorizationCodeRecord, CodeCheck, OidcRepo, Redemption, Result,
    StoredSigningKey,
};

impl FromRow for AuthorizationCodeRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(AuthorizationCodeRecord {
            client_id: row.get("client_id")?,
            redirect_uri: row.get("redirect_uri")?,
            tenant_id: row.get("tenant_id")?,
            user_id: row.get("user_id")?,
            nonce: row.get("nonce")?,
            code_challenge: row.get("code_challenge")?,
            scope: row.get("scope")?,
            auth_time: row.time("auth_time")?,
            created_at: row.time("created_at")?,
            expires_at: row.time("expires_at")?,
            connection_id: row.get("connection_id")?,
        })
    }
}

/// A code as the exchange reads it ([`Db::CODE_TO_REDEEM`]): the record, and
/// whether it was used before.
struct CodeToRedeem {
    record: AuthorizationCodeRecord,
    used: bool,
}

impl FromRow for CodeToRedeem {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(CodeToRedeem {
            record: AuthorizationCodeRecord::from_row(row)?,
            used: row.opt_time("consumed_at")?.is_some(),
        })
    }
}

impl FromRow for StoredSigningKey {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(StoredSigningKey {
            kid: row.get("kid")?,
            algorithm: row.get("algorithm")?,
            private_key: row.get("private_key")?,
            created_at: row.time("created_at")?,
            retired_at: row.opt_time("retired_at")?,
        })
    }
}

impl FromRow for AccessTokenRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(AccessTokenRecord {
            client_id: row.get("client_id")?,
            tenant_id: row.get("tenant_id")?,
            user_id: row.get("user_id")?,
            scope: row.get("scope")?,
            created_at: row.time("created_at")?,
            expires_at: row.time("expires_at")?,
            revoked_at: row.opt_time("revoked_at")?,
            connection_id: row.get("connection_id")?,
        })
    }
}

#[async_trait]
impl<D: Db> OidcRepo for SqlStore<D> {
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>> {
        query::<D>("SELECT * FROM oidc_signing_keys ORDER BY created_at, kid")
            .fetch_all(&mut *self.read().await?)
            .await
    }

    async fn add_signing_key(
        &self,
        key: &StoredSigningKey,
        rotate: bool,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if rotate {
            query::<D>(
                "UPDATE oidc_signing_keys SET retired_at = $1 \
                 WHERE algorithm = $2 AND retired_at IS NULL",
            )
            .bind(Ts(key.created_at))
            .bind(&key.algorithm)
            .execute(&mut tx)
            .await?;
        }
        // The partial unique index allows one active key per algorithm: without
        // `rotate`, a second process's first key is the one that does nothing.
        let inserted = query::<D>(
            "INSERT INTO oidc_signing_keys (kid, algorithm, private_key, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.private_key)
        .bind(Ts(key.created_at))
        .execute(&mut tx)
        .await?
            == 1;
        if inserted {
            super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        }
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
        // At most one exchange per code, across processes: the read below is
        // `Db::CODE_TO_REDEEM`, which on PostgreSQL locks the row until this
        // transaction ends, and on SQLite runs in the writer's IMMEDIATE transaction,
        // which serialises every redemption. Either way the read-check-write below
        // cannot interleave with another one.
        let mut tx = self.begin().await?;
        let code = digest(code_hash);
        let Some(CodeToRedeem { record, used }) = query::<D>(D::CODE_TO_REDEEM)
            .bind(code)
            .fetch_optional(&mut tx)
            .await?
        else {
            return Ok(Redemption::Unknown);
        };
        if used {
            query::<D>(
                "UPDATE oidc_access_tokens SET revoked_at = $2 \
                 WHERE code_hash = $1 AND revoked_at IS NULL",
            )
            .bind(code)
            .bind(Ts(now))
            .execute(&mut tx)
            .await?;
            tx.commit().await?;
            return Ok(Redemption::Reused);
        }
        query::<D>("UPDATE authorization_codes SET consumed_at = $2 WHERE code_hash = $1")
            .bind(code)
            .bind(Ts(now))
            .execute(&mut tx)
            .await?;
        if let Err(reason) = check(&record) {
            tx.commit().await?;
            return Ok(Redemption::Refused(reason));
        }
        query::<D>(
            "INSERT INTO oidc_access_tokens (token_hash, code_hash, client_id, tenant_id, \
             user_id, scope, created_at, expires_at, connection_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(digest(token_hash))
        .bind(code)
        .bind(record.client_id)
        .bind(record.tenant_id)
        .bind(record.user_id)
        .bind(&record.scope)
        .bind(Ts(now))
        .bind(Ts(token_expires_at))
        .bind(record.connection_id)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(Redemption::Issued(record))
    }

    async fn access_token(&self, hash: &SecretHash) -> Result<Option<AccessTokenRecord>> {
        query::<D>("SELECT * FROM oidc_access_tokens WHERE token_hash = $1")
            .bind(digest(hash))
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn sweep_oidc(&self, now: OffsetDateTime, retired_before: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin().await?;
        let mut removed = query::<D>("DELETE FROM oidc_access_tokens WHERE expires_at < $1")
            .bind(Ts(now))
            .execute(&mut tx)
            .await?;
        removed += query::<D>("DELETE FROM oidc_signing_keys WHERE retired_at < $1")
            .bind(Ts(retired_before))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }
}
