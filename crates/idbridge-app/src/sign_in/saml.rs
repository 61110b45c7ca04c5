//! The Assertion Consumer Service's rules: a posted SAML response becomes a sign-in
//! (an authorization code for the app, or a "test connection" result) or a
//! [`SignInRefusal`], and either way a sign-in log row.
//!
//! Order matters: the tenant and its connection; the response verified
//! (`idbridge_saml::verify`: parse, gate, xmlsec, rules); the AuthnRequest it answers
//! consumed (or, unsolicited, allowed by the tenant); the assertion recorded in the
//! replay cache. Only then is anything read about the user.
//!
//! A sign-in for the app ends with the directory user matched by email (userName,
//! then emails) or created just in time, refused if SCIM deactivated them, and an
//! authorization code (60 s, single use, stored as a digest) for the redirect URI of
//! the request that started it or the connection's `default_redirect_uri`.
//!
//! Users SAML created (source `jit`) take their names, role values and group names
//! from every sign-in (`saml_claims::with_claims`), through the directory's one
//! versioned write: a `user.updated` event when that changes something, no write
//! when it does not. Users SCIM provisioned are left as SCIM wrote them, claims
//! included: SCIM is the IdP's authoritative channel for them (Entra and Okta push
//! roles and groups there), a SCIM PUT would wipe anything SAML added, and so the
//! app sees one consistent set of roles for a user, in the directory view and in
//! the ID token alike.

use std::collections::BTreeMap;

use idbridge_core::secret::{AuthorizationCode, SecretHash};
use idbridge_saml::claims::UserClaims;
use idbridge_saml::response::{Expectations, ValidAssertion};
use idbridge_saml::verify::{decode_post_value, verify_response};
use idbridge_saml::{Certificate, SpDecryptionKey, claims};
use idbridge_store::{
    AuthorizationCodeRecord, DirectoryUser, OidcRequestState, SamlConnection, SignInEvent, Tenant,
    UserSource,
};
use serde_json::json;
use uuid::Uuid;

use super::fix::{self, Fix, FixContext, IdpVendor};
use super::{CODE_TTL, SignInRefusal, TestFrom, sp_endpoints_of};
use crate::directory::saml_claims::with_claims;
use crate::directory::{self, DirectoryError, Origin, TenantRef, Updated, UserToUpdate};
use crate::roles::TenantRoles;
use crate::{App, domains, keys};
use idbridge_core::TenantSlug;

/// How often a sign-in re-reads and re-applies its update when another write to the
/// same user came first (a SCIM request, a parallel sign-in).
const UPDATE_ATTEMPTS: usize = 3;

/// What the IdP's browser posted to the ACS.
#[derive(Debug, Default)]
pub struct SamlPost {
    /// The form could be read as `application/x-www-form-urlencoded`.
    pub is_form: bool,
    pub saml_response: Option<String>,
    pub relay_state: Option<String>,
    /// The request's `x-request-id`, to tie the log row to the server's log.
    pub request_id: Option<String>,
}

/// How a sign-in that got through ends.
#[derive(Debug)]
pub enum SignInOutcome {
    /// Back to the app: redirect to this URL, which carries the code (stored with
    /// the sign-in's log row), the app's `state` and the issuer.
    App { redirect: url::Url },
    /// "Test connection": what the admin sees. No user, no code.
    Test(TestResult),
    /// "Test connection" refused: why, and what to change at the IdP. The refusal
    /// is in the sign-in log like any other.
    TestRefused(TestRefused),
}

/// A refused test sign-in, for its result page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRefused {
    /// Why, as the sign-in log has it; its text may quote what the IdP sent.
    pub refusal: SignInRefusal,
    pub vendor: IdpVendor,
    /// What to change, where, in the IdP's console.
    pub fix: Option<Fix>,
    pub from: TestFrom,
    pub tenant: TenantSlug,
    /// The connection tested, when it is not the tenant's first SAML connection.
    pub connection: Option<Uuid>,
}

/// What an admin sees at the end of "test connection": the claims as received, what
/// idbridge reads from them, and the app roles they give under the tenant's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub from: TestFrom,
    pub tenant: TenantSlug,
    /// The connection tested, when it is not the tenant's first SAML connection.
    pub connection: Option<Uuid>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub name_id: Option<String>,
    pub role_claims: Vec<String>,
    pub group_claims: Vec<String>,
    /// The app roles the claims alone give (for a SCIM-provisioned user, the
    /// directory's roles and groups count instead).
    pub app_roles: Vec<String>,
    /// Attribute name → values, as received.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// The ACS: verifies `post` for the tenant at `slug` and completes the sign-in.
/// Every outcome once the tenant is known is written to its sign-in log (with the
/// code, for a sign-in for the app, in the same write).
pub async fn complete_saml(
    app: &App,
    slug: &str,
    connection_id: Option<Uuid>,
    post: SamlPost,
) -> Result<SignInOutcome, SignInRefusal> {
    let slug = idbridge_core::TenantSlug::parse(slug).map_err(|_| SignInRefusal::TenantNotFound)?;
    // One read either way: the first connection's is the hot path.
    let (tenant, connection) = match connection_id {
        None => app.store.tenant_with_saml_connection(&slug).await?,
        Some(id) => {
            app.store
                .tenant_with_saml_connection_by_id(&slug, id)
                .await?
        }
    }
    .ok_or(SignInRefusal::TenantNotFound)?;
    let mut log = SignInEvent {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        occurred_at: app.clock.now(),
        success: false,
        reason: None,
        detail: None,
        email: None,
        user_id: None,
        test: false,
        request_id: post.request_id.clone(),
        connection_id: connection.as_ref().map(|c| c.connection_id),
    };
    let test = match &connection {
        Some(c) => test_request(app, &tenant, c, post.relay_state.as_deref()).await,
        None => None,
    };
    log.test = test.is_some();
    // Only a test's refusal needs the advice's values (the ACS's hot path is not one).
    let advice = connection.as_ref().filter(|_| test.is_some()).map(|c| {
        let sp = super::sp_endpoints_of(app, &tenant, Some(c.connection_id));
        (
            IdpVendor::infer(&c.idp_entity_id),
            FixContext {
                metadata_url: format!("{}/metadata", sp.entity_id),
                expected_id: sp.entity_id,
                return_url: sp.acs_url,
                idp_id: c.idp_entity_id.clone(),
            },
            super::further(&tenant, Some(c.connection_id)),
        )
    });
    let outcome = consume(app, &tenant, connection, post, &mut log).await;
    let from = test.unwrap_or(TestFrom::Api);
    match record(app, &tenant, log, outcome).await {
        Ok(SignInOutcome::Test(mut result)) => {
            result.from = from;
            Ok(SignInOutcome::Test(result))
        }
        Err(refusal) if test.is_some() => {
            let (vendor, cx, connection) =
                advice.unwrap_or((IdpVendor::Generic, FixContext::default(), None));
            Ok(SignInOutcome::TestRefused(TestRefused {
                fix: fix::fix(refusal.reason(), vendor, &cx),
                refusal,
                vendor,
                from,
                tenant: tenant.slug.clone(),
                connection,
            }))
        }
        other => other,
    }
}

/// Whether `relay_state` is that of a stored, unexpired test sign-in of this
/// connection, and where it was started. Read before the response is verified, so
/// that a refusal of the response itself (its signature, its audience) is shown
/// as a test result: it decides only which page the refusal is shown on.
async fn test_request(
    app: &App,
    tenant: &Tenant,
    connection: &SamlConnection,
    relay_state: Option<&str>,
) -> Option<TestFrom> {
    let (from, id) = TestFrom::parse_relay_state(relay_state?)?;
    let request = app.store.saml_request(tenant.id, id).await.ok()??;
    let this = super::further(tenant, Some(connection.connection_id));
    (request.test
        && request.connection_id == this
        && request.expires_at > app.clock.now()
        && Some(request.relay_state.as_str()) == relay_state)
        .then_some(from)
}

/// Writes the sign-in log row of an outcome (with the code, for a sign-in for the
/// app) and turns it into what the browser gets.
pub(super) async fn record(
    app: &App,
    tenant: &Tenant,
    mut log: SignInEvent,
    outcome: Result<Finished, SignInRefusal>,
) -> Result<SignInOutcome, SignInRefusal> {
    match &outcome {
        Ok(_) => log.success = true,
        Err(e) => {
            log.reason = Some(e.reason().to_owned());
            log.detail = Some(e.to_string());
            tracing::info!(tenant = %tenant.slug, reason = e.reason(), "sign-in refused");
        }
    }
    // The log row, its feed event and the code (if one was issued) are one write: a
    // code never exists without its sign-in on record, nor the record without it.
    let code = match &outcome {
        Ok(Finished::App { code, .. }) => Some((&code.0, &code.1)),
        _ => None,
    };
    app.store
        .record_sign_in(&log, code)
        .await
        .map_err(SignInRefusal::unavailable)?;
    outcome.map(|finished| match finished {
        Finished::App { redirect, .. } => SignInOutcome::App { redirect },
        Finished::Test(result) => SignInOutcome::Test(result),
    })
}

/// A sign-in that got through, before its log row is written.
pub(super) enum Finished {
    App {
        redirect: url::Url,
        code: Box<(SecretHash, AuthorizationCodeRecord)>,
    },
    Test(TestResult),
}

async fn consume(
    app: &App,
    tenant: &Tenant,
    connection: Option<SamlConnection>,
    post: SamlPost,
    log: &mut SignInEvent,
) -> Result<Finished, SignInRefusal> {
    let connection = connection.ok_or(SignInRefusal::SamlNotConfigured)?;
    if !post.is_form {
        return Err(SignInRefusal::MalformedRequest(
            "The sign-in request is not a SAML HTTP-POST form.",
        ));
    }
    let Some(encoded) = post.saml_response else {
        return Err(SignInRefusal::MalformedRequest(
            "The sign-in request carries no SAMLResponse.",
        ));
    };
    let bytes = decode_post_value(&encoded).map_err(|e| SignInRefusal::Response {
        reason: e.reason(),
        message: e.to_string(),
    })?;
    let keys = decryption_keys(app, tenant, &bytes).await?;
    let assertion = verify(app, tenant, &connection, &bytes, &keys)?;
    log.email = email_of(&connection, &assertion);

    // Which request this answers: one of ours, once, for this tenant; or none.
    let now = app.clock.now();
    let request = match &assertion.in_response_to {
        Some(id) => {
            // Ours, and sent for this connection (its response comes back to the
            // ACS of the connection it was sent for).
            let this = Some(connection.connection_id).filter(|c| *c != tenant.id);
            let request = app
                .store
                .take_saml_request(tenant.id, id, now)
                .await?
                .filter(|r| r.connection_id == this)
                .ok_or(SignInRefusal::UnknownRequest)?;
            if post.relay_state.as_deref() != Some(request.relay_state.as_str()) {
                return Err(SignInRefusal::RelayStateMismatch);
            }
            Some(request)
        }
        None if connection.allow_idp_initiated => None,
        None => return Err(SignInRefusal::IdpInitiatedRefused),
    };
    log.test = request.as_ref().is_some_and(|r| r.test);
    let fresh = app
        .store
        .remember_assertion(
            tenant.id,
            &assertion.assertion_id,
            assertion.replay_until,
            now,
        )
        .await?;
    if !fresh {
        return Err(SignInRefusal::Replayed);
    }
    if tenant.require_verified_domains {
        require_verified_domain(app, tenant, log.email.as_deref()).await?;
    }

    let user_claims = claims::user_claims(&assertion);
    if log.test {
        let roles = TenantRoles::load(app, tenant).await?;
        let idp: Vec<&str> = user_claims.roles.iter().map(String::as_str).collect();
        let groups: Vec<&str> = user_claims.groups.iter().map(String::as_str).collect();
        return Ok(Finished::Test(TestResult {
            // Set by `complete_saml`, which knows where the test was started.
            from: TestFrom::Api,
            tenant: tenant.slug.clone(),
            connection: super::further(tenant, Some(connection.connection_id)),
            email: log.email.clone(),
            display_name: claims::display_name(&assertion),
            name_id: assertion.name_id.as_ref().map(|n| n.value.clone()),
            role_claims: claims::roles(&assertion),
            group_claims: claims::groups(&assertion),
            app_roles: roles.resolve(&idp, &groups),
            attributes: assertion.attributes,
        }));
    }
    // Where the sign-in lands, and for which client: the app's authorization
    // request, or the connection's default (whose client was resolved when it was
    // saved).
    let oidc = request
        .as_ref()
        .and_then(|r| r.oidc.as_ref().zip(r.redirect_uri.as_ref()));
    let landing = match oidc {
        Some((o, uri)) => Landing {
            redirect_uri: uri.clone(),
            client_id: Some(o.client_id),
            oidc: Some(o),
            connection_id: connection.connection_id,
        },
        None => Landing {
            redirect_uri: connection
                .default_redirect_uri
                .clone()
                .ok_or(SignInRefusal::NoRedirectUri)?,
            client_id: connection.default_client_id,
            oidc: None,
            connection_id: connection.connection_id,
        },
    };
    complete(app, tenant, landing, &user_claims, log).await
}

/// The tenant requires verified domains: the email must be at one it verified, or
/// its IdP could sign in someone else's users (anyone can type any address into an
/// IdP's directory).
pub(super) async fn require_verified_domain(
    app: &App,
    tenant: &Tenant,
    email: Option<&str>,
) -> Result<(), SignInRefusal> {
    let domain = email.and_then(|e| idbridge_core::domain::email_domain(e).ok());
    let verified = match &domain {
        Some(domain) => domains::verified_by(app, tenant.id, domain).await?,
        None => false,
    };
    if verified {
        return Ok(());
    }
    Err(SignInRefusal::EmailDomainNotVerified(domain))
}

/// Where a verified sign-in lands: the app's redirect URI and client (from the
/// app's authorization request, or a connection's default), and the connection it
/// came through.
pub(super) struct Landing<'a> {
    pub redirect_uri: String,
    pub client_id: Option<Uuid>,
    pub oidc: Option<&'a OidcRequestState>,
    pub connection_id: Uuid,
}

/// A verified sign-in for the app: the directory user (matched, or created just in
/// time), an authorization code bound to client, redirect URI, tenant, user and
/// connection, and the redirect that carries it. SAML and OpenID Connect sign-ins
/// end here alike.
pub(super) async fn complete(
    app: &App,
    tenant: &Tenant,
    landing: Landing<'_>,
    user_claims: &UserClaims,
    log: &mut SignInEvent,
) -> Result<Finished, SignInRefusal> {
    let Landing {
        redirect_uri,
        client_id,
        oidc,
        connection_id,
    } = landing;
    let client_id = client_id.ok_or(SignInRefusal::RedirectUriUnregistered)?;
    // Read once, from the verified assertion or ID token.
    let email = log.email.clone().ok_or(SignInRefusal::EmailMissing)?;
    let user = user_for(app, tenant, user_claims, &email).await?;
    log.user_id = Some(user.id);

    let code = AuthorizationCode::generate();
    let now = app.clock.now();
    let record = AuthorizationCodeRecord {
        client_id,
        redirect_uri: redirect_uri.clone(),
        tenant_id: tenant.id,
        user_id: user.id,
        nonce: oidc.and_then(|o| o.nonce.clone()),
        code_challenge: oidc.and_then(|o| o.code_challenge.clone()),
        // An IdP-initiated sign-in grants what every app sign-in needs.
        scope: oidc.map_or_else(|| "openid email profile".to_owned(), |o| o.scope.clone()),
        auth_time: now,
        created_at: now,
        expires_at: now + CODE_TTL,
        connection_id: Some(connection_id),
    };
    let mut redirect = url::Url::parse(&redirect_uri)
        .map_err(|_| SignInRefusal::RedirectUriInvalid("The address to return to is not a URL."))?;
    {
        let mut query = redirect.query_pairs_mut();
        query.append_pair("code", code.expose_secret());
        if let Some(app_state) = oidc.and_then(|o| o.state.as_deref()) {
            query.append_pair("state", app_state);
        }
        // RFC 9207: says which provider answered (mix-up defence).
        query.append_pair("iss", app.config.public_url.as_str());
    }
    Ok(Finished::App {
        redirect,
        code: Box::new((code.hash(), record)),
    })
}

/// The directory user a sign-in with `email` is for: the one matched by email
/// (kept up to date from the claims if SAML created it), or a new one created just
/// in time when the tenant allows it.
async fn user_for(
    app: &App,
    tenant: &Tenant,
    user_claims: &UserClaims,
    email: &str,
) -> Result<DirectoryUser, SignInRefusal> {
    match app.store.user_for_sign_in(tenant.id, email).await? {
        Some(user) if !user.active => Err(SignInRefusal::UserInactive),
        Some(user) => update_from_claims(app, tenant, user, user_claims).await,
        None if tenant.jit_enabled => {
            // A user the organisation's directory deleted is not created again by
            // the next sign-in: only SCIM can bring it back.
            if app.store.email_of_deleted_user(tenant.id, email).await? {
                return Err(SignInRefusal::UserDeleted);
            }
            create_just_in_time(app, tenant, user_claims, email).await
        }
        None => Err(SignInRefusal::UserNotProvisioned),
    }
}

/// What a sign-in makes of the directory's refusals.
impl From<DirectoryError> for SignInRefusal {
    fn from(err: DirectoryError) -> Self {
        match err {
            // Deleted between the read and the write.
            DirectoryError::NotFound(_) => SignInRefusal::UserNotProvisioned,
            DirectoryError::Busy(_) => SignInRefusal::UserBusy,
            other => SignInRefusal::unavailable(other),
        }
    }
}

/// A later sign-in of a user SAML created: the mapped attributes follow the
/// assertion, through the directory's versioned write. Nothing changed, nothing
/// written. Users SCIM provisioned are returned as they are (see the module
/// documentation).
async fn update_from_claims(
    app: &App,
    tenant: &Tenant,
    user: DirectoryUser,
    user_claims: &UserClaims,
) -> Result<DirectoryUser, SignInRefusal> {
    let updated = directory::update_user::<SignInRefusal>(
        app,
        &TenantRef::from(tenant),
        UserToUpdate::Read(user),
        None,
        &Origin::SignIn,
        UPDATE_ATTEMPTS,
        |current| {
            // Another write came first and may have deactivated the user.
            if !current.active {
                return Err(SignInRefusal::UserInactive);
            }
            if current.source != UserSource::Jit {
                return Ok(None);
            }
            Ok(Some(with_claims(&current.document, user_claims)))
        },
    )
    .await?;
    Ok(match updated {
        Updated::Unchanged(user) | Updated::Written(user) => user,
    })
}

/// Just-in-time provisioning: the first sign-in of someone SCIM has not provisioned
/// creates them, with what the assertion says, in the shape SCIM would store.
async fn create_just_in_time(
    app: &App,
    tenant: &Tenant,
    user_claims: &UserClaims,
    email: &str,
) -> Result<DirectoryUser, SignInRefusal> {
    let mut document = serde_json::Map::new();
    document.insert("userName".into(), json!(email));
    document.insert(
        "emails".into(),
        json!([{"value": email, "type": "work", "primary": true}]),
    );
    let document = with_claims(&document, user_claims);
    match directory::create_user(app, &TenantRef::from(tenant), document, &Origin::SignIn).await {
        Ok(user) => Ok(user),
        // Two first sign-ins at once: the other one created the user (with its own
        // assertion's claims, which this one's then update if they differ).
        Err(DirectoryError::UserNameTaken(_)) => {
            let other = app
                .store
                .user_for_sign_in(tenant.id, email)
                .await?
                .ok_or_else(|| {
                    SignInRefusal::unavailable("the user another sign-in created is gone")
                })?;
            update_from_claims(app, tenant, other, user_claims).await
        }
        Err(e) => Err(e.into()),
    }
}

/// At most 300 characters of `text`: refusal messages quote what the response
/// said (an issuer, an audience), which is the sender's to make arbitrarily long,
/// and they go to a page and the sign-in log.
fn bounded(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The user's email, in the connection's attribute order or the default one.
pub(crate) fn email_of(connection: &SamlConnection, assertion: &ValidAssertion) -> Option<String> {
    match &connection.email_attributes {
        Some(order) => {
            let order: Vec<&str> = order.iter().map(String::as_str).collect();
            claims::email_in(assertion, &order)
        }
        None => claims::email(assertion),
    }
}

/// The SP keys to decrypt with, loaded only for a response that carries an
/// encrypted assertion (most do not: no key parsing on their path). A tenant that
/// never had a key has none, and the assertion is refused as unexpected.
async fn decryption_keys(
    app: &App,
    tenant: &Tenant,
    response: &[u8],
) -> Result<Vec<SpDecryptionKey>, SignInRefusal> {
    let encrypted = response.windows(18).any(|w| w == b"EncryptedAssertion");
    if !encrypted {
        return Ok(Vec::new());
    }
    let keys = keys::sp_keys(app, tenant, false)
        .await
        .map_err(SignInRefusal::unavailable)?;
    Ok(keys
        .iter()
        .filter_map(
            |k| match SpDecryptionKey::new(&k.private_key, &k.certificate) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::error!(error = %e, key = %k.id, "stored SP key cannot be used");
                    None
                }
            },
        )
        .collect())
}

fn verify(
    app: &App,
    tenant: &Tenant,
    connection: &SamlConnection,
    bytes: &[u8],
    decryption_keys: &[SpDecryptionKey],
) -> Result<ValidAssertion, SignInRefusal> {
    let certificates: Vec<Certificate> = connection
        .idp_certificates
        .iter()
        .filter_map(|b64| Certificate::from_base64(b64).ok())
        .collect();
    let sp = sp_endpoints_of(app, tenant, Some(connection.connection_id));
    let expect = Expectations {
        idp_entity_id: &connection.idp_entity_id,
        sp_entity_id: &sp.entity_id,
        acs_url: &sp.acs_url,
        now: app.clock.now(),
        clock_skew: time::Duration::seconds(connection.clock_skew_seconds),
        want_response_signed: connection.want_response_signed,
        want_assertions_signed: connection.want_assertions_signed,
    };
    verify_response(bytes, &certificates, decryption_keys, &expect).map_err(|e| {
        SignInRefusal::Response {
            reason: e.reason(),
            message: format!(
                "The identity provider's response was refused: {}.",
                bounded(&e.to_string())
            ),
        }
    })
}
