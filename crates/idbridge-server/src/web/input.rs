//! The pages' form and query extractors: axum's `Form` and `Query`, refusing
//! input that holds U+0000.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::extract::urlencoded_holds_nul;

/// A page's form, read as axum's `Form` reads it, refused when a field's name or
/// value holds U+0000 (`%00`): no field takes one, and PostgreSQL stores none in
/// text (a form holding one would have failed there, and been stored on SQLite).
#[derive(Debug)]
pub(crate) struct Form<T>(pub T);

/// A page's query, read as axum's `Query` reads it, refused when a parameter
/// holds U+0000 (`%00`), as [`Form`] is.
#[derive(Debug)]
pub(crate) struct Query<T>(pub T);

/// Why a form or query was not read.
#[derive(Debug)]
pub(crate) enum InputRefused {
    /// As axum's extractor refuses it (not a form, not the fields expected, too
    /// big): its own answer.
    Axum(Response),
    /// A field holds U+0000.
    Nul,
}

impl IntoResponse for InputRefused {
    fn into_response(self) -> Response {
        match self {
            InputRefused::Axum(rejection) => rejection,
            InputRefused::Nul => (
                StatusCode::BAD_REQUEST,
                "The request holds U+0000 (NUL), which no field may.",
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
    type Rejection = InputRefused;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| InputRefused::Axum(e.into_response()))?;
        let request = Request::from_parts(parts, Body::from(bytes.clone()));
        let axum::Form(value) = axum::Form::<T>::from_request(request, state)
            .await
            .map_err(|e| InputRefused::Axum(e.into_response()))?;
        if urlencoded_holds_nul(&bytes) {
            return Err(InputRefused::Nul);
        }
        Ok(Self(value))
    }
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = InputRefused;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await
                .map_err(|e| InputRefused::Axum(e.into_response()))?;
        if urlencoded_holds_nul(parts.uri.query().unwrap_or("").as_bytes()) {
            return Err(InputRefused::Nul);
        }
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use crate::extract::urlencoded_holds_nul;

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
