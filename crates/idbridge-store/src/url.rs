use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// Which database a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A database URL. It may carry a password, so it is a secret: `Debug` is redacted
/// and [`DatabaseUrl::redacted`] is what goes into logs.
#[derive(Clone)]
pub struct DatabaseUrl {
    raw: SecretString,
    backend: Backend,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported database URL: expected sqlite://… or postgres://… (or postgresql://…)")]
pub struct InvalidDatabaseUrl;

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidDatabaseUrl> {
        let backend = if raw.starts_with("sqlite:") {
            Backend::Sqlite
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(InvalidDatabaseUrl);
        };
        Ok(Self {
            raw: SecretString::from(raw.to_owned()),
            backend,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn expose_secret(&self) -> &str {
        self.raw.expose_secret()
    }

    /// The URL with any password replaced by `***`, safe to log.
    pub fn redacted(&self) -> String {
        let raw = self.raw.expose_secret();
        match ::url::Url::parse(raw) {
            Ok(mut parsed) if parsed.password().is_some() => {
                // Infallible for URLs that have a host, which any with a password has.
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(_) => raw.to_owned(),
            Err(_) => format!("{}://…", self.backend),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = InvalidDatabaseUrl;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_backend_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://idbridge.db").map(|u| u.backend()),
            Ok(Backend::Sqlite)
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert!(DatabaseUrl::parse("mysql://u@h/db").is_err());
        assert!(DatabaseUrl::parse("idbridge.db").is_err());
    }

    #[test]
    fn never_shows_the_password() {
        let url =
            DatabaseUrl::parse("postgres://app:s3cr3t-pw@db.internal:5432/idbridge").expect("url");
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db.internal:5432/idbridge"
        );
        assert!(!format!("{url:?}").contains("s3cr3t"));
        let plain = DatabaseUrl::parse("postgres://postgres@127.0.0.1/test").expect("url");
        assert_eq!(plain.redacted(), "postgres://postgres@127.0.0.1/test");
    }
}
