//! A tenant's connection to its identity provider: today, its SAML connection
//! (`PUT /tenants/{slug}/saml`, the console's and the portal's SSO forms).

use crate::audit::Audit;
use idbridge_core::audit::AuditAction;
use idbridge_saml::{Certificate, metadata};
use idbridge_store::{FetchedMetadata, SamlConnection, Tenant, TenantUpdate};
use serde::{Deserialize, Serialize};
use time::Duration;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::keys;
use crate::sign_in::{self, SignInRefusal};
use crate::tenants::{MAX_ROLE_CHARS, find, validate_text};
use crate::{App, Error, Result};

/// Default tolerance for clock differences between the IdP and idbridge.
pub const DEFAULT_CLOCK_SKEW_SECONDS: u32 = 180;
const MAX_CLOCK_SKEW_SECONDS: u32 = 600;
const MAX_EMAIL_ATTRIBUTES: usize = 10;
/// Certificates that end within this long are reported (a flag in the views, and
/// one `saml.certificate_expiring` event from the background jobs).
pub const EXPIRY_WARNING: time::Duration = time::Duration::days(30);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSamlConnection {
    /// The IdP's metadata document (Entra ID: "Federation Metadata XML"; Okta:
    /// "Identity Provider metadata"). Required when the tenant has no connection yet,
    /// unless `idp_metadata_url` is given.
    pub idp_metadata_xml: Option<String>,
    /// The IdP's metadata URL (Entra ID: "App Federation Metadata Url", Okta:
    /// "Metadata URL"). Fetched now, over https, from a public address (unless the
    /// server runs with `--allow-private-urls`), with size and time limits.
    pub idp_metadata_url: Option<String>,
    /// Default true.
    pub want_assertions_signed: Option<bool>,
    /// Default false. At least one of the two must be true.
    pub want_response_signed: Option<bool>,
    /// Sign AuthnRequests with the tenant's SP key (the certificate is in the SP
    /// metadata and `sp_signing_certificate`), for IdPs that require signed requests.
    /// Default false: Entra ID and Okta do not require them unless told to.
    pub sign_authn_requests: Option<bool>,
    /// Accept IdP-initiated sign-ins (from the My Apps / Okta dashboard). Default true.
    pub allow_idp_initiated: Option<bool>,
    /// Where sign-ins no app request started land; must be a registered client
    /// redirect URI.
    pub default_redirect_uri: Option<String>,
    /// The SAML attributes the user's email is read from, in order (a NameID in
    /// emailAddress format is the last resort). Default: `email`, Microsoft's
    /// `http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress`,
    /// `user.email`, `mail`. `[]` restores the default.
    pub email_attributes: Option<Vec<String>>,
    /// Sets the tenant's default role (as `PATCH /tenants/{slug}` does).
    pub default_role: Option<String>,
    /// Tolerated clock difference, 0 to 600 seconds. Default 180.
    pub clock_skew_seconds: Option<u32>,
}

/// What is stored for a tenant's SAML sign-in: the connection (if configured) and
/// the SP's active certificate (what Entra ID's "Token encryption" uploads).
#[derive(Debug, Clone)]
pub struct ConnectionState {
    pub tenant: Tenant,
    pub connection: Option<SamlConnection>,
    pub sp_certificate: Option<Vec<u8>>,
}

/// The connection as stored now, and the SP certificate (its key pair is created on
/// first use: admins copy the certificate before anything else).
pub async fn get(app: &App, tenant: Tenant) -> Result<ConnectionState> {
    let connection = app.store.saml_connection(tenant.id).await?;
    let sp_certificate = Some(keys::active_sp_key(app, &tenant).await?.certificate);
    Ok(ConnectionState {
        tenant,
        connection,
        sp_certificate,
    })
}

/// A new SP key pair for the tenant; assertions encrypted to the previous
/// certificate still decrypt.
pub async fn rotate_sp_key(app: &App, tenant: Tenant, audit: &Audit) -> Result<ConnectionState> {
    keys::rotate_sp_key(app, &tenant, audit).await?;
    get(app, tenant).await
}

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

impl SamlConnectionView {
    /// The view of a connection's state: the SP values to copy and the IdP as stored.
    pub fn new(app: &App, stored: &ConnectionState) -> Self {
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
                        expires_soon: cert.expires_within(now, EXPIRY_WARNING),
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
                .map(|c| u32::try_from(c.clock_skew_seconds).unwrap_or(DEFAULT_CLOCK_SKEW_SECONDS))
                .unwrap_or(DEFAULT_CLOCK_SKEW_SECONDS),
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

/// Starts a test sign-in ("test connection") for the tenant at `slug`.
pub async fn start_test(app: &App, slug: &str, from: sign_in::TestFrom) -> Result<SamlTestStarted> {
    let tenant = find(app, slug).await?;
    let (login_url, expires_at) = sign_in::start_test(app, tenant.slug.as_str(), from)
        .await
        .map_err(|refusal| match refusal {
            SignInRefusal::SamlNotConfigured => Error::NotFound("SAML connection"),
            other => Error::Invalid(other.to_string()),
        })?;
    Ok(SamlTestStarted {
        login_url,
        expires_at,
    })
}

/// The metadata a web form asks for, as `(xml, url)` for [`PutSamlConnection`].
/// Pasted XML wins over the URL. The URL field shows the stored URL, so sending it
/// back unchanged with no XML keeps the stored metadata instead of fetching it
/// again on every save of a toggle. Shared by the console and the setup portal.
pub fn metadata_from_form(
    url: &str,
    xml: &str,
    stored_url: Option<&str>,
) -> (Option<String>, Option<String>) {
    let (url, xml) = (url.trim(), xml.trim());
    if !xml.is_empty() {
        (Some(xml.to_owned()), None)
    } else if url.is_empty() || stored_url == Some(url) {
        (None, None)
    } else {
        (None, Some(url.to_owned()))
    }
}

/// Checks (and fetches) everything, then stores the tenant's first SAML
/// connection.
pub async fn put(
    app: &App,
    slug: &str,
    input: PutSamlConnection,
    audit: &Audit,
) -> Result<ConnectionState> {
    put_for(app, slug, None, input, audit, AuditAction::SamlConfigured).await
}

/// [`put`] for the tenant's SAML connection `connection_id` (`None`: its first,
/// whose id is the tenant's).
pub async fn put_for(
    app: &App,
    slug: &str,
    connection_id: Option<uuid::Uuid>,
    input: PutSamlConnection,
    audit: &Audit,
    action: AuditAction,
) -> Result<ConnectionState> {
    let tenant = find(app, slug).await?;
    let connection_id = connection_id.unwrap_or(tenant.id);
    let existing = app
        .store
        .saml_connection_by_id(tenant.id, connection_id)
        .await?;
    let now = app.clock.now();

    // Everything is checked (and fetched) before anything is written.
    let (metadata_xml, metadata_url, metadata_fetched_at, metadata_checked_at, metadata_error) =
        match (input.idp_metadata_xml, input.idp_metadata_url, &existing) {
            (Some(_), Some(_), _) => {
                return Err(Error::Invalid(
                    "give idp_metadata_xml or idp_metadata_url, not both".into(),
                ));
            }
            (None, Some(url), _) => {
                let xml = fetch_metadata(app, &url).await?;
                (xml, Some(url), Some(now), Some(now), None)
            }
            (Some(xml), None, _) => (xml, None, None, None, None),
            (None, None, Some(existing)) => (
                existing.metadata_xml.clone(),
                existing.metadata_url.clone(),
                existing.metadata_fetched_at,
                existing.metadata_checked_at,
                existing.metadata_error.clone(),
            ),
            (None, None, None) => {
                return Err(Error::Invalid(
                "the tenant has no SAML connection yet: give idp_metadata_url or idp_metadata_xml"
                    .into(),
            ));
            }
        };
    let idp = metadata::parse(&metadata_xml)?;
    // HTTP-Redirect is used when offered, else HTTP-POST (through idbridge's
    // /saml/{slug}/post page).
    if idp.sso_redirect_url.is_none() && idp.sso_post_url.is_none() {
        return Err(Error::Invalid(
            "the IdP offers no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding, which SP-initiated sign-in uses"
                .into(),
        ));
    }
    let want_assertions_signed = input
        .want_assertions_signed
        .or(existing.as_ref().map(|c| c.want_assertions_signed))
        .unwrap_or(true);
    let want_response_signed = input
        .want_response_signed
        .or(existing.as_ref().map(|c| c.want_response_signed))
        .unwrap_or(false);
    if !want_assertions_signed && !want_response_signed {
        return Err(Error::Invalid(
            "want_assertions_signed and want_response_signed cannot both be false: idbridge never accepts an unsigned sign-in".into(),
        ));
    }
    let clock_skew_seconds = input
        .clock_skew_seconds
        .map(i64::from)
        .or(existing.as_ref().map(|c| c.clock_skew_seconds))
        .unwrap_or(i64::from(DEFAULT_CLOCK_SKEW_SECONDS));
    if clock_skew_seconds > i64::from(MAX_CLOCK_SKEW_SECONDS) {
        return Err(Error::Invalid(format!(
            "clock_skew_seconds must be at most {MAX_CLOCK_SKEW_SECONDS}"
        )));
    }
    let (default_redirect_uri, default_client_id) = match &input.default_redirect_uri {
        Some(uri) => {
            let client = app.store.client_for_redirect_uri(uri).await?.ok_or_else(|| {
                Error::Invalid(format!(
                    "default_redirect_uri {uri:?} is not a redirect URI of any registered client"
                ))
            })?;
            (Some(uri.clone()), Some(client))
        }
        None => existing.as_ref().map_or((None, None), |c| {
            (c.default_redirect_uri.clone(), c.default_client_id)
        }),
    };
    let email_attributes = match input.email_attributes {
        None => existing.as_ref().and_then(|c| c.email_attributes.clone()),
        Some(names) if names.is_empty() => None,
        Some(names) => {
            if names.len() > MAX_EMAIL_ATTRIBUTES
                || names
                    .iter()
                    .any(|n| n.trim().is_empty() || n.trim() != n || n.len() > 256)
            {
                return Err(Error::Invalid(format!(
                    "email_attributes must be 1 to {MAX_EMAIL_ATTRIBUTES} attribute names of at most 256 characters, without surrounding spaces ([] restores the default order)"
                )));
            }
            Some(names)
        }
    };
    let default_role = input
        .default_role
        .as_deref()
        .map(|r| validate_text("default_role", r, MAX_ROLE_CHARS))
        .transpose()?;

    let connection = SamlConnection {
        connection_id,
        tenant_id: tenant.id,
        idp_entity_id: idp.entity_id,
        idp_sso_redirect_url: idp.sso_redirect_url,
        idp_sso_post_url: idp.sso_post_url,
        idp_certificates: idp
            .signing_certificates
            .iter()
            .map(Certificate::to_base64)
            .collect(),
        metadata_xml,
        metadata_url,
        metadata_fetched_at,
        metadata_checked_at,
        metadata_error,
        want_assertions_signed,
        want_response_signed,
        sign_authn_requests: input
            .sign_authn_requests
            .or(existing.as_ref().map(|c| c.sign_authn_requests))
            .unwrap_or(false),
        allow_idp_initiated: input
            .allow_idp_initiated
            .or(existing.as_ref().map(|c| c.allow_idp_initiated))
            .unwrap_or(true),
        default_redirect_uri,
        default_client_id,
        email_attributes,
        clock_skew_seconds,
        created_at: existing.as_ref().map_or(now, |c| c.created_at),
        updated_at: now,
    };
    let audited = audit.of_tenant(
        now,
        action,
        &tenant,
        Some(connection.connection_id.to_string()),
        serde_json::json!({
            "idp_entity_id": connection.idp_entity_id,
            "idp_sso_url": connection.idp_sso_redirect_url.as_ref().or(connection.idp_sso_post_url.as_ref()),
            "idp_certificates": connection.idp_certificates.len(),
            "metadata_url": connection.metadata_url,
            "want_assertions_signed": connection.want_assertions_signed,
            "want_response_signed": connection.want_response_signed,
            "sign_authn_requests": connection.sign_authn_requests,
            "allow_idp_initiated": connection.allow_idp_initiated,
            "default_redirect_uri": connection.default_redirect_uri,
            "email_attributes": connection.email_attributes,
            "clock_skew_seconds": connection.clock_skew_seconds,
            "default_role": default_role,
        }),
    );
    app.store
        .put_saml_connection(&connection, Some(&audited))
        .await?;
    let tenant = match default_role {
        Some(role) => {
            let update = TenantUpdate {
                default_role: Some(Some(role)),
                ..TenantUpdate::default()
            };
            app.store
                .update_tenant(&tenant.slug, &update, now, None)
                .await?
        }
        None => tenant,
    };
    let sp_certificate = Some(keys::active_sp_key(app, &tenant).await?.certificate);
    Ok(ConnectionState {
        tenant,
        connection: Some(connection),
        sp_certificate,
    })
}

/// Fetches metadata from `url` for a connection; any failure is the admin's to fix.
async fn fetch_metadata(app: &App, url: &str) -> Result<String> {
    let bytes = app
        .fetcher()
        .get(url, idbridge_saml::xml::METADATA_LIMITS.max_bytes)
        .await
        .map_err(|e| Error::MetadataFetch(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| Error::MetadataFetch("the document is not UTF-8".into()))
}

// Scheduled re-reading of IdP metadata that came from a URL. Entra ID and Okta
// publish a new signing certificate in their metadata before they start using it;
// re-reading daily picks it up with no admin action, and the previous certificate
// stays valid alongside it as long as the IdP lists both.
//
// Every idbridge process runs it (in the background jobs). Two processes refreshing the
// same connection fetch the same document and write the same row: harmless. The
// write applies only while the connection still uses the URL that was fetched, so
// an admin's change made during a fetch is never overwritten.

/// How old fetched metadata may get before it is fetched again.
pub const REFRESH_AFTER: Duration = Duration::hours(24);
const BATCH: u32 = 50;

/// Refreshes every connection due now; returns how many were tried.
pub async fn refresh_due(app: &App) -> Result<usize, idbridge_store::StoreError> {
    let now = app.clock.now();
    let due = app
        .store
        .saml_connections_to_refresh(now - REFRESH_AFTER, BATCH)
        .await?;
    for connection in &due {
        refresh_one(app, connection).await?;
    }
    Ok(due.len())
}

async fn refresh_one(
    app: &App,
    connection: &SamlConnection,
) -> Result<(), idbridge_store::StoreError> {
    let Some(url) = &connection.metadata_url else {
        return Ok(());
    };
    let outcome = fetch(app, url).await;
    let now = app.clock.now();
    match &outcome {
        Ok(_) => tracing::info!(tenant_id = %connection.tenant_id, "IdP metadata refreshed"),
        Err(error) => tracing::warn!(
            tenant_id = %connection.tenant_id,
            %error,
            "IdP metadata refresh failed; the last good metadata stays in use"
        ),
    }
    app.store
        .record_metadata_refresh(
            connection.connection_id,
            url,
            outcome.as_ref().map_err(String::as_str),
            now,
        )
        .await
}

async fn fetch(app: &App, url: &str) -> Result<FetchedMetadata, String> {
    let bytes = app
        .fetcher()
        .get(url, idbridge_saml::xml::METADATA_LIMITS.max_bytes)
        .await
        .map_err(|e| format!("fetch failed: {e}"))?;
    let xml = String::from_utf8(bytes).map_err(|_| "the document is not UTF-8".to_owned())?;
    let idp = metadata::parse(&xml).map_err(|e| format!("unusable metadata: {e}"))?;
    if idp.sso_redirect_url.is_none() && idp.sso_post_url.is_none() {
        return Err(
            "the IdP no longer offers a SingleSignOnService with the HTTP-Redirect or HTTP-POST binding"
                .into(),
        );
    }
    Ok(FetchedMetadata {
        idp_entity_id: idp.entity_id,
        idp_sso_redirect_url: idp.sso_redirect_url,
        idp_sso_post_url: idp.sso_post_url,
        idp_certificates: idp
            .signing_certificates
            .iter()
            .map(Certificate::to_base64)
            .collect(),
        metadata_xml: xml,
    })
}

/// Appends a `saml.certificate_expiring` event to the feed of every tenant whose
/// IdP certificates include one that ends within [`EXPIRY_WARNING`], once per
/// certificate. An IdP that publishes its next certificate early gets it picked up
/// by the refresh; this is for the admins of IdPs (or pasted metadata) that do not.
pub async fn warn_expiring(app: &App) -> Result<usize, idbridge_store::StoreError> {
    let now = app.clock.now();
    let mut warned = 0;
    let mut after = None;
    loop {
        let page = app.store.saml_connections_after(after, BATCH).await?;
        let Some(last) = page.last() else {
            return Ok(warned);
        };
        after = Some(last.connection_id);
        for connection in &page {
            for certificate in connection
                .idp_certificates
                .iter()
                .filter_map(|b64| Certificate::from_base64(b64).ok())
                .filter(|c| c.expires_within(now, EXPIRY_WARNING))
            {
                let event = idbridge_store::NewEvent {
                    kind: idbridge_core::EventKind::SamlCertificateExpiring,
                    resource_type: idbridge_core::EventResource::SamlConnection,
                    resource_id: connection.connection_id,
                    data: serde_json::json!({
                        "certificate": {
                            "subject": certificate.subject,
                            "sha256_fingerprint": certificate.sha256_fingerprint,
                            "not_after": certificate.not_after.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                        },
                        "idp_entity_id": connection.idp_entity_id,
                    }),
                };
                if app
                    .store
                    .warn_certificate_expiring(
                        connection.tenant_id,
                        &certificate.sha256_fingerprint,
                        &event,
                        now,
                    )
                    .await?
                {
                    tracing::warn!(
                        tenant_id = %connection.tenant_id,
                        fingerprint = %certificate.sha256_fingerprint,
                        "an IdP signing certificate expires within 30 days"
                    );
                    warned += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::metadata_from_form;

    #[test]
    fn a_form_fetches_only_a_new_url_and_pasted_xml_wins() {
        let stored = Some("https://idp.example/metadata");
        assert_eq!(
            metadata_from_form("https://idp.example/metadata", "", stored),
            (None, None),
            "the stored URL sent back unchanged keeps the stored metadata"
        );
        assert_eq!(
            metadata_from_form(" https://idp.example/new ", "", stored),
            (None, Some("https://idp.example/new".to_owned()))
        );
        assert_eq!(
            metadata_from_form("https://idp.example/metadata", "", None),
            (None, Some("https://idp.example/metadata".to_owned())),
            "with nothing stored, the URL is fetched"
        );
        assert_eq!(
            metadata_from_form("https://idp.example/metadata", " <md/> ", stored),
            (Some("<md/>".to_owned()), None)
        );
        assert_eq!(metadata_from_form("", "", stored), (None, None));
    }
}
