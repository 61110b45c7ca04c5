//! SAML records on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use sqlx::types::Json;

use super::{PostgresStore, uuid_of};
use crate::saml::{ConnectionTimestamps, tenant_with_saml_connection_sql};
use crate::{
    AuthorizationCodeRecord, FetchedMetadata, OidcRequestState, Page, PageRequest, Result,
    SamlConnection, SamlRepo, SamlRequestState, SignInEvent, WriteContext,
};

fn connection_from_row(row: &PgRow) -> Result<SamlConnection> {
    connection_from_columns(row, &ConnectionTimestamps::OWN)
}

fn connection_from_columns(row: &PgRow, at: &ConnectionTimestamps) -> Result<SamlConnection> {
    let Json(idp_certificates): Json<Vec<String>> = row.try_get("idp_certificates")?;
    Ok(SamlConnection {
        tenant_id: uuid_of(row, "tenant_id")?,
        idp_entity_id: row.try_get("idp_entity_id")?,
        idp_sso_redirect_url: row.try_get("idp_sso_redirect_url")?,
        idp_sso_post_url: row.try_get("idp_sso_post_url")?,
        idp_certificates,
        metadata_xml: row.try_get("metadata_xml")?,
        metadata_url: row.try_get("metadata_url")?,
        metadata_fetched_at: row.try_get("metadata_fetched_at")?,
        metadata_checked_at: row.try_get("metadata_checked_at")?,
        metadata_error: row.try_get("metadata_error")?,
        want_assertions_signed: row.try_get("want_assertions_signed")?,
        want_response_signed: row.try_get("want_response_signed")?,
        sign_authn_requests: row.try_get("sign_authn_requests")?,
        allow_idp_initiated: row.try_get("allow_idp_initiated")?,
        default_redirect_uri: row.try_get("default_redirect_uri")?,
        default_client_id: row.try_get("default_client_id")?,
        email_attributes: row
            .try_get::<Option<Json<Vec<String>>>, _>("email_attributes")?
            .map(|Json(v)| v),
        clock_skew_seconds: row.try_get("clock_skew_seconds")?,
        created_at: row.try_get(at.created_at)?,
        updated_at: row.try_get(at.updated_at)?,
    })
}

fn request_from_row(row: &PgRow) -> Result<SamlRequestState> {
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
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

#[async_trait]
impl SamlRepo for PostgresStore {
    async fn put_saml_connection(&self, c: &SamlConnection) -> Result<()> {
        sqlx::query(
            "INSERT INTO saml_connections (tenant_id, idp_entity_id, idp_sso_redirect_url, \
             idp_sso_post_url, idp_certificates, metadata_xml, metadata_url, metadata_fetched_at, \
             want_assertions_signed, want_response_signed, allow_idp_initiated, \
             default_redirect_uri, clock_skew_seconds, created_at, updated_at, metadata_checked_at, \
             metadata_error, \
             default_client_id, email_attributes, sign_authn_requests) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20) \
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
        .bind(Json(&c.idp_certificates))
        .bind(&c.metadata_xml)
        .bind(&c.metadata_url)
        .bind(c.metadata_fetched_at)
        .bind(c.want_assertions_signed)
        .bind(c.want_response_signed)
        .bind(c.allow_idp_initiated)
        .bind(&c.default_redirect_uri)
        .bind(c.clock_skew_seconds)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.metadata_checked_at)
        .bind(&c.metadata_error)
        .bind(c.default_client_id)
        .bind(c.email_attributes.as_ref().map(Json))
        .bind(c.sign_authn_requests)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn saml_connection(&self, tenant_id: Uuid) -> Result<Option<SamlConnection>> {
        sqlx::query("SELECT * FROM saml_connections WHERE tenant_id = $1")
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
        let Some(row) = sqlx::query(tenant_with_saml_connection_sql!("$1"))
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
             AND (metadata_checked_at IS NULL OR metadata_checked_at < $1) \
             ORDER BY metadata_checked_at NULLS FIRST LIMIT $2",
        )
        .bind(checked_before)
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
                "UPDATE saml_connections SET idp_entity_id = $3, idp_sso_redirect_url = $4, \
                 idp_sso_post_url = $5, idp_certificates = $6, metadata_xml = $7, \
                 metadata_fetched_at = $8, metadata_checked_at = $8, metadata_error = NULL, \
                 updated_at = $8 WHERE tenant_id = $1 AND metadata_url = $2",
            )
            .bind(tenant_id)
            .bind(metadata_url)
            .bind(&m.idp_entity_id)
            .bind(&m.idp_sso_redirect_url)
            .bind(&m.idp_sso_post_url)
            .bind(Json(&m.idp_certificates))
            .bind(&m.metadata_xml)
            .bind(now),
            Err(error) => sqlx::query(
                "UPDATE saml_connections SET metadata_checked_at = $3, metadata_error = $4 \
                 WHERE tenant_id = $1 AND metadata_url = $2",
            )
            .bind(tenant_id)
            .bind(metadata_url)
            .bind(now)
            .bind(error),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn create_saml_request(&self, r: &SamlRequestState) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO saml_requests (id, tenant_id, relay_state, redirect_uri, test, \
             created_at, expires_at, client_id, oauth_state, nonce, code_challenge, scope) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&r.id)
        .bind(r.tenant_id)
        .bind(&r.relay_state)
        .bind(&r.redirect_uri)
        .bind(r.test)
        .bind(r.created_at)
        .bind(r.expires_at)
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
            "SELECT * FROM saml_connections WHERE ($1::uuid IS NULL OR tenant_id > $1) ORDER BY tenant_id LIMIT $2",
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
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO saml_certificate_warnings (tenant_id, fingerprint, warned_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(fingerprint)
        .bind(now)
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
        let mut tx = self.pool.begin().await?;
        let mut removed = 0;
        for sql in [
            "DELETE FROM saml_requests WHERE expires_at < $1",
            "DELETE FROM saml_assertions_seen WHERE expires_at < $1",
        ] {
            removed += sqlx::query(sql)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        // Codes live 60 seconds; a day later nothing needs them, not even to notice
        // a reuse.
        removed += sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
            .bind(now - time::Duration::days(1))
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
            crate::scim_sql::Dialect::Postgres,
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
                    occurred_at: row.try_get("occurred_at")?,
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
        sqlx::query("SELECT * FROM authorization_codes WHERE code_hash = $1")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(<AuthorizationCodeRecord as crate::db::FromRow>::from_row)
            .transpose()
    }

    async fn sp_keys(&self, tenant_id: Uuid) -> Result<Vec<crate::SpKeyRecord>> {
        sqlx::query(
            "SELECT * FROM saml_sp_keys WHERE tenant_id = $1 \
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
                created_at: row.try_get("created_at")?,
                not_after: row.try_get("not_after")?,
                retired_at: row.try_get("retired_at")?,
            })
        })
        .collect()
    }

    async fn add_sp_key(&self, key: &crate::SpKeyRecord) -> Result<bool> {
        // The partial unique index keeps one active key per tenant.
        let inserted = sqlx::query(
            "INSERT INTO saml_sp_keys (id, tenant_id, private_key, certificate, created_at, \
             not_after) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(key.id)
        .bind(key.tenant_id)
        .bind(&key.private_key)
        .bind(&key.certificate)
        .bind(key.created_at)
        .bind(key.not_after)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn rotate_sp_key(&self, key: &crate::SpKeyRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE saml_sp_keys SET retired_at = $2 WHERE tenant_id = $1 AND retired_at IS NULL",
        )
        .bind(key.tenant_id)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO saml_sp_keys (id, tenant_id, private_key, certificate, created_at, \
             not_after) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id)
        .bind(key.tenant_id)
        .bind(&key.private_key)
        .bind(&key.certificate)
        .bind(key.created_at)
        .bind(key.not_after)
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
        sqlx::query("DELETE FROM saml_requests WHERE id = $1 AND tenant_id = $2 RETURNING *")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(request_from_row)
            .transpose()
            .map(|r| r.filter(|r| r.expires_at > now))
    }
}
