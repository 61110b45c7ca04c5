//! A stored document read as text: its top-level members by name, each value left
//! as the JSON text it was stored as. A list page writes a hundred documents out
//! as they are; parsing each into a tree of values and writing that tree again was
//! most of a page's cost, and nothing in between needs the values.
//!
//! Pure: no I/O. The store hands over the text; the renderer writes the members.

use std::borrow::Cow;

/// A stored JSON object's members in byte order of their names (as a map of
/// names serializes), each value as its JSON text.
#[derive(Debug)]
pub struct Members<'a> {
    members: Vec<(Cow<'a, str>, &'a str)>,
}

/// Why a stored document cannot be read as one JSON object.
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    #[error("not one JSON object: unexpected text at byte {0}")]
    At(usize),
    #[error("a member name: {0}")]
    Name(serde_json::Error),
}

impl<'a> Members<'a> {
    /// The members of `text`, which must be one JSON object. A name given twice
    /// keeps its last value, as parsing into a map does.
    ///
    /// The text is the store's own, written by a serializer (SQLite's as serde
    /// wrote it, PostgreSQL's `jsonb` compacted): the walk checks that it is one
    /// object and finds where each member's name and value begin and end, and
    /// reads the names; a value is not checked against JSON's grammar inside,
    /// because it is copied to the answer as the text it was stored as. Doing so
    /// with a full parser was a tenth of a list page's cost.
    pub fn parse(text: &'a str) -> Result<Self, Malformed> {
        let mut walk = Walk { text, at: 0 };
        let mut members = Vec::with_capacity(16);
        walk.expect(b'{')?;
        if !walk.eat(b'}') {
            loop {
                let name = walk.name()?;
                walk.expect(b':')?;
                members.push((name, walk.value()?));
                if !walk.eat(b',') {
                    walk.expect(b'}')?;
                    break;
                }
            }
        }
        walk.end()?;
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

    /// The members, each name with whether the text held it without an escape:
    /// its JSON text is then the name between quotes, as a serializer would
    /// write it (JSON text holds no raw control character, quote or backslash
    /// inside a string), so it can be copied without a look at it.
    pub fn iter(&self) -> impl Iterator<Item = (&str, bool, &'a str)> + '_ {
        self.members
            .iter()
            .map(|(key, value)| (key.as_ref(), matches!(key, Cow::Borrowed(_)), *value))
    }
}

/// A walk through one stored object's text.
struct Walk<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Walk<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn malformed(&self) -> Malformed {
        Malformed::At(self.at)
    }

    fn skip_space(&mut self) {
        while matches!(
            self.bytes().get(self.at),
            Some(b' ' | b'\n' | b'\r' | b'\t')
        ) {
            self.at += 1;
        }
    }

    /// Steps over `byte` (after any space) if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let next = self.bytes().get(self.at) == Some(&byte);
        if next {
            self.at += 1;
        }
        next
    }

    fn expect(&mut self, byte: u8) -> Result<(), Malformed> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.malformed())
        }
    }

    fn end(&mut self) -> Result<(), Malformed> {
        self.skip_space();
        if self.at == self.text.len() {
            Ok(())
        } else {
            Err(self.malformed())
        }
    }

    /// A member's name: borrowed from the text unless it holds an escape.
    fn name(&mut self) -> Result<Cow<'a, str>, Malformed> {
        self.skip_space();
        if self.bytes().get(self.at) != Some(&b'"') {
            return Err(self.malformed());
        }
        let (end, escaped) = string_end(self.bytes(), self.at).ok_or(self.malformed())?;
        // Quotes are ASCII: both ends are character boundaries.
        let quoted = &self.text[self.at..end];
        self.at = end;
        if escaped {
            serde_json::from_str(quoted)
                .map(Cow::Owned)
                .map_err(Malformed::Name)
        } else {
            Ok(Cow::Borrowed(&quoted[1..quoted.len() - 1]))
        }
    }

    /// A value's text: a string, an object or array (to its matching bracket,
    /// strings inside stepped over), or a literal or number (to the next comma,
    /// bracket or space).
    fn value(&mut self) -> Result<&'a str, Malformed> {
        self.skip_space();
        let bytes = self.bytes();
        let start = self.at;
        match bytes.get(start) {
            Some(b'"') => {
                self.at = string_end(bytes, start).ok_or(self.malformed())?.0;
            }
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match bytes.get(self.at) {
                        None => return Err(self.malformed()),
                        Some(b'"') => {
                            self.at = string_end(bytes, self.at).ok_or(self.malformed())?.0;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while bytes.get(self.at).is_some_and(|b| {
                    !matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                }) {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(self.malformed());
                }
            }
        }
        // Every value ends on an ASCII byte or the text's end.
        self.text.get(start..self.at).ok_or(Malformed::At(start))
    }
}

/// Where the string whose opening quote is at `open` ends (the index after its
/// closing quote), and whether it holds an escape; `None` when it does not end.
/// JSON's strings, and SCIM filters' (which are JSON's), escape with a backslash.
pub(crate) fn string_end(bytes: &[u8], open: usize) -> Option<(usize, bool)> {
    let mut at = open + 1;
    let mut escaped = false;
    loop {
        at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[at] == b'"' {
            return Some((at + 1, escaped));
        }
        escaped = true;
        at += 2;
    }
}

/// `text` (valid JSON) without the whitespace between its tokens, as a compact
/// serializer writes it: PostgreSQL gives `jsonb` back with a space after each
/// `:` and `,`. Borrowed when there is none.
pub fn compact(text: &str) -> Cow<'_, str> {
    // A copy starts at the first whitespace outside a string (none at all for
    // what serde wrote); strings are stepped over whole.
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut from, mut at) = (0, 0);
    while let Some(&b) = bytes.get(at) {
        if b == b'"' {
            // Valid JSON's strings end; were one not to, the rest is kept as is.
            at = string_end(bytes, at).map_or(bytes.len(), |(end, _)| end);
            continue;
        }
        if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            // Whitespace is ASCII: `from..at` ends on a character boundary.
            out.get_or_insert_with(|| String::with_capacity(text.len()))
                .push_str(&text[from..at]);
            from = at + 1;
        }
        at += 1;
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
        let read: Vec<(&str, bool, &str)> = members.iter().collect();
        // A name given twice keeps its last value, as a map does; `aA` was
        // written with an escape, so it is not copied as it stands.
        assert_eq!(
            read,
            vec![
                ("a", true, r#""\"q\"""#),
                ("aA", false, "true"),
                ("b", true, "null")
            ]
        );
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
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{,}",
            "{a:1}",
            "{\"a\":\"never ends}",
            "{\"a\":[1,{\"b\":2}}",
            "{\"a\":1 \"b\":2}",
            "{\"a\\u12\":1}",
        ] {
            assert!(Members::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_string_ends_at_its_first_unescaped_quote() {
        for (text, end) in [
            (r#""ab" x"#, Some((4, false))),
            (r#""a\"b" x"#, Some((6, true))),
            (r#""a\\" x"#, Some((5, true))),
            (r#""" x"#, Some((2, false))),
            (r#""ab"#, None),
            (r#""ab\"#, None),
            (r#""ab\""#, None),
        ] {
            assert_eq!(string_end(text.as_bytes(), 0), end, "{text}");
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
            map in proptest::collection::btree_map("[a-z\"\u{e9}\n\\\\]{0,4}", values(), 0..6)
        ) {
            let object = Value::Object(map.into_iter().collect());
            // Compact as serde writes it, and spaced, as a walk may meet it.
            for text in [
                serde_json::to_string(&object).expect("json"),
                serde_json::to_string_pretty(&object).expect("json"),
            ] {
                let members = Members::parse(&text).expect("object");
                let rebuilt: serde_json::Map<String, Value> = members
                    .iter()
                    .map(|(k, _, v)| (k.to_owned(), serde_json::from_str(v).expect("value")))
                    .collect();
                prop_assert_eq!(Value::Object(rebuilt), object.clone());
                // A name is plain exactly when its text is itself between quotes.
                for (name, plain, _) in members.iter() {
                    let written = serde_json::to_string(name).expect("json");
                    prop_assert_eq!(plain, written == format!("\"{name}\""));
                }
            }
        }
    }

    #[test]
    fn a_document_with_nested_spacing_reads_the_same_compacted() {
        let spaced = r#"{"name": {"givenName": "Ada"}, "emails": [{"value": "a@b"}]}"#;
        let compacted = compact(spaced);
        let members = Members::parse(&compacted).expect("object");
        let read: Vec<(&str, &str)> = members.iter().map(|(k, _, v)| (k, v)).collect();
        assert_eq!(
            read,
            vec![
                ("emails", r#"[{"value":"a@b"}]"#),
                ("name", r#"{"givenName":"Ada"}"#)
            ]
        );
    }
}
