//! SAML records on SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqliteStore, from_micros, micros, uuid_of};
use crate::saml::{ConnectionTimestamps, tenant_with_saml_connection_sql};
use crate::{
    AuthorizationCodeRecord, FetchedMetadata, OidcRequestState, Page, PageRequest, Result,
    SamlConnection, SamlRepo, SamlRequestState, SignInEvent, StoreError, WriteContext,
};

fn connection_from_row(row: &SqliteRow) -> Result<SamlConnection> {
    connection_from_columns(row, &ConnectionTimestamps::OWN)
}

fn connection_from_columns(row: &SqliteRow, at: &ConnectionTimestamps) -> Result<SamlConnection> {
    let certificates: String = row.try_get("idp_certificates")?;
    Ok(SamlConnection {
        tenant_id: uuid_of(row, "tenant_id")?,
        idp_entity_id: row.try_get("idp_entity_id")?,
        idp_sso_redirect_url: row.try_get("idp_sso_redirect_url")?,
        idp_sso_post_url: row.try_get("idp_sso_post_url")?,
        idp_certificates: serde_json::from_str(&certificates)
            .map_err(|e| StoreError::Corrupt(format!("idp_certificates: {e}")))?,
        metadata_xml: row.try_get("metadata_xml")?,
        metadata_url: row.try_get("metadata_url")?,
        metadata_fetched_at: row
            .try_get::<Option<i64>, _>("metadata_fetched_at")?
            .map(from_micros)
            .transpose()?,
        metadata_checked_at: row
            .try_get::<Option<i64>, _>("metadata_checked_at")?
            .map(from_micros)
            .transpose()?,
        metadata_error: row.try_get("metadata_error")?,
        want_assertions_signed: row.try_get("want_assertions_signed")?,
        want_response_signed: row.try_get("want_response_signed")?,
        sign_authn_requests: row.try_get("sign_authn_requests")?,
        allow_idp_initiated: row.try_get("allow_idp_initiated")?,
        default_redirect_uri: row.try_get("default_redirect_uri")?,
        default_client_id: row.try_get("default_client_id")?,
        email_attributes: row
            .try_get::<Option<String>, _>("email_attributes")?
            .map(|json| {
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("email_attributes: {e}")))
            })
            .transpose()?,
        clock_skew_seconds: row.try_get("clock_skew_seconds")?,
        created_at: from_micros(row.try_get(at.created_at)?)?,
        updated_at: from_micros(row.try_get(at.updated_at)?)?,
    })
}

fn request_from_row(row: &SqliteRow) -> Result<SamlRequestState> {
    Ok(SamlRequestState {
        id: row.try_get("id")?,
        tenant_id: uuid_of(row, "tenant_id")?,
        relay_state: row.try_get("relay_state")?,
        redirect_uri: row.try_get("redirect_uri")?,
        test: row.try_get("test")?,
        oidc: match row.try_get::<Option<Uuid>, _>("client_id")? {
            None => None,
            Some(client_id) => Some(OidcRequestState {
                client_id,
                state: row.try_get("oauth_state")?,
                nonce: row.try_get("nonce")?,
                code_challenge: row.try_get("code_challenge")?,
                scope: row
                    .try_get::<Option<String>, _>("scope")?
                    .unwrap_or_default(),
            }),
        },
        created_at: from_micros(row.try_get("created_at")?)?,
        expires_at: from_micros(row.try_get("expires_at")?)?,
    })
}

#[async_trait]
impl SamlRepo for SqliteStore {
    async fn put_saml_connection(&self, c: &SamlConnection) -> Result<()> {
        let certificates = serde_json::to_string(&c.idp_certificates)
            .map_err(|e| StoreError::Corrupt(format!("idp_certificates: {e}")))?;
        sqlx::query(
            "INSERT INTO saml_connections (tenant_id, idp_entity_id, idp_sso_redirect_url, \
             idp_sso_post_url, idp_certificates, metadata_xml, metadata_url, metadata_fetched_at, \
             want_assertions_signed, want_response_signed, allow_idp_initiated, \
             default_redirect_uri, clock_skew_seconds, created_at, updated_at, metadata_checked_at, \
             metadata_error, \
             default_client_id, email_attributes, sign_authn_requests) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19, ?20) \
             ON CONFLICT (tenant_id) DO UPDATE SET idp_entity_id = excluded.idp_entity_id, \
             idp_sso_redirect_url = excluded.idp_sso_redirect_url, \
             idp_sso_post_url = excluded.idp_sso_post_url, \
             idp_certificates = excluded.idp_certificates, metadata_xml = excluded.metadata_xml, \
             metadata_url = excluded.metadata_url, metadata_fetched_at = excluded.metadata_fetched_at, \
             want_assertions_signed = excluded.want_assertions_signed, \
             want_response_signed = excluded.want_response_signed, \
             allow_idp_initiated = excluded.allow_idp_initiated, \
             default_redirect_uri = excluded.default_redirect_uri, \
             clock_skew_seconds = excluded.clock_skew_seconds, updated_at = excluded.updated_at, \
             metadata_checked_at = excluded.metadata_checked_at, metadata_error = excluded.metadata_error, \
             default_client_id = excluded.default_client_id, email_attributes = excluded.email_attributes, \
             sign_authn_requests = excluded.sign_authn_requests",
        )
        .bind(c.tenant_id)
        .bind(&c.idp_entity_id)
        .bind(&c.idp_sso_redirect_url)
        .bind(&c.idp_sso_post_url)
        .bind(certificates)
        .bind(&c.metadata_xml)
        .bind(&c.metadata_url)
        .bind(c.metadata_fetched_at.map(micros))
        .bind(c.want_assertions_signed)
        .bind(c.want_response_signed)
        .bind(c.allow_idp_initiated)
        .bind(&c.default_redirect_uri)
        .bind(c.clock_skew_seconds)
        .bind(micros(c.created_at))
        .bind(micros(c.updated_at))
        .bind(c.metadata_checked_at.map(micros))
        .bind(&c.metadata_error)
        .bind(c.default_client_id)
        .bind(
            c.email_attributes
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("email_attributes: {e}")))?,
        )
        .bind(c.sign_authn_requests)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn saml_connection(&self, tenant_id: Uuid) -> Result<Option<SamlConnection>> {
        sqlx::query("SELECT * FROM saml_connections WHERE tenant_id = ?1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(connection_from_row)
            .transpose()
    }

    async fn tenant_with_saml_connection(
        &self,
        slug: &idbridge_core::TenantSlug,
    ) -> Result<Option<(crate::Tenant, Option<SamlConnection>)>> {
        let Some(row) = sqlx::query(tenant_with_saml_connection_sql!("?1"))
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let tenant = super::tenant_from_row(&row)?;
        let connected = row.try_get::<Option<Uuid>, _>("tenant_id")?.is_some();
        let connection = if connected {
            Some(connection_from_columns(
                &row,
                &ConnectionTimestamps::BESIDE_TENANT,
            )?)
        } else {
            None
        };
        Ok(Some((tenant, connection)))
    }

    async fn saml_connections_to_refresh(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<SamlConnection>> {
        sqlx::query(
            "SELECT * FROM saml_connections WHERE metadata_url IS NOT NULL \
             AND (metadata_checked_at IS NULL OR metadata_checked_at < ?1) \
             ORDER BY metadata_checked_at LIMIT ?2",
        )
        .bind(micros(checked_before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(connection_from_row)
        .collect()
    }

    async fn record_metadata_refresh(
        &self,
        tenant_id: Uuid,
        metadata_url: &str,
        outcome: std::result::Result<&FetchedMetadata, &str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let query = match outcome {
            Ok(m) => sqlx::query(
                "UPDATE saml_connections SET idp_entity_id = ?3, idp_sso_redirect_url = ?4, \
                 idp_sso_post_url = ?5, idp_certificates = ?6, metadata_xml = ?7, \
                 metadata_fetched_at = ?8, metadata_checked_at = ?8, metadata_error = NULL, \
                 updated_at = ?8 WHERE tenant_id = ?1 AND metadata_url = ?2",
            )
            .bind(tenant_id)
            .bind(metadata_url)
            .bind(&m.idp_entity_id)
            .bind(&m.idp_sso_redirect_url)
            .bind(&m.idp_sso_post_url)
            .bind(
                serde_json::to_string(&m.idp_certificates)
                    .map_err(|e| StoreError::Corrupt(format!("idp_certificates: {e}")))?,
            )
            .bind(&m.metadata_xml)
            .bind(micros(now)),
            Err(error) => sqlx::query(
                "UPDATE saml_connections SET metadata_checked_at = ?3, metadata_error = ?4 \
                 WHERE tenant_id = ?1 AND metadata_url = ?2",
            )
            .bind(tenant_id)
            .bind(metadata_url)
            .bind(micros(now))
            .bind(error),
        };
        query.execute(&self.writer).await?;
        Ok(())
    }

    async fn create_saml_request(&self, r: &SamlRequestState) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO saml_requests (id, tenant_id, relay_state, redirect_uri, test, \
             created_at, expires_at, client_id, oauth_state, nonce, code_challenge, scope) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .bind(&r.id)
        .bind(r.tenant_id)
        .bind(&r.relay_state)
        .bind(&r.redirect_uri)
        .bind(r.test)
        .bind(micros(r.created_at))
        .bind(micros(r.expires_at))
        .bind(r.oidc.as_ref().map(|o| o.client_id))
        .bind(r.oidc.as_ref().and_then(|o| o.state.as_deref()))
        .bind(r.oidc.as_ref().and_then(|o| o.nonce.as_deref()))
        .bind(r.oidc.as_ref().and_then(|o| o.code_challenge.as_deref()))
        .bind(r.oidc.as_ref().map(|o| o.scope.as_str()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remember_assertion(
        &self,
        tenant_id: Uuid,
        assertion_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool> {
        // In the sign-in writes' group commit: see `crate::sign_in_batch`.
        self.sign_ins
            .remember(crate::sign_in_batch::SeenAssertion {
                tenant_id,
                assertion_id: assertion_id.to_owned(),
                expires_at,
                now,
            })
            .await
    }

    async fn saml_connections_after(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<SamlConnection>> {
        sqlx::query(
            "SELECT * FROM saml_connections WHERE (?1 IS NULL OR tenant_id > ?1) ORDER BY tenant_id LIMIT ?2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(connection_from_row)
        .collect()
    }

    async fn warn_certificate_expiring(
        &self,
        tenant_id: Uuid,
        fingerprint: &str,
        event: &crate::NewEvent,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO saml_certificate_warnings (tenant_id, fingerprint, warned_at) \
             VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(fingerprint)
        .bind(micros(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let ctx = WriteContext {
                now,
                events: vec![event.clone()],
                log: None,
            };
            super::directory::finish_write(&mut tx, tenant_id, &ctx, Vec::new(), 0, 0).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn sweep_expired(&self, now: OffsetDateTime) -> Result<u64> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut removed = 0;
        for sql in [
            "DELETE FROM saml_requests WHERE expires_at < ?1",
            "DELETE FROM saml_assertions_seen WHERE expires_at < ?1",
        ] {
            removed += sqlx::query(sql)
                .bind(micros(now))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        // Codes live 60 seconds; a day later nothing needs them, not even to notice
        // a reuse.
        removed += sqlx::query("DELETE FROM authorization_codes WHERE expires_at < ?1")
            .bind(micros(now - time::Duration::days(1)))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(removed)
    }

    async fn record_sign_in(
        &self,
        e: &SignInEvent,
        code: Option<(&idbridge_core::secret::SecretHash, &AuthorizationCodeRecord)>,
    ) -> Result<()> {
        self.sign_ins.record(e, code).await
    }

    async fn list_sign_ins_filtered(
        &self,
        tenant_id: Uuid,
        filter: &crate::SignInFilter,
        page: PageRequest,
    ) -> Result<Page<SignInEvent>> {
        let crate::scim_sql::Sql { text, binds, .. } = crate::log_filter::sign_in_page_query(
            crate::scim_sql::Dialect::Sqlite,
            tenant_id,
            filter,
            page,
        );
        let rows = super::directory::bind_all(sqlx::query(sqlx::AssertSqlSafe(text)), binds)
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(SignInEvent {
                    id: uuid_of(row, "id")?,
                    tenant_id: uuid_of(row, "tenant_id")?,
                    occurred_at: from_micros(row.try_get("occurred_at")?)?,
                    success: row.try_get::<String, _>("outcome")? == "success",
                    reason: row.try_get("reason")?,
                    detail: row.try_get("detail")?,
                    email: row.try_get("email")?,
                    user_id: row.try_get("user_id")?,
                    test: row.try_get("test")?,
                    request_id: row.try_get("request_id")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, page.effective_limit(), |e| {
            e.id
        }))
    }

    async fn authorization_code(
        &self,
        hash: &idbridge_core::secret::SecretHash,
    ) -> Result<Option<AuthorizationCodeRecord>> {
        sqlx::query("SELECT * FROM authorization_codes WHERE code_hash = ?1")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(<AuthorizationCodeRecord as crate::db::FromRow>::from_row)
            .transpose()
    }

    async fn sp_keys(&self, tenant_id: Uuid) -> Result<Vec<crate::SpKeyRecord>> {
        sqlx::query(
            "SELECT * FROM saml_sp_keys WHERE tenant_id = ?1 \
             ORDER BY retired_at IS NOT NULL, created_at DESC",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(crate::SpKeyRecord {
                id: uuid_of(row, "id")?,
                tenant_id: uuid_of(row, "tenant_id")?,
                private_key: row.try_get("private_key")?,
                certificate: row.try_get("certificate")?,
                created_at: from_micros(row.try_get("created_at")?)?,
                not_after: from_micros(row.try_get("not_after")?)?,
                retired_at: row
                    .try_get::<Option<i64>, _>("retired_at")?
                    .map(from_micros)
                    .transpose()?,
            })
        })
        .collect()
    }

    async fn add_sp_key(&self, key: &crate::SpKeyRecord) -> Result<bool> {
        // The partial unique index keeps one active key per tenant.
        let inserted = sqlx::query(
            "INSERT INTO saml_sp_keys (id, tenant_id, private_key, certificate, created_at, \
             not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )
        .bind(key.id)
        .bind(key.tenant_id)
        .bind(&key.private_key)
        .bind(&key.certificate)
        .bind(micros(key.created_at))
        .bind(micros(key.not_after))
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn rotate_sp_key(&self, key: &crate::SpKeyRecord) -> Result<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE saml_sp_keys SET retired_at = ?2 WHERE tenant_id = ?1 AND retired_at IS NULL",
        )
        .bind(key.tenant_id)
        .bind(micros(key.created_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO saml_sp_keys (id, tenant_id, private_key, certificate, created_at, \
             not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(key.id)
        .bind(key.tenant_id)
        .bind(&key.private_key)
        .bind(&key.certificate)
        .bind(micros(key.created_at))
        .bind(micros(key.not_after))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_saml_request(
        &self,
        tenant_id: Uuid,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SamlRequestState>> {
        // DELETE … RETURNING: the row goes to exactly one caller.
        sqlx::query("DELETE FROM saml_requests WHERE id = ?1 AND tenant_id = ?2 RETURNING *")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.writer)
            .await?
            .as_ref()
            .map(request_from_row)
            .transpose()
            .map(|r| r.filter(|r| r.expires_at > now))
    }
}
