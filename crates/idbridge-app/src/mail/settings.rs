//! `--smtp-url`, `--mail-from` and `--invite-url`, read once at start.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use crate::PublicUrl;

/// How long one SMTP command may take before the attempt counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the mail settings cannot be used. Never carries the SMTP password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMailSettings {
    #[error("--smtp-url is not a URL ({0})")]
    NotAUrl(String),
    #[error("--smtp-url must start with smtp:// or smtps://")]
    BadScheme,
    #[error("--smtp-url names no host")]
    NoHost,
    #[error("--smtp-url may carry only ?tls=starttls (on smtp://), no path or fragment")]
    Extras,
    #[error("--smtp-url has a password but no user name")]
    PasswordWithoutUser,
    #[error("--smtp-url's user name or password is not valid percent-encoded UTF-8")]
    BadCredentials,
    #[error("--smtp-url: cannot set up TLS for {host}: {reason}")]
    Tls { host: String, reason: String },
    #[error("--mail-from {value:?} is not an e-mail address ({reason})")]
    BadFrom { value: String, reason: String },
    #[error(
        "--mail-from is needed: the public URL's host {0:?} makes no sender address (idbridge@host)"
    )]
    NoDefaultFrom(String),
    #[error("--invite-url {value:?}: {reason}")]
    BadInviteUrl { value: String, reason: &'static str },
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://host:port`: none (a relay on the same host or a private network).
    /// Default port 25.
    Plain,
    /// `smtp://host:port?tls=starttls`: STARTTLS, required (a server that does not
    /// offer it fails the attempt). Default port 587.
    StartTls,
    /// `smtps://host:port`: TLS from the first byte. Default port 465.
    Tls,
}

/// A parsed `--smtp-url`. Its `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct SmtpUrl {
    host: String,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<(String, SecretString)>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SmtpUrl").field(&self.to_string()).finish()
    }
}

impl std::fmt::Display for SmtpUrl {
    /// `smtps://user@host:port`, `smtp://host:port?tls=starttls`: the password
    /// left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.security {
            SmtpSecurity::Tls => "smtps",
            SmtpSecurity::Plain | SmtpSecurity::StartTls => "smtp",
        };
        write!(f, "{scheme}://")?;
        if let Some((user, _)) = &self.credentials {
            write!(f, "{user}@")?;
        }
        write!(f, "{}:{}", self.host, self.port)?;
        if self.security == SmtpSecurity::StartTls {
            write!(f, "?tls=starttls")?;
        }
        Ok(())
    }
}

impl SmtpUrl {
    /// `smtp://host[:port]`, `smtp://[user:pass@]host[:port]?tls=starttls` or
    /// `smtps://[user:pass@]host[:port]`; the user name and password
    /// percent-encoded.
    pub fn parse(raw: &str) -> Result<Self, InvalidMailSettings> {
        // The parser's message quotes no part of the input, so no password.
        let url = Url::parse(raw).map_err(|e| InvalidMailSettings::NotAUrl(e.to_string()))?;
        let mut security = match url.scheme() {
            "smtp" => SmtpSecurity::Plain,
            "smtps" => SmtpSecurity::Tls,
            _ => return Err(InvalidMailSettings::BadScheme),
        };
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err(InvalidMailSettings::Extras);
        }
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref(), security) {
                ("tls", "starttls", SmtpSecurity::Plain | SmtpSecurity::StartTls) => {
                    security = SmtpSecurity::StartTls;
                }
                _ => return Err(InvalidMailSettings::Extras),
            }
        }
        let host = match url.host() {
            Some(url::Host::Domain(domain)) if !domain.is_empty() => domain.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(InvalidMailSettings::NoHost),
        };
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::Plain => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        });
        let decode = |s: &str| {
            percent_decode(s)
                .ok_or(InvalidMailSettings::BadCredentials)
                .map(|d| d.into_owned())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            ("", Some(_)) => return Err(InvalidMailSettings::PasswordWithoutUser),
            (user, password) => Some((
                decode(user)?,
                SecretString::from(decode(password.unwrap_or_default())?),
            )),
        };
        Ok(Self {
            host,
            port,
            security,
            credentials,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    /// Whether a password would cross the network unencrypted.
    pub fn sends_password_in_clear(&self) -> bool {
        self.credentials.is_some() && self.security == SmtpSecurity::Plain
    }

    /// The transport (lettre over rustls). One connection per message: the
    /// outbox sends in small batches, and a connection left open would only go
    /// stale between them.
    pub(crate) fn transport(
        &self,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, InvalidMailSettings> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| InvalidMailSettings::Tls {
                host: host.to_owned(),
                reason: e.to_string(),
            })
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(SMTP_TIMEOUT));
        builder = match self.security {
            SmtpSecurity::Plain => builder.tls(Tls::None),
            SmtpSecurity::StartTls => builder.tls(Tls::Required(tls(&self.host)?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls(&self.host)?)),
        };
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(builder.build())
    }
}

/// `%XX` sequences decoded; `None` if the result is not UTF-8 or a `%` is not
/// followed by two hex digits.
fn percent_decode(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains('%') {
        return Some(s.into());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Into::into)
}

/// `--invite-url`: where an invitation's link sends the user, with `{email}` and
/// `{tenant}` (the slug) replaced by their percent-encoded values, e.g.
/// `https://app.example.com/login?login_hint={email}&tenant={tenant}`. It should
/// be the app's own sign-in page: the app then starts its OpenID Connect request
/// (its client, redirect URI, state and PKCE) with that `login_hint` or `tenant`,
/// which idbridge routes to the tenant's IdP.
///
/// Without it the link is the tenant's SP-initiated sign-in,
/// `{public-url}/saml/{slug}/login`: the user signs in at the tenant's IdP and
/// lands, as after an IdP-initiated sign-in, at the SAML connection's
/// `default_redirect_uri` with a code. That needs a SAML connection with a default
/// redirect URI, hence the advice to set `--invite-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteUrl(String);

impl InviteUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidMailSettings> {
        let bad = |reason| InvalidMailSettings::BadInviteUrl {
            value: raw.to_owned(),
            reason,
        };
        let example = raw
            .replace("{email}", "a%40b.example")
            .replace("{tenant}", "t");
        let url = Url::parse(&example).map_err(|_| bad("not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("must be an http or https URL"));
        }
        if example.contains(['{', '}']) {
            return Err(bad("the only placeholders are {email} and {tenant}"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The link for `email` of the tenant `slug`.
    pub fn for_user(&self, email: &str, slug: &str) -> String {
        self.0
            .replace("{email}", &percent_encode(email))
            .replace("{tenant}", &percent_encode(slug))
    }
}

/// Every byte but RFC 3986's unreserved characters as `%XX`: safe in a path
/// segment and in a query value.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Everything outbound mail needs to know, checked.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp: SmtpUrl,
    /// `--mail-from`: `addr@host` or `Name <addr@host>`; default
    /// `idbridge@<public-url host>`.
    pub from: Mailbox,
    pub invite_url: Option<InviteUrl>,
}

impl MailSettings {
    pub fn parse(
        smtp_url: &str,
        mail_from: Option<&str>,
        invite_url: Option<&str>,
        public_url: &PublicUrl,
    ) -> Result<Self, InvalidMailSettings> {
        let from = match mail_from {
            Some(raw) => raw
                .parse::<Mailbox>()
                .map_err(|e| InvalidMailSettings::BadFrom {
                    value: raw.to_owned(),
                    reason: e.to_string(),
                })?,
            None => default_from(public_url)?,
        };
        Ok(Self {
            smtp: SmtpUrl::parse(smtp_url)?,
            from,
            invite_url: invite_url.map(InviteUrl::parse).transpose()?,
        })
    }
}

/// `idbridge@<public-url host>`.
fn default_from(public_url: &PublicUrl) -> Result<Mailbox, InvalidMailSettings> {
    let host = Url::parse(public_url.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    format!("idbridge@{host}")
        .parse::<Mailbox>()
        .map_err(|_| InvalidMailSettings::NoDefaultFrom(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_of_the_three_kinds() {
        let plain = SmtpUrl::parse("smtp://relay.internal").expect("plain");
        assert_eq!(
            (plain.host(), plain.port(), plain.security()),
            ("relay.internal", 25, SmtpSecurity::Plain)
        );
        let starttls =
            SmtpUrl::parse("smtp://u:p@mail.example.com?tls=starttls").expect("starttls");
        assert_eq!(
            (starttls.port(), starttls.security()),
            (587, SmtpSecurity::StartTls)
        );
        let tls = SmtpUrl::parse("smtps://apikey:s%40cret%2F@smtp.example.com:2465").expect("tls");
        assert_eq!((tls.port(), tls.security()), (2465, SmtpSecurity::Tls));
        let (user, password) = tls.credentials.as_ref().expect("credentials");
        assert_eq!(
            (user.as_str(), password.expose_secret()),
            ("apikey", "s@cret/")
        );
        let ipv4 = SmtpUrl::parse("smtp://127.0.0.1:2525").expect("ip");
        assert_eq!((ipv4.host(), ipv4.port()), ("127.0.0.1", 2525));
    }

    #[test]
    fn the_password_is_never_shown() {
        let url = SmtpUrl::parse("smtps://apikey:hunter2@smtp.example.com").expect("url");
        assert_eq!(url.to_string(), "smtps://apikey@smtp.example.com:465");
        assert!(!format!("{url:?}").contains("hunter2"));
        for bad in [
            "smtps://u:hunter2@",
            "smtps://u:hunter2@h/path",
            "http://u:hunter2@h",
            "smtps://u:hunter2@h?tls=starttls",
            "smtp://u:hunter2@h?tls=none",
            "smtp://:hunter2@h",
        ] {
            let error = SmtpUrl::parse(bad).expect_err(bad);
            assert!(!error.to_string().contains("hunter2"), "{bad}: {error}");
        }
        assert!(
            SmtpUrl::parse("smtp://u:p@h")
                .expect("url")
                .sends_password_in_clear()
        );
    }

    #[test]
    fn the_sender_defaults_to_the_public_host() {
        let public = PublicUrl::parse("https://id.example.com").expect("url");
        let settings = MailSettings::parse("smtp://h", None, None, &public).expect("settings");
        assert_eq!(settings.from.to_string(), "idbridge@id.example.com");
        let named =
            MailSettings::parse("smtp://h", Some("Acme <no-reply@acme.test>"), None, &public)
                .expect("named");
        assert_eq!(named.from.email.to_string(), "no-reply@acme.test");
        assert!(MailSettings::parse("smtp://h", Some("not an address"), None, &public).is_err());
    }

    #[test]
    fn invite_urls_fill_in_encoded_values() {
        let url =
            InviteUrl::parse("https://app.test/login?login_hint={email}&t={tenant}").expect("url");
        assert_eq!(
            url.for_user("a.b+c@acme.test", "acme"),
            "https://app.test/login?login_hint=a.b%2Bc%40acme.test&t=acme"
        );
        assert!(InviteUrl::parse("/login?e={email}").is_err());
        assert!(InviteUrl::parse("https://app.test/?e={mail}").is_err());
        assert!(InviteUrl::parse("javascript:alert({email})").is_err());
    }
}
