//! `application/x-www-form-urlencoded` parameters as OAuth reads them: each at most
//! once (RFC 6749 §3.1, §3.2), empty values treated as absent, and none holding
//! U+0000 (`%00`): no OAuth value holds one, and PostgreSQL stores none in text.

use std::collections::BTreeMap;

/// Parameters of one request, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

/// Why a request's parameters are refused, naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The request is ambiguous.
    #[error("parameter `{0}` appears more than once")]
    Duplicate(String),
    /// The name is shown with U+FFFD for each U+0000.
    #[error("parameter `{0}` holds U+0000 (NUL)")]
    HoldsNul(String),
}

impl Params {
    /// Parses a query string or form body. Parameters without a value are treated
    /// as omitted (RFC 6749 §3.1), so `state=` is no state at all.
    pub fn parse(input: &[u8]) -> Result<Self, ParamsError> {
        let mut map = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(input) {
            if name.contains('\0') || value.contains('\0') {
                return Err(ParamsError::HoldsNul(name.replace('\0', "\u{FFFD}")));
            }
            if value.is_empty() {
                continue;
            }
            if map.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(ParamsError::Duplicate(name.into_owned()));
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_and_empty_values_are_absent() {
        assert_eq!(
            Params::parse(b"a=1&a=2"),
            Err(ParamsError::Duplicate("a".into()))
        );
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
    }

    #[test]
    fn nul_in_a_name_or_value_is_refused() {
        assert_eq!(
            Params::parse(b"state=a%00b"),
            Err(ParamsError::HoldsNul("state".into()))
        );
        assert_eq!(
            Params::parse(b"a%00=1"),
            Err(ParamsError::HoldsNul("a\u{FFFD}".into()))
        );
        // Even where the value would be dropped as empty.
        assert_eq!(
            Params::parse(b"%00="),
            Err(ParamsError::HoldsNul("\u{FFFD}".into()))
        );
    }
}
