//! Sign-in: from an app's (or an admin's) wish to sign someone in, through the
//! tenant's IdP, to an authorization code for the app, or a typed refusal.
//!
//! - [`start_saml`]: an AuthnRequest stored for ten minutes, and the IdP URL to send
//!   the browser to (for `/saml/{slug}/login`, `/oauth/authorize` and "test
//!   connection").
//! - [`complete_saml`] (`saml.rs`): the ACS. Verifies the response, consumes the
//!   request it answers, remembers the assertion (replay), applies the tenant's
//!   domain policy, finds or creates the directory user, and mints a code. Every
//!   outcome after the tenant is known is a sign-in log row with its reason.
//! - [`provider`]: the OpenID Connect provider the app talks to (authorize, token,
//!   userinfo).
//!
//! Refusals are [`SignInRefusal`]: a stable [`SignInRefusal::reason`] for the
//! sign-in log and a sentence for the person, never the SAML message itself.

pub mod fix;
mod oidc;
pub mod provider;
mod routing;
mod saml;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_core::TenantSlug;
use idbridge_core::domain::DomainName;
use idbridge_core::secret::random_bytes;
use idbridge_saml::SpEndpoints;
use idbridge_saml::authn_request::{self, AuthnRequest};
use idbridge_saml::sp_metadata::SpMetadata;
use idbridge_store::{OidcRequestState, SamlConnection, SamlRequestState, StoreError, Tenant};

pub use oidc::{complete_oidc, discover, start_oidc};
pub use routing::{pick, route};
pub use saml::{SamlPost, SignInOutcome, TestRefused, TestResult, complete_saml};

use uuid::Uuid;

use crate::{App, keys};

/// Where a "test connection" was started, so its result page leads back there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestFrom {
    /// The setup portal (a tenant's IT admin).
    Portal,
    /// The operator's console.
    Console,
    /// The admin API: no page to go back to.
    Api,
}

impl TestFrom {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::Portal => "p",
            Self::Console => "c",
            Self::Api => "a",
        }
    }

    /// The RelayState of a test sign-in: `test.{from}.{request id}`. A refusal
    /// before the response's request is known (a signature, an audience) can then
    /// still be shown as a test result: the ACS looks the request up by the id, and
    /// only if it is a stored test request with exactly this RelayState.
    pub(crate) fn relay_state(self, request_id: &str) -> String {
        format!("test.{}.{request_id}", self.code())
    }

    /// The origin and request id of a test RelayState.
    pub(crate) fn parse_relay_state(relay_state: &str) -> Option<(Self, &str)> {
        let rest = relay_state.strip_prefix("test.")?;
        let (code, id) = rest.split_once('.')?;
        let from = match code {
            "p" => Self::Portal,
            "c" => Self::Console,
            "a" => Self::Api,
            _ => return None,
        };
        Some((from, id))
    }
}

/// How long an AuthnRequest waits for its response. Long enough for a user who has
/// to sign in at the IdP with MFA; short enough that stale requests do not pile up.
pub const REQUEST_TTL: time::Duration = time::Duration::minutes(10);

/// How long an authorization code may wait for the token endpoint.
pub use idbridge_oidc::CODE_TTL;

/// Why a sign-in did not happen. Nothing was issued; after the tenant is known, the
/// refusal is in its sign-in log with [`Self::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignInRefusal {
    #[error("There is no organisation at this address.")]
    TenantNotFound,
    #[error("Single sign-on is not set up for this organisation.")]
    SamlNotConfigured,
    #[error("The identity provider's configuration has no sign-in address.")]
    IdpSsoUrlMissing,
    #[error("The identity provider's sign-in address cannot be used: {0}")]
    IdpSsoUrlInvalid(String),
    /// The POST is not a SAML HTTP-POST form (what is wrong, for the person).
    #[error("{0}")]
    MalformedRequest(&'static str),
    /// The SAML response itself was refused (encoding, signature, audience,
    /// time, …); the reason is the SAML core's.
    #[error("{message}")]
    Response {
        reason: &'static str,
        /// What the SAML core said, cut to 300 characters (it quotes the sender).
        message: String,
    },
    #[error(
        "The response answers a sign-in request this service does not have (unknown, expired, or already used). Start the sign-in again."
    )]
    UnknownRequest,
    #[error("The response did not come back with the sign-in request's RelayState.")]
    RelayStateMismatch,
    #[error(
        "This organisation does not accept sign-ins started at the identity provider. Start the sign-in from the app."
    )]
    IdpInitiatedRefused,
    #[error("This sign-in response was already used.")]
    Replayed,
    /// The tenant requires verified domains, and the email is not at one of them
    /// (or there is no usable email).
    #[error("{}", domain_not_verified(.0.as_ref()))]
    EmailDomainNotVerified(Option<DomainName>),
    #[error(
        "The sign-in is valid, but this organisation has no address to return to (its SAML connection needs a default_redirect_uri)."
    )]
    NoRedirectUri,
    #[error("The address to return to is no longer registered by any app.")]
    RedirectUriUnregistered,
    #[error("{0}")]
    RedirectUriInvalid(&'static str),
    #[error(
        "The identity provider sent no email address for the user. Add an \"email\" claim (Entra ID: user.mail)."
    )]
    EmailMissing,
    #[error("This account is deactivated in the organisation's directory.")]
    UserInactive,
    #[error("This account has not been given access to the app by the organisation.")]
    UserNotProvisioned,
    #[error("This account was removed from the organisation's directory.")]
    UserDeleted,
    /// Other writes kept changing the user: failing closed beats signing in with
    /// roles the IdP has just taken away.
    #[error("The account is being changed elsewhere right now. Try signing in again.")]
    UserBusy,
    #[error("The sign-in service is temporarily unavailable. Try again in a moment.")]
    Unavailable,
    /// `connection=` names no connection of the tenant, or the flow's connection
    /// was removed while the person was at the IdP.
    #[error("This organisation has no such sign-in connection.")]
    UnknownConnection,
    /// The IdP answered the authorization request with `error=` (RFC 6749
    /// §4.1.2.1): the person cancelled, or the IdP refused them.
    #[error("The identity provider refused the sign-in: {}", idp_error(.error, .description.as_deref()))]
    IdpError {
        error: String,
        description: Option<String>,
    },
    /// The OpenID provider's discovery document, keys or token endpoint could not
    /// be reached or read.
    #[error("The identity provider could not be reached: {0}")]
    ProviderUnreachable(String),
    /// The token endpoint refused the code (what it said, bounded).
    #[error("The identity provider refused to exchange the sign-in code: {0}")]
    TokenRefused(String),
    /// The connection's client secret cannot be opened (no `--secret-key`, or not
    /// the key it was sealed with).
    #[error(
        "The connection's client secret cannot be used on this server (its secret key is missing). Ask the operator."
    )]
    SecretUnavailable,
    /// The IdP said `email_verified: false`.
    #[error("The identity provider says the account's email address is not verified.")]
    EmailNotVerifiedByIdp,
    /// Google's `hd` (the account's Workspace domain) is not a verified domain of
    /// the tenant.
    #[error(
        "The account belongs to the Google Workspace domain {0}, which this organisation has not verified."
    )]
    HostedDomainNotVerified(String),
}

fn idp_error(error: &str, description: Option<&str>) -> String {
    match description {
        Some(d) => format!("{error} ({d})"),
        None => error.to_owned(),
    }
}

fn domain_not_verified(domain: Option<&DomainName>) -> String {
    match domain {
        Some(domain) => format!(
            "This organisation only accepts sign-ins at domains it has verified, and {domain} is not one of them."
        ),
        None => "This organisation only accepts sign-ins at domains it has verified, and the identity provider sent no usable email address.".to_owned(),
    }
}

impl SignInRefusal {
    /// Stable, `snake_case`: what the sign-in log records and the page shows.
    pub fn reason(&self) -> &'static str {
        match self {
            SignInRefusal::TenantNotFound => "tenant_not_found",
            SignInRefusal::SamlNotConfigured => "saml_not_configured",
            SignInRefusal::IdpSsoUrlMissing => "idp_sso_url_missing",
            SignInRefusal::IdpSsoUrlInvalid(_) => "idp_sso_url_invalid",
            SignInRefusal::MalformedRequest(_) => "malformed_request",
            SignInRefusal::Response { reason, .. } => reason,
            SignInRefusal::UnknownRequest => "unknown_request",
            SignInRefusal::RelayStateMismatch => "relay_state_mismatch",
            SignInRefusal::IdpInitiatedRefused => "idp_initiated_refused",
            SignInRefusal::Replayed => "replayed",
            SignInRefusal::EmailDomainNotVerified(_) => "email_domain_not_verified",
            SignInRefusal::NoRedirectUri => "no_redirect_uri",
            SignInRefusal::RedirectUriUnregistered => "redirect_uri_unregistered",
            SignInRefusal::RedirectUriInvalid(_) => "redirect_uri_invalid",
            SignInRefusal::EmailMissing => "email_missing",
            SignInRefusal::UserInactive => "user_inactive",
            SignInRefusal::UserNotProvisioned => "user_not_provisioned",
            SignInRefusal::UserDeleted => "user_deleted",
            SignInRefusal::UserBusy => "user_busy",
            SignInRefusal::Unavailable => "unavailable",
            SignInRefusal::UnknownConnection => "unknown_connection",
            SignInRefusal::IdpError { .. } => "idp_error",
            SignInRefusal::ProviderUnreachable(_) => "provider_unreachable",
            SignInRefusal::TokenRefused(_) => "token_refused",
            SignInRefusal::SecretUnavailable => "secret_unavailable",
            SignInRefusal::EmailNotVerifiedByIdp => "email_not_verified_by_idp",
            SignInRefusal::HostedDomainNotVerified(_) => "hosted_domain_not_verified",
        }
    }

    /// Whether the service, not the sign-in, is at fault (worth trying again).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            SignInRefusal::Unavailable
                | SignInRefusal::UserBusy
                | SignInRefusal::ProviderUnreachable(_)
        )
    }

    /// A storage failure on a sign-in path: logged here, said to the person as
    /// "temporarily unavailable" (never the cause).
    pub(crate) fn unavailable(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "sign-in: storage failed");
        SignInRefusal::Unavailable
    }
}

impl From<StoreError> for SignInRefusal {
    fn from(err: StoreError) -> Self {
        SignInRefusal::unavailable(err)
    }
}

/// An app's authorization request, checked by the OpenID Connect provider, that a
/// SAML sign-in will complete.
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

/// The SP's Entity ID and ACS URL for a tenant's first SAML connection (fixed by
/// the contract).
pub fn sp_endpoints(app: &App, tenant: &Tenant) -> SpEndpoints {
    sp_endpoints_of(app, tenant, None)
}

/// The SP's Entity ID and ACS URL for the tenant's SAML connection `connection`
/// (`None`, or the tenant's own id: its first). A further connection has its own:
/// `/saml/{slug}/c/{id}` and `/saml/{slug}/c/{id}/acs`.
pub fn sp_endpoints_of(app: &App, tenant: &Tenant, connection: Option<Uuid>) -> SpEndpoints {
    let entity_id = app
        .config
        .public_url
        .join(&saml_base_path(tenant, connection));
    SpEndpoints {
        acs_url: format!("{entity_id}/acs"),
        entity_id,
    }
}

/// Where a SAML connection's routes are: `/saml/{slug}` for the first,
/// `/saml/{slug}/c/{id}` for a further one.
pub fn saml_base_path(tenant: &Tenant, connection: Option<Uuid>) -> String {
    match further(tenant, connection) {
        None => format!("/saml/{}", tenant.slug),
        Some(id) => format!("/saml/{}/c/{id}", tenant.slug),
    }
}

/// `Some` only for a connection other than the tenant's first.
pub(crate) fn further(tenant: &Tenant, connection: Option<Uuid>) -> Option<Uuid> {
    connection.filter(|id| *id != tenant.id)
}

/// The tenant's SAML connection `connection` (`None`: its first).
async fn saml_connection_of(
    app: &App,
    tenant: &Tenant,
    connection: Option<Uuid>,
) -> Result<Option<SamlConnection>, SignInRefusal> {
    Ok(app
        .store
        .saml_connection_by_id(tenant.id, connection.unwrap_or(tenant.id))
        .await?)
}

/// The tenant a slug in a sign-in URL names.
pub async fn tenant(app: &App, raw_slug: &str) -> Result<Tenant, SignInRefusal> {
    let slug = TenantSlug::parse(raw_slug).map_err(|_| SignInRefusal::TenantNotFound)?;
    app.store
        .tenant_by_slug(&slug)
        .await?
        .ok_or(SignInRefusal::TenantNotFound)
}

/// Records a new AuthnRequest and returns the IdP URL to send the browser to. With
/// `oidc`, the app's request rides along in the stored request; with `test`, the
/// sign-in ends on the "test connection" result instead of the app.
pub async fn start_saml(
    app: &App,
    raw_slug: &str,
    connection_id: Option<Uuid>,
    oidc: Option<OidcLogin>,
    test: Option<TestFrom>,
) -> Result<String, SignInRefusal> {
    let tenant = tenant(app, raw_slug).await?;
    let connection_id = further(&tenant, connection_id);
    let connection: SamlConnection = saml_connection_of(app, &tenant, connection_id)
        .await?
        .ok_or(SignInRefusal::SamlNotConfigured)?;
    // HTTP-Redirect when the IdP offers it; else HTTP-POST, through a page of ours
    // that posts the stored request (`saml_post_form`).
    let (destination, post) = match (connection.idp_sso_redirect_url, connection.idp_sso_post_url) {
        (Some(url), _) => (url, false),
        (None, Some(url)) => (url, true),
        (None, None) => return Err(SignInRefusal::IdpSsoUrlMissing),
    };
    if post && connection.sign_authn_requests {
        return Err(SignInRefusal::IdpSsoUrlInvalid(
            "the IdP offers only the HTTP-POST binding, and signed AuthnRequests are sent only with HTTP-Redirect; turn sign_authn_requests off or add the IdP's HTTP-Redirect SSO URL".into(),
        ));
    }
    let now = app.clock.now();
    let id = authn_request::request_id(random_bytes::<16>());
    let relay_state = match test {
        Some(from) => from.relay_state(&id),
        None => URL_SAFE_NO_PAD.encode(random_bytes::<16>()),
    };
    let test = test.is_some();
    let endpoints = sp_endpoints_of(app, &tenant, connection_id);
    let request = AuthnRequest {
        id: &id,
        issue_instant: now,
        destination: &destination,
        sp: &endpoints,
        force_authn: test,
    };
    let url = if post {
        url::Url::parse(&destination).map_err(|_| {
            SignInRefusal::IdpSsoUrlInvalid(format!("{destination:?} is not a URL"))
        })?;
        let mut page = url::Url::parse(
            &app.config
                .public_url
                .join(&format!("{}/post", saml_base_path(&tenant, connection_id))),
        )
        .map_err(SignInRefusal::unavailable)?;
        page.query_pairs_mut().append_pair("request", &id);
        Ok(page.to_string())
    } else if connection.sign_authn_requests {
        let key = keys::active_sp_key(app, &tenant)
            .await
            .map_err(SignInRefusal::unavailable)?;
        request.signed_redirect_url(&relay_state, &key.private_key)
    } else {
        request.redirect_url(&relay_state)
    }
    .map_err(|e| SignInRefusal::IdpSsoUrlInvalid(e.to_string()))?;
    app.store
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
            connection_id,
            created_at: now,
            expires_at: now + REQUEST_TTL,
        })
        .await?;
    Ok(url)
}

/// Starts a sign-in for the tenant at `raw_slug` through the connection the
/// request picks (`connection`, else the one serving the `login_hint`'s domain,
/// else the tenant's default): the IdP URL to send the browser to.
pub async fn start(
    app: &App,
    raw_slug: &str,
    connection: Option<&str>,
    login_hint: Option<&str>,
    oidc: Option<OidcLogin>,
) -> Result<String, SignInRefusal> {
    let tenant = tenant(app, raw_slug).await?;
    let chosen = route(app, &tenant, connection, login_hint).await?;
    match chosen {
        Some(c) if c.kind == idbridge_store::ConnectionKind::Oidc => {
            start_oidc(app, &tenant, &c, oidc, login_hint, None).await
        }
        Some(c) => start_saml(app, raw_slug, Some(c.id), oidc, None).await,
        // None: the SAML path says "not configured".
        None => start_saml(app, raw_slug, None, oidc, None).await,
    }
}

/// A "test connection" sign-in through the connection `id` of the tenant at
/// `slug`: the IdP URL, and until when it can be used.
pub async fn start_connection_test(
    app: &App,
    slug: &str,
    id: &str,
    from: TestFrom,
) -> Result<(String, time::OffsetDateTime), SignInRefusal> {
    let tenant = tenant(app, slug).await?;
    let chosen = route(app, &tenant, Some(id), None)
        .await?
        .ok_or(SignInRefusal::UnknownConnection)?;
    let url = match chosen.kind {
        idbridge_store::ConnectionKind::Oidc => {
            start_oidc(app, &tenant, &chosen, None, None, Some(from)).await?
        }
        idbridge_store::ConnectionKind::Saml => {
            start_saml(app, slug, Some(chosen.id), None, Some(from)).await?
        }
    };
    Ok((url, app.clock.now() + REQUEST_TTL))
}

/// What the HTTP-POST binding's page posts to the IdP.
#[derive(Debug, Clone)]
pub struct SamlPostForm {
    /// The IdP's SSO URL (HTTP-POST binding).
    pub action: String,
    pub saml_request: String,
    pub relay_state: String,
}

/// The form for the AuthnRequest `request_id` of the tenant at `slug` (made by
/// [`start_saml`] for an IdP that offers only the HTTP-POST binding): the same
/// request, rebuilt from what was stored. Reading it does not consume it.
pub async fn saml_post_form(
    app: &App,
    raw_slug: &str,
    connection_id: Option<Uuid>,
    request_id: &str,
) -> Result<SamlPostForm, SignInRefusal> {
    let tenant = tenant(app, raw_slug).await?;
    let connection_id = further(&tenant, connection_id);
    let connection = saml_connection_of(app, &tenant, connection_id)
        .await?
        .ok_or(SignInRefusal::SamlNotConfigured)?;
    let action = connection
        .idp_sso_post_url
        .ok_or(SignInRefusal::IdpSsoUrlMissing)?;
    let request = app
        .store
        .saml_request(tenant.id, request_id)
        .await?
        .filter(|r| r.expires_at > app.clock.now() && r.connection_id == connection_id)
        .ok_or(SignInRefusal::UnknownRequest)?;
    let endpoints = sp_endpoints_of(app, &tenant, connection_id);
    let authn = AuthnRequest {
        id: &request.id,
        issue_instant: request.created_at,
        destination: &action,
        sp: &endpoints,
        force_authn: request.test,
    };
    Ok(SamlPostForm {
        saml_request: authn.post_value(),
        action,
        relay_state: request.relay_state,
    })
}

/// A "test connection" sign-in for the tenant at `slug` ([`start_saml`] with
/// `test`): the IdP URL, and until when it can be used.
pub async fn start_test(
    app: &App,
    slug: &str,
    from: TestFrom,
) -> Result<(String, time::OffsetDateTime), SignInRefusal> {
    let url = start_saml(app, slug, None, None, Some(from)).await?;
    Ok((url, app.clock.now() + REQUEST_TTL))
}

/// The SP metadata of the tenant at `slug`, served as soon as the tenant exists:
/// admins copy these values before they have an IdP to configure. Its SP key pair
/// is created on first use.
pub async fn sp_metadata(
    app: &App,
    raw_slug: &str,
    connection_id: Option<Uuid>,
) -> Result<String, SignInRefusal> {
    let tenant = tenant(app, raw_slug).await?;
    let connection_id = further(&tenant, connection_id);
    let connection = saml_connection_of(app, &tenant, connection_id).await?;
    // A further connection's metadata exists only once it does (the first's is
    // served before, for admins who copy the values first).
    if connection_id.is_some() && connection.is_none() {
        return Err(SignInRefusal::UnknownConnection);
    }
    let endpoints = sp_endpoints_of(app, &tenant, connection_id);
    let keys = keys::sp_keys(app, &tenant, true)
        .await
        .map_err(SignInRefusal::unavailable)?;
    // Only the active key is offered for encryption; retired ones still decrypt.
    let encryption: Vec<&[u8]> = keys
        .iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.certificate.as_slice())
        .collect();
    let signs = connection.as_ref().is_some_and(|c| c.sign_authn_requests);
    let signing: &[&[u8]] = if signs { &encryption } else { &[] };
    Ok(SpMetadata {
        endpoints: &endpoints,
        want_assertions_signed: connection.as_ref().is_none_or(|c| c.want_assertions_signed),
        authn_requests_signed: signs,
        signing_certificates: signing,
        encryption_certificates: &encryption,
    }
    .to_xml())
}
