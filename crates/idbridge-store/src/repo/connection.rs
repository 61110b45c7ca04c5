//! Connections and upstream OpenID Connect flows, written once for both backends.

use async_trait::async_trait;
use idbridge_core::secret::SecretHash;
use sqlx::types::Json;

use super::audit::insert_audit_opt;
use crate::AuditRecord;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, digest};
use crate::connection::{ConnectionKind, ConnectionRecord, ConnectionRepo, OidcFlow, OidcSettings};
use crate::db::{Db, FromRow, Row, Ts, query};
use crate::{OidcRequestState, Result};

impl FromRow for ConnectionRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        let kind = row.parsed("kind", ConnectionKind::parse)?;
        let oidc = match kind {
            ConnectionKind::Saml => None,
            ConnectionKind::Oidc => Some(OidcSettings {
                issuer: row.get::<Option<String>>("issuer")?.unwrap_or_default(),
                client_id: row.get::<Option<String>>("client_id")?.unwrap_or_default(),
                sealed_secret: row.get("client_secret")?,
                scopes: row
                    .get::<Option<Json<Vec<String>>>>("scopes")?
                    .map(|Json(s)| s)
                    .unwrap_or_default(),
                provider_cache: row
                    .get::<Option<Json<serde_json::Value>>>("provider_cache")?
                    .map(|Json(v)| v),
                provider_fetched_at: row.opt_time("provider_fetched_at")?,
            }),
        };
        Ok(ConnectionRecord {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            kind,
            name: row.get("name")?,
            domains: row.json("domains")?,
            is_default: row.get("is_default")?,
            oidc,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
        })
    }
}

impl FromRow for OidcFlow {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(OidcFlow {
            tenant_id: row.get("tenant_id")?,
            connection_id: row.get("connection_id")?,
            nonce: row.get("nonce")?,
            code_verifier: row.get("code_verifier")?,
            test: row.get("test")?,
            redirect_uri: row.get("redirect_uri")?,
            app: match row.get::<Option<Uuid>>("client_id")? {
                None => None,
                Some(client_id) => Some(OidcRequestState {
                    client_id,
                    state: row.get("oauth_state")?,
                    nonce: row.get("app_nonce")?,
                    code_challenge: row.get("code_challenge")?,
                    scope: row.get::<Option<String>>("scope")?.unwrap_or_default(),
                }),
            },
            created_at: row.time("created_at")?,
            expires_at: row.time("expires_at")?,
        })
    }
}

#[async_trait]
impl<D: Db> ConnectionRepo for SqlStore<D> {
    async fn create_connection(
        &self,
        c: &ConnectionRecord,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        if c.is_default {
            clear_default::<D>(&mut tx, c.tenant_id).await?;
        }
        let oidc = c.oidc.as_ref();
        query::<D>(
            "INSERT INTO connections (id, tenant_id, kind, name, domains, is_default, issuer, \
             client_id, client_secret, scopes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(c.id)
        .bind(c.tenant_id)
        .bind(c.kind.as_str())
        .bind(&c.name)
        .bind(Json(&c.domains))
        .bind(c.is_default)
        .bind(oidc.map(|o| o.issuer.as_str()))
        .bind(oidc.map(|o| o.client_id.as_str()))
        .bind(oidc.and_then(|o| o.sealed_secret.clone()))
        .bind(oidc.map(|o| Json(&o.scopes)))
        .bind(Ts(c.created_at))
        .bind(Ts(c.updated_at))
        .execute(&mut tx)
        .await?;
        insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn connections(&self, tenant_id: Uuid) -> Result<Vec<ConnectionRecord>> {
        query::<D>("SELECT * FROM connections WHERE tenant_id = $1 ORDER BY created_at, id")
            .bind(tenant_id)
            .fetch_all(&mut *self.read().await?)
            .await
    }

    async fn connection(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<ConnectionRecord>> {
        query::<D>("SELECT * FROM connections WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn update_connection(
        &self,
        c: &ConnectionRecord,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        if c.is_default {
            clear_default::<D>(&mut tx, c.tenant_id).await?;
        }
        let oidc = c.oidc.as_ref();
        query::<D>(
            "UPDATE connections SET name = $3, domains = $4, is_default = $5, issuer = $6, \
             client_id = $7, client_secret = $8, scopes = $9, updated_at = $10, \
             provider_cache = CASE WHEN issuer = $6 THEN provider_cache END, \
             provider_fetched_at = CASE WHEN issuer = $6 THEN provider_fetched_at END \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(c.tenant_id)
        .bind(c.id)
        .bind(&c.name)
        .bind(Json(&c.domains))
        .bind(c.is_default)
        .bind(oidc.map(|o| o.issuer.as_str()))
        .bind(oidc.map(|o| o.client_id.as_str()))
        .bind(oidc.and_then(|o| o.sealed_secret.clone()))
        .bind(oidc.map(|o| Json(&o.scopes)))
        .bind(Ts(c.updated_at))
        .execute_one(&mut tx)
        .await?;
        insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_connection(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>("DELETE FROM connections WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute_one(&mut tx)
            .await?;
        // A SAML connection's settings go with it.
        query::<D>("DELETE FROM saml_connections WHERE connection_id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .execute(&mut tx)
            .await?;
        insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cache_provider(
        &self,
        id: Uuid,
        document: &serde_json::Value,
        fetched_at: OffsetDateTime,
    ) -> Result<()> {
        query::<D>(
            "UPDATE connections SET provider_cache = $2, provider_fetched_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(Json(document))
        .bind(Ts(fetched_at))
        .execute(&mut *self.write().await?)
        .await?;
        Ok(())
    }

    async fn sealed_connections_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ConnectionRecord>> {
        query::<D>(
            "SELECT * FROM connections WHERE client_secret IS NOT NULL \
             AND ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await
    }

    async fn reseal_secret(&self, id: Uuid, old: &[u8], new: &[u8]) -> Result<bool> {
        let changed = query::<D>(
            "UPDATE connections SET client_secret = $3 WHERE id = $1 AND client_secret = $2",
        )
        .bind(id)
        .bind(old.to_vec())
        .bind(new.to_vec())
        .execute(&mut *self.write().await?)
        .await?;
        Ok(changed == 1)
    }

    async fn create_oidc_flow(&self, state: &SecretHash, f: &OidcFlow) -> Result<()> {
        let app = f.app.as_ref();
        query::<D>(
            "INSERT INTO oidc_flows (state_hash, tenant_id, connection_id, nonce, code_verifier, \
             test, redirect_uri, client_id, oauth_state, app_nonce, code_challenge, scope, \
             created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(digest(state))
        .bind(f.tenant_id)
        .bind(f.connection_id)
        .bind(&f.nonce)
        .bind(&f.code_verifier)
        .bind(f.test)
        .bind(&f.redirect_uri)
        .bind(app.map(|a| a.client_id))
        .bind(app.and_then(|a| a.state.as_deref()))
        .bind(app.and_then(|a| a.nonce.as_deref()))
        .bind(app.and_then(|a| a.code_challenge.as_deref()))
        .bind(app.map(|a| a.scope.as_str()))
        .bind(Ts(f.created_at))
        .bind(Ts(f.expires_at))
        .execute(&mut *self.write().await?)
        .await?;
        Ok(())
    }

    async fn take_oidc_flow(
        &self,
        state: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<Option<OidcFlow>> {
        // DELETE … RETURNING: the flow goes to exactly one caller.
        let taken: Option<OidcFlow> =
            query::<D>("DELETE FROM oidc_flows WHERE state_hash = $1 RETURNING *")
                .bind(digest(state))
                .fetch_optional(&mut *self.write().await?)
                .await?;
        Ok(taken.filter(|f| f.expires_at > now))
    }
}

/// The tenant's default stops being one (a new default is about to be written).
async fn clear_default<D: Db>(conn: &mut D::Connection, tenant_id: Uuid) -> Result<()> {
    query::<D>("UPDATE connections SET is_default = $2 WHERE tenant_id = $1 AND is_default = $3")
        .bind(tenant_id)
        .bind(false)
        .bind(true)
        .execute(conn)
        .await?;
    Ok(())
}
