//! Sending the mail outbox.
//!
//! Every process with `--smtp-url` runs [`run`]. Each round claims due messages
//! with a lease ([`idbridge_store::MailRepo::claim_mail`]), so a message is worked
//! by one process at a time, renders each, and hands it to the SMTP server.
//!
//! - Sent: marked only after the server's 250 (lettre returns success on a
//!   positive reply to the end of DATA and nothing earlier). A process that dies
//!   between the 250 and the mark sends that message once more after its lease
//!   runs out; the message keeps its `Message-ID` (`<outbox id@host>`), so a
//!   receiving system can tell the copy. Nothing else sends twice.
//! - Failed attempt (the server is down, refuses, times out): due again after
//!   [`backoff`] (1 minute, doubling, at most an hour); after [`RETRY_FOR`] since
//!   it was queued the message is `failed`. A 5xx is retried too: from a
//!   submission relay it usually means a setting (sender not allowed, relaying
//!   denied, authentication), which the operator fixes, and the queued
//!   invitations then go out.
//! - Cancelled: the user was deleted or deactivated before the message went out.
//! - An address SMTP cannot carry fails at once: retrying cannot change it.

use std::time::Duration as StdDuration;

use futures::StreamExt as _;
use idbridge_store::{DirectoryUser, MailKind, OutboxMail, PageRequest, StoreError, Tenant};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncTransport as _, Message};
use time::Duration;
use uuid::Uuid;

use super::{Invitation, Mailer, RenderedMail};
use crate::App;

/// How long a claim lasts. A round sends at most [`CLAIM_BATCH`] messages,
/// [`CONCURRENCY`] at a time, each cut off after [`SEND_TIMEOUT`]: well inside it.
pub const LEASE: Duration = Duration::minutes(5);
/// Pause between rounds that found nothing to do.
pub const POLL_EVERY: StdDuration = StdDuration::from_secs(2);
/// How long a message is retried, counted from when it was queued.
pub const RETRY_FOR: Duration = Duration::hours(24);
/// The wait after the first failed attempt; it doubles with each further one.
pub const FIRST_RETRY_AFTER: Duration = Duration::minutes(1);
/// The longest wait between two attempts.
pub const MAX_RETRY_AFTER: Duration = Duration::hours(1);
/// Messages claimed per round.
const CLAIM_BATCH: u32 = 16;
/// Messages sent at once (each on its own SMTP connection).
const CONCURRENCY: usize = 4;
/// The most one message may take, connection to 250.
const SEND_TIMEOUT: StdDuration = StdDuration::from_secs(60);
/// The same for a message sent while someone waits for the page ([`send_now`]):
/// past it they are told it did not go, and still have what was to be sent.
const SEND_NOW_TIMEOUT: StdDuration = StdDuration::from_secs(15);

/// The wait after the `attempts`-th failed attempt: 1, 2, 4, … minutes, at most
/// an hour. Over [`RETRY_FOR`] that is about 30 attempts.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(10);
    (FIRST_RETRY_AFTER * (1_i32 << doublings)).min(MAX_RETRY_AFTER)
}

/// Sends until the task is dropped. Does nothing when `app` has no [`Mailer`].
pub async fn run(app: App) {
    let Some(mailer) = app.mailer() else {
        return;
    };
    tracing::info!(smtp = mailer.server(), from = %mailer.from(), "sending invitation e-mail");
    loop {
        match deliver_due(&app).await {
            Ok(0) => tokio::time::sleep(POLL_EVERY).await,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "mail delivery: storage failed");
                tokio::time::sleep(POLL_EVERY).await;
            }
        }
    }
}

/// One round: claims the messages due on `app`'s clock and works each. Returns
/// how many it claimed (0 without a [`Mailer`]).
pub async fn deliver_due(app: &App) -> Result<usize, StoreError> {
    let Some(mailer) = app.mailer() else {
        return Ok(0);
    };
    let now = app.clock.now();
    let owner = Uuid::new_v4();
    let claimed = app
        .store
        .claim_mail(now, owner, now + LEASE, CLAIM_BATCH)
        .await?;
    let count = claimed.len();
    if count == 0 {
        return Ok(0);
    }
    let app_name = app_name(app).await?;
    futures::stream::iter(claimed)
        .for_each_concurrent(CONCURRENCY, |mail| {
            let app_name = app_name.as_str();
            async move {
                if let Err(error) = work(app, mailer, owner, app_name, &mail).await {
                    tracing::warn!(
                        mail_id = %mail.id,
                        %error,
                        "mail delivery: storage failed; the lease will run out and another round retries"
                    );
                }
            }
        })
        .await;
    Ok(count)
}

/// Sends one message now, outside the outbox (for a message whose content must not
/// be stored, such as a setup link, which carries its token): `Ok` with the subject
/// after the SMTP server's 250, else what went wrong, for the person who asked.
pub(crate) async fn send_now(
    mailer: &Mailer,
    recipient: &str,
    rendered: RenderedMail,
) -> Result<String, String> {
    match send(
        mailer,
        Uuid::now_v7(),
        recipient,
        rendered,
        SEND_NOW_TIMEOUT,
    )
    .await
    {
        Outcome::Sent { subject } => Ok(subject),
        Outcome::Failed(error) | Outcome::Undeliverable(error) => Err(error),
        Outcome::Cancelled(why) => Err(why.to_owned()),
    }
}

/// What one attempt came to.
enum Outcome {
    Sent {
        subject: String,
    },
    /// Worth trying again later.
    Failed(String),
    /// Trying again cannot help.
    Undeliverable(String),
    Cancelled(&'static str),
}

async fn work(
    app: &App,
    mailer: &Mailer,
    owner: Uuid,
    app_name: &str,
    mail: &OutboxMail,
) -> Result<(), StoreError> {
    let store = &app.store;
    let Some(tenant) = store.tenant_by_id(mail.tenant_id).await? else {
        // Deleted meanwhile: the cascade takes the message with it.
        return Ok(());
    };
    let outcome = match mail.kind {
        MailKind::Invitation => match store.user_by_id(tenant.id, mail.user_id).await? {
            None => Outcome::Cancelled("the user was deleted before the invitation went out"),
            Some(user) if !user.active => {
                Outcome::Cancelled("the user was deactivated before the invitation went out")
            }
            Some(user) => {
                let invitation = invitation(app, mailer, app_name, &tenant, &user, mail);
                match mailer.templates.invitation(&invitation) {
                    Ok(rendered) => {
                        send(mailer, mail.id, &mail.recipient, rendered, SEND_TIMEOUT).await
                    }
                    Err(error) => Outcome::Failed(error.to_string()),
                }
            }
        },
    };
    let now = app.clock.now();
    match outcome {
        Outcome::Sent { subject } => {
            if !store.mark_mail_sent(mail.id, now, &subject).await? {
                tracing::info!(mail_id = %mail.id, "mail was sent, but had already been marked by another process");
            }
        }
        Outcome::Cancelled(why) => {
            store.mark_mail_cancelled(mail.id, owner, why).await?;
        }
        Outcome::Undeliverable(error) => {
            tracing::warn!(mail_id = %mail.id, tenant = %tenant.slug, %error, "mail cannot be delivered; given up");
            store.mark_mail_failed(mail.id, owner, &error).await?;
        }
        Outcome::Failed(error) if now - mail.created_at >= RETRY_FOR => {
            tracing::warn!(
                mail_id = %mail.id,
                tenant = %tenant.slug,
                attempts = mail.attempts,
                %error,
                "mail failed for the whole retry period; given up"
            );
            store.mark_mail_failed(mail.id, owner, &error).await?;
        }
        Outcome::Failed(error) => {
            let next = now + backoff(mail.attempts);
            tracing::info!(
                mail_id = %mail.id,
                attempts = mail.attempts,
                retry_at = %next,
                %error,
                "mail not sent; will retry"
            );
            store.mark_mail_retry(mail.id, owner, next, &error).await?;
        }
    }
    Ok(())
}

/// The facts of an invitation, as they stand now.
fn invitation(
    app: &App,
    mailer: &Mailer,
    app_name: &str,
    tenant: &Tenant,
    user: &DirectoryUser,
    mail: &OutboxMail,
) -> Invitation {
    let slug = tenant.slug.as_str();
    Invitation {
        app_name: app_name.to_owned(),
        tenant_name: tenant.name.clone(),
        user_name: user_name(user),
        email: mail.recipient.clone(),
        sign_in_url: match &mailer.invite_url {
            Some(url) => url.for_user(&mail.recipient, slug),
            None => app.config.public_url.join(&format!("/saml/{slug}/login")),
        },
    }
}

/// The user's displayName, else given and family name.
fn user_name(user: &DirectoryUser) -> Option<String> {
    let text = |v: Option<&serde_json::Value>| {
        v.and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(display) = text(user.document.get("displayName")) {
        return Some(display);
    }
    let name = user.document.get("name");
    let parts: Vec<String> = ["givenName", "familyName"]
        .iter()
        .filter_map(|part| text(name.and_then(|n| n.get(part))))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The app's name: the branding's, else the operator's first OpenID Connect client
/// (the app), else the public URL's host.
pub(crate) async fn app_name(app: &App) -> Result<String, StoreError> {
    if let Some(name) = app.store.branding().await?.settings.app_name {
        return Ok(name);
    }
    let clients = app.store.list_clients(PageRequest::first(1)).await?;
    Ok(match clients.items.into_iter().next() {
        Some(client) if !client.name.trim().is_empty() => client.name,
        _ => url::Url::parse(app.config.public_url.as_str())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| app.config.public_url.as_str().to_owned()),
    })
}

/// Builds the message and hands it to the SMTP server.
async fn send(
    mailer: &Mailer,
    id: Uuid,
    recipient: &str,
    rendered: RenderedMail,
    timeout: StdDuration,
) -> Outcome {
    let to = match recipient.parse::<lettre::Address>() {
        Ok(address) => Mailbox::new(None, address),
        Err(error) => return Outcome::Undeliverable(format!("the recipient address: {error}")),
    };
    // One line: a template's stray line break must not become a header break.
    let subject = rendered
        .subject
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let message = Message::builder()
        .from(mailer.from.clone())
        .to(to)
        .subject(subject.clone())
        .message_id(Some(format!("<{}@{}>", id, mailer.from.email.domain())))
        .multipart(MultiPart::alternative_plain_html(
            rendered.text,
            rendered.html,
        ));
    let message = match message {
        Ok(message) => message,
        Err(error) => {
            return Outcome::Undeliverable(format!("the message cannot be built: {error}"));
        }
    };
    match tokio::time::timeout(timeout, mailer.transport.send(message)).await {
        Ok(Ok(_response)) => Outcome::Sent { subject },
        // lettre's messages give the server's reply or the connection's error,
        // never the password or the message.
        Ok(Err(error)) => Outcome::Failed(error.to_string()),
        Err(_) => Outcome::Failed(format!(
            "the SMTP server did not finish within {} s",
            timeout.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_to_an_hour() {
        let waits: Vec<i64> = (1..=9).map(|n| backoff(n).whole_minutes()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(0), FIRST_RETRY_AFTER);
        assert_eq!(backoff(u32::MAX), MAX_RETRY_AFTER);
    }

    #[test]
    fn a_day_of_retries_is_about_thirty_attempts() {
        let (mut elapsed, mut attempts) = (Duration::ZERO, 0);
        while elapsed < RETRY_FOR {
            attempts += 1;
            elapsed += backoff(attempts);
        }
        assert!((25..=35).contains(&attempts), "{attempts}");
    }
}
