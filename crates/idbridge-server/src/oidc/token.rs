//! `POST /oauth/token` and `/oauth/userinfo`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_core::secret::{AccessToken, AuthorizationCode, ClientSecret};
use idbridge_oidc::claims::{self, IdTokenContext, Profile};
use idbridge_oidc::token::{self as rules, CodeBinding};
use idbridge_oidc::{ClientAuth, SigningAlgorithm, TokenError, TokenErrorCode, TokenRequest};
use idbridge_store::{DirectoryUser, Redemption, Tenant};
use serde_json::json;
use uuid::Uuid;

use crate::AppState;
use crate::bearer::bearer_token;

/// Largest token request read: a few short parameters.
pub const TOKEN_BODY_LIMIT: usize = 16 * 1024;

/// An OAuth error answer (RFC 6749 §5.2): JSON, never cached, and for a client
/// that failed to authenticate, a `WWW-Authenticate` challenge.
fn oauth_error(error: &TokenError) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        axum::Json(json!({
            "error": error.code.as_str(),
            "error_description": error.description,
        })),
    )
        .into_response();
    if error.code == TokenErrorCode::InvalidClient {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"idbridge\""),
        );
    }
    response
}

fn server_error(context: &str, error: impl std::fmt::Display) -> Response {
    tracing::error!(error = %error, "{context}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(json!({
            "error": "temporarily_unavailable",
            "error_description": "try again in a moment",
        })),
    )
        .into_response()
}

fn invalid_client() -> TokenError {
    TokenError::new(
        TokenErrorCode::InvalidClient,
        "client authentication failed",
    )
}

/// `POST /oauth/token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let request = match TokenRequest::parse(&body, authorization) {
        Ok(r) => r,
        Err(e) => return oauth_error(&e),
    };

    // The client: an unknown id and a wrong secret get the same answer.
    let Ok(client_id) = Uuid::parse_str(request.client.client_id()) else {
        return oauth_error(&invalid_client());
    };
    let client = match state.app.store.client_by_id(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return oauth_error(&invalid_client()),
        Err(e) => return server_error("token: client lookup failed", e),
    };
    match (&request.client, client.is_public) {
        (ClientAuth::None { .. }, true) => {}
        (ClientAuth::None { .. }, false) | (_, true) => return oauth_error(&invalid_client()),
        (auth, false) => {
            let stored = match state.app.store.client_secret_hash(client.id).await {
                Ok(h) => h,
                Err(e) => return server_error("token: client lookup failed", e),
            };
            let presented = auth
                .secret()
                .and_then(|s| ClientSecret::parse(s).ok())
                .map(|s| s.hash());
            let matches = match (stored, presented) {
                (Some(stored), Some(presented)) => stored.ct_eq(&presented),
                _ => false,
            };
            if !matches {
                return oauth_error(&invalid_client());
            }
        }
    }

    // The code: exchanged at most once, in one transaction with the check and the
    // access token it produces.
    let Ok(code) = AuthorizationCode::parse(&request.code) else {
        return oauth_error(&idbridge_oidc::GrantRefusal::Unknown.to_error());
    };
    let now = state.app.clock.now();
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
    let redemption = match state
        .app
        .store
        .redeem_authorization_code(
            &code.hash(),
            &check,
            &access_token.hash(),
            now + idbridge_oidc::TOKEN_TTL,
            now,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return server_error("token: code exchange failed", e),
    };
    let record = match redemption {
        Redemption::Issued(record) => record,
        Redemption::Refused(reason) => {
            tracing::info!(reason, client_id = %client.id, "token request refused");
            return oauth_error(&TokenError::new(TokenErrorCode::InvalidGrant, reason));
        }
        Redemption::Reused => {
            tracing::warn!(client_id = %client.id, "authorization code used twice: its tokens are revoked");
            return oauth_error(&idbridge_oidc::GrantRefusal::AlreadyUsed.to_error());
        }
        Redemption::Unknown => {
            return oauth_error(&idbridge_oidc::GrantRefusal::Unknown.to_error());
        }
    };

    let (tenant, user) = match tenant_and_user(&state, record.tenant_id, record.user_id).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return oauth_error(&idbridge_oidc::GrantRefusal::UserInactive.to_error());
        }
        Err(response) => return response,
    };
    let profile = match profile(&state, &tenant, user).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let scopes: Vec<String> = record.scope.split(' ').map(str::to_owned).collect();
    let issuer = state.app.config.public_url.as_str();
    let client_id_text = client.id.to_string();
    let claims = claims::id_token_claims(
        &IdTokenContext {
            issuer,
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
    let key = match idbridge_app::keys::active_key(&state.app, algorithm).await {
        Ok(k) => k,
        Err(e) => return server_error("token: no signing key", e),
    };
    let id_token = match key.sign(&claims) {
        Ok(t) => t,
        Err(e) => return server_error("token: signing failed", e),
    };
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        axum::Json(json!({
            "access_token": access_token.expose_secret(),
            "token_type": "Bearer",
            "expires_in": idbridge_oidc::TOKEN_TTL.whole_seconds(),
            "id_token": id_token,
            "scope": record.scope,
        })),
    )
        .into_response()
}

/// The tenant and the user, if the user still exists and is active.
async fn tenant_and_user(
    state: &AppState,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<Option<(Tenant, DirectoryUser)>, Response> {
    let tenant = state
        .app
        .store
        .tenant_by_id(tenant_id)
        .await
        .map_err(|e| server_error("tenant lookup failed", e))?;
    let Some(tenant) = tenant else {
        return Ok(None);
    };
    let user = state
        .app
        .store
        .user_by_id(tenant_id, user_id)
        .await
        .map_err(|e| server_error("user lookup failed", e))?;
    Ok(user.filter(|u| u.active).map(|u| (tenant, u)))
}

/// The user as the app sees it: the admin API's view of the directory user (roles
/// resolved through the tenant's mapping) in OIDC claim names.
async fn profile(
    state: &AppState,
    tenant: &Tenant,
    user: DirectoryUser,
) -> Result<Profile, Response> {
    let fail = |e| server_error("profile lookup failed", e);
    let groups = state
        .app
        .store
        .groups_of_users(tenant.id, &[user.id])
        .await
        .map_err(fail)?;
    let roles = idbridge_app::roles::TenantRoles::load(&state.app, tenant)
        .await
        .map_err(fail)?;
    let view = idbridge_app::directory::user_view(user, &groups, &roles);
    let email_verified = match &view.email {
        Some(email) => email_domain_verified(state, tenant, email).await?,
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
    })
}

/// The `groups` claim: directory group names, then the group names SAML sent for a
/// user created at sign-in, each once (compared case-insensitively, as role mappings compare).
fn group_names(
    directory: Vec<idbridge_app::directory::GroupRefView>,
    saml: Vec<String>,
) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    directory
        .into_iter()
        .map(|g| g.display_name)
        .chain(saml)
        .filter(|name| seen.insert(name.to_lowercase()))
        .collect()
}

/// `email_verified` is true only when the tenant has verified the email's domain:
/// an IdP asserts whatever addresses its admin types in.
async fn email_domain_verified(
    state: &AppState,
    tenant: &Tenant,
    email: &str,
) -> Result<bool, Response> {
    let Ok(domain) = idbridge_core::domain::email_domain(email) else {
        return Ok(false);
    };
    let owner = verified_domain_owner(state, &domain)
        .await
        .map_err(|e| server_error("domain lookup failed", e))?;
    Ok(owner.is_some_and(|t| t.id == tenant.id))
}

/// The tenant that verified `domain`, if one did.
pub(super) async fn verified_domain_owner(
    state: &AppState,
    domain: &idbridge_core::domain::DomainName,
) -> Result<Option<Tenant>, idbridge_store::StoreError> {
    state
        .app
        .store
        .tenant_for_verified_domain(domain.as_str())
        .await
}

fn invalid_token(description: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&format!(
                    "Bearer error=\"invalid_token\", error_description=\"{description}\""
                ))
                .unwrap_or(HeaderValue::from_static("Bearer error=\"invalid_token\"")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        axum::Json(json!({ "error": "invalid_token", "error_description": description })),
    )
        .into_response()
}

/// `GET`/`POST /oauth/userinfo` with `Authorization: Bearer <access token>`.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(presented) = bearer_token(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        )
            .into_response();
    };
    let Ok(token) = AccessToken::parse(presented) else {
        return invalid_token("the access token is malformed");
    };
    let record = match state.app.store.access_token(&token.hash()).await {
        Ok(Some(r)) => r,
        Ok(None) => return invalid_token("the access token is not known"),
        Err(e) => return server_error("userinfo: token lookup failed", e),
    };
    let now = state.app.clock.now();
    if record.revoked_at.is_some() {
        return invalid_token("the access token was revoked");
    }
    if now >= record.expires_at {
        return invalid_token("the access token has expired");
    }
    let (tenant, user) = match tenant_and_user(&state, record.tenant_id, record.user_id).await {
        Ok(Some(found)) => found,
        Ok(None) => return invalid_token("the user is deactivated or deleted"),
        Err(response) => return response,
    };
    let profile = match profile(&state, &tenant, user).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let scopes: Vec<String> = record.scope.split(' ').map(str::to_owned).collect();
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(serde_json::Value::Object(claims::user_claims(
            &profile, &scopes,
        ))),
    )
        .into_response()
}
