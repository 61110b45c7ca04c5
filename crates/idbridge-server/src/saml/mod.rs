//! The SAML service provider's browser-facing routes, under `/saml/{slug}`:
//! `metadata` and `login` (SP-initiated). Protocol work is `idbridge_saml`'s; these
//! handlers look things up, call it, store what must survive the round trip through
//! the IdP, and answer.
//!
//! `acs` (`POST /saml/{slug}/acs`) verifies responses; see its module for what it
//! completes so far.

mod acs;
mod page;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_core::TenantSlug;
use idbridge_core::secret::random_bytes;
use idbridge_saml::SpEndpoints;
use idbridge_saml::authn_request::{self, AuthnRequest};
use idbridge_saml::sp_metadata::SpMetadata;
use idbridge_store::{OidcRequestState, SamlRequestState, Tenant};

pub use page::FlowError;

use crate::{AppState, rate_limit};

/// How long an AuthnRequest waits for its response. Long enough for a user who has
/// to sign in at the IdP with MFA; short enough that stale requests do not pile up.
pub const REQUEST_TTL: time::Duration = time::Duration::minutes(10);

/// Largest ACS form read: a SAMLResponse decodes to at most 256 KiB of XML.
const ACS_BODY_LIMIT: usize = 512 * 1024;

/// `login` and `acs` are open to anyone and write rows (an AuthnRequest; a sign-in
/// log entry for every refusal), so each client address has a budget on them
/// ([`crate::rate_limit`]), checked before the body is read.
pub fn router(state: &AppState) -> Router<AppState> {
    let limited = || axum::middleware::from_fn_with_state(state.clone(), rate_limit::enforce);
    Router::new()
        .route("/metadata", get(metadata))
        .route("/login", get(login).layer(limited()))
        .route(
            "/acs",
            axum::routing::post(acs::acs)
                .layer(axum::extract::DefaultBodyLimit::max(ACS_BODY_LIMIT))
                .layer(limited()),
        )
}

fn tenant_not_found() -> FlowError {
    FlowError::new(
        StatusCode::NOT_FOUND,
        "tenant_not_found",
        "There is no organisation at this address.",
    )
}

async fn tenant(state: &AppState, raw_slug: &str) -> Result<Tenant, FlowError> {
    let slug = TenantSlug::parse(raw_slug).map_err(|_| tenant_not_found())?;
    state
        .app
        .store
        .tenant_by_slug(&slug)
        .await
        .map_err(unavailable)?
        .ok_or_else(tenant_not_found)
}

/// The tenant and its SAML connection (if any), in one read.
async fn tenant_with_connection(
    state: &AppState,
    raw_slug: &str,
) -> Result<(Tenant, Option<idbridge_store::SamlConnection>), FlowError> {
    let slug = TenantSlug::parse(raw_slug).map_err(|_| tenant_not_found())?;
    state
        .app
        .store
        .tenant_with_saml_connection(&slug)
        .await
        .map_err(unavailable)?
        .ok_or_else(tenant_not_found)
}

pub(crate) fn unavailable(err: idbridge_store::StoreError) -> FlowError {
    tracing::error!(error = %err, "SAML flow: storage failed");
    FlowError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The sign-in service is temporarily unavailable. Try again in a moment.",
    )
}

/// The tenant's SP keys, active first (see [`idbridge_app::keys::sp_keys`]).
pub(crate) async fn sp_keys(
    state: &AppState,
    tenant: &Tenant,
    create: bool,
) -> Result<Vec<idbridge_store::SpKeyRecord>, FlowError> {
    idbridge_app::keys::sp_keys(&state.app, tenant, create)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "SP keys unavailable");
            unavailable_text()
        })
}

fn unavailable_text() -> FlowError {
    FlowError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The sign-in service is temporarily unavailable. Try again in a moment.",
    )
}

fn endpoints(state: &AppState, tenant: &Tenant) -> SpEndpoints {
    let public = &state.app.config.public_url;
    SpEndpoints {
        entity_id: public.saml_entity_id(&tenant.slug),
        acs_url: public.saml_acs_url(&tenant.slug),
    }
}

/// SP metadata, served as soon as the tenant exists: admins copy these values
/// before they have an IdP to configure.
async fn metadata(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let tenant = tenant(&state, &slug).await?;
        let connection = state
            .app
            .store
            .saml_connection(tenant.id)
            .await
            .map_err(unavailable)?;
        let endpoints = endpoints(&state, &tenant);
        let keys = sp_keys(&state, &tenant, true).await?;
        // Only the active key is offered for encryption; retired ones still decrypt.
        let encryption: Vec<&[u8]> = keys
            .iter()
            .filter(|k| k.retired_at.is_none())
            .map(|k| k.certificate.as_slice())
            .collect();
        let signs = connection.as_ref().is_some_and(|c| c.sign_authn_requests);
        let signing: &[&[u8]] = if signs { &encryption } else { &[] };
        Ok::<_, FlowError>(
            SpMetadata {
                endpoints: &endpoints,
                want_assertions_signed: connection
                    .as_ref()
                    .is_none_or(|c| c.want_assertions_signed),
                authn_requests_signed: signs,
                signing_certificates: signing,
                encryption_certificates: &encryption,
            }
            .to_xml(),
        )
    }
    .await;
    match result {
        Ok(xml) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/samlmetadata+xml"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("inline; filename=\"idbridge-sp-metadata.xml\""),
                ),
            ],
            xml,
        )
            .into_response(),
        Err(e) => e.page(&headers),
    }
}

/// SP-initiated sign-in opened directly (no app request): the sign-in will land at
/// the tenant's `default_redirect_uri`.
async fn login(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    match start_login(&state, &slug, None, false).await {
        Ok(location) => redirect(&location),
        Err(e) => e.page(&headers),
    }
}

/// An app's authorization request, checked by `/oauth/authorize`, that a SAML
/// sign-in will complete.
#[derive(Debug, Clone)]
pub struct OidcLogin {
    pub client_id: uuid::Uuid,
    /// Registered for the client (checked exactly).
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: String,
}

/// Records a new AuthnRequest and returns the IdP URL to send the browser to.
pub async fn start_login(
    state: &AppState,
    slug: &str,
    oidc: Option<OidcLogin>,
    test: bool,
) -> Result<String, FlowError> {
    let tenant = tenant(state, slug).await?;
    let connection = state
        .app
        .store
        .saml_connection(tenant.id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            FlowError::new(
                StatusCode::NOT_FOUND,
                "saml_not_configured",
                "Single sign-on is not set up for this organisation yet.",
            )
        })?;
    let destination = connection.idp_sso_redirect_url.ok_or_else(|| {
        FlowError::new(
            StatusCode::CONFLICT,
            "idp_sso_url_missing",
            "The identity provider's configuration has no sign-in address.",
        )
    })?;
    let now = state.app.clock.now();
    let id = authn_request::request_id(random_bytes::<16>());
    let relay_state = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
    let endpoints = endpoints(state, &tenant);
    let request = AuthnRequest {
        id: &id,
        issue_instant: now,
        destination: &destination,
        sp: &endpoints,
        force_authn: test,
    };
    let url = if connection.sign_authn_requests {
        let keys = sp_keys(state, &tenant, true).await?;
        let key = keys
            .iter()
            .find(|k| k.retired_at.is_none())
            .ok_or_else(unavailable_text)?;
        request.signed_redirect_url(&relay_state, &key.private_key)
    } else {
        request.redirect_url(&relay_state)
    }
    .map_err(|e| {
        FlowError::new(
            StatusCode::CONFLICT,
            "idp_sso_url_invalid",
            format!("The identity provider's sign-in address cannot be used: {e}"),
        )
    })?;
    state
        .app
        .store
        .create_saml_request(&SamlRequestState {
            id,
            tenant_id: tenant.id,
            relay_state,
            redirect_uri: oidc.as_ref().map(|o| o.redirect_uri.clone()),
            test,
            oidc: oidc.map(|o| OidcRequestState {
                client_id: o.client_id,
                state: o.state,
                nonce: o.nonce,
                code_challenge: o.code_challenge,
                scope: o.scope,
            }),
            created_at: now,
            expires_at: now + REQUEST_TTL,
        })
        .await
        .map_err(unavailable)?;
    Ok(url)
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, value),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
