//! The filter grammar of RFC 7644 §3.4.2.2 and the PATCH path grammar of §3.5.2, as
//! one `peg` grammar with two entry points.
//!
//! Accepted beyond the letter of the ABNF, because real clients send it:
//! keywords and operators in any case (`EQ`, `And`, `NOT`, `True`); any run of ASCII
//! whitespace where the ABNF has one space, and whitespace around the whole filter;
//! `not` directly followed by `(`; parentheses around any filter; `$` in attribute
//! names (`$ref`); and Entra ID's `emails[type eq "work"].value eq "x"`, read as
//! `emails[type eq "work" and value eq "x"]`.

use super::ast::{AttrPath, CompValue, CompareOp, Filter};
use crate::path::PatchPath;

peg::parser! {
    grammar scim() for str {
        rule ws() = quiet!{[' ' | '\t' | '\n' | '\r']+}
        rule ows() = quiet!{[' ' | '\t' | '\n' | '\r']*}

        /// A keyword, case-insensitively, not followed by more name characters.
        rule kw(word: &'static str) = w:$([_]*<{word.len()}>) !name_char() {?
            if w.eq_ignore_ascii_case(word) { Ok(()) } else { Err(word) }
        }

        rule name_char() = ['a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' | '$']

        pub rule filter() -> Filter = ows() f:or() ows() { f }

        rule or() -> Filter = first:and() rest:(ws() kw("or") ws() f:and() { f })* {
            rest.into_iter().fold(first, |a, b| Filter::Or(Box::new(a), Box::new(b)))
        }

        rule and() -> Filter = first:unary() rest:(ws() kw("and") ws() f:unary() { f })* {
            rest.into_iter().fold(first, |a, b| Filter::And(Box::new(a), Box::new(b)))
        }

        rule unary() -> Filter
            = kw("not") ows() "(" ows() f:or() ows() ")" { Filter::Not(Box::new(f)) }
            / "(" ows() f:or() ows() ")" { f }
            / filtered_sub_attr_exp()
            / value_path()
            / attr_exp()

        // `emails[type eq "work"].value eq "x"`: not in the RFC grammar, but Entra ID
        // matches users on `emails[type eq "work"].value`. It means
        // `emails[type eq "work" and value eq "x"]`, and is parsed as that.
        rule filtered_sub_attr_exp() -> Filter
            = path:attr_path() "[" ows() f:val_or() ows() "]" "." sub:sub_path() ws() test:sub_test(sub) {?
                if path.sub_attr.is_some() {
                    return Err("an attribute without a sub-attribute before '['");
                }
                Ok(Filter::ValuePath { path, filter: Box::new(Filter::And(Box::new(f), Box::new(test))) })
            }

        rule sub_test(sub: AttrPath) -> Filter
            = kw("pr") { Filter::Present(sub.clone()) }
            / op:compare_op() ws() value:comp_value() { Filter::Compare { path: sub.clone(), op, value } }

        rule value_path() -> Filter = path:attr_path() "[" ows() f:val_or() ows() "]" {?
            if path.sub_attr.is_some() {
                return Err("an attribute without a sub-attribute before '['");
            }
            Ok(Filter::ValuePath { path, filter: Box::new(f) })
        }

        // Inside `[...]`: the same logic over plain sub-attribute names.
        rule val_or() -> Filter = first:val_and() rest:(ws() kw("or") ws() f:val_and() { f })* {
            rest.into_iter().fold(first, |a, b| Filter::Or(Box::new(a), Box::new(b)))
        }

        rule val_and() -> Filter = first:val_unary() rest:(ws() kw("and") ws() f:val_unary() { f })* {
            rest.into_iter().fold(first, |a, b| Filter::And(Box::new(a), Box::new(b)))
        }

        rule val_unary() -> Filter
            = kw("not") ows() "(" ows() f:val_or() ows() ")" { Filter::Not(Box::new(f)) }
            / "(" ows() f:val_or() ows() ")" { f }
            / path:sub_path() ws() kw("pr") { Filter::Present(path) }
            / path:sub_path() ws() op:compare_op() ws() value:comp_value() { Filter::Compare { path, op, value } }

        rule sub_path() -> AttrPath = n:name() { AttrPath { schema: None, attr: n, sub_attr: None } }

        rule attr_exp() -> Filter
            = path:attr_path() ws() kw("pr") { Filter::Present(path) }
            / path:attr_path() ws() op:compare_op() ws() value:comp_value() { Filter::Compare { path, op, value } }

        rule compare_op() -> CompareOp = op:$(['a'..='z' | 'A'..='Z']*<2>) !name_char() {?
            Ok(match op.to_ascii_lowercase().as_str() {
                "eq" => CompareOp::Eq,
                "ne" => CompareOp::Ne,
                "co" => CompareOp::Co,
                "sw" => CompareOp::Sw,
                "ew" => CompareOp::Ew,
                "gt" => CompareOp::Gt,
                "ge" => CompareOp::Ge,
                "lt" => CompareOp::Lt,
                "le" => CompareOp::Le,
                _ => return Err("a comparison operator (eq ne co sw ew gt ge lt le)"),
            })
        }

        rule comp_value() -> CompValue
            = kw("true") { CompValue::Bool(true) }
            / kw("false") { CompValue::Bool(false) }
            / kw("null") { CompValue::Null }
            / n:number() { CompValue::Num(n) }
            / s:string() { CompValue::Str(s) }

        rule number() -> serde_json::Number
            = n:$("-"? ("0" / ['1'..='9'] ['0'..='9']*) ("." ['0'..='9']+)? (['e' | 'E'] ['+' | '-']? ['0'..='9']+)?)
              !name_char() {?
                parse_number(n).ok_or("a number JSON can represent")
            }

        // The literal's extent; serde_json decodes it (every JSON escape, surrogates).
        rule string() -> String
            = s:$("\"" ("\\" [_] / [^ '"' | '\\'])* "\"") {?
                serde_json::from_str::<String>(s)
                    .map_err(|_| "a JSON string (valid escapes, no raw control characters)")
                    .and_then(|s| if s.contains('\0') { Err("a string without U+0000") } else { Ok(s) })
            }

        rule name() -> String = n:$(['a'..='z' | 'A'..='Z' | '$'] name_char()*) { n.to_owned() }

        /// `[URN ":"] name ["." name]`: matched as one token, then split (a URN has
        /// dots and colons of its own, so the split is at its last ':').
        rule attr_path() -> AttrPath = t:$(['a'..='z' | 'A'..='Z' | '0'..='9' | ':' | '.' | '_' | '-' | '$']+) {?
            split_attr_path(t)
        }

        pub rule patch_path() -> PatchPath
            = path:attr_path() "[" ows() f:val_or() ows() "]" sub:("." n:name() { n })? {?
                if path.sub_attr.is_some() {
                    return Err("an attribute without a sub-attribute before '['");
                }
                Ok(PatchPath::Filtered { path, filter: f, sub_attr: sub })
            }
            / path:attr_path() { PatchPath::Attr(path) }
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
}

fn split_attr_path(token: &str) -> Result<AttrPath, &'static str> {
    const EXPECTED: &str = "an attribute path: [schema URN \":\"] name [\".\" name]";
    let (schema, rest) = if crate::schema::is_schema_urn(token) {
        let (urn, rest) = token.rsplit_once(':').ok_or(EXPECTED)?;
        if urn.len() <= 4 {
            return Err(EXPECTED);
        }
        (Some(urn.to_owned()), rest)
    } else {
        if token.contains(':') {
            return Err(EXPECTED);
        }
        (None, token)
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub)),
        None => (rest, None),
    };
    if !is_name(attr) || sub.is_some_and(|s| !is_name(s)) {
        return Err(EXPECTED);
    }
    Ok(AttrPath {
        schema,
        attr: attr.to_owned(),
        sub_attr: sub.map(str::to_owned),
    })
}

pub(crate) fn parse_filter(
    input: &str,
) -> Result<Filter, peg::error::ParseError<peg::str::LineCol>> {
    scim::filter(input)
}

pub(crate) fn parse_patch_path(
    input: &str,
) -> Result<PatchPath, peg::error::ParseError<peg::str::LineCol>> {
    scim::patch_path(input)
}

/// Integers stay exact; anything else goes through Rust's correctly rounded `f64`
/// parser (serde_json's default float parser is faster but may be off by one ulp,
/// which fuzzing showed makes a printed filter parse to a different number).
fn parse_number(text: &str) -> Option<serde_json::Number> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Some(u.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}
