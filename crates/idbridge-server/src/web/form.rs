//! The pages' form extractor: axum's `Form`, refusing a form that holds U+0000.

use axum::body::{Body, Bytes};
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::de::DeserializeOwned;

/// A page's form, read as axum's `Form` reads it, refused when a field's name or
/// value holds U+0000 (`%00`): no field takes one, and PostgreSQL stores none in
/// text (a form holding one would have failed there, and been stored on SQLite).
#[derive(Debug)]
pub(crate) struct Form<T>(pub T);

/// Why a form was not read.
#[derive(Debug)]
pub(crate) enum FormRefused {
    /// As axum's `Form` refuses it (not a form, not the fields expected, too big).
    Axum(FormRejection),
    /// A field holds U+0000.
    Nul,
}

impl IntoResponse for FormRefused {
    fn into_response(self) -> Response {
        match self {
            FormRefused::Axum(rejection) => rejection.into_response(),
            FormRefused::Nul => (
                StatusCode::BAD_REQUEST,
                "The form holds U+0000 (NUL), which no field may.",
            )
                .into_response(),
        }
    }
}

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = FormRefused;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| FormRefused::Axum(e.into()))?;
        let axum::Form(value) = axum::Form::<T>::from_request(
            Request::from_parts(parts, Body::from(bytes.clone())),
            state,
        )
        .await
        .map_err(FormRefused::Axum)?;
        if urlencoded_holds_nul(&bytes) {
            return Err(FormRefused::Nul);
        }
        Ok(Self(value))
    }
}

/// Whether an `application/x-www-form-urlencoded` body decodes to text holding
/// U+0000: `%00` (a literal `%` is always `%25`, so no other text reads so), or a
/// raw NUL byte.
fn urlencoded_holds_nul(body: &[u8]) -> bool {
    body.contains(&0) || body.windows(3).any(|w| w == b"%00")
}

#[cfg(test)]
mod tests {
    use super::urlencoded_holds_nul;

    #[test]
    fn nul_is_found_only_where_a_field_decodes_to_it() {
        for (body, nul) in [
            (&b"a=1&b=x%20y"[..], false),
            (b"a=%2500", false),
            (b"a=1%00", true),
            (b"a%00=1", true),
            (b"a=\0", true),
            (b"a=%25%00", true),
        ] {
            assert_eq!(urlencoded_holds_nul(body), nul, "{body:?}");
            let decoded = url::form_urlencoded::parse(body)
                .any(|(name, value)| name.contains('\0') || value.contains('\0'));
            assert_eq!(decoded, nul, "{body:?}");
        }
    }
}
