//! What every console page shares: the frame around it ([`Chrome`]), rendering, and
//! the one error type with its one HTML answer.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use time::OffsetDateTime;
use time::macros::format_description;

use super::auth::Signed;
use crate::error::AdminError;
use idbridge_app::operators::PasswordError;
use idbridge_store::PageRequest;

/// The frame of every page: where the console is, who is signed in, and the token
/// every form posts back.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub base: String,
    /// `None` on the sign-in and error pages shown to nobody in particular.
    pub operator: Option<String>,
    pub csrf_token: String,
}

impl Chrome {
    pub fn signed_in(base: &str, signed: &Signed) -> Self {
        Self {
            base: base.to_owned(),
            operator: Some(signed.operator_email.clone()),
            csrf_token: signed.csrf_token.clone(),
        }
    }

    pub fn anonymous(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            operator: None,
            csrf_token: String::new(),
        }
    }
}

/// A notice at the top of a page: what just happened, or why it did not.
#[derive(Debug, Clone, Default)]
pub enum Notice {
    #[default]
    None,
    Success(String),
    Error(String),
}

impl Notice {
    pub fn is_error(&self) -> bool {
        matches!(self, Notice::Error(_))
    }

    pub fn message(&self) -> &str {
        match self {
            Notice::None => "",
            Notice::Success(m) | Notice::Error(m) => m,
        }
    }

    pub fn is_some(&self) -> bool {
        !matches!(self, Notice::None)
    }
}

/// The page of a console list that a link asks for: `size` rows after its cursor
/// (none, or an empty one, is the first page).
pub fn page_after(size: u32, cursor: Option<String>) -> Result<PageRequest, AdminError> {
    Ok(idbridge_app::views::page_request(
        Some(size),
        cursor.as_deref().filter(|c| !c.is_empty()),
    )?)
}

/// The link to the page of the list at `path` after `cursor`, when there is one.
pub fn next_page_link(path: &str, cursor: Option<String>) -> Option<String> {
    cursor.map(|c| {
        format!(
            "{path}?{}",
            serde_urlencoded::to_string([("cursor", c)]).unwrap_or_default()
        )
    })
}

/// Renders a page with a status. A template that fails to render is a bug; the
/// operator gets the error page, the log gets the cause.
pub fn render(status: StatusCode, template: &impl Template) -> Result<Response, ConsoleError> {
    let body = template.render()?;
    Ok((status, Html(body)).into_response())
}

pub fn ok(template: &impl Template) -> Result<Response, ConsoleError> {
    render(StatusCode::OK, template)
}

/// `2026-11-01 09:00 UTC`: what an operator reads in a table.
pub fn when(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_else(|_| t.to_string())
}

pub fn when_opt(t: Option<OffsetDateTime>) -> String {
    t.map(when).unwrap_or_else(|| "—".to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("page not found")]
    NotFound,
    /// A state-changing request without the session's CSRF token, or from another
    /// origin. Nothing was changed.
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
    #[error(transparent)]
    Password(#[from] PasswordError),
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: String,
    status: u16,
    message: String,
}

impl From<idbridge_app::Error> for ConsoleError {
    fn from(error: idbridge_app::Error) -> Self {
        ConsoleError::Admin(error.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            ConsoleError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing at this address.".to_owned(),
            ),
            ConsoleError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                format!(
                    "What was sent is larger than the {} MiB a form may hold (a logo may be at \
                     most 256 KiB). Nothing was changed.",
                    crate::ADMIN_BODY_LIMIT / (1024 * 1024)
                ),
            ),
            ConsoleError::Forbidden(why) => (
                StatusCode::FORBIDDEN,
                "Request refused",
                format!("{why}. Nothing was changed. Go back, reload the page and try again."),
            ),
            ConsoleError::Admin(e) if e.status() == StatusCode::NOT_FOUND => {
                (StatusCode::NOT_FOUND, "Not found", e.to_string())
            }
            ConsoleError::Admin(e) if !e.status().is_server_error() => {
                (e.status(), "Request refused", e.to_string())
            }
            other => {
                tracing::error!(error = %other, "console request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server log has the details for this request id.".to_owned(),
                )
            }
        };
        // The error page has no form and so needs no token; the navigation it shows
        // is the anonymous one.
        let page = ErrorPage {
            chrome: Chrome::anonymous(&base_of_error()),
            title: title.to_owned(),
            status: status.as_u16(),
            message,
        };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, title).into_response(),
        }
    }
}

tokio::task_local! {
    /// The console's base path for the request being served, so an error page (made
    /// far from any handler) links back to the right place.
    pub static ERROR_BASE: String;
}

fn base_of_error() -> String {
    ERROR_BASE
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "/admin".to_owned())
}
