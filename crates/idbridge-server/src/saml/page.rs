//! The pages a browser sees when a SAML flow cannot go on: a status, a
//! machine-readable reason, a sentence for a human, and the request id that ties the
//! page to the server's log. Never a stack trace, never the SAML message itself.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A refusal in a browser flow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct FlowError {
    pub status: StatusCode,
    /// Stable, `snake_case`: what the sign-in log records (`tenant_not_found`, …).
    pub reason: &'static str,
    pub message: String,
}

impl FlowError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }

    /// The page, carrying the request id taken from `headers`.
    pub fn page(&self, headers: &HeaderMap) -> Response {
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let body = format!(
            concat!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                "<title>Sign-in failed</title><style>",
                "body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2933}}",
                "code{{background:#f0f4f8;padding:.1rem .3rem;border-radius:3px}}",
                "</style></head><body><h1>Sign-in failed</h1><p>{message}</p>",
                "<p>Reason: <code>{reason}</code><br>Reference: <code>{request_id}</code></p>",
                "<p>If this keeps happening, send the reference to your administrator.</p>",
                "</body></html>"
            ),
            message = escape_html(&self.message),
            reason = self.reason,
            request_id = escape_html(request_id),
        );
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
