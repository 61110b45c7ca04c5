//! Setup links: how the operator lets a tenant's IT admin into the setup portal of
//! that one tenant, without an idbridge account. A link is a random token stored as
//! a digest, bound to one tenant, expiring and revocable.

use crate::audit::Audit;
use idbridge_core::audit::AuditAction;
use idbridge_core::secret::SetupLinkToken;
use idbridge_store::{PageRequest, SetupLinkRecord, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::paging::List;
use crate::tenants::{find, validate_text};
use crate::{App, Error, Result};

/// How long a link lasts unless the operator says otherwise.
pub const DEFAULT_LIFETIME_HOURS: u32 = 72;
/// The longest a link may last: a month.
pub const MAX_LIFETIME_HOURS: u32 = 24 * 30;

/// The guide the portal opens with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft Entra ID.
    Entra,
    Okta,
    /// Any SAML 2.0 / SCIM 2.0 IdP.
    #[default]
    Generic,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entra => "entra",
            Self::Okta => "okta",
            Self::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "entra" => Some(Self::Entra),
            "okta" => Some(Self::Okta),
            "generic" => Some(Self::Generic),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSetupLink {
    /// `entra`, `okta` or `generic` (default).
    #[serde(default)]
    pub provider: Provider,
    /// Hours until the link stops working: 1 to 720 (default 72).
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
    /// Who it is for, e.g. "Jane, Acme IT".
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SetupLinkView {
    pub id: Uuid,
    pub tenant: String,
    pub provider: String,
    pub note: Option<String>,
    /// `active`, `expired` or `revoked`.
    #[schema(example = "active")]
    pub state: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl SetupLinkView {
    fn new(link: SetupLinkRecord, tenant: &str, now: OffsetDateTime) -> Self {
        let state = if link.revoked_at.is_some() {
            "revoked"
        } else if link.expires_at <= now {
            "expired"
        } else {
            "active"
        };
        Self {
            id: link.id,
            tenant: tenant.to_owned(),
            provider: link.provider,
            note: link.note,
            state,
            created_at: link.created_at,
            expires_at: link.expires_at,
            last_used_at: link.last_used_at,
            revoked_at: link.revoked_at,
        }
    }
}

/// A link just created: the only answer that carries its URL (the token is in it).
#[derive(Serialize, ToSchema)]
pub struct SetupLinkCreated {
    #[serde(flatten)]
    pub link: SetupLinkView,
    /// Send this to the tenant's IT admin. Shown once; only a digest is stored.
    pub url: String,
}

pub async fn create_setup_link(
    app: &App,
    slug: &str,
    input: CreateSetupLink,
    audit: &Audit,
) -> Result<SetupLinkCreated> {
    let tenant = find(app, slug).await?;
    let hours = input.expires_in_hours.unwrap_or(DEFAULT_LIFETIME_HOURS);
    if !(1..=MAX_LIFETIME_HOURS).contains(&hours) {
        return Err(Error::Invalid(format!(
            "expires_in_hours must be between 1 and {MAX_LIFETIME_HOURS}"
        )));
    }
    let note = input
        .note
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(|n| validate_text("note", n, 200))
        .transpose()?;
    let token = SetupLinkToken::generate();
    let now = app.clock.now();
    let link = SetupLinkRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        provider: input.provider.as_str().to_owned(),
        note,
        created_at: now,
        expires_at: now + Duration::hours(i64::from(hours)),
        last_used_at: None,
        revoked_at: None,
    };
    let audited = audit.of_tenant(
        now,
        AuditAction::SetupLinkCreated,
        &tenant,
        Some(link.id.to_string()),
        json!({"provider": link.provider, "note": link.note, "expires_at": link.expires_at.unix_timestamp()}),
    );
    match app
        .store
        .create_setup_link(&link, &token.hash(), Some(&audited))
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(Error::TenantNotFound(slug.to_owned())),
        Err(other) => return Err(other.into()),
    }
    tracing::info!(tenant = %tenant.slug, link_id = %link.id, "setup link created");
    Ok(SetupLinkCreated {
        url: app
            .config
            .public_url
            .join(&format!("/setup?token={}", token.expose_secret())),
        link: SetupLinkView::new(link, tenant.slug.as_str(), now),
    })
}

pub async fn list_setup_links(
    app: &App,
    slug: &str,
    page: PageRequest,
) -> Result<List<SetupLinkView>> {
    let tenant = find(app, slug).await?;
    let now = app.clock.now();
    Ok(List::from_page(
        app.store.list_setup_links(tenant.id, page).await?,
        |link| SetupLinkView::new(link, tenant.slug.as_str(), now),
    ))
}

pub async fn revoke_setup_link(app: &App, slug: &str, id: Uuid, audit: &Audit) -> Result<()> {
    let tenant = find(app, slug).await?;
    let now = app.clock.now();
    let audited = audit.of_tenant(
        now,
        AuditAction::SetupLinkRevoked,
        &tenant,
        Some(id.to_string()),
        json!({}),
    );
    match app
        .store
        .revoke_setup_link(tenant.id, id, now, Some(&audited))
        .await
    {
        Ok(()) => {
            tracing::info!(tenant = %tenant.slug, link_id = %id, "setup link revoked");
            Ok(())
        }
        Err(StoreError::NotFound) => Err(Error::NotFound("setup link")),
        Err(other) => Err(other.into()),
    }
}

/// A usable setup link, as a portal visit presents it.
#[derive(Debug, Clone)]
pub struct LinkVisit {
    pub link_id: Uuid,
    /// The link's tenant: the only tenant the visit can read or change.
    pub tenant: idbridge_store::Tenant,
    /// The guide the operator chose for the link.
    pub provider: Provider,
    pub expires_at: OffsetDateTime,
}

/// The link `token` is for, if it is still usable (not expired, not revoked);
/// refreshes its last use at most once a minute. Looked up on every portal request,
/// so revocation and expiry act at once on every process.
pub async fn visit(app: &App, token: &SetupLinkToken) -> Result<Option<LinkVisit>> {
    let now = app.clock.now();
    let Some((link, tenant)) = app.store.usable_setup_link(&token.hash(), now).await? else {
        return Ok(None);
    };
    if link
        .last_used_at
        .is_none_or(|at| now - at >= crate::credentials::LAST_USED_GRANULARITY)
    {
        app.store.touch_setup_link(link.id, now).await?;
    }
    Ok(Some(LinkVisit {
        link_id: link.id,
        provider: Provider::parse(&link.provider).unwrap_or_default(),
        expires_at: link.expires_at,
        tenant,
    }))
}
