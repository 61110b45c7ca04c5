//! What the admin API (and the CLI) answers with. Views never hold a secret except
//! the `*Created` ones, which are returned once, at creation.

use idbridge_store::{AdminKeyRecord, OidcClient, ScimTokenRecord, Tenant};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::state::PublicUrl;

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = "Acme Inc")]
    pub name: String,
    /// Password login is off for this tenant's users: the app must send them to SSO.
    pub sso_required: bool,
    /// SAML sign-ins may create users that SCIM has not provisioned.
    pub jit_enabled: bool,
    /// Role for users whose IdP sends none.
    pub default_role: Option<String>,
    /// `highest` or `all`: what a user with several app roles gets.
    pub role_policy: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id,
            slug: t.slug.to_string(),
            name: t.name,
            sso_required: t.sso_required,
            jit_enabled: t.jit_enabled,
            default_role: t.default_role,
            role_policy: t.role_policy.as_str().to_owned(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A tenant with the summaries of its SAML, SCIM and domain setup.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDetail {
    #[serde(flatten)]
    pub tenant: TenantView,
    pub saml: SamlSummary,
    pub scim: ScimSummary,
    /// The tenant's email domains. Domain verification arrives with the domains API;
    /// until then this list is always empty.
    pub domains: Vec<DomainSummary>,
}

/// The values an IdP admin copies first ("Identifier (Entity ID)", "Reply URL").
#[derive(Debug, Serialize, ToSchema)]
pub struct SamlSummary {
    /// Whether an IdP connection is configured (`PUT /tenants/{slug}/saml`).
    pub configured: bool,
    pub sp_entity_id: String,
    pub acs_url: String,
    pub sp_metadata_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimSummary {
    /// The "Tenant URL" for Entra ID, the SCIM base URL for Okta.
    pub base_url: String,
    /// SCIM tokens that are not revoked.
    pub active_tokens: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainSummary {
    pub domain: String,
    pub verified: bool,
}

impl TenantDetail {
    pub fn new(
        tenant: Tenant,
        public_url: &PublicUrl,
        active_tokens: u64,
        saml_configured: bool,
    ) -> Self {
        let slug = tenant.slug.clone();
        Self {
            tenant: tenant.into(),
            saml: SamlSummary {
                configured: saml_configured,
                sp_entity_id: public_url.saml_entity_id(&slug),
                acs_url: public_url.saml_acs_url(&slug),
                sp_metadata_url: public_url.saml_metadata_url(&slug),
            },
            scim: ScimSummary {
                base_url: public_url.scim_base_url(&slug),
                active_tokens,
            },
            domains: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// The OAuth `client_id`.
    pub client_id: Uuid,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// A public client has no secret and must use PKCE.
    pub public: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<OidcClient> for ClientView {
    fn from(c: OidcClient) -> Self {
        Self {
            client_id: c.id,
            name: c.name,
            redirect_uris: c.redirect_uris.into_iter().map(String::from).collect(),
            public: c.is_public,
            created_at: c.created_at,
        }
    }
}

/// A client just created: the only answer that carries its secret.
#[derive(Serialize, ToSchema)]
pub struct ClientCreated {
    #[serde(flatten)]
    pub client: ClientView,
    /// Shown once; only its digest is stored. Absent for public clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenView {
    pub id: Uuid,
    pub description: Option<String>,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<ScimTokenRecord> for ScimTokenView {
    fn from(t: ScimTokenRecord) -> Self {
        Self {
            id: t.id,
            description: t.description,
            active: t.revoked_at.is_none(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A SCIM token just created: the only answer that carries it.
#[derive(Serialize, ToSchema)]
pub struct ScimTokenCreated {
    pub id: Uuid,
    /// The "Secret Token" for Entra ID, the "API Token" for Okta. Shown once; only
    /// its digest is stored.
    pub token: String,
    /// The "Tenant URL" for Entra ID, the SCIM base URL for Okta.
    pub scim_base_url: String,
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminKeyView {
    pub id: Uuid,
    pub name: String,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<AdminKeyRecord> for AdminKeyView {
    fn from(k: AdminKeyRecord) -> Self {
        Self {
            id: k.id,
            name: k.name,
            active: k.revoked_at.is_none(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Serialize)]
pub struct AdminKeyCreated {
    #[serde(flatten)]
    pub key: AdminKeyView,
    /// Shown once; only its digest is stored.
    pub admin_api_key: String,
}
