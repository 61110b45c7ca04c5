//! The app's OpenID Connect clients (the SaaS app, or one of its environments).

use crate::audit::Audit;
use idbridge_core::RedirectUri;
use idbridge_core::audit::AuditAction;
use idbridge_core::secret::ClientSecret;
use idbridge_store::{OidcClient, Page, PageRequest, StoreError};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::tenants::{MAX_NAME_CHARS, validate_text};
use crate::{App, Error, Result};

pub const MAX_REDIRECT_URIS: usize = 20;

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

/// A client just created, with its secret (confidential clients only): the one
/// moment the secret exists outside the app's configuration.
pub struct CreatedClient {
    pub client: OidcClient,
    pub secret: Option<ClientSecret>,
}

pub async fn create(app: &App, input: CreateClient, audit: &Audit) -> Result<CreatedClient> {
    let name = validate_text("name", &input.name, MAX_NAME_CHARS)?;
    if input.redirect_uris.is_empty() {
        return Err(Error::Invalid(
            "redirect_uris must list at least one URI".into(),
        ));
    }
    if input.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(Error::Invalid(format!(
            "at most {MAX_REDIRECT_URIS} redirect_uris per client"
        )));
    }
    let mut redirect_uris: Vec<RedirectUri> = Vec::with_capacity(input.redirect_uris.len());
    for raw in &input.redirect_uris {
        let uri = RedirectUri::parse(raw).map_err(|e| Error::Invalid(e.to_string()))?;
        if redirect_uris.contains(&uri) {
            return Err(Error::Invalid(format!(
                "redirect URI {raw:?} is listed twice"
            )));
        }
        redirect_uris.push(uri);
    }
    let id_token_alg = match input.id_token_signed_response_alg.as_deref() {
        None => idbridge_oidc::SigningAlgorithm::Rs256,
        Some(alg) => idbridge_oidc::SigningAlgorithm::parse(alg).ok_or_else(|| {
            Error::Invalid(format!(
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
        created_at: app.clock.now(),
    };
    let audited = audit.record(
        client.created_at,
        AuditAction::ClientCreated,
        None,
        Some(client.id.to_string()),
        json!({
            "name": client.name,
            "redirect_uris": client.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
            "public": client.is_public,
            "id_token_alg": client.id_token_alg,
        }),
    );
    app.store
        .create_client(
            &client,
            secret.as_ref().map(|s| s.hash()).as_ref(),
            Some(&audited),
        )
        .await?;
    tracing::info!(client_id = %client.id, public = client.is_public, "OIDC client created");
    Ok(CreatedClient { client, secret })
}

pub async fn get(app: &App, id: Uuid) -> Result<OidcClient> {
    app.store
        .client_by_id(id)
        .await?
        .ok_or(Error::NotFound("client"))
}

pub async fn list(app: &App, page: PageRequest) -> Result<Page<OidcClient>> {
    Ok(app.store.list_clients(page).await?)
}

pub async fn delete(app: &App, id: Uuid, audit: &Audit) -> Result<()> {
    let audited = audit.record(
        app.clock.now(),
        AuditAction::ClientDeleted,
        None,
        Some(id.to_string()),
        json!({}),
    );
    match app.store.delete_client(id, Some(&audited)).await {
        Ok(()) => {
            tracing::info!(client_id = %id, "OIDC client deleted");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(Error::NotFound("client")),
        Err(other) => Err(other.into()),
    }
}
