//! The admin operations, shared by the HTTP handlers and the CLI so that both apply
//! the same validation and produce the same answers. No HTTP in here.

use idbridge_core::domain::{DnsCheck, DomainName, email_domain, new_verification_token};
use idbridge_core::roles::RolePolicy;
use idbridge_core::secret::{AdminApiKey, ClientSecret, ScimToken};
use idbridge_core::{RedirectUri, TenantSlug};
use idbridge_store::{
    AdminKeyRecord, DomainCheckOutcome, DomainCounts, OidcClient, Operator, PageRequest,
    ScimTokenRecord, StoreError, Tenant, TenantDomain, TenantUpdate,
};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use uuid::Uuid;

use super::pagination::List;
use super::views::{
    AdminKeyCreated, AdminKeyView, ClientCreated, ClientView, DomainView, LookupView, OperatorView,
    ScimTokenCreated, ScimTokenView, TenantDetail, TenantView,
};
use crate::AppState;
use crate::error::AdminError;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_ROLE_CHARS: usize = 100;
pub const MAX_REDIRECT_URIS: usize = 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// `[a-z0-9-]{1,63}`; appears in every URL handed to the IdP.
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = "Acme Inc")]
    pub name: String,
    #[serde(default)]
    pub sso_required: Option<bool>,
    #[serde(default)]
    pub jit_enabled: Option<bool>,
    /// Refuse SAML sign-ins and SCIM users whose email domain this tenant has not
    /// verified. Default false.
    #[serde(default)]
    pub require_verified_domains: Option<bool>,
    #[serde(default)]
    pub default_role: Option<String>,
    /// `highest` (default) or `all`: what a user with several app roles gets.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "highest")]
    pub role_policy: Option<RolePolicy>,
}

/// Fields to change; absent fields stay as they are. `"default_role": null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sso_required: Option<bool>,
    #[serde(default)]
    pub jit_enabled: Option<bool>,
    /// Refuse SAML sign-ins and SCIM users whose email domain this tenant has not
    /// verified. Default false.
    #[serde(default)]
    pub require_verified_domains: Option<bool>,
    #[serde(default, deserialize_with = "present_or_null")]
    #[schema(value_type = Option<String>)]
    pub default_role: Option<Option<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "all")]
    pub role_policy: Option<RolePolicy>,
}

/// Tells "absent" (outer `None`, via `#[serde(default)]`) from "null" (`Some(None)`).
pub(crate) fn present_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    #[schema(example = "Acme SaaS (production)")]
    pub name: String,
    /// Exact redirect URIs the app may use; compared by exact string match.
    #[schema(example = json!(["https://app.example.com/auth/callback"]))]
    pub redirect_uris: Vec<String>,
    /// A public client (a SPA or native app) gets no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    /// How its ID tokens are signed: `RS256` (default, what every OIDC library
    /// accepts) or `ES256`.
    #[schema(example = "RS256")]
    pub id_token_signed_response_alg: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimToken {
    /// What the token is for, e.g. "Entra ID provisioning".
    #[serde(default)]
    pub description: Option<String>,
}

pub(crate) fn validate_text(
    field: &str,
    value: &str,
    max_chars: usize,
) -> Result<String, AdminError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(AdminError::InvalidRequest(format!(
            "{field} must not be empty"
        )));
    }
    if trimmed.chars().count() > max_chars {
        return Err(AdminError::InvalidRequest(format!(
            "{field} is longer than {max_chars} characters"
        )));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(AdminError::InvalidRequest(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(trimmed.to_owned())
}

pub fn parse_slug(raw: &str) -> Result<TenantSlug, AdminError> {
    Ok(TenantSlug::parse(raw)?)
}

/// The tenant a path names, or 404.
pub async fn find_tenant(state: &AppState, raw_slug: &str) -> Result<Tenant, AdminError> {
    let slug = parse_slug(raw_slug)?;
    state
        .app
        .store
        .tenant_by_slug(&slug)
        .await?
        .ok_or_else(|| AdminError::TenantNotFound(slug.to_string()))
}

async fn detail(state: &AppState, tenant: Tenant) -> Result<TenantDetail, AdminError> {
    let active_tokens = state.app.store.count_active_scim_tokens(tenant.id).await?;
    let saml_configured = state.app.store.saml_connection(tenant.id).await?.is_some();
    let domains = state.app.store.domain_counts(tenant.id).await?;
    Ok(TenantDetail::new(
        tenant,
        &state.app.config.public_url,
        active_tokens,
        saml_configured,
        domains,
    ))
}

pub async fn create_tenant(
    state: &AppState,
    input: CreateTenant,
) -> Result<TenantDetail, AdminError> {
    let slug = parse_slug(&input.slug)?;
    let name = validate_text("name", &input.name, MAX_NAME_CHARS)?;
    let default_role = input
        .default_role
        .map(|r| validate_text("default_role", &r, MAX_ROLE_CHARS))
        .transpose()?;
    let now = state.app.clock.now();
    let tenant = Tenant {
        id: Uuid::now_v7(),
        slug: slug.clone(),
        name,
        sso_required: input.sso_required.unwrap_or(false),
        jit_enabled: input.jit_enabled.unwrap_or(true),
        require_verified_domains: input.require_verified_domains.unwrap_or(false),
        default_role,
        role_policy: input.role_policy.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    };
    match state.app.store.create_tenant(&tenant).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(AdminError::TenantExists(slug.to_string())),
        Err(other) => return Err(other.into()),
    }
    tracing::info!(tenant = %slug, "tenant created");
    Ok(TenantDetail::new(
        tenant,
        &state.app.config.public_url,
        0,
        false,
        DomainCounts::default(),
    ))
}

pub async fn get_tenant(state: &AppState, raw_slug: &str) -> Result<TenantDetail, AdminError> {
    let tenant = find_tenant(state, raw_slug).await?;
    detail(state, tenant).await
}

pub async fn list_tenants(
    state: &AppState,
    page: PageRequest,
) -> Result<List<TenantView>, AdminError> {
    Ok(List::from_page(
        state.app.store.list_tenants(page).await?,
        TenantView::from,
    ))
}

pub async fn update_tenant(
    state: &AppState,
    raw_slug: &str,
    input: UpdateTenant,
) -> Result<TenantDetail, AdminError> {
    let slug = parse_slug(raw_slug)?;
    let update = TenantUpdate {
        name: input
            .name
            .map(|n| validate_text("name", &n, MAX_NAME_CHARS))
            .transpose()?,
        sso_required: input.sso_required,
        jit_enabled: input.jit_enabled,
        require_verified_domains: input.require_verified_domains,
        default_role: input
            .default_role
            .map(|r| {
                r.map(|r| validate_text("default_role", &r, MAX_ROLE_CHARS))
                    .transpose()
            })
            .transpose()?,
        role_policy: input.role_policy,
    };
    if update == TenantUpdate::default() {
        return get_tenant(state, raw_slug).await;
    }
    let tenant = match state
        .app
        .store
        .update_tenant(&slug, &update, state.app.clock.now())
        .await
    {
        Ok(tenant) => tenant,
        Err(StoreError::NotFound) => return Err(AdminError::TenantNotFound(slug.to_string())),
        Err(other) => return Err(other.into()),
    };
    tracing::info!(tenant = %slug, "tenant updated");
    detail(state, tenant).await
}

pub async fn delete_tenant(state: &AppState, raw_slug: &str) -> Result<(), AdminError> {
    let slug = parse_slug(raw_slug)?;
    match state.app.store.delete_tenant(&slug).await {
        Ok(()) => {
            tracing::info!(tenant = %slug, "tenant deleted");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(AdminError::TenantNotFound(slug.to_string())),
        Err(other) => Err(other.into()),
    }
}

pub async fn create_client(
    state: &AppState,
    input: CreateClient,
) -> Result<ClientCreated, AdminError> {
    let name = validate_text("name", &input.name, MAX_NAME_CHARS)?;
    if input.redirect_uris.is_empty() {
        return Err(AdminError::InvalidRequest(
            "redirect_uris must list at least one URI".into(),
        ));
    }
    if input.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(AdminError::InvalidRequest(format!(
            "at most {MAX_REDIRECT_URIS} redirect_uris per client"
        )));
    }
    let mut redirect_uris: Vec<RedirectUri> = Vec::with_capacity(input.redirect_uris.len());
    for raw in &input.redirect_uris {
        let uri = RedirectUri::parse(raw).map_err(|e| AdminError::InvalidRequest(e.to_string()))?;
        if redirect_uris.contains(&uri) {
            return Err(AdminError::InvalidRequest(format!(
                "redirect URI {raw:?} is listed twice"
            )));
        }
        redirect_uris.push(uri);
    }
    let id_token_alg = match input.id_token_signed_response_alg.as_deref() {
        None => idbridge_oidc::SigningAlgorithm::Rs256,
        Some(alg) => idbridge_oidc::SigningAlgorithm::parse(alg).ok_or_else(|| {
            AdminError::InvalidRequest(format!(
                "id_token_signed_response_alg {alg:?} is not supported: RS256 or ES256"
            ))
        })?,
    };
    let secret = (!input.public).then(ClientSecret::generate);
    let client = OidcClient {
        id: Uuid::now_v7(),
        name,
        redirect_uris,
        is_public: input.public,
        id_token_alg: id_token_alg.as_str().to_owned(),
        created_at: state.app.clock.now(),
    };
    state
        .app
        .store
        .create_client(&client, secret.as_ref().map(|s| s.hash()).as_ref())
        .await?;
    tracing::info!(client_id = %client.id, public = client.is_public, "OIDC client created");
    Ok(ClientCreated {
        client: client.into(),
        client_secret: secret.map(|s| s.expose_secret().to_owned()),
    })
}

pub async fn get_client(state: &AppState, id: Uuid) -> Result<ClientView, AdminError> {
    state
        .app
        .store
        .client_by_id(id)
        .await?
        .map(ClientView::from)
        .ok_or(AdminError::NotFound("client"))
}

pub async fn list_clients(
    state: &AppState,
    page: PageRequest,
) -> Result<List<ClientView>, AdminError> {
    Ok(List::from_page(
        state.app.store.list_clients(page).await?,
        ClientView::from,
    ))
}

pub async fn delete_client(state: &AppState, id: Uuid) -> Result<(), AdminError> {
    match state.app.store.delete_client(id).await {
        Ok(()) => {
            tracing::info!(client_id = %id, "OIDC client deleted");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(AdminError::NotFound("client")),
        Err(other) => Err(other.into()),
    }
}

pub async fn issue_scim_token(
    state: &AppState,
    raw_slug: &str,
    input: CreateScimToken,
) -> Result<ScimTokenCreated, AdminError> {
    let tenant = find_tenant(state, raw_slug).await?;
    let description = input
        .description
        .map(|d| validate_text("description", &d, MAX_NAME_CHARS))
        .transpose()?;
    let token = ScimToken::generate();
    let record = ScimTokenRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        description,
        created_at: state.app.clock.now(),
        last_used_at: None,
        revoked_at: None,
    };
    match state
        .app
        .store
        .create_scim_token(&record, &token.hash())
        .await
    {
        Ok(()) => {}
        // The tenant was deleted between the lookup and the insert.
        Err(StoreError::NotFound) => {
            return Err(AdminError::TenantNotFound(tenant.slug.to_string()));
        }
        Err(other) => return Err(other.into()),
    }
    tracing::info!(tenant = %tenant.slug, token_id = %record.id, "SCIM token issued");
    Ok(ScimTokenCreated {
        id: record.id,
        token: token.expose_secret().to_owned(),
        scim_base_url: state.app.config.public_url.scim_base_url(&tenant.slug),
        description: record.description,
        created_at: record.created_at,
    })
}

pub async fn list_scim_tokens(
    state: &AppState,
    raw_slug: &str,
    page: PageRequest,
) -> Result<List<ScimTokenView>, AdminError> {
    let tenant = find_tenant(state, raw_slug).await?;
    Ok(List::from_page(
        state.app.store.list_scim_tokens(tenant.id, page).await?,
        ScimTokenView::from,
    ))
}

pub async fn revoke_scim_token(
    state: &AppState,
    raw_slug: &str,
    id: Uuid,
) -> Result<(), AdminError> {
    let tenant = find_tenant(state, raw_slug).await?;
    match state
        .app
        .store
        .revoke_scim_token(tenant.id, id, state.app.clock.now())
        .await
    {
        Ok(()) => {
            tracing::info!(tenant = %tenant.slug, token_id = %id, "SCIM token revoked");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(AdminError::NotFound("SCIM token")),
        Err(other) => Err(other.into()),
    }
}

pub async fn create_admin_key(state: &AppState, name: &str) -> Result<AdminKeyCreated, AdminError> {
    let name = validate_text("name", name, MAX_NAME_CHARS)?;
    let key = AdminApiKey::generate();
    let record = AdminKeyRecord {
        id: Uuid::now_v7(),
        name,
        created_at: state.app.clock.now(),
        last_used_at: None,
        revoked_at: None,
    };
    state
        .app
        .store
        .create_admin_key(&record, &key.hash())
        .await?;
    tracing::info!(key_id = %record.id, "admin API key created");
    Ok(AdminKeyCreated {
        key: record.into(),
        admin_api_key: key.expose_secret().to_owned(),
    })
}

pub async fn list_admin_keys(
    state: &AppState,
    page: PageRequest,
) -> Result<List<AdminKeyView>, AdminError> {
    Ok(List::from_page(
        state.app.store.list_admin_keys(page).await?,
        AdminKeyView::from,
    ))
}

pub async fn revoke_admin_key(state: &AppState, id: Uuid) -> Result<(), AdminError> {
    match state
        .app
        .store
        .revoke_admin_key(id, state.app.clock.now())
        .await
    {
        Ok(()) => {
            tracing::info!(key_id = %id, "admin API key revoked");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(AdminError::NotFound("admin API key")),
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomain {
    /// An email domain the tenant's users have addresses at. Normalised (trimmed,
    /// lowercased, trailing dot removed, internationalised names to punycode).
    #[schema(example = "example.com")]
    pub domain: String,
}

/// A domain as an admin or an email names it, normalised, or a 400.
fn parse_domain(raw: &str) -> Result<DomainName, AdminError> {
    Ok(DomainName::parse(raw)?)
}

/// Claims a domain for the tenant, pending until its TXT record is found. Claiming a
/// domain the tenant already claims answers that claim (`false`), token unchanged.
pub async fn add_domain(
    state: &AppState,
    raw_slug: &str,
    input: AddDomain,
) -> Result<(DomainView, bool), AdminError> {
    let tenant = find_tenant(state, raw_slug).await?;
    let domain = parse_domain(&input.domain)?;
    if domain.is_public_mail_domain() {
        return Err(AdminError::PublicMailDomain(domain.to_string()));
    }
    let claim = TenantDomain {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        domain: domain.to_string(),
        verification_token: new_verification_token(),
        verified: false,
        verified_at: None,
        checked_at: None,
        verification_error: None,
        created_at: state.app.clock.now(),
    };
    match state.app.store.add_domain(&claim).await {
        Ok((stored, created)) => {
            if created {
                tracing::info!(tenant = %tenant.slug, %domain, "domain claimed");
            }
            Ok((stored.into(), created))
        }
        Err(StoreError::Conflict(_)) => Err(AdminError::DomainClaimed(domain.to_string())),
        Err(StoreError::NotFound) => Err(AdminError::TenantNotFound(tenant.slug.to_string())),
        Err(other) => Err(other.into()),
    }
}

pub async fn list_domains(
    state: &AppState,
    raw_slug: &str,
    page: PageRequest,
) -> Result<List<DomainView>, AdminError> {
    let tenant = find_tenant(state, raw_slug).await?;
    Ok(List::from_page(
        state.app.store.list_domains(tenant.id, page).await?,
        DomainView::from,
    ))
}

/// Asks DNS for the claim's TXT record now and records what it found. A verified
/// domain loses its status only when DNS says the record is not there; a timeout
/// leaves it verified (with the error noted).
pub async fn verify_domain(
    state: &AppState,
    raw_slug: &str,
    raw_domain: &str,
) -> Result<DomainView, AdminError> {
    let tenant = find_tenant(state, raw_slug).await?;
    let domain = parse_domain(raw_domain)?;
    let claim = state
        .app
        .store
        .tenant_domain(tenant.id, domain.as_str())
        .await?
        .ok_or(AdminError::NotFound("domain"))?;
    // Held by another tenant: no DNS answer could change that, so none is asked.
    let holder = state
        .app
        .store
        .tenant_for_verified_domain(domain.as_str())
        .await?;
    let check = if holder.is_some_and(|t| t.id != tenant.id) {
        None
    } else {
        Some(
            state
                .app
                .domains
                .check(&domain, &claim.verification_token)
                .await,
        )
    };
    let outcome = match check {
        None => DomainCheckOutcome::Failed {
            reason: idbridge_store::CLAIMED_BY_ANOTHER_TENANT,
            unverify: true,
        },
        Some(DnsCheck::Found) => DomainCheckOutcome::Verified,
        Some(other) => DomainCheckOutcome::Failed {
            reason: other.reason().unwrap_or("dns_error"),
            unverify: other.is_definite_absence(),
        },
    };
    let recorded = state
        .app
        .store
        .record_domain_check(tenant.id, domain.as_str(), outcome, state.app.clock.now())
        .await;
    match recorded {
        Ok(_) if check.is_none() => Err(AdminError::DomainClaimed(domain.to_string())),
        Ok(stored) => {
            tracing::info!(
                tenant = %tenant.slug,
                %domain,
                verified = stored.verified,
                error = stored.verification_error.as_deref(),
                "domain checked"
            );
            Ok(stored.into())
        }
        Err(StoreError::Conflict(_)) => Err(AdminError::DomainClaimed(domain.to_string())),
        Err(StoreError::NotFound) => Err(AdminError::NotFound("domain")),
        Err(other) => Err(other.into()),
    }
}

pub async fn delete_domain(
    state: &AppState,
    raw_slug: &str,
    raw_domain: &str,
) -> Result<(), AdminError> {
    let tenant = find_tenant(state, raw_slug).await?;
    let domain = parse_domain(raw_domain)?;
    match state
        .app
        .store
        .delete_domain(tenant.id, domain.as_str(), state.app.clock.now())
        .await
    {
        Ok(()) => {
            tracing::info!(tenant = %tenant.slug, %domain, "domain removed");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(AdminError::NotFound("domain")),
        Err(other) => Err(other.into()),
    }
}

/// The tenant a sign-in with `email` belongs to: the one that verified the
/// address's domain (exactly that domain; a subdomain is a domain of its own).
pub async fn lookup_email(state: &AppState, email: &str) -> Result<LookupView, AdminError> {
    let domain = email_domain(email)?;
    let tenant = state
        .app
        .store
        .tenant_for_verified_domain(domain.as_str())
        .await?;
    Ok(LookupView {
        sso_required: tenant.as_ref().is_some_and(|t| t.sso_required),
        tenant: tenant.map(|t| t.slug.to_string()),
    })
}

/// Email address of a console operator: trimmed, lowercased, one `@` with text on
/// both sides, no spaces or control characters, at most 254 bytes (RFC 5321's path
/// limit). Deliverability is not checked: the address is a sign-in name.
pub fn parse_operator_email(raw: &str) -> Result<String, AdminError> {
    let email = raw.trim().to_lowercase();
    let well_formed = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if !well_formed {
        return Err(AdminError::InvalidRequest(format!(
            "{raw:?} is not an email address"
        )));
    }
    Ok(email)
}

/// Creates a console operator who signs in with `email` and `password` (hashed
/// with argon2id off the async workers; the password itself is never stored or
/// logged).
pub async fn create_operator(
    state: &AppState,
    raw_email: &str,
    password: &secrecy::SecretString,
) -> Result<OperatorView, AdminError> {
    let email = parse_operator_email(raw_email)?;
    let password_hash = idbridge_app::operators::hash(password)
        .await
        .map_err(|e| match e {
            idbridge_app::operators::PasswordError::TooShort
            | idbridge_app::operators::PasswordError::TooLong => {
                AdminError::InvalidRequest(e.to_string())
            }
            other => AdminError::internal(other),
        })?;
    let operator = Operator {
        id: Uuid::now_v7(),
        email,
        password_hash,
        created_at: state.app.clock.now(),
        disabled_at: None,
    };
    match state.app.store.create_operator(&operator).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(AdminError::InvalidRequest(format!(
                "an operator with the email {:?} already exists",
                operator.email
            )));
        }
        Err(other) => return Err(other.into()),
    }
    tracing::info!(operator = %operator.id, "console operator created");
    Ok(OperatorView {
        id: operator.id,
        email: operator.email,
        created_at: operator.created_at,
    })
}
