//! A tenant's SAML connection: `PUT`/`GET /tenants/{slug}/saml`.

use axum::Json;
use axum::extract::State;
use idbridge_app::connections::{self, ConnectionState, PutSamlConnection};
use idbridge_app::sign_in::{self, SignInRefusal};
use idbridge_app::{App, Error as AppError, tenants};
use idbridge_saml::Certificate;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminJson, AdminPath};

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// SHA-256 of the certificate, as IdP consoles show thumbprints.
    pub sha256_fingerprint: String,
    /// Ends within 30 days (or has ended): the IdP's next certificate should be in
    /// its metadata by now.
    pub expires_soon: bool,
}

/// What the tenant's IdP admin copies (SP values) and what idbridge knows of the IdP.
#[derive(Debug, Serialize, ToSchema)]
pub struct SamlConnectionView {
    /// "Identifier (Entity ID)" in Entra ID, "Audience URI (SP Entity ID)" in Okta.
    pub sp_entity_id: String,
    /// "Reply URL (Assertion Consumer Service URL)" in Entra ID, "Single sign-on URL" in Okta.
    pub acs_url: String,
    pub sp_metadata_url: String,
    /// Whether an IdP is configured; the fields below are null until it is.
    pub configured: bool,
    pub idp_entity_id: Option<String>,
    /// Where SP-initiated sign-ins are sent (HTTP-Redirect binding).
    pub idp_sso_url: Option<String>,
    pub idp_certificates: Vec<CertificateView>,
    pub idp_metadata_url: Option<String>,
    /// When the stored metadata was fetched from `idp_metadata_url`. It is fetched
    /// again every 24 hours, so IdP certificate rollovers need no admin action.
    #[serde(with = "time::serde::rfc3339::option")]
    pub idp_metadata_fetched_at: Option<OffsetDateTime>,
    /// Why the last scheduled fetch failed (the last good metadata stays in use).
    pub idp_metadata_error: Option<String>,
    pub want_assertions_signed: bool,
    pub want_response_signed: bool,
    pub sign_authn_requests: bool,
    pub allow_idp_initiated: bool,
    pub default_redirect_uri: Option<String>,
    /// Where the user's email is read from, in order (then an emailAddress NameID).
    pub email_attributes: Vec<String>,
    pub default_role: Option<String>,
    pub clock_skew_seconds: u32,
    /// The SP's certificate (also in the SP metadata): what Entra ID's "Token
    /// encryption" uploads, and (with `sign_authn_requests`) the key requests are
    /// signed with: Entra ID's "Verification certificates", Okta's "Signature
    /// Certificate".
    pub sp_encryption_certificate: Option<SpCertificateView>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpCertificateView {
    /// PEM, to save as a `.cer` file.
    pub pem: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub sha256_fingerprint: String,
}

/// The view of a connection's state: the SP values to copy and the IdP as stored.
pub fn view(app: &App, stored: &ConnectionState) -> SamlConnectionView {
    let (tenant, connection) = (&stored.tenant, stored.connection.as_ref());
    let sp_certificate = stored.sp_certificate.as_deref();
    let public = &app.config.public_url;
    let now = app.clock.now();
    let certificates = connection
        .map(|c| {
            c.idp_certificates
                .iter()
                // Stored certificates were checked when stored; one that no longer
                // parses is left out of the view rather than failing it.
                .filter_map(|b64| Certificate::from_base64(b64).ok())
                .map(|cert| CertificateView {
                    expires_soon: cert.expires_within(now, connections::EXPIRY_WARNING),
                    subject: cert.subject,
                    not_before: cert.not_before,
                    not_after: cert.not_after,
                    sha256_fingerprint: cert.sha256_fingerprint,
                })
                .collect()
        })
        .unwrap_or_default();
    SamlConnectionView {
        sp_entity_id: public.saml_entity_id(&tenant.slug),
        acs_url: public.saml_acs_url(&tenant.slug),
        sp_metadata_url: public.saml_metadata_url(&tenant.slug),
        configured: connection.is_some(),
        idp_entity_id: connection.map(|c| c.idp_entity_id.clone()),
        idp_sso_url: connection.and_then(|c| c.idp_sso_redirect_url.clone()),
        idp_certificates: certificates,
        idp_metadata_url: connection.and_then(|c| c.metadata_url.clone()),
        idp_metadata_fetched_at: connection.and_then(|c| c.metadata_fetched_at),
        idp_metadata_error: connection.and_then(|c| c.metadata_error.clone()),
        want_assertions_signed: connection.is_none_or(|c| c.want_assertions_signed),
        want_response_signed: connection.is_some_and(|c| c.want_response_signed),
        sign_authn_requests: connection.is_some_and(|c| c.sign_authn_requests),
        allow_idp_initiated: connection.is_none_or(|c| c.allow_idp_initiated),
        default_redirect_uri: connection.and_then(|c| c.default_redirect_uri.clone()),
        email_attributes: connection
            .and_then(|c| c.email_attributes.clone())
            .unwrap_or_else(|| {
                idbridge_saml::claims::EMAIL_ATTRIBUTES
                    .iter()
                    .map(|n| (*n).to_owned())
                    .collect()
            }),
        default_role: tenant.default_role.clone(),
        clock_skew_seconds: connection
            .map(|c| {
                u32::try_from(c.clock_skew_seconds)
                    .unwrap_or(connections::DEFAULT_CLOCK_SKEW_SECONDS)
            })
            .unwrap_or(connections::DEFAULT_CLOCK_SKEW_SECONDS),
        sp_encryption_certificate: sp_certificate
            .and_then(|der| Certificate::from_der(der).ok())
            .map(|cert| SpCertificateView {
                pem: cert.to_pem(),
                not_after: cert.not_after,
                sha256_fingerprint: cert.sha256_fingerprint,
            }),
        updated_at: connection.map(|c| c.updated_at),
    }
}

#[utoipa::path(
    get, path = "/tenants/{slug}/saml", tag = "saml",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "The SP values to copy, and the IdP connection if configured", body = SamlConnectionView),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn get_saml(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
) -> Result<Json<SamlConnectionView>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let stored = connections::get(&state.app, tenant).await?;
    Ok(Json(view(&state.app, &stored)))
}

#[utoipa::path(
    put, path = "/tenants/{slug}/saml", tag = "saml",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body = PutSamlConnection,
    responses(
        (status = 200, description = "The connection as stored", body = SamlConnectionView),
        (status = 400, description = "Unusable metadata, or invalid settings", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn put_saml(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminJson(input): AdminJson<PutSamlConnection>,
) -> Result<Json<SamlConnectionView>, AdminError> {
    let stored = connections::put(&state.app, &slug, input).await?;
    Ok(Json(view(&state.app, &stored)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SamlTestStarted {
    /// Open this in a browser: it goes to the IdP, and back to a page showing what
    /// the IdP sent (claims, NameID) or exactly why the response was refused. No
    /// sign-in to the app takes place.
    pub login_url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[utoipa::path(
    post, path = "/tenants/{slug}/saml/test", tag = "saml",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 201, description = "A test sign-in, valid for 10 minutes", body = SamlTestStarted),
        (status = 404, description = "No such tenant, or no SAML connection", body = ErrorBody),
    )
)]
pub async fn test_saml(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
) -> Result<(axum::http::StatusCode, Json<SamlTestStarted>), AdminError> {
    Ok((
        axum::http::StatusCode::CREATED,
        Json(start_test(&state, &slug).await?),
    ))
}

/// Starts a test sign-in ("test connection"). Shared by the API, the console and
/// the portal.
pub async fn start_test(state: &AppState, slug: &str) -> Result<SamlTestStarted, AdminError> {
    let tenant = tenants::find(&state.app, slug).await?;
    let (login_url, expires_at) = sign_in::start_test(&state.app, tenant.slug.as_str())
        .await
        .map_err(|refusal| match refusal {
            SignInRefusal::SamlNotConfigured => {
                AdminError::from(AppError::NotFound("SAML connection"))
            }
            other => AdminError::from(AppError::Invalid(other.to_string())),
        })?;
    Ok(SamlTestStarted {
        login_url,
        expires_at,
    })
}

#[utoipa::path(
    post, path = "/tenants/{slug}/saml/sp-key/rotate", tag = "saml",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "A new SP key pair is published; the previous one still decrypts", body = SamlConnectionView),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
/// Replaces the tenant's SP key pair. The new certificate is in the SP metadata and
/// the view at once; assertions encrypted to the previous certificate still decrypt,
/// so the IdP can switch when it next reads the metadata (or its admin uploads the
/// new certificate).
pub async fn rotate_sp_key(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
) -> Result<Json<SamlConnectionView>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let stored = connections::rotate_sp_key(&state.app, tenant).await?;
    Ok(Json(view(&state.app, &stored)))
}
