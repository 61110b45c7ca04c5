//! The e-mail templates (`templates/mail/`), handed to the application's mail
//! outbox by the binary: the application queues and sends, and, like every page,
//! a message's markup is an askama template that escapes what it is given.

use askama::Template;
use idbridge_app::mail::{Invitation, MailTemplates, RenderError, RenderedMail, SetupInvitation};

/// Every message idbridge sends, from `templates/mail/`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MailTemplateSet;

#[derive(Template)]
#[template(path = "mail/invitation_subject.txt")]
struct InvitationSubject<'a> {
    invitation: &'a Invitation,
}

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct InvitationText<'a> {
    invitation: &'a Invitation,
}

#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct InvitationHtml<'a> {
    invitation: &'a Invitation,
}

#[derive(Template)]
#[template(path = "mail/setup_invitation_subject.txt")]
struct SetupSubject<'a> {
    invitation: &'a SetupInvitation,
}

#[derive(Template)]
#[template(path = "mail/setup_invitation.txt")]
struct SetupText<'a> {
    invitation: &'a SetupInvitation,
}

#[derive(Template)]
#[template(path = "mail/setup_invitation.html")]
struct SetupHtml<'a> {
    invitation: &'a SetupInvitation,
}

fn render(template: &'static str, page: &impl Template) -> Result<String, RenderError> {
    page.render().map_err(|e| RenderError {
        template,
        reason: e.to_string(),
    })
}

impl MailTemplates for MailTemplateSet {
    fn invitation(&self, invitation: &Invitation) -> Result<RenderedMail, RenderError> {
        Ok(RenderedMail {
            subject: render("invitation subject", &InvitationSubject { invitation })?,
            text: render("invitation text", &InvitationText { invitation })?,
            html: render("invitation HTML", &InvitationHtml { invitation })?,
        })
    }

    fn setup_invitation(&self, invitation: &SetupInvitation) -> Result<RenderedMail, RenderError> {
        Ok(RenderedMail {
            subject: render("setup invitation subject", &SetupSubject { invitation })?,
            text: render("setup invitation text", &SetupText { invitation })?,
            html: render("setup invitation HTML", &SetupHtml { invitation })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_in_html_and_left_alone_in_text() {
        let invitation = Invitation {
            app_name: "Ledger <b>Pro</b>".into(),
            tenant_name: "Smith & \"Sons\"".into(),
            user_name: Some("<script>x</script>".into()),
            email: "ann@smith.test".into(),
            sign_in_url: "https://app.test/login?login_hint=ann%40smith.test&t=smith".into(),
        };
        let mail = MailTemplateSet.invitation(&invitation).expect("renders");
        assert_eq!(
            mail.subject.trim(),
            "You have been invited to Ledger <b>Pro</b> (Smith & \"Sons\")"
        );
        assert!(
            mail.text
                .contains("Smith & \"Sons\" has given you access to Ledger <b>Pro</b>.")
        );
        assert!(mail.text.contains("Hello <script>x</script>,"));
        assert!(
            mail.html.contains("Smith &#38; &#34;Sons&#34;")
                || mail.html.contains("Smith &amp; &quot;Sons&quot;"),
            "{}",
            mail.html
        );
        assert!(
            mail.html.contains("Ledger &#60;b&#62;Pro&#60;/b&#62;")
                || mail.html.contains("Ledger &lt;b&gt;Pro&lt;/b&gt;"),
            "{}",
            mail.html
        );
        assert!(!mail.html.contains("<script>"));
        assert!(!mail.html.contains("<b>Pro"));
        // The link's query separator is escaped in the attribute and reads back whole.
        assert!(!mail.html.contains("smith.test&t=smith"), "{}", mail.html);
    }

    #[test]
    fn the_setup_invitation_carries_the_link_whole_and_escapes_names() {
        let invitation = SetupInvitation {
            app_name: "Ledger".into(),
            tenant_name: "Smith & <Sons>".into(),
            provider_name: Some("Microsoft Entra ID"),
            email: "it@smith.test".into(),
            setup_url: "https://id.test/setup?token=idb_setup_abc".into(),
            expires: "2026-12-09 14:00 UTC".into(),
            support_email: Some("help@ledger.test".into()),
        };
        let mail = MailTemplateSet
            .setup_invitation(&invitation)
            .expect("renders");
        assert_eq!(
            mail.subject.trim(),
            "Connect Smith & <Sons>'s Microsoft Entra ID to Ledger"
        );
        assert!(
            mail.text
                .contains("\nhttps://id.test/setup?token=idb_setup_abc\n")
        );
        assert!(mail.text.contains("until 2026-12-09 14:00 UTC"));
        assert!(mail.text.contains("Questions: help@ledger.test"));
        assert!(
            mail.html
                .contains("href=\"https://id.test/setup?token=idb_setup_abc\"")
        );
        assert!(!mail.html.contains("<Sons>"), "{}", mail.html);
        let plain = SetupInvitation {
            provider_name: None,
            support_email: None,
            ..invitation
        };
        let mail = MailTemplateSet.setup_invitation(&plain).expect("renders");
        assert!(mail.subject.contains("identity provider"));
        assert!(!mail.text.contains("Questions"));
        // The token is never in a debug print.
        assert!(!format!("{plain:?}").contains("idb_setup_abc"));
    }

    #[test]
    fn a_user_without_a_name_is_greeted_plainly() {
        let invitation = Invitation {
            app_name: "Ledger".into(),
            tenant_name: "Acme".into(),
            user_name: None,
            email: "bo@acme.test".into(),
            sign_in_url: "https://id.test/saml/acme/login".into(),
        };
        let mail = MailTemplateSet.invitation(&invitation).expect("renders");
        assert!(mail.text.starts_with("Hello,\n"), "{}", mail.text);
        assert!(
            mail.html
                .contains("href=\"https://id.test/saml/acme/login\""),
            "{}",
            mail.html
        );
    }
}
