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

/// The guide the portal opens with: whose console the steps name, field by field.
/// The API value is the lowercase name (`entra`, `okta`, `google`, `onelogin`,
/// `jumpcloud`, `pingone`, `adfs`, `generic`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Microsoft Entra ID.
    Entra,
    Okta,
    /// Google Workspace (SAML only: it has no SCIM client for custom apps).
    Google,
    OneLogin,
    JumpCloud,
    /// PingOne (PingOne SSO and its SCIM provisioning connector).
    PingOne,
    /// Microsoft AD FS (SAML relying party trust only: it has no SCIM client).
    Adfs,
    /// Any SAML 2.0 / SCIM 2.0 IdP.
    #[default]
    Generic,
}

impl Provider {
    /// Every guide, in the order the console and the portal offer them.
    pub const ALL: [Provider; 8] = [
        Self::Entra,
        Self::Okta,
        Self::Google,
        Self::OneLogin,
        Self::JumpCloud,
        Self::PingOne,
        Self::Adfs,
        Self::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entra => "entra",
            Self::Okta => "okta",
            Self::Google => "google",
            Self::OneLogin => "onelogin",
            Self::JumpCloud => "jumpcloud",
            Self::PingOne => "pingone",
            Self::Adfs => "adfs",
            Self::Generic => "generic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The product's name, as its admins know it; `None` for the generic guide.
    pub fn vendor_name(self) -> Option<&'static str> {
        match self {
            Self::Entra => Some("Microsoft Entra ID"),
            Self::Okta => Some("Okta"),
            Self::Google => Some("Google Workspace"),
            Self::OneLogin => Some("OneLogin"),
            Self::JumpCloud => Some("JumpCloud"),
            Self::PingOne => Some("PingOne"),
            Self::Adfs => Some("Microsoft AD FS"),
            Self::Generic => None,
        }
    }

    /// Whether the IdP can push users to a custom app over SCIM. Google Workspace
    /// (auto-provisioning only for its catalog apps) and AD FS cannot: their users
    /// arrive at their first sign-in.
    pub fn pushes_scim(self) -> bool {
        !matches!(self, Self::Google | Self::Adfs)
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSetupLink {
    /// The guide the link opens with: `entra`, `okta`, `google`, `onelogin`,
    /// `jumpcloud`, `pingone`, `adfs` or `generic` (default: any SAML 2.0 / SCIM 2.0
    /// IdP).
    #[serde(default)]
    pub provider: Provider,
    /// Hours until the link stops working: 1 to 720 (default 72).
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
    /// Who it is for, e.g. "Jane, Acme IT".
    #[serde(default)]
    pub note: Option<String>,
    /// Where the portal's "Back to …" leads from this link, instead of the
    /// branding's return URL: https (http only for a loopback host).
    #[serde(default)]
    pub return_url: Option<String>,
    /// This link's support contact, instead of the branding's (either or both).
    #[serde(default)]
    pub support_email: Option<String>,
    #[serde(default)]
    pub support_url: Option<String>,
    /// E-mail the link to this address as soon as it is made (needs `--smtp-url`).
    /// Sent at once and never queued: the link carries its token, which idbridge
    /// stores nowhere. Whether it went is in the answer's `email`.
    #[serde(default)]
    pub email_to: Option<String>,
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
    /// This link's own return URL, if it has one.
    pub return_url: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
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
            return_url: link.return_url,
            support_email: link.support_email,
            support_url: link.support_url,
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
    /// Present when `email_to` was given: whether the link went out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailedLink>,
}

/// What became of e-mailing a new link. A failure leaves the link working: copy
/// and send it another way, or revoke it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EmailedLink {
    pub to: String,
    /// Whether the SMTP server accepted the message.
    pub sent: bool,
    /// Why it was not sent (the SMTP server's words or the connection's error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
    let return_url = crate::branding::check_url("return_url", input.return_url.as_deref())?;
    let support_email =
        crate::branding::check_email("support_email", input.support_email.as_deref())?;
    let support_url = crate::branding::check_url("support_url", input.support_url.as_deref())?;
    let email_to = input
        .email_to
        .as_deref()
        .map(str::trim)
        .filter(|to| !to.is_empty())
        .map(|to| check_recipient(app, to))
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
        return_url,
        support_email,
        support_url,
    };
    let audited = audit.of_tenant(
        now,
        AuditAction::SetupLinkCreated,
        &tenant,
        Some(link.id.to_string()),
        json!({
            "provider": link.provider,
            "note": link.note,
            "expires_at": link.expires_at.unix_timestamp(),
            "return_url": link.return_url,
            "support_email": link.support_email,
            "support_url": link.support_url,
            "email_to": email_to,
        }),
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
    let url = app
        .config
        .public_url
        .join(&format!("/setup?token={}", token.expose_secret()));
    let email = match email_to {
        Some(to) => Some(email_link(app, &tenant, &link, input.provider, &url, to).await),
        None => None,
    };
    Ok(SetupLinkCreated {
        url,
        email,
        link: SetupLinkView::new(link, tenant.slug.as_str(), now),
    })
}

/// The address a link may be e-mailed to; refused before anything is made when
/// this process sends no mail or the address cannot be one.
fn check_recipient(app: &App, to: &str) -> Result<String> {
    if app.mailer().is_none() {
        return Err(Error::Invalid(
            "email_to needs outgoing mail, and this idbridge has none configured (--smtp-url); \
             copy the link and send it yourself"
                .into(),
        ));
    }
    if to.len() > 254 || to.parse::<lettre::Address>().is_err() {
        return Err(Error::Invalid(format!(
            "email_to is not an e-mail address: {to:?}"
        )));
    }
    Ok(to.to_owned())
}

/// Sends the new link to `to` now (see [`CreateSetupLink::email_to`]). The link is
/// made either way; the answer says what happened.
async fn email_link(
    app: &App,
    tenant: &idbridge_store::Tenant,
    link: &SetupLinkRecord,
    provider: Provider,
    url: &str,
    to: String,
) -> EmailedLink {
    let outcome = async {
        let mailer = app
            .mailer()
            .ok_or_else(|| "no outgoing mail is configured".to_owned())?;
        let app_name = crate::mail::delivery::app_name(app)
            .await
            .map_err(|e| e.to_string())?;
        let support_email = match &link.support_email {
            Some(own) => Some(own.clone()),
            None => {
                app.store
                    .branding()
                    .await
                    .map_err(|e| e.to_string())?
                    .settings
                    .support_email
            }
        };
        let invitation = crate::mail::SetupInvitation {
            app_name,
            tenant_name: tenant.name.clone(),
            provider_name: provider.vendor_name(),
            email: to.clone(),
            setup_url: url.to_owned(),
            expires: readable_time(link.expires_at),
            support_email,
        };
        let rendered = mailer
            .templates()
            .setup_invitation(&invitation)
            .map_err(|e| e.to_string())?;
        crate::mail::delivery::send_now(mailer, &to, rendered).await
    }
    .await;
    match outcome {
        Ok(_subject) => {
            tracing::info!(tenant = %tenant.slug, link_id = %link.id, "setup link e-mailed");
            EmailedLink {
                to,
                sent: true,
                error: None,
            }
        }
        Err(error) => {
            tracing::warn!(tenant = %tenant.slug, link_id = %link.id, %error, "setup link not e-mailed");
            EmailedLink {
                to,
                sent: false,
                error: Some(error),
            }
        }
    }
}

/// `2026-12-09 14:00 UTC`.
fn readable_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
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
    /// The deployment's brand with the link's overrides.
    pub brand: crate::branding::Brand,
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
    let brand = crate::branding::brand(app).await?.for_link(&link);
    Ok(Some(LinkVisit {
        brand,
        link_id: link.id,
        provider: Provider::parse(&link.provider).unwrap_or_default(),
        expires_at: link.expires_at,
        tenant,
    }))
}

/// Where a tenant's setup stands, as the portal's steps count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupProgress {
    /// A SAML or OpenID Connect connection is configured.
    pub sso: bool,
    /// A SCIM token is active (the IdP can provision).
    pub provisioning: bool,
    /// Domains claimed, and how many of them are verified.
    pub domains: u64,
    pub domains_verified: u64,
}

impl SetupProgress {
    /// Every step is done: single sign-on, provisioning when the IdP pushes SCIM
    /// (`scim_expected`), and at least one domain, all of them verified.
    pub fn is_complete(&self, scim_expected: bool) -> bool {
        self.sso
            && (self.provisioning || !scim_expected)
            && self.domains > 0
            && self.domains_verified == self.domains
    }
}

/// Reads where the tenant's setup stands.
pub async fn progress(app: &App, tenant: &idbridge_store::Tenant) -> Result<SetupProgress> {
    let sso = !app.store.connections(tenant.id).await?.is_empty();
    let provisioning = app.store.count_active_scim_tokens(tenant.id).await? > 0;
    // Counted, not listed: a tenant may claim more domains than one page holds.
    let domains = app.store.domain_counts(tenant.id).await?;
    Ok(SetupProgress {
        sso,
        provisioning,
        domains: domains.total,
        domains_verified: domains.verified,
    })
}

/// The IT admin says setup is done ("Finish" in the portal): refused unless every
/// step is, else one `setup.completed` event in the tenant's feed (so the app hears
/// of it, by webhook or feed) and its audit record, in one write.
pub async fn complete(
    app: &App,
    tenant: &idbridge_store::Tenant,
    link_id: Uuid,
    scim_expected: bool,
    audit: &Audit,
) -> Result<SetupProgress> {
    let progress = progress(app, tenant).await?;
    if !progress.is_complete(scim_expected) {
        return Err(Error::Invalid(
            "setup is not finished yet: connect single sign-on, provisioning and verify every email domain first".into(),
        ));
    }
    let now = app.clock.now();
    let data = json!({
        "setup_link_id": link_id,
        "provisioning": progress.provisioning,
        "domains_verified": progress.domains_verified,
    });
    let event = idbridge_store::NewEvent {
        kind: idbridge_core::EventKind::SetupCompleted,
        resource_type: idbridge_core::EventResource::SetupLink,
        resource_id: link_id,
        data: data.clone(),
    };
    let audited = audit.of_tenant(
        now,
        AuditAction::SetupCompleted,
        tenant,
        Some(link_id.to_string()),
        data,
    );
    app.store
        .append_tenant_event(tenant.id, &event, now, &audited)
        .await?;
    tracing::info!(tenant = %tenant.slug, %link_id, "the IT admin finished setup");
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::Provider;

    #[test]
    fn provider_values_round_trip_and_match_serde() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_value(p).expect("serialize"),
                serde_json::json!(p.as_str()),
                "the API value is the stored value"
            );
            assert_eq!(p.vendor_name().is_none(), p == Provider::Generic);
        }
        assert_eq!(Provider::parse("ping"), None);
        assert_eq!(Provider::parse("Okta"), None, "values are lowercase");
        assert!(!Provider::Google.pushes_scim() && !Provider::Adfs.pushes_scim());
        assert!(Provider::OneLogin.pushes_scim() && Provider::Generic.pushes_scim());
    }
}
