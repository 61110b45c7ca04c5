//! The answers of the operator-facing operations, as the admin API, the CLI and the
//! console show them (JSON field names are the admin API's). Views never hold a
//! secret except the `*Created` ones, which are returned once, at creation.

use idbridge_core::domain::txt_record_value;
use idbridge_store::{
    AdminKeyRecord, DirectoryEvent, DomainCounts, OidcClient, Operator, ScimTokenRecord, Tenant,
    TenantDomain,
};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::PublicUrl;
use crate::clients::CreatedClient;
use crate::credentials::{CreatedAdminKey, IssuedScimToken};
use crate::tenants::TenantOverview;

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
    /// SAML sign-ins and SCIM users must have an email at a domain this tenant verified.
    pub require_verified_domains: bool,
    /// Role for users whose IdP sends none.
    pub default_role: Option<String>,
    /// `highest` or `all`: what a user with several app roles gets.
    pub role_policy: String,
    /// Each user created from now on gets a `user.invited` event (and an e-mail).
    pub invite_new_users: bool,
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
            require_verified_domains: t.require_verified_domains,
            default_role: t.default_role,
            role_policy: t.role_policy.as_str().to_owned(),
            invite_new_users: t.invite_new_users,
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
    /// How many email domains the tenant claims and how many are verified (the
    /// domains themselves: `GET /tenants/{slug}/domains`, a paged list).
    pub domains: DomainsSummary,
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
pub struct DomainsSummary {
    pub total: u64,
    /// Domains whose TXT record was found: sign-ins with these addresses go to
    /// this tenant.
    pub verified: u64,
}

impl From<DomainCounts> for DomainsSummary {
    fn from(c: DomainCounts) -> Self {
        Self {
            total: c.total,
            verified: c.verified,
        }
    }
}

/// A tenant's claim on an email domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainView {
    /// Normalised: lowercase, punycode for internationalised names.
    #[schema(example = "example.com")]
    pub domain: String,
    pub verified: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<OffsetDateTime>,
    /// When DNS was last asked (by `verify` or the daily re-check).
    #[serde(with = "time::serde::rfc3339::option")]
    pub checked_at: Option<OffsetDateTime>,
    /// Why the last check did not verify: `txt_record_not_found`, `nxdomain`,
    /// `dns_timeout`, `dns_error`, `txt_record_missing` (the daily re-check found the
    /// record gone), `claimed_by_another_tenant`. A verified domain whose re-check
    /// could not reach DNS stays verified with the error noted.
    #[schema(example = "txt_record_not_found")]
    pub verification_error: Option<String>,
    /// The record to publish; the same for the life of the claim.
    pub txt_record: TxtRecordView,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TxtRecordView {
    #[schema(example = "_idbridge-verification.example.com")]
    pub name: String,
    #[schema(example = "idbridge-verification=3q2-7wLhYf0mXk1bJ9a8Zc4uVd5sRt6E")]
    pub value: String,
}

impl From<TenantDomain> for DomainView {
    fn from(d: TenantDomain) -> Self {
        Self {
            txt_record: TxtRecordView {
                name: format!("{}.{}", idbridge_core::domain::TXT_RECORD_LABEL, d.domain),
                value: txt_record_value(&d.verification_token),
            },
            domain: d.domain,
            verified: d.verified,
            verified_at: d.verified_at,
            checked_at: d.checked_at,
            verification_error: d.verification_error,
            created_at: d.created_at,
        }
    }
}

/// Where a sign-in with an email address goes.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupView {
    /// The slug of the tenant that verified the address's domain; `null` if none has.
    #[schema(example = "acme")]
    pub tenant: Option<String>,
    /// Whether that tenant turned password login off (`false` when no tenant).
    pub sso_required: bool,
    /// The connection a sign-in with this address goes through (the one serving
    /// its domain, else the tenant's default); absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<LookupConnection>,
}

/// Which connection `GET /lookup` found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LookupConnection {
    pub id: uuid::Uuid,
    /// `saml` or `oidc`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
}

impl TenantDetail {
    pub fn new(overview: TenantOverview, public_url: &PublicUrl) -> Self {
        let slug = overview.tenant.slug.clone();
        Self {
            tenant: overview.tenant.into(),
            saml: SamlSummary {
                configured: overview.saml_configured,
                sp_entity_id: public_url.saml_entity_id(&slug),
                acs_url: public_url.saml_acs_url(&slug),
                sp_metadata_url: public_url.saml_metadata_url(&slug),
            },
            scim: ScimSummary {
                base_url: public_url.scim_base_url(&slug),
                active_tokens: overview.active_scim_tokens,
            },
            domains: overview.domains.into(),
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
    /// `RS256` or `ES256`.
    pub id_token_signed_response_alg: String,
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
            id_token_signed_response_alg: c.id_token_alg,
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

impl From<CreatedClient> for ClientCreated {
    fn from(created: CreatedClient) -> Self {
        Self {
            client: created.client.into(),
            client_secret: created.secret.map(|s| s.expose_secret().to_owned()),
        }
    }
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

impl ScimTokenCreated {
    pub fn new(issued: IssuedScimToken, public_url: &PublicUrl) -> Self {
        Self {
            id: issued.record.id,
            token: issued.token.expose_secret().to_owned(),
            scim_base_url: public_url.scim_base_url(&issued.tenant.slug),
            description: issued.record.description,
            created_at: issued.record.created_at,
        }
    }
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

impl From<CreatedAdminKey> for AdminKeyCreated {
    fn from(created: CreatedAdminKey) -> Self {
        Self {
            key: created.record.into(),
            admin_api_key: created.key.expose_secret().to_owned(),
        }
    }
}

/// A console operator (never the password hash).
#[derive(Debug, Serialize)]
pub struct OperatorView {
    pub id: Uuid,
    pub email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Operator> for OperatorView {
    fn from(o: Operator) -> Self {
        Self {
            id: o.id,
            email: o.email,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Unique id, for de-duplication.
    pub id: Uuid,
    /// Position in the tenant's feed (gapless, increasing).
    pub seq: i64,
    /// `user.created`, `user.updated`, `user.deactivated`, `user.reactivated`,
    /// `user.deleted`, `group.created`, `group.updated`, `group.deleted`,
    /// `group.member_added`, `group.member_removed`, `sign_in.succeeded`,
    /// `sign_in.failed`, `domain.verified`, `domain.unverified`,
    /// `saml.certificate_expiring`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: idbridge_core::EventKind,
    pub tenant: String,
    #[schema(value_type = String)]
    pub resource_type: idbridge_core::EventResource,
    pub resource_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    #[schema(value_type = Object)]
    pub data: Value,
}

impl EventView {
    /// The feed's and the webhooks' one shape of an event.
    pub fn new(event: DirectoryEvent, tenant_slug: &str) -> Self {
        Self {
            id: event.id,
            seq: event.seq,
            kind: event.kind,
            tenant: tenant_slug.to_owned(),
            resource_type: event.resource_type,
            resource_id: event.resource_id,
            occurred_at: event.occurred_at,
            data: event.data,
        }
    }
}

pub use crate::paging::{DEFAULT_LIMIT, List, encode_cursor, page_request};
