//! Webhooks: the operator's endpoints that receive every tenant's events as signed
//! POSTs. The operations here configure them; [`delivery`] delivers the feeds.

pub mod delivery;
mod views;

pub use views::*;

use crate::audit::Audit;
use idbridge_core::audit::AuditAction;
use idbridge_core::secret::WebhookSecret;
use idbridge_core::webhook::EventFilter;
use idbridge_store::webhook::{ReplayFrom, WebhookChanges, WebhookEndpoint};
use idbridge_store::{PageRequest, Tenant};
use serde::Deserialize;
use serde_json::json;
use time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::paging::List;
use crate::tenants::{find, present_or_null, validate_text};
use crate::{App, Error, Result};

/// Endpoints per deployment: each is delivered every tenant's feed.
pub const MAX_WEBHOOKS: u64 = 50;
const MAX_DESCRIPTION_CHARS: usize = 200;
const MAX_URL_LEN: usize = 2048;
/// After a rotation the old secret keeps signing beside the new one this long, so
/// receivers can switch without dropping a delivery.
pub const SECRET_OVERLAP: Duration = Duration::hours(24);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where events are POSTed: https (http only with `--allow-private-urls`).
    #[schema(example = "https://app.example.com/hooks/idbridge")]
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Event types to deliver (`user.created`, or a prefix such as `user.*`);
    /// absent: every type.
    #[serde(default)]
    #[schema(example = json!(["user.*", "group.*"]))]
    pub event_types: Option<Vec<String>>,
    /// Only this tenant's events; absent: every tenant's.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub description: Option<String>,
    /// `null` for every type.
    #[serde(default, deserialize_with = "present_or_null")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    /// A disabled endpoint keeps its place in every feed and catches up when
    /// enabled again.
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayWebhook {
    /// One tenant's deliveries; absent: every tenant's. Required with `from_seq`.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Deliver again from this event (`seq` in the feed) on; receivers
    /// de-duplicate by event id. Absent: dead-lettered deliveries resume at the
    /// event that failed.
    #[serde(default)]
    pub from_seq: Option<i64>,
    /// Give up the event that failed and resume after it (dead-lettered
    /// deliveries only; not with `from_seq`).
    #[serde(default)]
    pub skip_failed_event: bool,
}

fn validate_url(app: &App, url: &str) -> Result<String> {
    if url.len() > MAX_URL_LEN {
        return Err(Error::InvalidWebhookUrl(format!(
            "longer than {MAX_URL_LEN} bytes"
        )));
    }
    app.fetcher()
        .check_webhook_url(url)
        .map(|u| u.to_string())
        .map_err(|e| Error::InvalidWebhookUrl(e.to_string()))
}

fn validate_types(types: Option<Vec<String>>) -> Result<Option<Vec<String>>> {
    EventFilter::parse(types)
        .map(|f| f.patterns().map(<[String]>::to_vec))
        .map_err(|e| Error::Invalid(e.to_string()))
}

fn validate_description(description: Option<&str>) -> Result<String> {
    match description.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(String::new()),
        Some(d) => validate_text("description", d, MAX_DESCRIPTION_CHARS),
    }
}

async fn find_webhook(app: &App, id: Uuid) -> Result<WebhookEndpoint> {
    app.store
        .webhook(id)
        .await?
        .ok_or(Error::NotFound("webhook"))
}

/// The endpoint's tenant, when it is one tenant's.
async fn endpoint_tenant(app: &App, e: &WebhookEndpoint) -> Result<Option<Tenant>> {
    Ok(match e.tenant_id {
        None => None,
        Some(id) => app.store.tenant_by_id(id).await?,
    })
}

/// The slug of the endpoint's tenant, for views.
async fn tenant_slug(app: &App, e: &WebhookEndpoint) -> Result<Option<String>> {
    Ok(endpoint_tenant(app, e).await?.map(|t| t.slug.to_string()))
}

pub async fn create_webhook(
    app: &App,
    input: CreateWebhook,
    audit: &Audit,
) -> Result<WebhookCreated> {
    let url = validate_url(app, &input.url)?;
    let description = validate_description(input.description.as_deref())?;
    let event_types = validate_types(input.event_types)?;
    let tenant = match &input.tenant {
        Some(slug) => Some(find(app, slug).await?),
        None => None,
    };
    if app.store.count_webhooks().await? >= MAX_WEBHOOKS {
        return Err(Error::Invalid(format!(
            "at most {MAX_WEBHOOKS} webhook endpoints"
        )));
    }
    let secret = WebhookSecret::generate();
    let now = app.clock.now();
    let endpoint = WebhookEndpoint {
        id: Uuid::now_v7(),
        url,
        description,
        event_types,
        tenant_id: tenant.as_ref().map(|t| t.id),
        secret: secret.expose_secret().to_owned(),
        previous_secret: None,
        previous_secret_until: None,
        enabled: input.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
    };
    let audited = audit.record(
        now,
        AuditAction::WebhookCreated,
        tenant.as_ref().map(|t| (t.id, &t.slug)),
        Some(endpoint.id.to_string()),
        json!({
            "url": crate::audit::url_for_record(&endpoint.url),
            "description": endpoint.description,
            "event_types": endpoint.event_types,
            "enabled": endpoint.enabled,
        }),
    );
    match app.store.create_webhook(&endpoint, Some(&audited)).await {
        Ok(()) => {}
        Err(idbridge_store::StoreError::NotFound) => {
            return Err(Error::TenantNotFound(input.tenant.unwrap_or_default()));
        }
        Err(other) => return Err(other.into()),
    }
    tracing::info!(webhook_id = %endpoint.id, "webhook endpoint created");
    let slug = tenant.map(|t| t.slug.to_string());
    Ok(WebhookCreated {
        webhook: WebhookView::new(&endpoint, slug, now),
        secret: secret.expose_secret().to_owned(),
    })
}

pub async fn get_webhook(app: &App, id: Uuid) -> Result<WebhookView> {
    let endpoint = find_webhook(app, id).await?;
    let slug = tenant_slug(app, &endpoint).await?;
    Ok(WebhookView::new(&endpoint, slug, app.clock.now()))
}

pub async fn list_webhooks(app: &App, page: PageRequest) -> Result<List<WebhookView>> {
    let page = app.store.list_webhooks(page).await?;
    let now = app.clock.now();
    let mut slugs = Vec::with_capacity(page.items.len());
    for endpoint in &page.items {
        slugs.push(tenant_slug(app, endpoint).await?);
    }
    let mut slugs = slugs.into_iter();
    Ok(List::from_page(page, |e| {
        WebhookView::new(&e, slugs.next().flatten(), now)
    }))
}

pub async fn update_webhook(
    app: &App,
    id: Uuid,
    input: UpdateWebhook,
    audit: &Audit,
) -> Result<WebhookView> {
    let changes = WebhookChanges {
        url: input
            .url
            .as_deref()
            .map(|u| validate_url(app, u))
            .transpose()?,
        description: input
            .description
            .as_deref()
            .map(|d| validate_description(Some(d)))
            .transpose()?,
        event_types: input.event_types.map(validate_types).transpose()?,
        enabled: input.enabled,
    };
    let now = app.clock.now();
    let tenant = endpoint_tenant(app, &find_webhook(app, id).await?).await?;
    let audited = audit.record(
        now,
        AuditAction::WebhookUpdated,
        tenant.as_ref().map(|t| (t.id, &t.slug)),
        Some(id.to_string()),
        json!({
            "url": changes.url.as_deref().map(crate::audit::url_for_record),
            "description": changes.description,
            "event_types": changes.event_types,
            "enabled": changes.enabled,
        }),
    );
    let endpoint = app
        .store
        .update_webhook(id, &changes, now, Some(&audited))
        .await?
        .ok_or(Error::NotFound("webhook"))?;
    let slug = tenant_slug(app, &endpoint).await?;
    Ok(WebhookView::new(&endpoint, slug, now))
}

pub async fn delete_webhook(app: &App, id: Uuid, audit: &Audit) -> Result<()> {
    let tenant = endpoint_tenant(app, &find_webhook(app, id).await?).await?;
    let audited = audit.record(
        app.clock.now(),
        AuditAction::WebhookDeleted,
        tenant.as_ref().map(|t| (t.id, &t.slug)),
        Some(id.to_string()),
        json!({}),
    );
    if app.store.delete_webhook(id, Some(&audited)).await? {
        tracing::info!(webhook_id = %id, "webhook endpoint deleted");
        Ok(())
    } else {
        Err(Error::NotFound("webhook"))
    }
}

/// A new signing secret, shown once; the previous one signs beside it for
/// [`SECRET_OVERLAP`].
pub async fn rotate_webhook_secret(app: &App, id: Uuid, audit: &Audit) -> Result<WebhookCreated> {
    let secret = WebhookSecret::generate();
    let now = app.clock.now();
    let tenant = endpoint_tenant(app, &find_webhook(app, id).await?).await?;
    let audited = audit.record(
        now,
        AuditAction::WebhookSecretRotated,
        tenant.as_ref().map(|t| (t.id, &t.slug)),
        Some(id.to_string()),
        json!({"previous_secret_valid_until": (now + SECRET_OVERLAP).unix_timestamp()}),
    );
    if !app
        .store
        .rotate_webhook_secret(
            id,
            secret.expose_secret(),
            now + SECRET_OVERLAP,
            now,
            Some(&audited),
        )
        .await?
    {
        return Err(Error::NotFound("webhook"));
    }
    tracing::info!(webhook_id = %id, "webhook signing secret rotated");
    Ok(WebhookCreated {
        webhook: get_webhook(app, id).await?,
        secret: secret.expose_secret().to_owned(),
    })
}

pub async fn webhook_tenants(
    app: &App,
    id: Uuid,
    page: PageRequest,
) -> Result<List<WebhookTenantView>> {
    find_webhook(app, id).await?;
    Ok(List::from_page(
        app.store.webhook_cursors(id, page).await?,
        WebhookTenantView::from,
    ))
}

/// How many of the endpoint's tenants are retrying and dead (for the console's
/// list: which endpoint needs a look).
pub async fn webhook_trouble(
    app: &App,
    id: Uuid,
) -> Result<idbridge_store::webhook::WebhookTrouble> {
    Ok(app.store.webhook_trouble(id).await?)
}

pub async fn webhook_attempts(
    app: &App,
    id: Uuid,
    tenant: Option<&str>,
    page: PageRequest,
) -> Result<List<WebhookAttemptView>> {
    find_webhook(app, id).await?;
    let tenant_id = match tenant {
        Some(slug) => Some(find(app, slug).await?.id),
        None => None,
    };
    Ok(List::from_page(
        app.store.webhook_attempts(id, tenant_id, page).await?,
        WebhookAttemptView::from,
    ))
}

pub async fn replay_webhook(
    app: &App,
    id: Uuid,
    input: ReplayWebhook,
    audit: &Audit,
) -> Result<ReplayView> {
    let endpoint = find_webhook(app, id).await?;
    let tenant = match &input.tenant {
        Some(slug) => Some(find(app, slug).await?),
        None => None,
    };
    let from = match (input.from_seq, input.skip_failed_event) {
        (Some(_), true) => {
            return Err(Error::Invalid(
                "from_seq and skip_failed_event exclude each other".into(),
            ));
        }
        (Some(seq), false) => {
            if seq < 1 {
                return Err(Error::Invalid(
                    "from_seq is a feed position, 1 or more".into(),
                ));
            }
            if tenant.is_none() {
                return Err(Error::Invalid(
                    "from_seq needs a tenant: positions are per tenant".into(),
                ));
            }
            ReplayFrom::Seq(seq)
        }
        (None, true) => ReplayFrom::SkipFailedEvent,
        (None, false) => ReplayFrom::FailedEvent,
    };
    let now = app.clock.now();
    // The record names the tenant whose deliveries were replayed, or else the
    // endpoint's own tenant.
    let record_tenant = match &tenant {
        Some(t) => Some(t.clone()),
        None => endpoint_tenant(app, &endpoint).await?,
    };
    let audited = audit.record(
        now,
        AuditAction::WebhookReplayed,
        record_tenant.as_ref().map(|t| (t.id, &t.slug)),
        Some(id.to_string()),
        json!({
            "from_seq": input.from_seq,
            "skip_failed_event": input.skip_failed_event,
        }),
    );
    let resumed = app
        .store
        .replay_webhook(id, tenant.map(|t| t.id), from, now, Some(&audited))
        .await?;
    tracing::info!(webhook_id = %id, resumed, ?from, "webhook deliveries replayed");
    Ok(ReplayView { resumed })
}
