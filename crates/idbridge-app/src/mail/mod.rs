//! E-mail: the invitation a user gets when created while the tenant's
//! `invite_new_users` is on, queued in the mail outbox and sent over SMTP
//! (`--smtp-url`, `--mail-from`, `--invite-url`).
//!
//! - Queuing: the write that creates the user queues the message in its own
//!   transaction ([`idbridge_store::NewMail::invitation`], inserted by the directory
//!   repo), so the message exists exactly when the user does, and queuing can never
//!   fail the request: it is one insert, with no rendering and no network.
//! - Sending: [`delivery`], a background job of every process while SMTP is set,
//!   claims due messages with a lease, renders each from the templates at that
//!   moment (so the outbox keeps facts, not markup: a message reflects the tenant's
//!   current name and the current templates), and marks it sent only after the SMTP
//!   server's 250. A failure is retried with backoff, and after a day given up.
//! - Rendering: this crate knows no templates (no HTML is assembled here); the
//!   binary hands [`Mailer`] the server's askama templates, through
//!   [`MailTemplates`].

pub mod delivery;
mod settings;

use std::sync::Arc;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

pub use settings::{InvalidMailSettings, InviteUrl, MailSettings, SmtpSecurity, SmtpUrl};

/// What an invitation says, in plain values; the templates turn it into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The app the user is invited to (the name of the operator's first OIDC
    /// client; else the public URL's host).
    pub app_name: String,
    /// The tenant's display name.
    pub tenant_name: String,
    /// The user's name when the directory has one (displayName, else given and
    /// family name).
    pub user_name: Option<String>,
    /// The address it goes to.
    pub email: String,
    /// Where the user signs in (see [`InviteUrl`]).
    pub sign_in_url: String,
}

/// What the e-mail carrying a setup link says: the tenant's IT admin is asked to
/// connect its identity provider in the setup portal. Sent at once, never queued:
/// the link carries its token, which idbridge keeps nowhere.
#[derive(Clone, PartialEq, Eq)]
pub struct SetupInvitation {
    /// The app the tenant signs in to (as in [`Invitation::app_name`]).
    pub app_name: String,
    pub tenant_name: String,
    /// The identity provider the link's guide is for ("Microsoft Entra ID"), when
    /// the operator chose one.
    pub provider_name: Option<&'static str>,
    /// The address it goes to.
    pub email: String,
    /// The setup link (its token included).
    pub setup_url: String,
    /// When the link stops working, as people read it ("2026-12-09 14:00 UTC").
    pub expires: String,
    /// Whom to ask (the link's or the branding's support address), if set.
    pub support_email: Option<String>,
}

impl std::fmt::Debug for SetupInvitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the link's token.
        f.debug_struct("SetupInvitation")
            .field("tenant_name", &self.tenant_name)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A message ready to send: a subject (one line) and the same text twice, plain and
/// HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A template that could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("the {template} mail template failed: {reason}")]
pub struct RenderError {
    pub template: &'static str,
    pub reason: String,
}

/// The message templates (the server's askama templates, auto-escaped; given to
/// [`Mailer::new`] by the binary).
pub trait MailTemplates: Send + Sync + 'static {
    fn invitation(&self, invitation: &Invitation) -> Result<RenderedMail, RenderError>;
    fn setup_invitation(&self, invitation: &SetupInvitation) -> Result<RenderedMail, RenderError>;
}

/// The outbound mail configuration of a process: the SMTP transport, the sender,
/// the sign-in link and the templates. An [`crate::App`] with one queues
/// invitations and runs [`delivery`].
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    invite_url: Option<InviteUrl>,
    /// The SMTP server, for logs: never the password.
    server: String,
    templates: Arc<dyn MailTemplates>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The transport is built now (TLS settings included); it connects on the first
    /// message.
    pub fn new(
        settings: MailSettings,
        templates: Arc<dyn MailTemplates>,
    ) -> Result<Self, InvalidMailSettings> {
        Ok(Self {
            transport: settings.smtp.transport()?,
            server: settings.smtp.to_string(),
            from: settings.from,
            invite_url: settings.invite_url,
            templates,
        })
    }

    /// The SMTP server as `scheme://[user@]host:port`, for logs.
    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    pub(crate) fn templates(&self) -> &dyn MailTemplates {
        self.templates.as_ref()
    }
}

/// The invitation to queue for `user`, just created in `tenant` at `now`, in the
/// transaction that creates it: `None` when this process sends no mail (no
/// `--smtp-url`) or the user has no address to send to. The caller decides
/// whether the tenant invites (`invite_new_users`).
///
/// The address is the primary email, else the first email, else the userName when
/// it is an address.
pub fn invitation_for(
    app: &crate::App,
    user: &idbridge_store::DirectoryUser,
    now: time::OffsetDateTime,
) -> Option<idbridge_store::NewMail> {
    app.mailer()?;
    let address = invitation_address(user)?;
    Some(idbridge_store::NewMail::invitation(
        user.tenant_id,
        user.id,
        address,
        now,
    ))
}

/// Where a user's invitation goes (see [`invitation_for`]).
fn invitation_address(user: &idbridge_store::DirectoryUser) -> Option<String> {
    let emails = user.document.get("emails").and_then(|e| e.as_array());
    let value = |e: &serde_json::Value| {
        e.get("value")
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| v.parse::<lettre::Address>().is_ok())
            .map(str::to_owned)
    };
    let primary = emails.into_iter().flatten().find(|e| {
        e.get("primary")
            .is_some_and(|p| p.as_bool() == Some(true) || p.as_str() == Some("True"))
    });
    primary
        .and_then(value)
        .or_else(|| emails.into_iter().flatten().find_map(value))
        .or_else(|| {
            let name = user.user_name.trim();
            name.parse::<lettre::Address>()
                .is_ok()
                .then(|| name.to_owned())
        })
}

/// `Arc` so that every clone of an [`crate::App`] shares one transport.
pub(crate) type SharedMailer = Arc<Mailer>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(document: serde_json::Value, user_name: &str) -> idbridge_store::DirectoryUser {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        idbridge_store::DirectoryUser {
            id: uuid::Uuid::now_v7(),
            tenant_id: uuid::Uuid::now_v7(),
            user_name: user_name.into(),
            external_id: None,
            active: true,
            document: document.as_object().cloned().unwrap_or_default(),
            source: idbridge_store::UserSource::Scim,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn the_invitation_goes_to_the_primary_email_else_the_first_else_the_user_name() {
        let both = json!({"emails": [
            {"value": "home@example.com"},
            {"value": "work@example.com", "primary": true},
        ]});
        assert_eq!(
            invitation_address(&user(both, "u")).as_deref(),
            Some("work@example.com")
        );
        // Entra ID sends "primary": "True" as a string.
        let entra =
            json!({"emails": [{"value": "x@e.com"}, {"value": "p@e.com", "primary": "True"}]});
        assert_eq!(
            invitation_address(&user(entra, "u")).as_deref(),
            Some("p@e.com")
        );
        let first = json!({"emails": [{"value": "not an address"}, {"value": "a@example.com"}]});
        assert_eq!(
            invitation_address(&user(first, "u")).as_deref(),
            Some("a@example.com")
        );
        assert_eq!(
            invitation_address(&user(json!({}), "ann@example.com")).as_deref(),
            Some("ann@example.com")
        );
        assert_eq!(invitation_address(&user(json!({}), "ann")), None);
    }
}

/// One queued message as the admin API and the console show it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxView {
    pub id: uuid::Uuid,
    /// `invitation`.
    pub kind: &'static str,
    pub recipient: String,
    /// The directory user it is about.
    pub user_id: uuid::Uuid,
    /// `pending`, `sent`, `failed` (given up after the retry period) or `cancelled`
    /// (the user was deleted or deactivated first).
    pub state: &'static str,
    pub attempts: u32,
    /// When the next attempt is due (while pending).
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: time::OffsetDateTime,
    /// Why the last attempt failed (never a password or a message body).
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<time::OffsetDateTime>,
}

impl From<idbridge_store::OutboxMail> for OutboxView {
    fn from(m: idbridge_store::OutboxMail) -> Self {
        Self {
            id: m.id,
            kind: m.kind.as_str(),
            recipient: m.recipient,
            user_id: m.user_id,
            state: m.state.as_str(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

/// The tenant's queued and sent mail, newest first.
pub async fn outbox(
    app: &crate::App,
    tenant: &idbridge_store::Tenant,
    page: idbridge_store::PageRequest,
) -> crate::Result<idbridge_store::Page<OutboxView>> {
    let page = app.store.mail_for_tenant(tenant.id, page).await?;
    Ok(idbridge_store::Page {
        items: page.items.into_iter().map(OutboxView::from).collect(),
        next_after: page.next_after,
    })
}
