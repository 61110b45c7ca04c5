//! The audit log: every change an operator makes (the admin API, the console, the
//! setup portal, the CLI) is recorded with who made it and from where. A record is
//! built here and handed to the store with the change, which writes both in one
//! transaction.

use idbridge_core::TenantSlug;
use idbridge_core::audit::{ActorKind, AuditAction};
use idbridge_store::{Actor, AuditFilter, AuditRecord, Page, PageRequest, Tenant};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{App, Error, Result};

/// Who is making a change, and from which address: every operator write takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    actor: Actor,
    ip: Option<String>,
}

impl Audit {
    /// The admin API, authenticated with the admin key `key_id` (`bootstrap` for
    /// `--admin-api-key`).
    pub fn admin_key(key_id: String, ip: Option<String>) -> Self {
        Self::new(ActorKind::AdminKey, Some(key_id), ip)
    }

    /// The console, signed in as the operator with this email.
    pub fn operator(email: &str, ip: Option<String>) -> Self {
        Self::new(ActorKind::Operator, Some(email.to_owned()), ip)
    }

    /// The setup portal, through the setup link `id`.
    pub fn setup_link(id: Uuid, ip: Option<String>) -> Self {
        Self::new(ActorKind::SetupLink, Some(id.to_string()), ip)
    }

    /// An operator command run on the server as the OS user `user` (when known).
    pub fn cli(user: Option<String>) -> Self {
        Self::new(ActorKind::Cli, user, None)
    }

    fn new(kind: ActorKind, id: Option<String>, ip: Option<String>) -> Self {
        Self {
            actor: Actor { kind, id },
            ip,
        }
    }

    /// The record of `action` on `tenant` (and `target` in it), now; `changes` is
    /// redacted here, so no caller can forget.
    pub(crate) fn record(
        &self,
        now: OffsetDateTime,
        action: AuditAction,
        tenant: Option<(Uuid, &TenantSlug)>,
        target: Option<String>,
        mut changes: Value,
    ) -> AuditRecord {
        redact(&mut changes);
        AuditRecord {
            id: Uuid::now_v7(),
            at: now,
            actor: self.actor.clone(),
            action,
            tenant_id: tenant.map(|(id, _)| id),
            tenant_slug: tenant.map(|(_, slug)| slug.to_string()),
            target,
            ip: self.ip.clone(),
            changes,
        }
    }

    /// [`Audit::record`] of a change to `tenant`.
    pub(crate) fn of_tenant(
        &self,
        now: OffsetDateTime,
        action: AuditAction,
        tenant: &Tenant,
        target: Option<String>,
        changes: Value,
    ) -> AuditRecord {
        self.record(
            now,
            action,
            Some((tenant.id, &tenant.slug)),
            target,
            changes,
        )
    }
}

/// Field names whose values an audit record never carries, compared
/// case-insensitively as substrings (`client_secret`, `signingSecret`, …).
const SECRET_FIELDS: &[&str] = &["secret", "token", "password", "private_key", "key_pem"];

/// How a record names a URL that may carry a secret (a webhook's, where services
/// such as Slack put the credential in the path or the query): its origin, which a
/// reviewer needs ("where do events go?"), and the SHA-256 of the whole URL, which
/// tells a change apart without keeping what it says.
pub(crate) fn url_for_record(url: &str) -> Value {
    let origin = url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization());
    let digest: String = idbridge_core::secret::SecretHash::of(url)
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    serde_json::json!({ "origin": origin, "sha256": digest })
}

/// `changes` with every value under a secret-looking key replaced by
/// `"[redacted]"`, at any depth: a record says that a secret changed, never what it is.
/// Whatever its shape: a string, a number, a list of secrets or an object holding
/// one. Only `true`/`false` and `null` stay (`has_client_secret: true`, a secret
/// removed), since they say nothing secret.
pub fn redact(changes: &mut Value) {
    match changes {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let lowered = key.to_ascii_lowercase();
                let revealing = !matches!(value, Value::Bool(_) | Value::Null);
                if revealing && SECRET_FIELDS.iter().any(|s| lowered.contains(s)) {
                    *value = Value::String("[redacted]".into());
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// One record of `GET /api/v1/audit-log`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: ActorView,
    /// `tenant.created`, `user.updated`, …
    #[schema(value_type = String, example = "tenant.updated")]
    pub action: AuditAction,
    /// The tenant's slug, if the change was to a tenant.
    pub tenant: Option<String>,
    /// What in the tenant was changed (a user's id, a domain, …).
    pub target: Option<String>,
    /// The client address the change came from; none for the CLI.
    pub ip: Option<String>,
    /// What was changed, secrets redacted.
    #[schema(value_type = Object)]
    pub changes: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// `admin_key`, `operator`, `setup_link` or `cli`.
    #[schema(value_type = String, example = "admin_key")]
    pub kind: ActorKind,
    /// The admin key's id (`bootstrap` for `--admin-api-key`), the operator's email,
    /// the setup link's id, or the OS user who ran the CLI.
    pub id: Option<String>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor: ActorView {
                kind: r.actor.kind,
                id: r.actor.id,
            },
            action: r.action,
            tenant: r.tenant_slug,
            target: r.target,
            ip: r.ip,
            changes: r.changes,
        }
    }
}

/// The filters of `GET /api/v1/audit-log`, as given.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    pub tenant: Option<&'a str>,
    /// An actor kind (`operator`), an actor id, or `kind:id`.
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
}

/// Records, newest first.
pub async fn list(app: &App, query: AuditQuery<'_>, page: PageRequest) -> Result<Page<AuditView>> {
    let mut filter = AuditFilter::default();
    if let Some(slug) = query.tenant {
        filter.tenant_slug = Some(TenantSlug::parse(slug)?.to_string());
    }
    if let Some(actor) = query.actor.filter(|a| !a.is_empty()) {
        match actor.split_once(':') {
            Some((kind, id)) => {
                filter.actor_kind = Some(actor_kind(kind)?);
                filter.actor_id = Some(id.to_owned());
            }
            None => match ActorKind::parse(actor) {
                Some(kind) => filter.actor_kind = Some(kind),
                None => filter.actor_id = Some(actor.to_owned()),
            },
        }
    }
    if let Some(action) = query.action.filter(|a| !a.is_empty()) {
        filter.action = Some(AuditAction::parse(action).ok_or_else(|| {
            Error::Invalid(format!(
                "action {action:?} is not one of: {}",
                AuditAction::ALL
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?);
    }
    let page = app.store.list_audit(&filter, page).await?;
    Ok(Page {
        items: page.items.into_iter().map(AuditView::from).collect(),
        next_after: page.next_after,
    })
}

fn actor_kind(kind: &str) -> Result<ActorKind> {
    ActorKind::parse(kind).ok_or_else(|| {
        Error::Invalid(format!(
            "actor kind {kind:?} is not one of: admin_key, operator, setup_link, cli"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth_and_in_any_shape() {
        let mut changes = json!({
            "name": "Acme",
            "oidc": {"client_id": "abc", "client_secret": "s3cret"},
            "hooks": [{"signingSecret": "x", "url": "https://a"}],
            "Password": "p",
            "scim_token": "t",
            "has_client_secret": true,
            "secrets": ["one", "two"],
            "signing_key_pem": {"pem": "-----BEGIN"},
            "pin_token": 123456,
            "client_secret_removed": null,
        });
        redact(&mut changes);
        assert_eq!(
            changes,
            json!({
                "name": "Acme",
                "oidc": {"client_id": "abc", "client_secret": "[redacted]"},
                "hooks": [{"signingSecret": "[redacted]", "url": "https://a"}],
                "Password": "[redacted]",
                "scim_token": "[redacted]",
                "has_client_secret": true,
                "secrets": "[redacted]",
                "signing_key_pem": "[redacted]",
                "pin_token": "[redacted]",
                "client_secret_removed": null,
            })
        );
    }
}
