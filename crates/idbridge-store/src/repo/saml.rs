//! SAML records, written once for both backends. A sign-in's writes (its log row,
//! feed event and code, and the replay record of its assertion) go through the
//! group commit of `crate::sign_in_batch`, whose statements are each backend's own.

use async_trait::async_trait;
use idbridge_core::TenantSlug;
use idbridge_core::secret::SecretHash;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, append_to_feed, digest, page_of};
use crate::db::{Db, FromRow, Row, Ts, query, query_assembled};
use crate::sign_in_batch::SeenAssertion;
use crate::{
    AuthorizationCodeRecord, FetchedMetadata, NewEvent, OidcRequestState, Page, PageRequest,
    Result, SamlConnection, SamlRepo, SamlRequestState, SignInEvent, SignInFilter, SpKeyRecord,
    Tenant,
};

/// The tenant's columns and its connection's, with the two names both tables use
/// renamed on the connection's side (`saml_created_at`, `saml_updated_at`), so no
/// column name is ambiguous. `$1` is the slug. Every connection column is listed: a
/// column added to the table and read by a row reader must be added here.
pub(crate) const TENANT_WITH_SAML_CONNECTION: &str = "SELECT t.*, c.connection_id, c.tenant_id, c.idp_entity_id, \
     c.idp_sso_redirect_url, c.idp_sso_post_url, c.idp_certificates, c.metadata_xml, \
     c.metadata_url, c.metadata_fetched_at, c.metadata_checked_at, c.metadata_error, \
     c.want_assertions_signed, c.want_response_signed, c.sign_authn_requests, \
     c.allow_idp_initiated, c.default_redirect_uri, c.default_client_id, \
     c.email_attributes, c.clock_skew_seconds, c.created_at AS saml_created_at, \
     c.updated_at AS saml_updated_at \
     FROM tenants t LEFT JOIN saml_connections c ON c.connection_id = t.id \
     WHERE t.slug = $1";

/// [`TENANT_WITH_SAML_CONNECTION`] for the tenant's SAML connection `$2` (one of
/// its further ones): found by its primary key, and only if it is the tenant's.
pub(crate) const TENANT_WITH_SAML_CONNECTION_BY_ID: &str = "SELECT t.*, c.connection_id, c.tenant_id, \
     c.idp_entity_id, \
     c.idp_sso_redirect_url, c.idp_sso_post_url, c.idp_certificates, c.metadata_xml, \
     c.metadata_url, c.metadata_fetched_at, c.metadata_checked_at, c.metadata_error, \
     c.want_assertions_signed, c.want_response_signed, c.sign_authn_requests, \
     c.allow_idp_initiated, c.default_redirect_uri, c.default_client_id, \
     c.email_attributes, c.clock_skew_seconds, c.created_at AS saml_created_at, \
     c.updated_at AS saml_updated_at \
     FROM tenants t LEFT JOIN saml_connections c ON c.connection_id = $2 AND c.tenant_id = t.id \
     WHERE t.slug = $1";

/// The names a connection's timestamps have in a row: its own table's, or those
/// [`TENANT_WITH_SAML_CONNECTION`] gives them beside a tenant's.
struct ConnectionTimestamps {
    created_at: &'static str,
    updated_at: &'static str,
}

impl ConnectionTimestamps {
    const OWN: Self = Self {
        created_at: "created_at",
        updated_at: "updated_at",
    };
    const BESIDE_TENANT: Self = Self {
        created_at: "saml_created_at",
        updated_at: "saml_updated_at",
    };
}

fn connection_from_columns(row: &impl Row, at: &ConnectionTimestamps) -> Result<SamlConnection> {
    Ok(SamlConnection {
        connection_id: row.get("connection_id")?,
        tenant_id: row.get("tenant_id")?,
        idp_entity_id: row.get("idp_entity_id")?,
        idp_sso_redirect_url: row.get("idp_sso_redirect_url")?,
        idp_sso_post_url: row.get("idp_sso_post_url")?,
        idp_certificates: row.json("idp_certificates")?,
        metadata_xml: row.get("metadata_xml")?,
        metadata_url: row.get("metadata_url")?,
        metadata_fetched_at: row.opt_time("metadata_fetched_at")?,
        metadata_checked_at: row.opt_time("metadata_checked_at")?,
        metadata_error: row.get("metadata_error")?,
        want_assertions_signed: row.get("want_assertions_signed")?,
        want_response_signed: row.get("want_response_signed")?,
        sign_authn_requests: row.get("sign_authn_requests")?,
        allow_idp_initiated: row.get("allow_idp_initiated")?,
        default_redirect_uri: row.get("default_redirect_uri")?,
        default_client_id: row.get("default_client_id")?,
        email_attributes: row
            .get::<Option<Json<Vec<String>>>>("email_attributes")?
            .map(|Json(names)| names),
        clock_skew_seconds: row.get("clock_skew_seconds")?,
        created_at: row.time(at.created_at)?,
        updated_at: row.time(at.updated_at)?,
    })
}

impl FromRow for SamlConnection {
    fn from_row(row: &impl Row) -> Result<Self> {
        connection_from_columns(row, &ConnectionTimestamps::OWN)
    }
}

/// A row of [`TENANT_WITH_SAML_CONNECTION`]: the tenant, and its connection if the
/// left join found one.
struct TenantWithConnection(Tenant, Option<SamlConnection>);

impl FromRow for TenantWithConnection {
    fn from_row(row: &impl Row) -> Result<Self> {
        let tenant = Tenant::from_row(row)?;
        let connected = row.get::<Option<Uuid>>("connection_id")?.is_some();
        let connection = if connected {
            Some(connection_from_columns(
                row,
                &ConnectionTimestamps::BESIDE_TENANT,
            )?)
        } else {
            None
        };
        Ok(TenantWithConnection(tenant, connection))
    }
}

impl FromRow for SamlRequestState {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(SamlRequestState {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            relay_state: row.get("relay_state")?,
            redirect_uri: row.get("redirect_uri")?,
            test: row.get("test")?,
            oidc: match row.get::<Option<Uuid>>("client_id")? {
                None => None,
                Some(client_id) => Some(OidcRequestState {
                    client_id,
                    state: row.get("oauth_state")?,
                    nonce: row.get("nonce")?,
                    code_challenge: row.get("code_challenge")?,
                    scope: row.get::<Option<String>>("scope")?.unwrap_or_default(),
                }),
            },
            connection_id: row.get("connection_id")?,
            created_at: row.time("created_at")?,
            expires_at: row.time("expires_at")?,
        })
    }
}

impl FromRow for SignInEvent {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(SignInEvent {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            occurred_at: row.time("occurred_at")?,
            success: row.get::<String>("outcome")? == "success",
            reason: row.get("reason")?,
            detail: row.get("detail")?,
            email: row.get("email")?,
            user_id: row.get("user_id")?,
            test: row.get("test")?,
            request_id: row.get("request_id")?,
            connection_id: row.get("connection_id")?,
        })
    }
}

impl FromRow for SpKeyRecord {
    fn from_row(row: &impl Row) -> Result<Self> {
        Ok(SpKeyRecord {
            id: row.get("id")?,
            tenant_id: row.get("tenant_id")?,
            private_key: row.get("private_key")?,
            certificate: row.get("certificate")?,
            created_at: row.time("created_at")?,
            not_after: row.time("not_after")?,
            retired_at: row.opt_time("retired_at")?,
        })
    }
}

#[async_trait]
impl<D: Db> SamlRepo for SqlStore<D> {
    async fn put_saml_connection(
        &self,
        c: &SamlConnection,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "INSERT INTO saml_connections (connection_id, tenant_id, idp_entity_id, idp_sso_redirect_url, \
             idp_sso_post_url, idp_certificates, metadata_xml, metadata_url, metadata_fetched_at, \
             want_assertions_signed, want_response_signed, allow_idp_initiated, \
             default_redirect_uri, clock_skew_seconds, created_at, updated_at, metadata_checked_at, \
             metadata_error, \
             default_client_id, email_attributes, sign_authn_requests) \
             VALUES ($21, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20) \
             ON CONFLICT (connection_id) DO UPDATE SET idp_entity_id = excluded.idp_entity_id, \
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
        .bind(c.metadata_fetched_at.map(Ts))
        .bind(c.want_assertions_signed)
        .bind(c.want_response_signed)
        .bind(c.allow_idp_initiated)
        .bind(&c.default_redirect_uri)
        .bind(c.clock_skew_seconds)
        .bind(Ts(c.created_at))
        .bind(Ts(c.updated_at))
        .bind(c.metadata_checked_at.map(Ts))
        .bind(&c.metadata_error)
        .bind(c.default_client_id)
        .bind(c.email_attributes.as_ref().map(Json))
        .bind(c.sign_authn_requests)
        .bind(c.connection_id)
        .execute(&mut tx)
        .await?;
        // The connection as the connections list shows it (the tenant's first SAML
        // connection has the tenant's own id); its name and domains are the
        // connections API's to change.
        query::<D>(
            "INSERT INTO connections (id, tenant_id, kind, name, domains, is_default, \
             created_at, updated_at) VALUES ($5, $1, 'saml', 'SAML', $2, $3, $4, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(c.tenant_id)
        .bind(Json(Vec::<String>::new()))
        .bind(false)
        .bind(Ts(c.created_at))
        .bind(c.connection_id)
        .execute(&mut tx)
        .await?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn saml_connection(&self, tenant_id: Uuid) -> Result<Option<SamlConnection>> {
        query::<D>("SELECT * FROM saml_connections WHERE connection_id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn tenant_with_saml_connection(
        &self,
        slug: &TenantSlug,
    ) -> Result<Option<(Tenant, Option<SamlConnection>)>> {
        let found: Option<TenantWithConnection> = query::<D>(TENANT_WITH_SAML_CONNECTION)
            .bind(slug.as_str())
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(found.map(|TenantWithConnection(tenant, connection)| (tenant, connection)))
    }

    async fn tenant_with_saml_connection_by_id(
        &self,
        slug: &TenantSlug,
        connection_id: Uuid,
    ) -> Result<Option<(Tenant, Option<SamlConnection>)>> {
        let found: Option<TenantWithConnection> = query::<D>(TENANT_WITH_SAML_CONNECTION_BY_ID)
            .bind(slug.as_str())
            .bind(connection_id)
            .fetch_optional(&mut *self.read().await?)
            .await?;
        Ok(found.map(|TenantWithConnection(tenant, connection)| (tenant, connection)))
    }

    async fn saml_connection_by_id(
        &self,
        tenant_id: Uuid,
        connection_id: Uuid,
    ) -> Result<Option<SamlConnection>> {
        query::<D>("SELECT * FROM saml_connections WHERE connection_id = $1 AND tenant_id = $2")
            .bind(connection_id)
            .bind(tenant_id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn saml_connections_to_refresh(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<SamlConnection>> {
        // Never-tried connections first (SQLite orders NULLs first anyway; the
        // refresh index serves the order on both).
        query::<D>(
            "SELECT * FROM saml_connections WHERE metadata_url IS NOT NULL \
             AND (metadata_checked_at IS NULL OR metadata_checked_at < $1) \
             ORDER BY metadata_checked_at NULLS FIRST LIMIT $2",
        )
        .bind(Ts(checked_before))
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await
    }

    async fn record_metadata_refresh(
        &self,
        connection_id: Uuid,
        metadata_url: &str,
        outcome: std::result::Result<&FetchedMetadata, &str>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let statement = match outcome {
            Ok(m) => query::<D>(
                "UPDATE saml_connections SET idp_entity_id = $3, idp_sso_redirect_url = $4, \
                 idp_sso_post_url = $5, idp_certificates = $6, metadata_xml = $7, \
                 metadata_fetched_at = $8, metadata_checked_at = $8, metadata_error = NULL, \
                 updated_at = $8 WHERE connection_id = $1 AND metadata_url = $2",
            )
            .bind(connection_id)
            .bind(metadata_url)
            .bind(&m.idp_entity_id)
            .bind(&m.idp_sso_redirect_url)
            .bind(&m.idp_sso_post_url)
            .bind(Json(&m.idp_certificates))
            .bind(&m.metadata_xml)
            .bind(Ts(now)),
            Err(error) => query::<D>(
                "UPDATE saml_connections SET metadata_checked_at = $3, metadata_error = $4 \
                 WHERE connection_id = $1 AND metadata_url = $2",
            )
            .bind(connection_id)
            .bind(metadata_url)
            .bind(Ts(now))
            .bind(error),
        };
        statement.execute(&mut *self.write().await?).await?;
        Ok(())
    }

    async fn create_saml_request(&self, r: &SamlRequestState) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "INSERT INTO saml_requests (id, tenant_id, relay_state, redirect_uri, test, \
             created_at, expires_at, client_id, oauth_state, nonce, code_challenge, scope, \
             connection_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&r.id)
        .bind(r.tenant_id)
        .bind(&r.relay_state)
        .bind(&r.redirect_uri)
        .bind(r.test)
        .bind(Ts(r.created_at))
        .bind(Ts(r.expires_at))
        .bind(r.oidc.as_ref().map(|o| o.client_id))
        .bind(r.oidc.as_ref().and_then(|o| o.state.as_deref()))
        .bind(r.oidc.as_ref().and_then(|o| o.nonce.as_deref()))
        .bind(r.oidc.as_ref().and_then(|o| o.code_challenge.as_deref()))
        .bind(r.oidc.as_ref().map(|o| o.scope.as_str()))
        .bind(r.connection_id)
        .execute(&mut tx)
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
            .remember(SeenAssertion {
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
        query::<D>(
            "SELECT * FROM saml_connections WHERE ($1 IS NULL OR connection_id > $1) \
             ORDER BY connection_id LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.read().await?)
        .await
    }

    async fn warn_certificate_expiring(
        &self,
        tenant_id: Uuid,
        fingerprint: &str,
        event: &NewEvent,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let inserted = query::<D>(
            "INSERT INTO saml_certificate_warnings (tenant_id, fingerprint, warned_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(fingerprint)
        .bind(Ts(now))
        .execute(&mut tx)
        .await?
            == 1;
        if inserted {
            append_to_feed::<D>(&mut tx, tenant_id, now, vec![event.clone()]).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn sweep_expired(&self, now: OffsetDateTime) -> Result<u64> {
        let mut tx = self.begin().await?;
        let mut removed = 0;
        for sql in [
            "DELETE FROM saml_requests WHERE expires_at < $1",
            "DELETE FROM saml_assertions_seen WHERE expires_at < $1",
            "DELETE FROM oidc_flows WHERE expires_at < $1",
            // A secret whose redirect was never followed.
            "DELETE FROM shown_once WHERE expires_at < $1",
        ] {
            removed += query::<D>(sql).bind(Ts(now)).execute(&mut tx).await?;
        }
        // Codes live 60 seconds; a day later nothing needs them, not even to notice
        // a reuse.
        removed += query::<D>("DELETE FROM authorization_codes WHERE expires_at < $1")
            .bind(Ts(now - time::Duration::days(1)))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn record_sign_in(
        &self,
        e: &SignInEvent,
        code: Option<(&SecretHash, &AuthorizationCodeRecord)>,
    ) -> Result<()> {
        // In the sign-in writes' group commit: see `crate::sign_in_batch`.
        self.sign_ins.record(e, code).await
    }

    async fn list_sign_ins_filtered(
        &self,
        tenant_id: Uuid,
        filter: &SignInFilter,
        page: PageRequest,
    ) -> Result<Page<SignInEvent>> {
        let sql = crate::log_filter::sign_in_page_query(D::DIALECT, tenant_id, filter, page);
        let rows = query_assembled::<D>(sql)
            .fetch_all(&mut *self.read().await?)
            .await?;
        Ok(page_of(rows, page, |e: &SignInEvent| e.id))
    }

    async fn authorization_code(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<AuthorizationCodeRecord>> {
        query::<D>("SELECT * FROM authorization_codes WHERE code_hash = $1")
            .bind(digest(hash))
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn sp_keys(&self, tenant_id: Uuid) -> Result<Vec<SpKeyRecord>> {
        query::<D>(
            "SELECT * FROM saml_sp_keys WHERE tenant_id = $1 \
             ORDER BY retired_at IS NOT NULL, created_at DESC",
        )
        .bind(tenant_id)
        .fetch_all(&mut *self.read().await?)
        .await
    }

    async fn add_sp_key(&self, key: &SpKeyRecord) -> Result<bool> {
        // The partial unique index keeps one active key per tenant.
        let inserted = query::<D>(
            "INSERT INTO saml_sp_keys (id, tenant_id, private_key, certificate, created_at, \
             not_after) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(key.id)
        .bind(key.tenant_id)
        .bind(&key.private_key)
        .bind(&key.certificate)
        .bind(Ts(key.created_at))
        .bind(Ts(key.not_after))
        .execute(&mut *self.write().await?)
        .await?;
        Ok(inserted == 1)
    }

    async fn rotate_sp_key(
        &self,
        key: &SpKeyRecord,
        audit: Option<&crate::AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        query::<D>(
            "UPDATE saml_sp_keys SET retired_at = $2 WHERE tenant_id = $1 AND retired_at IS NULL",
        )
        .bind(key.tenant_id)
        .bind(Ts(key.created_at))
        .execute(&mut tx)
        .await?;
        query::<D>(
            "INSERT INTO saml_sp_keys (id, tenant_id, private_key, certificate, created_at, \
             not_after) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id)
        .bind(key.tenant_id)
        .bind(&key.private_key)
        .bind(&key.certificate)
        .bind(Ts(key.created_at))
        .bind(Ts(key.not_after))
        .execute(&mut tx)
        .await?;
        super::audit::insert_audit_opt::<D>(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn saml_request(&self, tenant_id: Uuid, id: &str) -> Result<Option<SamlRequestState>> {
        query::<D>("SELECT * FROM saml_requests WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&mut *self.read().await?)
            .await
    }

    async fn take_saml_request(
        &self,
        tenant_id: Uuid,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SamlRequestState>> {
        // DELETE … RETURNING: the row goes to exactly one caller.
        let taken: Option<SamlRequestState> =
            query::<D>("DELETE FROM saml_requests WHERE id = $1 AND tenant_id = $2 RETURNING *")
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(&mut *self.write().await?)
                .await?;
        Ok(taken.filter(|r| r.expires_at > now))
    }
}
