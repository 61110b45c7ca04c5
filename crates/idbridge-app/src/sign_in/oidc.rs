//! Sign-in through a tenant's OpenID Connect connection (idbridge as the relying
//! party): [`start_oidc`] sends the browser to the IdP, [`complete_oidc`] takes it
//! back at `/oidc/{slug}/callback`.
//!
//! The flow lives in the database (`oidc_flows`, keyed by the digest of `state`),
//! so whichever process receives the callback completes it, once. PKCE S256 and a
//! nonce bind the code and the ID token to the flow. The protocol's rules are
//! `idbridge_oidc::upstream`'s; the person's claims then go through the SAML
//! sign-in's pipeline (domain policy, the directory user, JIT, roles, the code),
//! and every outcome once the tenant is known is a sign-in log row.
//!
//! The issuer's discovery document and JWKS are cached on the connection (shared by
//! every process) for a day; the JWKS is fetched again when an ID token names a key
//! it does not hold, at most once a minute per connection.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_core::domain::DomainName;
use idbridge_core::secret::{SecretHash, random_bytes};
use idbridge_oidc::upstream::{
    self, AuthorizationRequest, Callback, IdTokenExpectations, IdTokenRefusal, Identity, JwkSet,
    ProviderMetadata, TokenResponse,
};
use idbridge_saml::claims::UserClaims;
use idbridge_store::{ConnectionRecord, OidcFlow, OidcRequestState, SignInEvent, Tenant};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::fix::{self, FixContext, IdpVendor};
use super::saml::{Finished, Landing, complete, record, require_verified_domain};
use super::{
    OidcLogin, REQUEST_TTL, SignInOutcome, SignInRefusal, TestFrom, TestRefused, TestResult,
};
use crate::roles::TenantRoles;
use crate::{App, domains};

/// How long a cached discovery document and JWKS are used before they are fetched
/// again.
const PROVIDER_TTL: Duration = Duration::hours(24);
/// The JWKS is fetched again for an unknown key at most this often.
const JWKS_REFETCH_INTERVAL: Duration = Duration::seconds(60);
/// Tolerated clock difference with the IdP.
const CLOCK_SKEW: Duration = Duration::minutes(3);

/// The discovery document and keys of a connection's issuer.
struct Provider {
    meta: ProviderMetadata,
    jwks: JwkSet,
    fetched_at: OffsetDateTime,
}

fn provider_unreachable(e: impl std::fmt::Display) -> SignInRefusal {
    SignInRefusal::ProviderUnreachable(bounded(&e.to_string()))
}

/// The connection's provider, from its cache while fresh, else fetched (a stale
/// cache is used when the issuer cannot be reached, so an outage of its discovery
/// endpoint does not stop sign-ins).
async fn provider(app: &App, connection: &ConnectionRecord) -> Result<Provider, SignInRefusal> {
    let oidc = connection
        .oidc
        .as_ref()
        .ok_or(SignInRefusal::SamlNotConfigured)?;
    let now = app.clock.now();
    let cached = oidc
        .provider_cache
        .as_ref()
        .zip(oidc.provider_fetched_at)
        .and_then(|(doc, at)| parse_cache(doc, &oidc.issuer).map(|(meta, jwks)| (meta, jwks, at)));
    if let Some((meta, jwks, fetched_at)) = &cached
        && now - *fetched_at < PROVIDER_TTL
    {
        return Ok(Provider {
            meta: meta.clone(),
            jwks: jwks.clone(),
            fetched_at: *fetched_at,
        });
    }
    match discover(app, &oidc.issuer).await {
        Ok(document) => {
            app.store
                .cache_provider(connection.id, &document, now)
                .await?;
            let (meta, jwks) = parse_cache(&document, &oidc.issuer)
                .ok_or_else(|| provider_unreachable("the provider's documents cannot be read"))?;
            Ok(Provider {
                meta,
                jwks,
                fetched_at: now,
            })
        }
        Err(e) => match cached {
            Some((meta, jwks, fetched_at)) => {
                tracing::warn!(connection = %connection.id, error = %e, "OIDC discovery failed; using the cached document");
                Ok(Provider {
                    meta,
                    jwks,
                    fetched_at,
                })
            }
            None => Err(provider_unreachable(e)),
        },
    }
}

/// The discovery document and JWKS of `issuer`, fetched and checked: what a
/// connection's provider cache holds (`{"metadata", "jwks"}`). The error is a
/// sentence for the operator.
pub async fn discover(app: &App, issuer: &str) -> Result<Value, String> {
    let bytes = app
        .fetcher()
        .get(
            &upstream::discovery_url(issuer),
            upstream::MAX_DOCUMENT_BYTES,
        )
        .await
        .map_err(|e| format!("the discovery document of {issuer} could not be fetched: {e}"))?;
    let meta = ProviderMetadata::parse(&bytes, issuer)
        .map_err(|e| format!("the issuer's discovery document cannot be used: {e}"))?;
    let jwks = fetch_jwks(app, &meta)
        .await
        .map_err(|e| format!("the JWKS of {issuer} could not be fetched: {e}"))?;
    Ok(serde_json::json!({"metadata": meta, "jwks": jwks}))
}

/// The issuer's JWKS document as JSON (checked to hold at least one usable key).
async fn fetch_jwks(app: &App, meta: &ProviderMetadata) -> Result<Value, crate::net::FetchError> {
    let bytes = app
        .fetcher()
        .get(&meta.jwks_uri, upstream::MAX_DOCUMENT_BYTES)
        .await?;
    match (
        serde_json::from_slice::<Value>(&bytes),
        upstream::parse_jwks(&bytes),
    ) {
        (Ok(doc), Some(set)) if !set.keys.is_empty() => Ok(doc),
        _ => Err(crate::net::FetchError::Refused(
            "the JWKS holds no usable key",
        )),
    }
}

fn parse_cache(document: &Value, issuer: &str) -> Option<(ProviderMetadata, JwkSet)> {
    let meta = ProviderMetadata::from_value(document.get("metadata")?, issuer).ok()?;
    Some((meta, upstream::jwks_from_value(document.get("jwks")?)?))
}

/// A PKCE verifier, `state` or nonce: 32 random bytes, base64url (43 characters).
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Records the flow and returns the IdP URL to send the browser to.
pub async fn start_oidc(
    app: &App,
    tenant: &Tenant,
    connection: &ConnectionRecord,
    login: Option<OidcLogin>,
    login_hint: Option<&str>,
    test: Option<TestFrom>,
) -> Result<String, SignInRefusal> {
    let oidc = connection
        .oidc
        .as_ref()
        .ok_or(SignInRefusal::SamlNotConfigured)?;
    let provider = provider(app, connection).await?;
    // A test's state says where it was started (`test.{from}.…`), for its result
    // page; the flow is found by the whole state's digest either way.
    let state = match test {
        Some(from) => from.relay_state(&random_token()),
        None => random_token(),
    };
    let test = test.is_some();
    let nonce = random_token();
    let verifier = random_token();
    let redirect_uri = app.config.public_url.oidc_callback_url(&tenant.slug);
    let url = upstream::authorization_url(
        &provider.meta,
        &AuthorizationRequest {
            client_id: &oidc.client_id,
            redirect_uri: &redirect_uri,
            scopes: &oidc.scopes,
            state: &state,
            nonce: &nonce,
            code_challenge: &idbridge_oidc::pkce::s256(&verifier),
            login_hint,
            prompt: test.then_some("login"),
        },
    )
    .map_err(provider_unreachable)?;
    let now = app.clock.now();
    app.store
        .create_oidc_flow(
            &SecretHash::of(&state),
            &OidcFlow {
                tenant_id: tenant.id,
                connection_id: connection.id,
                nonce,
                code_verifier: verifier,
                test,
                redirect_uri: login.as_ref().map(|l| l.redirect_uri.clone()),
                app: login.map(|l| OidcRequestState {
                    client_id: l.client_id,
                    state: l.state,
                    nonce: l.nonce,
                    code_challenge: l.code_challenge,
                    scope: l.scope,
                }),
                created_at: now,
                expires_at: now + REQUEST_TTL,
            },
        )
        .await?;
    Ok(url.into())
}

/// `GET /oidc/{slug}/callback`: the IdP's answer, `query` as received.
pub async fn complete_oidc(
    app: &App,
    slug: &str,
    query: &[u8],
    request_id: Option<String>,
) -> Result<SignInOutcome, SignInRefusal> {
    let tenant = super::tenant(app, slug).await?;
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
        request_id,
        connection_id: None,
    };
    let outcome = consume(app, &tenant, query, &mut log).await;
    // Where a test was started, from its state (`test.{from}.…`); whether it is a
    // test at all is the stored flow's word (`log.test`).
    let tested = log.test.then_some(log.connection_id).flatten();
    // Read only for a test (an ordinary callback does not pay for it).
    let from = || {
        url::form_urlencoded::parse(query)
            .find(|(k, _)| k == "state")
            .and_then(|(_, v)| TestFrom::parse_relay_state(&v).map(|(from, _)| from))
            .unwrap_or(TestFrom::Api)
    };
    match record(app, &tenant, log, outcome).await {
        Ok(SignInOutcome::Test(mut result)) => {
            result.from = from();
            Ok(SignInOutcome::Test(result))
        }
        Err(refusal) if tested.is_some() => {
            let connection = match tested {
                Some(id) => app.store.connection(tenant.id, id).await.ok().flatten(),
                None => None,
            };
            let (vendor, cx) = match connection.as_ref().and_then(|c| c.oidc.as_ref()) {
                Some(oidc) => (
                    IdpVendor::infer(&oidc.issuer),
                    FixContext {
                        expected_id: oidc.client_id.clone(),
                        return_url: app.config.public_url.oidc_callback_url(&tenant.slug),
                        metadata_url: String::new(),
                        idp_id: oidc.issuer.clone(),
                    },
                ),
                None => (IdpVendor::Generic, FixContext::default()),
            };
            Ok(SignInOutcome::TestRefused(TestRefused {
                fix: fix::fix(refusal.reason(), vendor, &cx),
                refusal,
                vendor,
                from: from(),
                tenant: tenant.slug.clone(),
                connection: tested,
            }))
        }
        other => other,
    }
}

async fn consume(
    app: &App,
    tenant: &Tenant,
    query: &[u8],
    log: &mut SignInEvent,
) -> Result<Finished, SignInRefusal> {
    let callback = Callback::parse(query).map_err(|e| SignInRefusal::Response {
        reason: e.reason(),
        message: e.to_string(),
    })?;
    // The flow first: without it nothing in the callback is ours to act on.
    let state = callback
        .state
        .as_deref()
        .ok_or(SignInRefusal::UnknownRequest)?;
    let now = app.clock.now();
    let flow = app
        .store
        .take_oidc_flow(&SecretHash::of(state), now)
        .await?
        .filter(|f| f.tenant_id == tenant.id)
        .ok_or(SignInRefusal::UnknownRequest)?;
    log.test = flow.test;
    log.connection_id = Some(flow.connection_id);
    let connection = app
        .store
        .connection(tenant.id, flow.connection_id)
        .await?
        .ok_or(SignInRefusal::UnknownConnection)?;
    let oidc = connection
        .oidc
        .as_ref()
        .ok_or(SignInRefusal::UnknownConnection)?;
    if let Some(error) = &callback.error {
        return Err(SignInRefusal::IdpError {
            error: error.clone(),
            description: callback.error_description.clone(),
        });
    }
    let mut provider = provider(app, &connection).await?;
    callback
        .check_issuer(&provider.meta)
        .map_err(|e| SignInRefusal::Response {
            reason: e.reason(),
            message: format!("The identity provider's answer was refused: {e}."),
        })?;
    let code = callback
        .code
        .as_deref()
        .ok_or(SignInRefusal::MalformedRequest(
            "The identity provider's answer carries no code.",
        ))?;

    // The code for tokens, with the flow's PKCE verifier.
    let secret = match &oidc.sealed_secret {
        Some(sealed) => {
            let keys = app
                .config
                .secret_keys
                .as_ref()
                .ok_or(SignInRefusal::SecretUnavailable)?;
            Some(keys.open(sealed, connection.id.as_bytes()).map_err(|e| {
                tracing::error!(connection = %connection.id, error = %e, "OIDC client secret cannot be opened");
                SignInRefusal::SecretUnavailable
            })?)
        }
        None => None,
    };
    let redirect_uri = app.config.public_url.oidc_callback_url(&tenant.slug);
    let (form, authorization) = upstream::token_request(
        provider.meta.client_auth(),
        &oidc.client_id,
        secret.as_ref().map(|s| s.expose_secret()),
        code,
        &redirect_uri,
        &flow.code_verifier,
    );
    let (status, body) = app
        .fetcher()
        .post_form(
            &provider.meta.token_endpoint,
            authorization.as_deref(),
            &form,
            upstream::MAX_DOCUMENT_BYTES,
        )
        .await
        .map_err(provider_unreachable)?;
    let tokens = TokenResponse::parse(&body);
    let id_token = match (&tokens, status) {
        (
            Some(TokenResponse {
                id_token: Some(t), ..
            }),
            200,
        ) => t.clone(),
        (
            Some(TokenResponse {
                error: Some(e),
                error_description,
                ..
            }),
            _,
        ) => {
            return Err(SignInRefusal::TokenRefused(bounded(
                &match error_description {
                    Some(d) => format!("{e}: {d}"),
                    None => e.clone(),
                },
            )));
        }
        (_, 200) => {
            return Err(SignInRefusal::TokenRefused(
                "the answer carries no ID token".into(),
            ));
        }
        (_, status) => {
            return Err(SignInRefusal::TokenRefused(format!("HTTP {status}")));
        }
    };

    let claims = verify(app, &connection, &mut provider, &id_token, &flow.nonce).await?;
    let mut identity = Identity::from_claims(&claims);
    if identity.wants_userinfo()
        && let (Some(endpoint), Some(access_token)) = (
            provider.meta.userinfo_endpoint.as_deref(),
            tokens.as_ref().and_then(|t| t.access_token.as_deref()),
        )
    {
        let bearer = format!("Bearer {access_token}");
        match app
            .fetcher()
            .get_authorized(endpoint, Some(&bearer), upstream::MAX_DOCUMENT_BYTES)
            .await
        {
            Ok(bytes) => match serde_json::from_slice::<Map<String, Value>>(&bytes) {
                Ok(userinfo) => identity.add_userinfo(&userinfo),
                Err(_) => {
                    tracing::info!(connection = %connection.id, "userinfo is not a JSON object")
                }
            },
            Err(e) => tracing::info!(connection = %connection.id, error = %e, "userinfo failed"),
        }
    }
    log.email = identity.email.as_ref().map(|e| e.to_lowercase());

    // What the provider itself says about the address.
    if identity.email_verified == Some(false) {
        return Err(SignInRefusal::EmailNotVerifiedByIdp);
    }
    // Google Workspace: the account's organisation must be one the tenant verified,
    // or any Google account (a gmail.com one, another company's) could sign in.
    if let Some(hd) = &identity.hosted_domain {
        let verified = match DomainName::parse(hd) {
            Ok(domain) => domains::verified_by(app, tenant.id, &domain).await?,
            Err(_) => false,
        };
        if !verified {
            return Err(SignInRefusal::HostedDomainNotVerified(bounded(hd)));
        }
    }
    if tenant.require_verified_domains {
        require_verified_domain(app, tenant, log.email.as_deref()).await?;
    }
    let user_claims = UserClaims {
        display_name: identity.name.clone(),
        given_name: identity.given_name.clone(),
        family_name: identity.family_name.clone(),
        roles: identity.roles.clone(),
        groups: identity.groups.clone(),
    };
    if flow.test {
        let roles = TenantRoles::load(app, tenant).await?;
        let idp: Vec<&str> = identity.roles.iter().map(String::as_str).collect();
        let groups: Vec<&str> = identity.groups.iter().map(String::as_str).collect();
        return Ok(Finished::Test(TestResult {
            // Set by `complete_oidc`, which knows where the test was started.
            from: TestFrom::Api,
            tenant: tenant.slug.clone(),
            connection: Some(connection.id),
            email: log.email.clone(),
            display_name: identity.name.clone(),
            name_id: Some(identity.subject.clone()),
            role_claims: identity.roles.clone(),
            group_claims: identity.groups.clone(),
            app_roles: roles.resolve(&idp, &groups),
            attributes: claim_table(&claims),
        }));
    }
    let (Some(app_request), Some(redirect_uri)) = (flow.app.as_ref(), flow.redirect_uri.clone())
    else {
        return Err(SignInRefusal::NoRedirectUri);
    };
    complete(
        app,
        tenant,
        Landing {
            redirect_uri,
            client_id: Some(app_request.client_id),
            oidc: Some(app_request),
            connection_id: connection.id,
        },
        &user_claims,
        log,
    )
    .await
}

/// Verifies the ID token; on a key the cached JWKS lacks, fetches the JWKS again
/// (at most once a minute per connection) and tries once more.
async fn verify(
    app: &App,
    connection: &ConnectionRecord,
    provider: &mut Provider,
    id_token: &str,
    nonce: &str,
) -> Result<Map<String, Value>, SignInRefusal> {
    let algorithms = provider.meta.algorithms();
    let check = |jwks: &JwkSet, now| {
        upstream::verify_id_token(
            id_token,
            jwks,
            &IdTokenExpectations {
                issuer: &provider.meta.issuer,
                client_id: connection
                    .oidc
                    .as_ref()
                    .map_or("", |o| o.client_id.as_str()),
                nonce,
                algorithms: &algorithms,
                now,
                skew: CLOCK_SKEW,
            },
        )
    };
    let now = app.clock.now();
    match check(&provider.jwks, now) {
        Err(IdTokenRefusal::UnknownKey(_))
            if now - provider.fetched_at >= JWKS_REFETCH_INTERVAL =>
        {
            let jwks = fetch_jwks(app, &provider.meta)
                .await
                .map_err(provider_unreachable)?;
            let document = serde_json::json!({"metadata": provider.meta, "jwks": jwks});
            app.store
                .cache_provider(connection.id, &document, now)
                .await?;
            let set = upstream::jwks_from_value(&jwks)
                .ok_or_else(|| provider_unreachable("the JWKS cannot be read"))?;
            provider.jwks = set;
            provider.fetched_at = now;
            check(&provider.jwks, now).map_err(refused)
        }
        other => other.map_err(refused),
    }
}

fn refused(e: IdTokenRefusal) -> SignInRefusal {
    SignInRefusal::Response {
        reason: e.reason(),
        message: format!("The identity provider's ID token was refused: {e}."),
    }
}

/// The ID token's claims as text, for the "test connection" table.
fn claim_table(claims: &Map<String, Value>) -> BTreeMap<String, Vec<String>> {
    claims
        .iter()
        .map(|(name, value)| {
            let values = match value {
                Value::Array(items) => items.iter().map(text).collect(),
                other => vec![text(other)],
            };
            (name.clone(), values)
        })
        .collect()
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => bounded(s),
        other => bounded(&other.to_string()),
    }
}

/// At most 300 characters of what the IdP sent.
fn bounded(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
