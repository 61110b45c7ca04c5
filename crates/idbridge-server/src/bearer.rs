//! `Authorization: Bearer <credential>` (RFC 6750 §2.1), shared by every surface
//! that takes a bearer credential.

use axum::http::{HeaderMap, header};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    Missing,
    /// Present but not `Bearer <token>` (another scheme, empty token, not ASCII).
    Malformed,
}

/// The credential from the `Authorization` header. The scheme is case-insensitive.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(BearerError::Missing)?;
    let value = value.to_str().map_err(|_| BearerError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(BearerError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(BearerError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn reads_bearer_tokens_of_any_scheme_case() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(&headers("bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(&headers("BEARER  abc ")), Ok("abc"));
    }

    #[test]
    fn refuses_missing_and_malformed_headers() {
        assert_eq!(bearer_token(&HeaderMap::new()), Err(BearerError::Missing));
        assert_eq!(
            bearer_token(&headers("Basic YWxhZGRpbjpvcGVu")),
            Err(BearerError::Malformed)
        );
        assert_eq!(
            bearer_token(&headers("Bearer")),
            Err(BearerError::Malformed)
        );
        assert_eq!(
            bearer_token(&headers("Bearer ")),
            Err(BearerError::Malformed)
        );
        assert_eq!(bearer_token(&headers("abc")), Err(BearerError::Malformed));
    }
}
