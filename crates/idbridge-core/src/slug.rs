use std::fmt;
use std::str::FromStr;

/// A tenant's URL-safe identifier: `[a-z0-9-]{1,63}`, as fixed by the contract.
///
/// It appears in every URL handed to an IdP (Entity ID, ACS URL, SCIM base URL), so
/// it is validated once here and carried as a type afterwards.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);

pub const MAX_SLUG_LEN: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSlug {
    #[error("a tenant slug must not be empty")]
    Empty,
    #[error("a tenant slug is at most {MAX_SLUG_LEN} characters long, this one has {0}")]
    TooLong(usize),
    #[error("a tenant slug may only contain a-z, 0-9 and '-'; found {0:?}")]
    BadCharacter(char),
}

impl TenantSlug {
    pub fn parse(input: &str) -> Result<Self, InvalidSlug> {
        if input.is_empty() {
            return Err(InvalidSlug::Empty);
        }
        if let Some(bad) = input
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(InvalidSlug::BadCharacter(bad));
        }
        // Every accepted character is one byte, so the byte length is the char count.
        if input.len() > MAX_SLUG_LEN {
            return Err(InvalidSlug::TooLong(input.len()));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantSlug {
    type Err = InvalidSlug;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantSlug({})", self.0)
    }
}

impl AsRef<str> for TenantSlug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for TenantSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_contract_examples() {
        for ok in ["acme", "a", "acme-inc", "0", "-", "a1-b2", &"x".repeat(63)] {
            assert_eq!(
                TenantSlug::parse(ok).map(|s| s.to_string()),
                Ok(ok.to_owned())
            );
        }
    }

    #[test]
    fn refuses_everything_outside_the_alphabet() {
        assert_eq!(TenantSlug::parse(""), Err(InvalidSlug::Empty));
        assert_eq!(
            TenantSlug::parse(&"x".repeat(64)),
            Err(InvalidSlug::TooLong(64))
        );
        assert_eq!(
            TenantSlug::parse("Acme"),
            Err(InvalidSlug::BadCharacter('A'))
        );
        assert_eq!(
            TenantSlug::parse("ac me"),
            Err(InvalidSlug::BadCharacter(' '))
        );
        assert_eq!(
            TenantSlug::parse("a/b"),
            Err(InvalidSlug::BadCharacter('/'))
        );
        assert_eq!(
            TenantSlug::parse("a_b"),
            Err(InvalidSlug::BadCharacter('_'))
        );
        assert_eq!(TenantSlug::parse("é"), Err(InvalidSlug::BadCharacter('é')));
        assert_eq!(
            TenantSlug::parse("a\0"),
            Err(InvalidSlug::BadCharacter('\0'))
        );
    }

    proptest! {
        #[test]
        fn parse_agrees_with_the_contract_regex(s in "\\PC{0,70}") {
            let by_regex = !s.is_empty()
                && s.chars().count() <= 63
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            prop_assert_eq!(TenantSlug::parse(&s).is_ok(), by_regex);
        }

        #[test]
        fn valid_slugs_round_trip(s in "[a-z0-9-]{1,63}") {
            prop_assert_eq!(TenantSlug::parse(&s).map(|t| t.to_string()), Ok(s));
        }
    }
}
