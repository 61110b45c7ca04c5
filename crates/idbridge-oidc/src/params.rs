//! `application/x-www-form-urlencoded` parameters as OAuth reads them: each at most
//! once (RFC 6749 §3.1, §3.2), empty values treated as absent.

use std::collections::BTreeMap;

/// Parameters of one request, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

/// A parameter appeared more than once: the request is ambiguous and is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter `{0}` appears more than once")]
pub struct DuplicateParam(pub String);

impl Params {
    /// Parses a query string or form body. Parameters without a value are treated
    /// as omitted (RFC 6749 §3.1), so `state=` is no state at all.
    pub fn parse(input: &[u8]) -> Result<Self, DuplicateParam> {
        let mut map = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.is_empty() {
                continue;
            }
            if map.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(DuplicateParam(name.into_owned()));
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
        assert_eq!(Params::parse(b"a=1&a=2"), Err(DuplicateParam("a".into())));
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
    }
}
