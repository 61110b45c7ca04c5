//! The OpenID Connect provider the app signs its users in with. The protocol's
//! rules are `idbridge_oidc`'s; this module looks things up, applies them, and
//! stores what they decide.
//!
//! An authorization request becomes a SAML SP-initiated sign-in at the tenant's IdP
//! ([`super::start_saml`]), carrying client, redirect URI, `state`, `nonce`, scope and
//! PKCE challenge in the database. The ACS issues the code bound to all of them;
//! [`token`] exchanges it once; [`userinfo`] answers for the access token it gave.

use idbridge_core::secret::{AccessToken, AuthorizationCode, ClientSecret};
use idbridge_oidc::authorize::{self, AuthorizeRequest, ClientRefusal, Realm};
use idbridge_oidc::claims::{self, IdTokenContext, Profile};
use idbridge_oidc::token::{self as rules, CodeBinding};
use idbridge_oidc::{
    AuthorizeError, AuthorizeErrorCode, ClientAuth, GrantRefusal, SigningAlgorithm, TokenError,
    TokenErrorCode, TokenRequest,
};
use idbridge_store::{DirectoryUser, Redemption, Tenant};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{OidcLogin, SignInRefusal};
use crate::directory::{GroupRefView, user_view};
use crate::roles::TenantRoles;
use crate::{App, domains, keys};

/// Why an authorization request was not sent on to an IdP.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeFailure {
    /// The client or its redirect URI cannot be trusted: the refusal is shown as a
    /// page, never redirected, or idbridge would be an open redirector.
    #[error("the app's sign-in request cannot be used: {0}")]
    Client(ClientRefusal),
    /// The request is refused with the app's trusted redirect URI: send the
    /// browser there (RFC 6749 §4.1.2.1, with `state` and `iss`).
    #[error("the authorization request is refused at the app's redirect URI")]
    Redirect(url::Url),
    /// The registered redirect URI turned out not to be a URL.
    #[error("the app's redirect URI is not a URL")]
    RedirectUriNotUrl,
    /// The store could not be read.
    #[error("the sign-in service is temporarily unavailable")]
    Unavailable,
}

impl AuthorizeFailure {
    /// Stable, `snake_case`.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthorizeFailure::Client(refusal) => refusal.code(),
            AuthorizeFailure::Redirect(_) => "refused_to_app",
            AuthorizeFailure::RedirectUriNotUrl => "invalid_redirect_uri",
            AuthorizeFailure::Unavailable => "unavailable",
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthorizeFailure::Unavailable)
    }
}

/// `GET /oauth/authorize`: the IdP URL to send the browser to, or why not.
pub async fn authorize(app: &App, query: &[u8]) -> Result<String, AuthorizeFailure> {
    let request = AuthorizeRequest::parse(query).map_err(AuthorizeFailure::Client)?;
    // 1. The client and its redirect URI, before anything is sent anywhere.
    let raw_client = request.client_id().map_err(AuthorizeFailure::Client)?;
    let client_id = Uuid::parse_str(raw_client)
        .map_err(|_| AuthorizeFailure::Client(ClientRefusal::UnknownClient))?;
    let client = match app.store.client_by_id(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(AuthorizeFailure::Client(ClientRefusal::UnknownClient)),
        Err(e) => {
            tracing::error!(error = %e, "authorize: storage failed");
            return Err(AuthorizeFailure::Unavailable);
        }
    };
    let redirect_uri = request
        .check_client(client.redirect_uris.iter().map(|u| u.as_str()))
        .map_err(AuthorizeFailure::Client)?;
    let issuer = app.config.public_url.as_str();
    let refuse = |error: AuthorizeError| {
        tracing::info!(error = %error, client_id = %client.id, "authorization request refused");
        match authorize::error_url(&redirect_uri, &error, request.state(), issuer) {
            Some(url) => AuthorizeFailure::Redirect(url),
            None => AuthorizeFailure::RedirectUriNotUrl,
        }
    };
    // 2. Everything else is answered at the redirect URI.
    let valid = authorize::validate(&request, client.is_public).map_err(refuse)?;
    let slug = match &valid.realm {
        Realm::Tenant(slug) => slug.clone(),
        Realm::EmailDomain(domain) => {
            match app.store.tenant_for_verified_domain(domain.as_str()).await {
                Ok(Some(tenant)) => tenant.slug,
                Ok(None) => {
                    return Err(refuse(AuthorizeError::new(
                        AuthorizeErrorCode::InvalidRequest,
                        format!("no organisation uses single sign-on for {domain}"),
                    )));
                }
                Err(e) => {
                    tracing::error!(error = %e, "authorize: storage failed");
                    return Err(refuse(AuthorizeError::new(
                        AuthorizeErrorCode::TemporarilyUnavailable,
                        "try again in a moment",
                    )));
                }
            }
        }
    };
    let login = OidcLogin {
        client_id: client.id,
        redirect_uri: redirect_uri.clone(),
        state: valid.state.clone(),
        nonce: valid.nonce.clone(),
        code_challenge: valid.code_challenge.clone(),
        scope: valid.scopes.join(" "),
    };
    super::start(
        app,
        slug.as_str(),
        valid.connection.as_deref(),
        valid.login_hint.as_deref(),
        Some(login),
    )
    .await
    .map_err(|refusal: SignInRefusal| {
        let code = if refusal.is_unavailable() {
            AuthorizeErrorCode::TemporarilyUnavailable
        } else {
            AuthorizeErrorCode::InvalidRequest
        };
        refuse(AuthorizeError::new(
            code,
            format!("{refusal} ({})", refusal.reason()),
        ))
    })
}

/// What the token endpoint hands the app.
pub struct Tokens {
    pub access_token: AccessToken,
    pub id_token: String,
    pub expires_in: i64,
    pub scope: String,
}

/// Why the token endpoint answered with an error.
#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    /// An OAuth error (RFC 6749 §5.2), as the protocol core words it.
    #[error("{}", .0.description)]
    OAuth(TokenError),
    /// The service could not answer now (`temporarily_unavailable`); the cause is
    /// logged.
    #[error("the token endpoint is temporarily unavailable")]
    Unavailable,
}

impl TokenFailure {
    /// Stable, `snake_case`: the OAuth error code.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenFailure::OAuth(error) => error.code.as_str(),
            TokenFailure::Unavailable => "temporarily_unavailable",
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, TokenFailure::Unavailable)
    }
}

fn invalid_client() -> TokenFailure {
    TokenFailure::OAuth(TokenError::new(
        TokenErrorCode::InvalidClient,
        "client authentication failed",
    ))
}

fn unavailable(context: &str, error: impl std::fmt::Display) -> TokenFailure {
    tracing::error!(error = %error, "{context}");
    TokenFailure::Unavailable
}

/// `POST /oauth/token`: authenticates the client in constant time, exchanges the
/// code at most once (in one transaction with the check and the access token it
/// produces), and signs the ID token.
pub async fn token(
    app: &App,
    body: &[u8],
    authorization: Option<&str>,
) -> Result<Tokens, TokenFailure> {
    let request = TokenRequest::parse(body, authorization).map_err(TokenFailure::OAuth)?;

    // The client: an unknown id and a wrong secret get the same answer.
    let Ok(client_id) = Uuid::parse_str(request.client.client_id()) else {
        return Err(invalid_client());
    };
    let client = app
        .store
        .client_by_id(client_id)
        .await
        .map_err(|e| unavailable("token: client lookup failed", e))?
        .ok_or_else(invalid_client)?;
    match (&request.client, client.is_public) {
        (ClientAuth::None { .. }, true) => {}
        (ClientAuth::None { .. }, false) | (_, true) => return Err(invalid_client()),
        (auth, false) => {
            let stored = app
                .store
                .client_secret_hash(client.id)
                .await
                .map_err(|e| unavailable("token: client lookup failed", e))?;
            let presented = auth
                .secret()
                .and_then(|s| ClientSecret::parse(s).ok())
                .map(|s| s.hash());
            let matches = match (stored, presented) {
                (Some(stored), Some(presented)) => stored.ct_eq(&presented),
                _ => false,
            };
            if !matches {
                return Err(invalid_client());
            }
        }
    }

    let Ok(code) = AuthorizationCode::parse(&request.code) else {
        return Err(TokenFailure::OAuth(GrantRefusal::Unknown.to_error()));
    };
    let now = app.clock.now();
    let access_token = AccessToken::generate();
    let check = |record: &idbridge_store::AuthorizationCodeRecord| {
        rules::check_code(
            &CodeBinding {
                client_id: record.client_id,
                redirect_uri: &record.redirect_uri,
                code_challenge: record.code_challenge.as_deref(),
                expires_at: record.expires_at,
            },
            client.id,
            &request,
            now,
        )
        .map_err(|refusal| refusal.reason())
    };
    let redemption = app
        .store
        .redeem_authorization_code(
            &code.hash(),
            &check,
            &access_token.hash(),
            now + idbridge_oidc::TOKEN_TTL,
            now,
        )
        .await
        .map_err(|e| unavailable("token: code exchange failed", e))?;
    let record = match redemption {
        Redemption::Issued(record) => record,
        Redemption::Refused(reason) => {
            tracing::info!(reason, client_id = %client.id, "token request refused");
            return Err(TokenFailure::OAuth(TokenError::new(
                TokenErrorCode::InvalidGrant,
                reason,
            )));
        }
        Redemption::Reused => {
            tracing::warn!(client_id = %client.id, "authorization code used twice: its tokens are revoked");
            return Err(TokenFailure::OAuth(GrantRefusal::AlreadyUsed.to_error()));
        }
        Redemption::Unknown => return Err(TokenFailure::OAuth(GrantRefusal::Unknown.to_error())),
    };

    let Some((tenant, user)) = tenant_and_user(app, record.tenant_id, record.user_id)
        .await
        .map_err(|e| unavailable("token: user lookup failed", e))?
    else {
        return Err(TokenFailure::OAuth(GrantRefusal::UserInactive.to_error()));
    };
    let mut profile = profile(app, &tenant, user)
        .await
        .map_err(|e| unavailable("token: profile lookup failed", e))?;
    with_connection(app, &tenant, record.connection_id, &mut profile)
        .await
        .map_err(|e| unavailable("token: connection lookup failed", e))?;
    let scopes: Vec<String> = record.scope.split(' ').map(str::to_owned).collect();
    let client_id_text = client.id.to_string();
    let claims = claims::id_token_claims(
        &IdTokenContext {
            issuer: app.config.public_url.as_str(),
            client_id: &client_id_text,
            nonce: record.nonce.as_deref(),
            auth_time: record.auth_time,
            issued_at: now,
            expires_at: now + idbridge_oidc::TOKEN_TTL,
        },
        &profile,
        &scopes,
    );
    let algorithm =
        SigningAlgorithm::parse(&client.id_token_alg).unwrap_or(SigningAlgorithm::Rs256);
    let key = keys::active_key(app, algorithm)
        .await
        .map_err(|e| unavailable("token: no signing key", e))?;
    let id_token = key
        .sign(&claims)
        .map_err(|e| unavailable("token: signing failed", e))?;
    Ok(Tokens {
        access_token,
        id_token,
        expires_in: idbridge_oidc::TOKEN_TTL.whole_seconds(),
        scope: record.scope,
    })
}

/// Why userinfo answered with an error.
#[derive(Debug, thiserror::Error)]
pub enum UserinfoFailure {
    /// RFC 6750 `invalid_token`, with why.
    #[error("{0}")]
    InvalidToken(&'static str),
    #[error("userinfo is temporarily unavailable")]
    Unavailable,
}

impl UserinfoFailure {
    /// Stable, `snake_case`: the RFC 6750 error code.
    pub fn reason(&self) -> &'static str {
        match self {
            UserinfoFailure::InvalidToken(_) => "invalid_token",
            UserinfoFailure::Unavailable => "temporarily_unavailable",
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, UserinfoFailure::Unavailable)
    }
}

/// `/oauth/userinfo`: the claims of the user an access token was issued for, by
/// the scopes it was granted.
pub async fn userinfo(app: &App, presented: &str) -> Result<Map<String, Value>, UserinfoFailure> {
    let fail = |e: idbridge_store::StoreError| {
        tracing::error!(error = %e, "userinfo: storage failed");
        UserinfoFailure::Unavailable
    };
    let Ok(token) = AccessToken::parse(presented) else {
        return Err(UserinfoFailure::InvalidToken(
            "the access token is malformed",
        ));
    };
    let record = app
        .store
        .access_token(&token.hash())
        .await
        .map_err(fail)?
        .ok_or(UserinfoFailure::InvalidToken(
            "the access token is not known",
        ))?;
    if record.revoked_at.is_some() {
        return Err(UserinfoFailure::InvalidToken(
            "the access token was revoked",
        ));
    }
    if app.clock.now() >= record.expires_at {
        return Err(UserinfoFailure::InvalidToken(
            "the access token has expired",
        ));
    }
    let (tenant, user) = tenant_and_user(app, record.tenant_id, record.user_id)
        .await
        .map_err(fail)?
        .ok_or(UserinfoFailure::InvalidToken(
            "the user is deactivated or deleted",
        ))?;
    let mut profile = profile(app, &tenant, user).await.map_err(fail)?;
    with_connection(app, &tenant, record.connection_id, &mut profile)
        .await
        .map_err(fail)?;
    let scopes: Vec<String> = record.scope.split(' ').map(str::to_owned).collect();
    Ok(claims::user_claims(&profile, &scopes))
}

/// The `idp` and `connection` claims: which connection the sign-in came through.
/// The tenant's first SAML connection has the tenant's id: no read for it.
async fn with_connection(
    app: &App,
    tenant: &Tenant,
    connection_id: Option<Uuid>,
    profile: &mut Profile,
) -> Result<(), idbridge_store::StoreError> {
    let Some(id) = connection_id else {
        return Ok(());
    };
    profile.connection = Some(id.to_string());
    if id != tenant.id
        && let Some(c) = app.store.connection(tenant.id, id).await?
    {
        profile.idp = c.kind.as_str().to_owned();
    }
    Ok(())
}

/// The tenant and the user, if the user still exists and is active.
async fn tenant_and_user(
    app: &App,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<Option<(Tenant, DirectoryUser)>, idbridge_store::StoreError> {
    let Some(tenant) = app.store.tenant_by_id(tenant_id).await? else {
        return Ok(None);
    };
    let user = app.store.user_by_id(tenant_id, user_id).await?;
    Ok(user.filter(|u| u.active).map(|u| (tenant, u)))
}

/// The user as the app sees it: the directory's view of the user (roles resolved
/// through the tenant's mapping) in OIDC claim names.
async fn profile(
    app: &App,
    tenant: &Tenant,
    user: DirectoryUser,
) -> Result<Profile, idbridge_store::StoreError> {
    let groups = app.store.groups_of_users(tenant.id, &[user.id]).await?;
    let roles = TenantRoles::load(app, tenant).await?;
    let view = user_view(user, &groups, &roles);
    // `email_verified` is true only when the tenant has verified the email's
    // domain: an IdP asserts whatever addresses its admin types in.
    let email_verified = match &view.email {
        Some(email) => domains::email_verified_by(app, tenant.id, email).await?,
        None => false,
    };
    Ok(Profile {
        sub: view.id.to_string(),
        email: view.email,
        email_verified,
        name: view.display_name,
        given_name: view.given_name,
        family_name: view.family_name,
        preferred_username: Some(view.user_name),
        tenant: tenant.slug.to_string(),
        roles: view.roles,
        groups: group_names(view.groups, view.saml_groups),
        idp: "saml".into(),
        connection: None,
    })
}

/// The `groups` claim: directory group names, then the group names SAML sent for a
/// user created at sign-in, each once (compared case-insensitively, as role mappings
/// compare).
fn group_names(directory: Vec<GroupRefView>, saml: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    directory
        .into_iter()
        .map(|g| g.display_name)
        .chain(saml)
        .filter(|name| seen.insert(name.to_lowercase()))
        .collect()
}
