use std::fmt;

/// A redirect URI an OIDC client registered. Matching later is exact string
/// comparison (RFC 6749 §3.1.2, OAuth 2.0 Security BCP §4.1.3), so the registered
/// form is kept verbatim; parsing only refuses URIs that can never be safe.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI {0:?} is not an absolute URL")]
    NotAbsolute(String),
    #[error("redirect URI {0:?} must use https (or http)")]
    BadScheme(String),
    #[error("redirect URI {0:?} must not contain a fragment (RFC 6749 §3.1.2)")]
    HasFragment(String),
    #[error("redirect URI {0:?} must not contain user info")]
    HasUserInfo(String),
    #[error("redirect URI is longer than {MAX_REDIRECT_URI_LEN} bytes")]
    TooLong,
}

pub const MAX_REDIRECT_URI_LEN: usize = 2048;

impl RedirectUri {
    pub fn parse(input: &str) -> Result<Self, RedirectUriError> {
        if input.len() > MAX_REDIRECT_URI_LEN {
            return Err(RedirectUriError::TooLong);
        }
        let parsed =
            url::Url::parse(input).map_err(|_| RedirectUriError::NotAbsolute(input.into()))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(RedirectUriError::BadScheme(input.into()));
        }
        if parsed.host().is_none() {
            return Err(RedirectUriError::NotAbsolute(input.into()));
        }
        // `Url::parse` accepts a bare `#`; the raw input is what gets compared later.
        if parsed.fragment().is_some() || input.contains('#') {
            return Err(RedirectUriError::HasFragment(input.into()));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(RedirectUriError::HasUserInfo(input.into()));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RedirectUri {
    type Error = RedirectUriError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RedirectUri> for String {
    fn from(value: RedirectUri) -> Self {
        value.0
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedirectUri({})", self.0)
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_registered_uris_verbatim() {
        for ok in [
            "https://app.example.com/callback",
            "http://127.0.0.1:9/cb",
            "http://localhost:3000/auth/callback?x=1",
            "https://app.example.com:8443/a/b/",
        ] {
            assert_eq!(RedirectUri::parse(ok).map(String::from), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn refuses_unsafe_uris() {
        use RedirectUriError::*;
        type Expect = fn(String) -> RedirectUriError;
        let cases: &[(&str, Expect)] = &[
            ("/relative", NotAbsolute),
            ("javascript:alert(1)", BadScheme),
            ("ftp://example.com/cb", BadScheme),
            ("https://app.example.com/cb#frag", HasFragment),
            ("https://app.example.com/cb#", HasFragment),
            ("https://user:pw@app.example.com/cb", HasUserInfo),
        ];
        for (input, expected) in cases {
            assert_eq!(
                RedirectUri::parse(input),
                Err(expected((*input).into())),
                "{input}"
            );
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_REDIRECT_URI_LEN));
        assert_eq!(RedirectUri::parse(&long), Err(TooLong));
    }
}
