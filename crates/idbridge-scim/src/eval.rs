//! Evaluating a value filter against one value of a multi-valued complex attribute,
//! in memory: how PATCH finds `emails[type eq "work"]`. (Filters over whole
//! resources are compiled to SQL by the store instead.)

use std::cmp::Ordering;

use serde_json::Value;

use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::resource::parse_bool;
use crate::schema::{AttrType, Attribute};

/// Whether `element` (one value of the attribute `def`, when idbridge knows its
/// definition) satisfies `filter`, whose paths name sub-attributes.
pub fn matches(def: Option<&Attribute>, element: &Value, filter: &Filter) -> bool {
    match filter {
        Filter::And(a, b) => matches(def, element, a) && matches(def, element, b),
        Filter::Or(a, b) => matches(def, element, a) || matches(def, element, b),
        Filter::Not(inner) => !matches(def, element, inner),
        Filter::Present(path) => field(element, path).is_some_and(is_present),
        Filter::Compare { path, op, value } => {
            let sub = def.and_then(|d| d.sub_attribute(&path.attr));
            compare(sub, field(element, path), *op, value)
        }
        // Value filters do not nest (the parser refuses them); nothing matches.
        Filter::ValuePath { .. } => false,
    }
}

fn field<'a>(element: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let object = element.as_object()?;
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&path.attr))
        .map(|(_, v)| v)
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Compares an attribute value with a filter literal, by the attribute's type:
/// booleans accept Entra's `"True"`; strings compare case-insensitively unless the
/// attribute is `caseExact`.
pub fn compare(
    def: Option<&Attribute>,
    actual: Option<&Value>,
    op: CompareOp,
    literal: &CompValue,
) -> bool {
    let case_exact = def.is_some_and(|d| d.case_exact);
    let is_bool_attr = def.is_some_and(|d| d.ty == AttrType::Boolean);
    let actual = actual.filter(|v| !v.is_null());
    match op {
        CompareOp::Ne => !compare(def, actual, CompareOp::Eq, literal),
        CompareOp::Eq => match (actual, literal) {
            (None, CompValue::Null) => true,
            (None, _) | (Some(_), CompValue::Null) => false,
            (Some(a), lit) => order(a, lit, case_exact, is_bool_attr) == Some(Ordering::Equal),
        },
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            let (Some(Value::String(a)), CompValue::Str(b)) = (actual, literal) else {
                return false;
            };
            let (a, b) = fold(a, b, case_exact);
            match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                _ => a.ends_with(&b),
            }
        }
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            // Booleans have no order (RFC 7644 §3.4.2.2).
            if is_bool_attr || matches!(literal, CompValue::Bool(_) | CompValue::Null) {
                return false;
            }
            let Some(ordering) = actual.and_then(|a| order(a, literal, case_exact, false)) else {
                return false;
            };
            match op {
                CompareOp::Gt => ordering == Ordering::Greater,
                CompareOp::Ge => ordering != Ordering::Less,
                CompareOp::Lt => ordering == Ordering::Less,
                _ => ordering != Ordering::Greater,
            }
        }
    }
}

fn fold(a: &str, b: &str, case_exact: bool) -> (String, String) {
    if case_exact {
        (a.to_owned(), b.to_owned())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    }
}

fn order(
    actual: &Value,
    literal: &CompValue,
    case_exact: bool,
    is_bool_attr: bool,
) -> Option<Ordering> {
    match (actual, literal) {
        (Value::Bool(a), CompValue::Bool(b)) => Some(a.cmp(b)),
        (Value::Bool(a), CompValue::Str(b)) if is_bool_attr => parse_bool(b).map(|b| a.cmp(&b)),
        (Value::String(a), CompValue::Bool(b)) if is_bool_attr => parse_bool(a).map(|a| a.cmp(b)),
        (Value::String(a), CompValue::Str(b)) => {
            let (a, b) = fold(a, b, case_exact);
            Some(a.cmp(&b))
        }
        (Value::Number(a), CompValue::Num(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::USER_SCHEMA;
    use serde_json::json;

    fn check(filter: &str, element: Value, expected: bool) {
        let def = USER_SCHEMA.attribute("emails");
        let parsed = Filter::parse(&format!("emails[{filter}]")).expect("filter parses");
        let Filter::ValuePath { filter, .. } = parsed else {
            panic!("not a value path")
        };
        assert_eq!(
            matches(def, &element, &filter),
            expected,
            "{filter} on {element}"
        );
    }

    #[test]
    fn value_filters_match_by_attribute_type() {
        let work = json!({"type": "work", "value": "Ada@Example.com", "primary": true});
        check(r#"type eq "work""#, work.clone(), true);
        check(r#"type eq "WORK""#, work.clone(), true);
        check(r#"type ne "work""#, work.clone(), false);
        check(r#"value co "@example.""#, work.clone(), true);
        check(r#"value sw "ada""#, work.clone(), true);
        check(r#"value ew ".COM""#, work.clone(), true);
        check(r#"primary eq true"#, work.clone(), true);
        check(r#"primary eq "True""#, work.clone(), true);
        check(r#"primary eq "False""#, work.clone(), false);
        check(r#"type eq "work" and primary eq true"#, work.clone(), true);
        check(r#"type eq "home" or primary eq true"#, work.clone(), true);
        check(r#"not (type eq "work")"#, work.clone(), false);
        check(r#"display pr"#, work.clone(), false);
        check(r#"value pr"#, work.clone(), true);
        check(r#"display eq null"#, work.clone(), true);
        check(r#"value gt "a""#, work.clone(), true);
        check(r#"value lt "a""#, work.clone(), false);
        check(r#"primary gt false"#, work, false);
    }
}
