//! A stored document read as text: its top-level members by name, each value left
//! as the JSON text it was stored as. A list page writes a hundred documents out
//! as they are; parsing each into a tree of values and writing that tree again was
//! most of a page's cost, and nothing in between needs the values.
//!
//! Pure: no I/O. The store hands over the text; the renderer writes the members.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A stored JSON object's members in byte order of their names (as a map of
/// names serializes), each value as its JSON text.
#[derive(Debug)]
pub struct Members<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Members<'a> {
    /// The members of `text`, which must be a JSON object. A name given twice
    /// keeps its last value, as parsing into a map does.
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        let mut members = serde_json::from_str::<Self>(text)?.members;
        // Stable: among equal names the last read stays last, and wins below.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        Ok(Self { members })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.members
            .binary_search_by(|(key, _)| key.as_ref().cmp(name))
            .is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.members
            .iter()
            .map(|(key, value)| (key.as_ref(), *value))
    }

    /// [`Members::iter`], each name with whether the text held it without an
    /// escape: its JSON text is then the name between quotes, as a serializer
    /// would write it (JSON text holds no raw control character, quote or
    /// backslash inside a string), so it can be copied without a look at it.
    pub fn iter_plain(&self) -> impl Iterator<Item = (&str, bool, &'a RawValue)> + '_ {
        self.members
            .iter()
            .map(|(key, value)| (key.as_ref(), matches!(key, Cow::Borrowed(_)), *value))
    }
}

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Name(name)) = map.next_key()? {
                    members.push((name, map.next_value::<&RawValue>()?));
                }
                Ok(Members { members })
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// A member's name: borrowed from the text unless it holds an escape.
struct Name<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(NameVisitor)
    }
}

/// `text` (valid JSON) without the whitespace between its tokens, as a compact
/// serializer writes it: PostgreSQL gives `jsonb` back with a space after each
/// `:` and `,`. Borrowed when there is none.
pub fn compact(text: &str) -> Cow<'_, str> {
    // One walk over the strings' quotes; a copy starts at the first whitespace
    // outside a string (none at all for what serde wrote).
    let mut out: Option<String> = None;
    let mut from = 0;
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            // Whitespace is ASCII: `from..i` ends on a character boundary.
            out.get_or_insert_with(|| String::with_capacity(text.len()))
                .push_str(&text[from..i]);
            from = i + 1;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[from..]);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    #[test]
    fn members_are_read_in_name_order_with_their_text() {
        let text = r#"{"b":[1,{"x":"y"}],"a\u0041":true,"a":"\"q\"","b":null}"#;
        let members = Members::parse(text).expect("object");
        let read: Vec<(&str, &str)> = members.iter().map(|(k, v)| (k, v.get())).collect();
        // A name given twice keeps its last value, as a map does.
        assert_eq!(
            read,
            vec![("a", r#""\"q\"""#), ("aA", "true"), ("b", "null")]
        );
        assert!(members.contains("aA") && !members.contains("c"));
    }

    #[test]
    fn anything_but_an_object_is_refused() {
        for text in [
            "[]",
            "\"a\"",
            "1",
            "{",
            "{\"a\":}",
            "",
            "{} x",
            "{\"a\":1}}",
        ] {
            assert!(Members::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn postgres_spacing_is_taken_out_and_strings_are_left_alone() {
        let spaced = "{\"a\": [1, 2], \"b c\": \"d, e: f\\\" g\", \"h\": {\"i\": null}}";
        assert_eq!(
            compact(spaced),
            "{\"a\":[1,2],\"b c\":\"d, e: f\\\" g\",\"h\":{\"i\":null}}"
        );
        assert!(matches!(compact("{\"a\":\" \"}"), Cow::Borrowed(_)));
    }

    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            "[ a-z\"\\\\:,{}\\[\\]\u{e9}\n\t]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-z \"\u{e9}]{0,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn compact_text_is_what_a_compact_serializer_writes(value in values()) {
            let pretty = serde_json::to_string_pretty(&value).expect("json");
            let spaced = pretty.replace(',', ", ");
            let compact_text = serde_json::to_string(&value).expect("json");
            prop_assert_eq!(compact(&pretty), compact_text.as_str());
            // More spacing (inside strings too, which must stay): the same value.
            let reparsed: Value = serde_json::from_str(&compact(&spaced)).expect("json");
            let expected: Value = serde_json::from_str(&spaced).expect("json");
            prop_assert_eq!(reparsed, expected);
        }

        #[test]
        fn members_written_back_are_the_object(
            map in proptest::collection::btree_map("[a-z\"\u{e9}]{0,4}", values(), 0..6)
        ) {
            let object = Value::Object(map.into_iter().collect());
            let text = serde_json::to_string(&object).expect("json");
            let members = Members::parse(&text).expect("object");
            let rebuilt: serde_json::Map<String, Value> = members
                .iter()
                .map(|(k, v)| (k.to_owned(), serde_json::from_str(v.get()).expect("value")))
                .collect();
            prop_assert_eq!(Value::Object(rebuilt), object);
        }
    }

    #[test]
    fn a_document_with_nested_spacing_reads_the_same_compacted() {
        let spaced = r#"{"name": {"givenName": "Ada"}, "emails": [{"value": "a@b"}]}"#;
        let compacted = compact(spaced);
        let members = Members::parse(&compacted).expect("object");
        let read: Vec<(&str, &str)> = members.iter().map(|(k, v)| (k, v.get())).collect();
        assert_eq!(
            read,
            vec![
                ("emails", r#"[{"value":"a@b"}]"#),
                ("name", r#"{"givenName":"Ada"}"#)
            ]
        );
    }
}
