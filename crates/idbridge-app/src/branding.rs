//! The vendor's brand on what a tenant's IT admin and users see (the setup portal,
//! the sign-in pages, the invitation e-mail): the app's name, a logo, an accent
//! colour, a support contact and where "Done" leads. Set once for the deployment;
//! a setup link may name its own return URL and support contact. Nothing set:
//! idbridge's own look.

use idbridge_core::audit::AuditAction;
use idbridge_core::brand::{Accent, MAX_LOGO_BYTES, logo_hash, sniff_logo};
use idbridge_store::{Branding, BrandingRecord, Logo, LogoMeta, SetupLinkRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::audit::Audit;
use crate::tenants::validate_text;
use crate::{App, Error, Result};

const MAX_NAME_CHARS: usize = 80;
const MAX_URL_CHARS: usize = 2000;
const MAX_EMAIL_CHARS: usize = 254;

/// `PUT /branding`: the whole set of settings (a field left out is cleared).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBranding {
    /// The app's name, shown instead of "idbridge".
    #[schema(example = "Ledger")]
    #[serde(default)]
    pub app_name: Option<String>,
    /// `#rrggbb`.
    #[schema(example = "#0b7a75")]
    #[serde(default)]
    pub accent_color: Option<String>,
    #[schema(example = "support@ledger.example")]
    #[serde(default)]
    pub support_email: Option<String>,
    /// https (http only for a loopback host).
    #[schema(example = "https://ledger.example/help")]
    #[serde(default)]
    pub support_url: Option<String>,
    /// Where the portal's "Back to …" leads the IT admin when done: https (http only
    /// for a loopback host).
    #[schema(example = "https://ledger.example/settings/sso")]
    #[serde(default)]
    pub return_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogoView {
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: String,
    /// Where it is served (the hash in it changes with the image).
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BrandingView {
    pub app_name: Option<String>,
    pub accent_color: Option<String>,
    /// The text colour used on the accent (black or white, whichever contrasts more:
    /// always at least WCAG AA).
    pub accent_text_color: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub return_url: Option<String>,
    pub logo: Option<LogoView>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated_at: Option<OffsetDateTime>,
}

/// The portal's path of the logo with this hash.
pub fn logo_path(hash: &str) -> String {
    format!("/setup/brand/logo?v={hash}")
}

impl BrandingView {
    fn new(app: &App, record: BrandingRecord) -> Self {
        let s = record.settings;
        Self {
            accent_text_color: s
                .accent_color
                .as_deref()
                .and_then(Accent::parse)
                .map(|a| a.text_color().css().to_owned()),
            app_name: s.app_name,
            accent_color: s.accent_color,
            support_email: s.support_email,
            support_url: s.support_url,
            return_url: s.return_url,
            logo: record.logo.map(|l| LogoView {
                url: app.config.public_url.join(&logo_path(&l.hash)),
                content_type: l.content_type,
            }),
            updated_at: record.updated_at,
        }
    }
}

/// An optional text field: absent or blank is unset.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A URL the IT admin's browser is sent to: https, or http to a loopback host.
pub fn check_url(field: &str, raw: Option<&str>) -> Result<Option<String>> {
    let Some(raw) = present(raw) else {
        return Ok(None);
    };
    let invalid = |why: &str| Error::Invalid(format!("{field} {why}"));
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(invalid(&format!(
            "is longer than {MAX_URL_CHARS} characters"
        )));
    }
    let url = url::Url::parse(raw).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        _ => return Err(invalid("must be an https URL (http only for localhost)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry a user name or password"));
    }
    Ok(Some(url.to_string()))
}

pub fn check_email(field: &str, raw: Option<&str>) -> Result<Option<String>> {
    let Some(raw) = present(raw) else {
        return Ok(None);
    };
    if raw.chars().count() > MAX_EMAIL_CHARS
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
        || idbridge_core::domain::email_domain(raw).is_err()
    {
        return Err(Error::Invalid(format!(
            "{field} must be an e-mail address such as support@example.com"
        )));
    }
    Ok(Some(raw.to_owned()))
}

fn check(input: &PutBranding) -> Result<Branding> {
    let accent_color = match present(input.accent_color.as_deref()) {
        None => None,
        Some(raw) => Some(
            Accent::parse(raw)
                .ok_or_else(|| {
                    Error::Invalid("accent_color must be a colour as #rrggbb, e.g. #0b7a75".into())
                })?
                .css(),
        ),
    };
    Ok(Branding {
        app_name: present(input.app_name.as_deref())
            .map(|n| validate_text("app_name", n, MAX_NAME_CHARS))
            .transpose()?,
        accent_color,
        support_email: check_email("support_email", input.support_email.as_deref())?,
        support_url: check_url("support_url", input.support_url.as_deref())?,
        return_url: check_url("return_url", input.return_url.as_deref())?,
    })
}

pub async fn branding(app: &App) -> Result<BrandingView> {
    Ok(BrandingView::new(app, app.store.branding().await?))
}

/// Replaces the settings (not the logo) after checking every field.
pub async fn set_branding(app: &App, input: PutBranding, audit: &Audit) -> Result<BrandingView> {
    let settings = check(&input)?;
    let now = app.clock.now();
    let audited = audit.record(
        now,
        AuditAction::BrandingUpdated,
        None,
        None,
        json!({
            "app_name": settings.app_name,
            "accent_color": settings.accent_color,
            "support_email": settings.support_email,
            "support_url": settings.support_url,
            "return_url": settings.return_url,
        }),
    );
    app.store
        .set_branding(&settings, now, Some(&audited))
        .await?;
    tracing::info!("branding updated");
    branding(app).await
}

/// Stores a logo: PNG, JPEG or WebP by its bytes (a declared `content_type`, if
/// any, must agree), at most 256 KiB.
pub async fn set_logo(
    app: &App,
    content_type: Option<&str>,
    bytes: Vec<u8>,
    audit: &Audit,
) -> Result<BrandingView> {
    if bytes.is_empty() {
        return Err(Error::Invalid("the logo is empty".into()));
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(Error::Invalid(format!(
            "the logo is larger than {} KiB",
            MAX_LOGO_BYTES / 1024
        )));
    }
    let Some(sniffed) = sniff_logo(&bytes) else {
        return Err(Error::Invalid(
            "the logo must be a PNG, JPEG or WebP image (SVG is not accepted)".into(),
        ));
    };
    if let Some(declared) = content_type {
        let declared = declared.split(';').next().unwrap_or_default().trim();
        if !declared.eq_ignore_ascii_case(sniffed) {
            return Err(Error::Invalid(format!(
                "the logo is {sniffed}, but was sent as {declared:?}"
            )));
        }
    }
    let logo = Logo {
        meta: LogoMeta {
            content_type: sniffed.to_owned(),
            hash: logo_hash(&bytes),
        },
        bytes,
    };
    let now = app.clock.now();
    let audited = audit.record(
        now,
        AuditAction::BrandingLogoUpdated,
        None,
        None,
        json!({
            "content_type": logo.meta.content_type,
            "size": logo.bytes.len(),
            "hash": logo.meta.hash,
        }),
    );
    app.store
        .set_branding_logo(Some(&logo), now, Some(&audited))
        .await?;
    tracing::info!(size = logo.bytes.len(), "branding logo replaced");
    branding(app).await
}

pub async fn remove_logo(app: &App, audit: &Audit) -> Result<BrandingView> {
    let now = app.clock.now();
    let audited = audit.record(now, AuditAction::BrandingLogoRemoved, None, None, json!({}));
    app.store
        .set_branding_logo(None, now, Some(&audited))
        .await?;
    branding(app).await
}

/// The logo's bytes and type, for serving.
pub async fn logo(app: &App) -> Result<Option<Logo>> {
    Ok(app.store.branding_logo().await?)
}

/// The brand as a page shows it: the deployment's, with a setup link's overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Brand {
    /// The app's name; `None`: idbridge's own look.
    pub app_name: Option<String>,
    pub accent: Option<Accent>,
    /// The logo's path (with its hash), when there is one.
    pub logo_path: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub return_url: Option<String>,
}

impl Brand {
    pub fn from_record(record: BrandingRecord) -> Self {
        let s = record.settings;
        Self {
            app_name: s.app_name,
            accent: s.accent_color.as_deref().and_then(Accent::parse),
            logo_path: record.logo.map(|l| logo_path(&l.hash)),
            support_email: s.support_email,
            support_url: s.support_url,
            return_url: s.return_url,
        }
    }

    /// A setup link's own return URL and support contact win over the deployment's.
    pub fn for_link(mut self, link: &SetupLinkRecord) -> Self {
        if link.return_url.is_some() {
            self.return_url = link.return_url.clone();
        }
        if link.support_email.is_some() || link.support_url.is_some() {
            self.support_email = link.support_email.clone();
            self.support_url = link.support_url.clone();
        }
        self
    }

    /// The name to show where idbridge's would be.
    pub fn name_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.app_name.as_deref().unwrap_or(default)
    }

    /// A key that changes whenever the stylesheet would: its URL's `v`.
    pub fn style_version(&self) -> Option<String> {
        self.accent
            .map(|a| a.css().trim_start_matches('#').to_owned())
    }

    /// The per-brand stylesheet (served from the portal's own origin, so it works
    /// under `style-src 'self'`); `None` without an accent.
    pub fn stylesheet(&self) -> Option<String> {
        let accent = self.accent?;
        let (bg, fg) = (accent.css(), accent.text_color().css());
        Some(format!(
            ".portal {{ --accent: {bg}; --accent-dark: {bg}; --accent-text: {fg}; }}\n\
             .portal .topbar {{ background: {bg}; color: {fg}; }}\n\
             .portal .topbar a, .portal .topbar .who {{ color: {fg}; }}\n\
             .portal .topbar .button.ghost {{ color: {fg}; border-color: {fg}; }}\n\
             .portal .button.primary, .portal .steps a[aria-current=\"page\"] .step-no {{ color: {fg}; }}\n"
        ))
    }
}

/// The deployment's brand (no link).
pub async fn brand(app: &App) -> Result<Brand> {
    Ok(Brand::from_record(app.store.branding().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http() {
        assert_eq!(
            check_url("u", Some(" https://app.test/done ")).expect("a URL"),
            Some("https://app.test/done".into())
        );
        assert!(check_url("u", Some("http://127.0.0.1:8080/x")).is_ok());
        assert!(check_url("u", Some("http://localhost/x")).is_ok());
        assert!(check_url("u", Some("")).expect("empty is none").is_none());
        for bad in [
            "http://app.test/",
            "javascript:alert(1)",
            "data:text/html,x",
            "ftp://app.test/",
            "https://user:pw@app.test/",
            "/relative",
        ] {
            assert!(check_url("u", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn link_overrides_win() {
        let brand = Brand {
            return_url: Some("https://a.test/".into()),
            support_email: Some("a@a.test".into()),
            ..Brand::default()
        };
        let link = SetupLinkRecord {
            id: uuid::Uuid::nil(),
            tenant_id: uuid::Uuid::nil(),
            provider: "generic".into(),
            note: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: OffsetDateTime::UNIX_EPOCH,
            last_used_at: None,
            revoked_at: None,
            return_url: Some("https://b.test/".into()),
            support_email: None,
            support_url: Some("https://b.test/help".into()),
        };
        let brand = brand.for_link(&link);
        assert_eq!(brand.return_url.as_deref(), Some("https://b.test/"));
        assert_eq!(brand.support_email, None);
        assert_eq!(brand.support_url.as_deref(), Some("https://b.test/help"));
    }
}
