//! `multipart/form-data` (RFC 7578) for the console's one file upload (the brand's
//! logo), read with `multer` (the parser axum's `Multipart` uses) from a body
//! already in memory (the console's body limit), so that both the CSRF check and
//! the handler can read it.

use axum::body::Bytes;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// At most this many parts in a form (the logo form has two).
const MAX_PARTS: usize = 8;

/// The parts of `body` sent with `content_type`, or `None` when it is not a
/// well-formed `multipart/form-data` body.
pub async fn parse(content_type: &str, body: Bytes) -> Option<Vec<Part>> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.ok()? {
        if parts.len() == MAX_PARTS {
            return None;
        }
        let name = field.name()?.to_owned();
        let content_type = field.content_type().map(ToString::to_string);
        let bytes = field.bytes().await.ok()?;
        parts.push(Part {
            name,
            content_type,
            bytes,
        });
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_a_browsers_form() {
        let content_type = "multipart/form-data; boundary=----WebKitFormBoundaryX";
        let body = Bytes::from_static(
            b"------WebKitFormBoundaryX\r\n\
            Content-Disposition: form-data; name=\"csrf_token\"\r\n\r\n\
            abc\r\n\
            ------WebKitFormBoundaryX\r\n\
            Content-Disposition: form-data; name=\"logo\"; filename=\"l.png\"\r\n\
            Content-Type: image/png\r\n\r\n\
            \x89PNG\r\n\x1a\n\r\n--not-it\r\n\
            ------WebKitFormBoundaryX--\r\n",
        );
        let parts = parse(content_type, body).await.expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), &parts[0].bytes[..]),
            ("csrf_token", &b"abc"[..])
        );
        assert_eq!(parts[1].name, "logo");
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(&parts[1].bytes[..], b"\x89PNG\r\n\x1a\n\r\n--not-it");
        assert!(
            parse(content_type, Bytes::from_static(b"garbage"))
                .await
                .is_none()
        );
        assert!(parse("multipart/form-data", Bytes::new()).await.is_none());
        assert!(
            parse("text/plain; boundary=x", Bytes::new())
                .await
                .is_none()
        );
    }
}
