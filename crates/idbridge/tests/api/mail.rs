//! Invitation e-mail: the mail outbox delivered to a real SMTP server on loopback
//! (aiosmtpd, `idbridge_testkit::smtp`), with the test's clock driving the retries
//! (`idbridge_app::mail::delivery::deliver_due`, as webhooks.rs drives webhook
//! delivery), so backoff is exact and quick.
//!
//! User creation queues invitations itself (the last test); the others queue one
//! through `MailRepo::enqueue_mail` to look at delivery alone.

use std::sync::Arc;

use idbridge_app::App;
use idbridge_app::mail::delivery::{self, RETRY_FOR, backoff};
use idbridge_app::mail::{MailSettings, Mailer};
use idbridge_core::{Clock as _, TenantSlug};
use idbridge_server::MailTemplateSet;
use idbridge_store::{MailState, NewMail, OutboxMail, PageRequest, Tenant};
use idbridge_testkit::both_backends;
use idbridge_testkit::smtp::{SmtpOptions, SmtpServer, free_port};
use reqwest::{Method, StatusCode};
use serde_json::json;
use time::Duration;
use uuid::Uuid;

use crate::helpers::TestApp;

const INVITE_URL: &str = "https://app.example/login?login_hint={email}&tenant={tenant}";

/// The test app's `App`, with mail to `smtp_url`.
fn with_mail(app: &TestApp, smtp_url: &str, invite_url: Option<&str>) -> App {
    let settings =
        MailSettings::parse(smtp_url, None, invite_url, &app.state.app.config.public_url)
            .expect("mail settings");
    let mailer = Mailer::new(settings, Arc::new(MailTemplateSet)).expect("mailer");
    app.state.app.clone().with_mailer(mailer)
}

async fn tenant(app: &TestApp, slug: &str) -> Tenant {
    app.store
        .tenant_by_slug(&TenantSlug::parse(slug).expect("slug"))
        .await
        .expect("read")
        .expect("tenant")
}

/// A tenant `slug` with one SCIM user `email` (given name `given`), an invitation
/// for them queued now: (tenant, user id, outbox id).
async fn queued_invitation(
    app: &TestApp,
    slug: &str,
    email: &str,
    given: &str,
) -> (Tenant, Uuid, Uuid) {
    let scim = app.scim_tenant(slug).await;
    let user = scim
        .expect(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "name": {"givenName": given, "familyName": "Lee"},
                "emails": [{"value": email, "type": "work", "primary": true}],
                "active": true,
            })),
            StatusCode::CREATED,
        )
        .await;
    let user_id: Uuid = user["id"].as_str().expect("id").parse().expect("uuid");
    let tenant = tenant(app, slug).await;
    let mail = NewMail::invitation(tenant.id, user_id, email, app.clock.now());
    assert!(app.store.enqueue_mail(&mail).await.expect("enqueue"));
    (tenant, user_id, mail.id)
}

async fn outbox(app: &TestApp, tenant: &Tenant) -> Vec<OutboxMail> {
    app.store
        .mail_for_tenant(tenant.id, PageRequest::first(50))
        .await
        .expect("outbox")
        .items
}

async fn only(app: &TestApp, tenant: &Tenant) -> OutboxMail {
    let mut all = outbox(app, tenant).await;
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

both_backends! {
    async fn a_queued_invitation_is_delivered_once_with_both_parts_escaped(db: TestDb) {
        let smtp = SmtpServer::start().await;
        let app = TestApp::spawn(db).await;
        // The app's name is its OIDC client's; the tenant's is changed after queuing.
        let client = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "Ledger <Pro>", "redirect_uris": ["https://app.example/cb"]}))
            .send()
            .await
            .expect("send");
        assert_eq!(client.status(), StatusCode::CREATED);
        let (tenant, _, mail_id) = queued_invitation(&app, "smith", "ann@smith.example", "Ann <b>").await;
        let renamed = app
            .admin(Method::PATCH, "/api/v1/tenants/smith")
            .json(&json!({"name": "Smith & \"Sons\" <Ltd>"}))
            .send()
            .await
            .expect("send");
        assert_eq!(renamed.status(), StatusCode::OK);
        assert_eq!(only(&app, &tenant).await.state, MailState::Pending);

        let mail_app = with_mail(&app, &smtp.url(), Some(INVITE_URL));
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);

        let received = smtp.received();
        assert_eq!(received.len(), 1);
        let message = &received[0];
        assert_eq!(message.rcpt_tos, ["ann@smith.example"]);
        assert_eq!(message.mail_from, "idbridge@127.0.0.1");
        assert_eq!(message.to, "ann@smith.example");
        assert_eq!(
            message.subject,
            "You have been invited to Ledger <Pro> (Smith & \"Sons\" <Ltd>)"
        );
        assert_eq!(message.message_id, format!("<{mail_id}@127.0.0.1>"));
        assert_eq!(message.content_type, "multipart/alternative");
        let link = "https://app.example/login?login_hint=ann%40smith.example&tenant=smith";
        let text = message.text.as_deref().expect("a text/plain part");
        assert!(text.starts_with("Hello Ann <b> Lee,"), "{text}");
        assert!(text.contains("Smith & \"Sons\" <Ltd> has given you access to Ledger <Pro>."), "{text}");
        assert!(text.contains(link), "{text}");
        let html = message.html.as_deref().expect("a text/html part");
        // Every name escaped, nothing of theirs read as markup.
        for raw in ["<Pro>", "<Ltd>", "<b>", "\"Sons\""] {
            assert!(!html.contains(raw), "{raw} unescaped:\n{html}");
        }
        assert!(html.contains("Ledger &#60;Pro&#62;") || html.contains("Ledger &lt;Pro&gt;"), "{html}");
        assert!(html.contains("Smith &#38; &#34;Sons&#34;") || html.contains("Smith &amp; &quot;Sons&quot;"), "{html}");
        // The link, as a browser reads the attribute.
        let href = html
            .split("href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a link");
        assert_eq!(href.replace("&#38;", "&").replace("&amp;", "&"), link);

        let sent = only(&app, &tenant).await;
        assert_eq!(sent.state, MailState::Sent);
        assert_eq!(sent.sent_at, Some(app.clock.now()));
        assert_eq!(sent.attempts, 1);
        assert_eq!(sent.subject.as_deref(), Some(message.subject.as_str()));
        // Exactly once: later rounds, however late, send nothing more.
        app.clock.advance(Duration::days(2));
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 0);
        assert_eq!(smtp.received().len(), 1);
    }

    async fn without_an_invite_url_the_link_is_the_tenants_sign_in(db: TestDb) {
        let smtp = SmtpServer::start().await;
        let app = TestApp::spawn(db).await;
        queued_invitation(&app, "acme", "bo@acme.example", "Bo").await;
        let mail_app = with_mail(&app, &smtp.url(), None);
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);
        let received = smtp.received();
        let text = received[0].text.as_deref().expect("text");
        // With no OIDC client, the app is named by the public URL's host.
        assert!(received[0].subject.starts_with("You have been invited to 127.0.0.1 (acme Inc)"), "{}", received[0].subject);
        assert!(text.contains(&app.url("/saml/acme/login")), "{text}");
    }

    async fn with_the_smtp_server_down_mail_waits_and_goes_exactly_once_when_it_is_up(db: TestDb) {
        let port = free_port();
        let app = TestApp::spawn(db).await;
        let (tenant, _, _) = queued_invitation(&app, "acme", "cy@acme.example", "Cy").await;
        let mail_app = with_mail(&app, &format!("smtp://127.0.0.1:{port}"), Some(INVITE_URL));

        // Nobody listens: the attempt fails, and the message waits a minute.
        let first_attempt = app.clock.now();
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);
        let waiting = only(&app, &tenant).await;
        assert_eq!(waiting.state, MailState::Pending);
        assert_eq!(waiting.attempts, 1);
        assert_eq!(waiting.next_attempt_at, first_attempt + backoff(1));
        assert!(waiting.last_error.is_some());
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 0, "not due yet");

        // Still down a minute later: the next wait is two minutes.
        app.clock.advance(backoff(1));
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);
        let waiting = only(&app, &tenant).await;
        assert_eq!((waiting.attempts, waiting.next_attempt_at), (2, app.clock.now() + backoff(2)));

        // The server comes up; the message goes when it is due, once.
        let smtp = SmtpServer::start_with(SmtpOptions { port: Some(port), ..SmtpOptions::default() }).await;
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 0);
        assert!(smtp.received().is_empty());
        app.clock.advance(backoff(2));
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);
        assert_eq!(smtp.received().len(), 1);
        let sent = only(&app, &tenant).await;
        assert_eq!((sent.state, sent.attempts), (MailState::Sent, 3));
        app.clock.advance(Duration::hours(3));
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 0);
        assert_eq!(smtp.received().len(), 1);
    }

    async fn a_message_refused_for_a_whole_day_ends_failed_on_the_backoff_schedule(db: TestDb) {
        // Every RCPT TO answered 550: refused each time, never accepted.
        let smtp = SmtpServer::start_with(SmtpOptions { reject_recipients: true, ..SmtpOptions::default() }).await;
        let app = TestApp::spawn(db).await;
        let (tenant, _, _) = queued_invitation(&app, "acme", "dee@acme.example", "Dee").await;
        let mail_app = with_mail(&app, &smtp.url(), Some(INVITE_URL));
        let queued_at = app.clock.now();
        let mut attempts = 0;
        loop {
            assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);
            attempts += 1;
            let mail = only(&app, &tenant).await;
            assert_eq!(mail.attempts, attempts);
            if mail.state == MailState::Failed {
                assert!(app.clock.now() - queued_at >= RETRY_FOR);
                assert!(mail.last_error.as_deref().is_some_and(|e| e.contains("550")), "{mail:?}");
                break;
            }
            assert_eq!(mail.state, MailState::Pending);
            assert!(app.clock.now() - queued_at < RETRY_FOR);
            // Exactly the schedule: 1, 2, 4, … minutes, then hourly.
            assert_eq!(mail.next_attempt_at, app.clock.now() + backoff(attempts));
            assert!(attempts < 60, "never gave up");
            app.clock.advance(mail.next_attempt_at - app.clock.now());
        }
        assert!((25..=35).contains(&attempts), "{attempts} attempts");
        // Given up: never tried again.
        app.clock.advance(Duration::days(3));
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 0);
        assert!(smtp.received().is_empty());
    }

    async fn an_invitation_for_a_user_deleted_meanwhile_is_cancelled(db: TestDb) {
        let smtp = SmtpServer::start().await;
        let app = TestApp::spawn(db).await;
        let (tenant, user_id, _) = queued_invitation(&app, "acme", "eve@acme.example", "Eve").await;
        let (_, token) = app.create_scim_token("acme").await;
        let deleted = app.scim(Method::DELETE, "acme", &format!("/Users/{user_id}"), &token, None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let mail_app = with_mail(&app, &smtp.url(), Some(INVITE_URL));
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);
        let mail = only(&app, &tenant).await;
        assert_eq!(mail.state, MailState::Cancelled);
        assert!(smtp.received().is_empty());
    }

    async fn smtp_credentials_are_used_and_never_shown(db: TestDb) {
        let smtp = SmtpServer::start_with(SmtpOptions {
            auth: Some(("relay-user".into(), "s3cret/pass".into())),
            ..SmtpOptions::default()
        })
        .await;
        let app = TestApp::spawn(db).await;
        let (acme, _, _) = queued_invitation(&app, "acme", "fay@acme.example", "Fay").await;
        let url = format!("smtp://relay-user:s3cret%2Fpass@127.0.0.1:{}", smtp.port());
        let mail_app = with_mail(&app, &url, Some(INVITE_URL));
        let mailer = mail_app.mailer().expect("mailer");
        assert!(!mailer.server().contains("s3cret"));
        assert!(!format!("{mailer:?}").contains("s3cret"));
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);
        let received = smtp.received();
        assert_eq!(received.len(), 1);
        assert!(received[0].authenticated);
        assert_eq!(only(&app, &acme).await.state, MailState::Sent);

        // A wrong password is an attempt that failed, retried later.
        queued_invitation(&app, "beta", "gus@beta.example", "Gus").await;
        let wrong = with_mail(&app, &format!("smtp://relay-user:nope@127.0.0.1:{}", smtp.port()), None);
        assert_eq!(delivery::deliver_due(&wrong).await.expect("round"), 1);
        let beta = tenant(&app, "beta").await;
        let mail = only(&app, &beta).await;
        assert_eq!(mail.state, MailState::Pending);
        assert!(!mail.last_error.as_deref().unwrap_or_default().contains("nope"));
    }
}

both_backends! {
    async fn users_created_while_invitations_are_on_are_mailed_and_a_dead_mail_server_fails_no_write(db: TestDb) {
        // SMTP is configured, but nothing listens yet.
        let port = free_port();
        let options = crate::helpers::TestOptions {
            smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
            invite_url: Some(INVITE_URL),
            ..crate::helpers::TestOptions::default()
        };
        let app = TestApp::spawn_with(db, options).await;
        let scim = app.scim_tenant("acme").await;
        scim.create_user("before@acme.example").await;
        let on = app.admin(Method::PATCH, "/api/v1/tenants/acme").json(&json!({"invite_new_users": true})).send().await.expect("send");
        assert_eq!(on.status(), StatusCode::OK);
        // Each create answers at once: the mail is queued in the same write.
        scim.create_user("ann@acme.example").await;
        let manual = app.admin(Method::POST, "/api/v1/tenants/acme/users").json(&json!({"email": "bob@acme.example"})).send().await.expect("send");
        assert_eq!(manual.status(), StatusCode::CREATED);
        // A refused create queues nothing.
        scim.expect(Method::POST, "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ANN@acme.example"})), StatusCode::CONFLICT).await;

        let tenant = tenant(&app, "acme").await;
        let mut queued: Vec<(String, MailState)> = outbox(&app, &tenant).await.into_iter().map(|m| (m.recipient, m.state)).collect();
        queued.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(queued, [("ann@acme.example".to_owned(), MailState::Pending), ("bob@acme.example".to_owned(), MailState::Pending)]);

        // Down: both are tried, neither goes, neither is lost.
        delivery::deliver_due(&app.state.app).await.expect("round");
        assert!(outbox(&app, &tenant).await.iter().all(|m| m.state == MailState::Pending));
        let smtp = SmtpServer::start_with(SmtpOptions { port: Some(port), ..SmtpOptions::default() }).await;
        app.clock.advance(backoff(2));
        assert_eq!(delivery::deliver_due(&app.state.app).await.expect("round"), 2);
        app.clock.advance(Duration::hours(2));
        assert_eq!(delivery::deliver_due(&app.state.app).await.expect("round"), 0);
        let mut to: Vec<String> = smtp.received().iter().map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(to, ["ann@acme.example", "bob@acme.example"], "each once");
        assert!(outbox(&app, &tenant).await.iter().all(|m| m.state == MailState::Sent));
        // The delivery state, as the operator reads it.
        let listed: serde_json::Value = app.admin_get("/api/v1/tenants/acme/mail").await;
        let listed = listed["data"].as_array().expect("data");
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|m| m["state"] == "sent" && m["kind"] == "invitation" && m["attempts"] == 2), "{listed:?}");
    }
}

both_backends! {
    async fn the_brandings_app_name_names_the_app_in_the_invitation(db: TestDb) {
        let smtp = SmtpServer::start().await;
        let app = TestApp::spawn(db).await;
        let branded = app
            .admin(Method::PUT, "/api/v1/branding")
            .json(&json!({"app_name": "Ledger Cloud"}))
            .send()
            .await
            .expect("send");
        assert_eq!(branded.status(), StatusCode::OK);
        queued_invitation(&app, "acme", "bo@acme.example", "Bo").await;
        let mail_app = with_mail(&app, &smtp.url(), None);
        assert_eq!(delivery::deliver_due(&mail_app).await.expect("round"), 1);
        let received = smtp.received();
        assert_eq!(received[0].subject, "You have been invited to Ledger Cloud (acme Inc)");
        let text = received[0].text.as_deref().expect("text");
        assert!(text.contains("has given you access to Ledger Cloud."), "{text}");
    }
}
