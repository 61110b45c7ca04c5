//! What every idbridge crate checks of JSON that arrives from outside.

use serde_json::{Map, Value};

/// Whether `value` holds U+0000 (NUL, `\u0000` in JSON text) in a string or a
/// member name. No identity attribute holds one, PostgreSQL stores none in `text`,
/// and its JSON functions cannot read one out of a stored `json` document: input
/// holding one is refused where it arrives (a SCIM body, an ID token), and the
/// store binds no document holding one.
pub fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(values) => values.iter().any(holds_nul),
        Value::Object(members) => member_holding_nul(members).is_some(),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The name of the first member of `members` whose name or value holds U+0000
/// ([`holds_nul`]).
pub fn member_holding_nul(members: &Map<String, Value>) -> Option<&str> {
    members
        .iter()
        .find(|(name, value)| name.contains('\0') || holds_nul(value))
        .map(|(name, _)| name.as_str())
}

/// Whether JSON `text` (read as valid JSON elsewhere) holds U+0000 in a string or
/// a member name, without parsing it: valid JSON carries NUL only as the escape
/// `\u0000`, whose backslash is not itself escaped (an odd run of backslashes
/// before the `u`).
pub fn text_holds_nul(text: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = find(&text[from..], b"u0000") {
        let u = from + at;
        let backslashes = text[..u].iter().rev().take_while(|&&b| b == b'\\').count();
        if backslashes % 2 == 1 {
            return true;
        }
        from = u + 1;
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_found_in_strings_names_and_nesting() {
        assert!(!holds_nul(&json!({"a": ["b", 1, null, true, {"c": "d"}]})));
        assert!(holds_nul(&json!("a\u{0}b")));
        assert!(holds_nul(&json!([["x", "\u{0}"]])));
        assert!(holds_nul(&json!({"a\u{0}": 1})));
        let members = json!({"ok": "fine", "name": {"given": "A\u{0}"}});
        let members = members.as_object().expect("object");
        assert_eq!(member_holding_nul(members), Some("name"));
        assert_eq!(member_holding_nul(&Map::new()), None);
    }

    #[test]
    fn nul_is_found_in_json_text_as_parsing_finds_it() {
        for text in [
            r#"{"a":"b"}"#,
            r#"{"a":"\u0000"}"#,
            r#"{"a":"\\u0000"}"#,
            r#"{"a":"\\\u0000"}"#,
            r#"{"a\u0000":1}"#,
            r#"["u0000", "x\\", "\u0000"]"#,
            r#"{"a":"\u00000"}"#,
            r#"{"a":"\u0001"}"#,
        ] {
            let parsed: Value = serde_json::from_str(text).expect(text);
            assert_eq!(
                text_holds_nul(text.as_bytes()),
                holds_nul(&parsed),
                "{text}"
            );
        }
    }
}
