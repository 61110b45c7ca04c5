//! What every portal page shares: the frame ([`Chrome`]) with the chosen guide, and
//! the one error type with its one HTML answer.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::Site;
use super::visit::Visitor;
use crate::error::AdminError;
use crate::web::console::page::when;
use idbridge_app::setup_links::Provider;

/// The frame of every page: where the portal is, whose tenant, which guide, and the
/// token every form posts back.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub base: String,
    pub assets: String,
    pub tenant_name: String,
    pub csrf_token: String,
    /// A `Provider` value (`entra`, `okta`, `google`, `onelogin`, `jumpcloud`,
    /// `pingone`, `adfs`, `generic`): which console's words the steps use.
    pub guide: &'static str,
    /// "Microsoft Entra ID", "Okta", "Google Workspace", …, "your identity provider".
    pub idp_name: &'static str,
    /// Whether that IdP can push users over SCIM (Google Workspace and AD FS cannot).
    pub pushes_scim: bool,
    /// Whether the guide's steps are in its own partials
    /// (`templates/portal/guides/{sso,provisioning}_{guide}.html`) rather than
    /// written in the pages themselves (Entra ID, Okta, generic).
    pub own_guide: bool,
    pub link_expires_at: String,
    /// The page's place in the step list.
    pub step: &'static str,
    /// The vendor's brand: the app's name (else "idbridge"), logo, accent
    /// stylesheet, support contact and return URL.
    pub brand: BrandChrome,
}

/// The brand as a page's frame uses it.
#[derive(Debug, Clone, Default)]
pub struct BrandChrome {
    /// The app's name, or `None` for idbridge's own look.
    pub app_name: Option<String>,
    /// The logo's address (same origin, its hash in it).
    pub logo_url: Option<String>,
    /// The per-brand stylesheet's address, when there is an accent colour.
    pub stylesheet_url: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub return_url: Option<String>,
}

impl BrandChrome {
    /// `prefix`: the public URL's path prefix (empty at the root).
    pub fn new(brand: &idbridge_app::branding::Brand, site: &Site) -> Self {
        Self {
            app_name: brand.app_name.clone(),
            logo_url: brand
                .logo_path
                .as_ref()
                .map(|p| format!("{}{}", site.prefix(), p)),
            stylesheet_url: brand
                .style_version()
                .map(|v| format!("{}/brand.css?v={v}", site.base)),
            support_email: brand.support_email.clone(),
            support_url: brand.support_url.clone(),
            return_url: brand.return_url.clone(),
        }
    }

    /// The name shown where idbridge's would be.
    pub fn name(&self) -> &str {
        self.app_name.as_deref().unwrap_or("idbridge")
    }
}

impl Chrome {
    pub fn new(site: &Site, visitor: &Visitor, guide: Provider, step: &'static str) -> Self {
        Self {
            base: site.base.clone(),
            assets: site.assets.clone(),
            tenant_name: visitor.tenant.name.clone(),
            csrf_token: visitor.csrf_token.clone(),
            guide: guide.as_str(),
            idp_name: guide.vendor_name().unwrap_or("your identity provider"),
            pushes_scim: guide.pushes_scim(),
            own_guide: !matches!(guide, Provider::Entra | Provider::Okta | Provider::Generic),
            link_expires_at: when(visitor.expires_at),
            step,
            brand: BrandChrome::new(&visitor.brand, site),
        }
    }

    /// A regular expression matching exactly `url` (OneLogin's "ACS (Consumer) URL
    /// Validator").
    pub fn exact_pattern(&self, url: &str) -> String {
        let mut pattern = String::with_capacity(url.len() + 8);
        pattern.push('^');
        for c in url.chars() {
            if "\\.+*?()|[]{}^$/".contains(c) {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('$');
        pattern
    }

    /// A portal path that keeps the chosen guide.
    pub fn href(&self, rest: &str) -> String {
        format!("{}{rest}?guide={}", self.base, self.guide)
    }
}

/// The guide a page shows: `?guide=` (or a form's `guide`) when it names one, else
/// the link's.
pub fn choose_guide(raw: Option<&str>, visitor: &Visitor) -> Provider {
    raw.and_then(Provider::parse).unwrap_or(visitor.provider)
}

/// The guide a form was posted from, so the answer keeps it.
#[derive(Debug, Default, Deserialize)]
pub struct GuideForm {
    #[serde(default)]
    pub guide: String,
}

/// Renders a page with a status. A template that fails to render is a bug.
pub fn render(status: StatusCode, template: &impl Template) -> Result<Response, PortalError> {
    let body = template.render()?;
    Ok((status, Html(body)).into_response())
}

pub fn ok(template: &impl Template) -> Result<Response, PortalError> {
    render(StatusCode::OK, template)
}

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("page not found")]
    NotFound,
    /// No setup link cookie at all: the visitor came without the link.
    #[error("no setup link")]
    NoLink,
    /// The link is unknown, expired or revoked (one answer for all three, so a
    /// guess learns nothing).
    #[error("the setup link is not valid")]
    LinkNotValid,
    /// The visitor left; the cookie is gone.
    #[error("left the setup portal")]
    Left,
    /// A POST without the form token or from another origin; nothing changed.
    #[error("the form could not be accepted: {0}")]
    Forbidden(&'static str),
    /// A form larger than the pages accept (a logo too big, or metadata pasted
    /// several times over). Nothing was changed.
    #[error("the form is too large")]
    TooLarge,
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("rendering a page failed: {0}")]
    Render(#[from] askama::Error),
}

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage {
    title: &'static str,
    assets: String,
    message: String,
}

impl From<idbridge_app::Error> for PortalError {
    fn from(error: idbridge_app::Error) -> Self {
        PortalError::Admin(error.into())
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            PortalError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing at this address.".to_owned(),
            ),
            PortalError::NoLink => (
                StatusCode::UNAUTHORIZED,
                "Open your setup link",
                "This page opens from the setup link you were sent. Open that link again \
                 (it works until it expires)."
                    .to_owned(),
            ),
            PortalError::LinkNotValid => (
                StatusCode::FORBIDDEN,
                "This setup link does not work",
                "The link has expired or was revoked, or it was not copied whole. Ask the \
                 person who sent it for a new one."
                    .to_owned(),
            ),
            PortalError::Left => (
                StatusCode::OK,
                "You left the setup portal",
                "Nothing more can be changed from this browser until the setup link is \
                 opened again."
                    .to_owned(),
            ),
            PortalError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                format!(
                    "What was sent is larger than the {} MiB a form may hold (a logo may be at \
                     most 256 KiB). Nothing was changed.",
                    crate::ADMIN_BODY_LIMIT / (1024 * 1024)
                ),
            ),
            PortalError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                "Request refused",
                format!("{why}. Nothing was changed. Go back, reload the page and try again."),
            ),
            PortalError::Admin(e) if e.status() == StatusCode::NOT_FOUND => {
                (StatusCode::NOT_FOUND, "Not found", e.to_string())
            }
            PortalError::Admin(e) if !e.status().is_server_error() => {
                (e.status(), "Request refused", e.to_string())
            }
            other => {
                tracing::error!(error = %other, "setup portal request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Please try again in a moment. If it keeps happening, tell the person \
                     who sent you the link."
                        .to_owned(),
                )
            }
        };
        let page = MessagePage {
            title,
            assets: ASSETS
                .try_with(Clone::clone)
                .unwrap_or_else(|_| "/admin/static".to_owned()),
            message,
        };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, title).into_response(),
        }
    }
}

tokio::task_local! {
    /// Where the stylesheet is for the request being served, so an error page (made
    /// far from any handler) is styled.
    pub static ASSETS: String;
}
