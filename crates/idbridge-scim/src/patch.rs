//! The PATCH engine (RFC 7644 §3.5.2): a pure function from a stored document and a
//! PatchOp request to the new document, or an error that changes nothing.
//!
//! What real clients send, accepted here:
//! - Entra ID: capitalised ops (`"Replace"`, `"Add"`, `"Remove"`); booleans as strings;
//!   `add`/`replace` without `path` whose value maps attribute paths to values
//!   (`{"emails[type eq \"work\"].value": "…", "name.givenName": "…"}`); a filtered
//!   path that matches nothing yet (`roles[primary eq "True"].value`,
//!   `addresses[type eq "work"].formatted`), which creates the value; member removal
//!   both as `members[value eq "id"]` and as `path: "members"` with a value array.
//! - Okta: `{"op": "replace", "value": {"active": false}}` and member add/remove.
//!
//! Group members are not part of the document (a group may have very many): changes
//! to them come back as [`MemberChange`]s for the store to apply.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::eval;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::path::PatchPath;
use crate::resource::{
    self, Document, Scalars, WriteMode, coerce, coerce_with, enforce_single_primary, get_ci,
};
use crate::schema::{Attribute, Mutability, ResourceType, is_schema_urn};

/// Most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub kind: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<Operation>,
}

/// A member reference as clients send it: `{"value": "<id>", "type": "User"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    pub value: String,
    pub kind: Option<String>,
}

/// A change to a group's membership, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Add(Vec<MemberRef>),
    Remove(Vec<String>),
    RemoveAll,
    /// The membership becomes exactly this list (PUT, or replace of `members`); the
    /// store applies it as a difference, so unchanged members raise no events.
    ReplaceAll(Vec<MemberRef>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    pub doc: Document,
    /// Always empty for Users.
    pub members: Vec<MemberChange>,
}

impl PatchRequest {
    /// Reads a PatchOp body. Key and op names are matched case-insensitively.
    pub fn parse(body: &Value) -> Result<Self, ScimError> {
        let object = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a PATCH body must be a JSON object"))?;
        let schemas = get_ci(object, "schemas").and_then(Value::as_array);
        let declares_patch_op = schemas.is_some_and(|s| {
            s.iter().any(|v| {
                v.as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(crate::PATCH_OP))
            })
        });
        if !declares_patch_op {
            return Err(ScimError::invalid_syntax(format!(
                "\"schemas\" must be [\"{}\"]",
                crate::PATCH_OP
            )));
        }
        let operations = get_ci(object, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| ScimError::invalid_syntax("\"Operations\" must be an array"))?;
        if operations.is_empty() {
            return Err(ScimError::invalid_syntax("\"Operations\" is empty"));
        }
        if operations.len() > MAX_OPERATIONS {
            return Err(ScimError::invalid_syntax(format!(
                "at most {MAX_OPERATIONS} operations per request"
            )));
        }
        let operations = operations
            .iter()
            .map(parse_operation)
            .collect::<Result<_, _>>()?;
        Ok(Self { operations })
    }
}

fn parse_operation(raw: &Value) -> Result<Operation, ScimError> {
    let object = raw
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("each operation must be an object"))?;
    for key in object.keys() {
        if !["op", "path", "value"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            return Err(ScimError::invalid_syntax(format!(
                "unknown operation member {key:?}"
            )));
        }
    }
    let op = get_ci(object, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_syntax("an operation needs \"op\""))?;
    let kind = match op.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "remove" => OpKind::Remove,
        "replace" => OpKind::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown op {op:?}: use add, remove or replace"
            )));
        }
    };
    let path = match get_ci(object, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(
            PatchPath::parse(p)
                .map_err(|e| ScimError::invalid_path(format!("invalid path: {e}")))?,
        ),
        Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
    };
    let value = get_ci(object, "value").cloned();
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_syntax(format!("{op} needs a \"value\"")));
    }
    Ok(Operation { kind, path, value })
}

/// Applies every operation in order; the first failure fails the whole request.
pub fn apply(
    rt: ResourceType,
    doc: &Document,
    request: &PatchRequest,
) -> Result<Patched, ScimError> {
    let mut state = Patched {
        doc: doc.clone(),
        members: Vec::new(),
    };
    for op in &request.operations {
        apply_one(rt, &mut state, op)?;
    }
    resource::finish(rt, &mut state.doc)?;
    Ok(state)
}

fn apply_one(rt: ResourceType, state: &mut Patched, op: &Operation) -> Result<(), ScimError> {
    let value = op.value.clone().unwrap_or(Value::Null);
    match (&op.path, op.kind) {
        (None, OpKind::Remove) => Err(ScimError::no_target("remove needs a \"path\"")),
        (None, kind) => {
            let object = value.as_object().ok_or_else(|| {
                ScimError::invalid_value(
                    "without \"path\", \"value\" must be an object of attributes",
                )
            })?;
            for (key, v) in object {
                apply_keyed(rt, state, kind, key, v.clone())?;
            }
            Ok(())
        }
        (Some(PatchPath::Attr(path)), kind) => {
            apply_attr(rt, state, kind, path, value, op.value.is_some())
        }
        (
            Some(PatchPath::Filtered {
                path,
                filter,
                sub_attr,
            }),
            kind,
        ) => apply_filtered(rt, state, kind, path, filter, sub_attr.as_deref(), value),
    }
}

/// One member of a path-less `add`/`replace` value: a plain attribute, an extension
/// object, a flattened `urn:…:attr`, a dotted `name.givenName`, or a filtered path.
fn apply_keyed(
    rt: ResourceType,
    state: &mut Patched,
    kind: OpKind,
    key: &str,
    value: Value,
) -> Result<(), ScimError> {
    if key.contains('[') {
        return match PatchPath::parse(key)
            .map_err(|e| ScimError::invalid_path(format!("invalid path {key:?}: {e}")))?
        {
            PatchPath::Filtered {
                path,
                filter,
                sub_attr,
            } => apply_filtered(rt, state, kind, &path, &filter, sub_attr.as_deref(), value),
            PatchPath::Attr(path) => apply_attr(rt, state, kind, &path, value, true),
        };
    }
    if rt == ResourceType::Group && key.eq_ignore_ascii_case("members") {
        return members_write(state, kind, value);
    }
    // Okta's group rename carries the group's own `id` in the value; read-only
    // attributes in a path-less value are ignored, as in a POST or PUT body.
    if ["id", "meta", "schemas"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
    {
        return Ok(());
    }
    check_writable(rt, key)?;
    let mode = write_mode(kind);
    if !is_schema_urn(key) && key.contains('.') {
        return resource::set_dotted(rt, &mut state.doc, None, key, value, mode);
    }
    resource::set_attribute(rt, &mut state.doc, key, value, mode)
}

fn write_mode(kind: OpKind) -> WriteMode {
    match kind {
        OpKind::Add => WriteMode::Add,
        OpKind::Replace => WriteMode::Merge,
        OpKind::Remove => WriteMode::Replace,
    }
}

fn check_writable(rt: ResourceType, key: &str) -> Result<(), ScimError> {
    let read_only = ["id", "meta", "schemas"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
        || rt
            .core_schema()
            .attribute(key)
            .is_some_and(|a| a.mutability == Mutability::ReadOnly);
    if read_only {
        return Err(ScimError::mutability(format!("{key} is read-only")));
    }
    Ok(())
}

/// Where an attribute path points: the core schema, or an extension by URN.
struct Target<'p> {
    /// `None` for the core schema.
    urn: Option<&'p str>,
    attr: &'p str,
    def: Option<&'static Attribute>,
}

fn resolve<'p>(rt: ResourceType, path: &'p AttrPath) -> Target<'p> {
    let urn = path
        .schema
        .as_deref()
        .filter(|u| !u.eq_ignore_ascii_case(rt.core_schema().id));
    let def = match urn {
        None => rt.core_schema().attribute(&path.attr),
        Some(urn) => rt.schema(urn).and_then(|s| s.attribute(&path.attr)),
    };
    Target {
        urn,
        attr: &path.attr,
        def,
    }
}

fn apply_attr(
    rt: ResourceType,
    state: &mut Patched,
    kind: OpKind,
    path: &AttrPath,
    value: Value,
    has_value: bool,
) -> Result<(), ScimError> {
    // A whole extension, `urn:…:enterprise:2.0:User`, reads as schema `urn:…:2.0` with
    // attribute `User`; recognise it and write the extension object.
    if let Some(urn) = whole_extension(rt, path, &value) {
        return match kind {
            OpKind::Remove => {
                state.doc.retain(|k, _| !k.eq_ignore_ascii_case(&urn));
                Ok(())
            }
            other => resource::set_attribute(rt, &mut state.doc, &urn, value, write_mode(other)),
        };
    }
    let target = resolve(rt, path);
    if rt == ResourceType::Group
        && target.urn.is_none()
        && target.attr.eq_ignore_ascii_case("members")
    {
        if path.sub_attr.is_some() {
            return Err(ScimError::invalid_path(
                "members can only be changed whole or by a value filter",
            ));
        }
        return match kind {
            OpKind::Remove if has_value => {
                let ids = member_refs(&value)?.into_iter().map(|m| m.value).collect();
                state.members.push(MemberChange::Remove(ids));
                Ok(())
            }
            OpKind::Remove => {
                state.members.push(MemberChange::RemoveAll);
                Ok(())
            }
            other => members_write(state, other, value),
        };
    }
    if target.urn.is_none() {
        check_writable(rt, target.attr)?;
    }
    let dotted = match &path.sub_attr {
        Some(sub) => format!("{}.{sub}", path.attr),
        None => path.attr.clone(),
    };
    match kind {
        OpKind::Add | OpKind::Replace => resource::set_dotted(
            rt,
            &mut state.doc,
            target.urn,
            &dotted,
            value,
            write_mode(kind),
        ),
        OpKind::Remove => {
            // Entra's older member-style removal, generalised: remove the listed values
            // from a multi-valued attribute.
            if has_value && path.sub_attr.is_none() && target.def.is_some_and(|d| d.multi_valued) {
                let doomed = value
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![value.clone()]);
                if let Some(Value::Array(items)) = slot(&mut state.doc, rt, target.urn, target.attr)
                {
                    items.retain(|item| !doomed.iter().any(|d| same_value(item, d)));
                }
                return Ok(());
            }
            resource::set_dotted(
                rt,
                &mut state.doc,
                target.urn,
                &dotted,
                Value::Null,
                WriteMode::Replace,
            )
        }
    }
}

/// The URN, if `path` names a whole extension rather than an attribute in one: a
/// schema idbridge knows, or (for others) a URN ending in the resource type's name
/// with an object value.
fn whole_extension(rt: ResourceType, path: &AttrPath, value: &Value) -> Option<String> {
    let schema = path.schema.as_deref()?;
    if path.sub_attr.is_some() {
        return None;
    }
    let full = format!("{schema}:{}", path.attr);
    if let Some(known) = rt.schema(&full) {
        return Some(known.id.to_owned());
    }
    let named_like_extension =
        path.attr.eq_ignore_ascii_case(rt.name()) && (value.is_object() || value.is_null());
    (named_like_extension && rt.schema(schema).is_none()).then_some(full)
}

/// Two values of a multi-valued attribute are the same one if their `value`s are equal
/// (or, without a `value`, if they are equal altogether).
fn same_value(item: &Value, other: &Value) -> bool {
    match (item.get("value"), other.get("value")) {
        (Some(a), Some(b)) => a == b,
        _ => item == other,
    }
}

/// The stored array (or value) of an attribute, for in-place edits.
fn slot<'d>(
    doc: &'d mut Document,
    rt: ResourceType,
    urn: Option<&str>,
    attr: &str,
) -> Option<&'d mut Value> {
    let container = match urn {
        None => doc,
        Some(urn) => {
            let key = doc.keys().find(|k| k.eq_ignore_ascii_case(urn)).cloned()?;
            doc.get_mut(&key)?.as_object_mut()?
        }
    };
    let name = match urn.and_then(|u| rt.schema(u)).or(if urn.is_none() {
        Some(rt.core_schema())
    } else {
        None
    }) {
        Some(schema) => schema.attribute(attr).map(|a| a.name.to_owned()),
        None => None,
    }
    .or_else(|| {
        container
            .keys()
            .find(|k| k.eq_ignore_ascii_case(attr))
            .cloned()
    })?;
    container.get_mut(&name)
}

fn apply_filtered(
    rt: ResourceType,
    state: &mut Patched,
    kind: OpKind,
    path: &AttrPath,
    filter: &Filter,
    sub_attr: Option<&str>,
    value: Value,
) -> Result<(), ScimError> {
    let target = resolve(rt, path);
    if rt == ResourceType::Group
        && target.urn.is_none()
        && target.attr.eq_ignore_ascii_case("members")
    {
        return match (kind, sub_attr) {
            (OpKind::Remove, None) => {
                let ids = member_ids_of(filter).ok_or_else(|| {
                    ScimError::invalid_filter(
                        "members can be selected only by value eq \"<id>\" (or several, or-ed)",
                    )
                })?;
                state.members.push(MemberChange::Remove(ids));
                Ok(())
            }
            _ => Err(ScimError::invalid_path(
                "a filtered members path can only be removed",
            )),
        };
    }
    if target.urn.is_none() {
        check_writable(rt, target.attr)?;
    }
    if let Some(def) = target.def
        && !(def.multi_valued && def.sub_attributes.len() > 1)
    {
        return Err(ScimError::invalid_path(format!(
            "{} is not a multi-valued complex attribute",
            def.name
        )));
    }
    let sub_def = sub_attr.and_then(|s| target.def.and_then(|d| d.sub_attribute(s)));
    if let Some(sub) = sub_attr
        && target.def.is_some()
        && sub_def.is_none()
    {
        return Err(ScimError::invalid_path(format!(
            "{} has no sub-attribute {sub}",
            target.attr
        )));
    }
    let new_value = match (kind, sub_def) {
        (OpKind::Remove, _) => None,
        (_, Some(def)) => coerce_with(def, value, def.name, Scalars::for_extension(target.urn))?,
        (_, None) => Some(value),
    };
    let attr_name = target.def.map(|d| d.name).unwrap_or(target.attr).to_owned();

    // Ensure the array exists (so an upsert has somewhere to go).
    let mut items: Vec<Value> = match slot(&mut state.doc, rt, target.urn, target.attr) {
        Some(Value::Array(items)) => std::mem::take(items),
        Some(other) => vec![other.take()],
        None => Vec::new(),
    };
    let matched: Vec<usize> = (0..items.len())
        .filter(|&i| eval::matches(target.def, &items[i], filter))
        .collect();

    let sets_primary = |v: &Option<Value>| match (sub_attr, v) {
        (Some(s), Some(v)) => s.eq_ignore_ascii_case("primary") && v.as_bool() == Some(true),
        (None, Some(v)) => v.get("primary").and_then(Value::as_bool) == Some(true),
        _ => false,
    };
    let mut primary_at = None;
    match kind {
        OpKind::Remove => match sub_attr {
            None => {
                let mut i = 0;
                items.retain(|_| {
                    let keep = !matched.contains(&i);
                    i += 1;
                    keep
                });
            }
            Some(sub) => {
                for &i in &matched {
                    if let Some(object) = items[i].as_object_mut() {
                        let key = object.keys().find(|k| k.eq_ignore_ascii_case(sub)).cloned();
                        if let Some(key) = key {
                            object.remove(&key);
                        }
                    }
                }
                items.retain(|v| v.as_object().is_none_or(|o| !o.is_empty()));
            }
        },
        OpKind::Add | OpKind::Replace if !matched.is_empty() => {
            for &i in &matched {
                write_into(
                    &mut items[i],
                    target.def,
                    sub_attr,
                    sub_def,
                    new_value.clone(),
                )?;
                if sets_primary(&new_value) {
                    primary_at = Some(i);
                }
            }
        }
        OpKind::Add | OpKind::Replace => {
            // Nothing matches yet. When the filter pins the value down by equalities
            // (`type eq "work"`, `primary eq "True"`), create that value: this is how
            // Entra ID adds a work address or an app role.
            let Some(mut created) = equalities(target.def, filter) else {
                return Err(ScimError::no_target(format!(
                    "no value of {} matches the filter, and the filter does not say what to create",
                    target.attr
                )));
            };
            write_into(
                &mut created,
                target.def,
                sub_attr,
                sub_def,
                new_value.clone(),
            )?;
            if sets_primary(&new_value)
                || created.get("primary").and_then(Value::as_bool) == Some(true)
            {
                primary_at = Some(items.len());
            }
            items.push(created);
        }
    }
    if let Some(keep) = primary_at {
        for (i, item) in items.iter_mut().enumerate() {
            if i != keep
                && let Some(object) = item.as_object_mut()
                && object.get("primary").and_then(Value::as_bool) == Some(true)
            {
                object.insert("primary".into(), Value::Bool(false));
            }
        }
    } else {
        enforce_single_primary(&mut items);
    }
    store_items(&mut state.doc, target.urn, rt, &attr_name, items);
    Ok(())
}

fn write_into(
    element: &mut Value,
    def: Option<&'static Attribute>,
    sub_attr: Option<&str>,
    sub_def: Option<&'static Attribute>,
    new_value: Option<Value>,
) -> Result<(), ScimError> {
    if !element.is_object() {
        *element = Value::Object(Map::new());
    }
    let Some(object) = element.as_object_mut() else {
        return Ok(());
    };
    match (sub_attr, new_value) {
        (Some(sub), Some(v)) => {
            let name = sub_def
                .map(|d| d.name.to_owned())
                .unwrap_or_else(|| sub.to_owned());
            object.insert(name, v);
        }
        (Some(sub), None) => {
            object.remove(sub_def.map(|d| d.name).unwrap_or(sub));
        }
        (None, Some(v)) => {
            let coerced = match def {
                Some(def) => {
                    let single = Attribute {
                        multi_valued: false,
                        ..*def
                    };
                    coerce(&single, v, def.name)?
                }
                None => Some(v),
            };
            match coerced {
                Some(Value::Object(fields)) => {
                    for (k, v) in fields {
                        object.insert(k, v);
                    }
                }
                Some(_) => {
                    return Err(ScimError::invalid_value(
                        "the value of a filtered path must be an object",
                    ));
                }
                None => {}
            }
        }
        (None, None) => {}
    }
    Ok(())
}

/// The value a filter of equalities describes: `type eq "work" and primary eq "True"`
/// gives `{"type": "work", "primary": true}`. `None` if the filter is anything else.
fn equalities(def: Option<&'static Attribute>, filter: &Filter) -> Option<Value> {
    fn collect(
        def: Option<&'static Attribute>,
        filter: &Filter,
        out: &mut Map<String, Value>,
    ) -> Option<()> {
        match filter {
            Filter::And(a, b) => {
                collect(def, a, out)?;
                collect(def, b, out)
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } => {
                let sub = def.and_then(|d| d.sub_attribute(&path.attr));
                let literal = match value {
                    CompValue::Str(s) => Value::String(s.clone()),
                    CompValue::Num(n) => Value::Number(n.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Null => return None,
                };
                let (name, literal) = match sub {
                    Some(sub) => (
                        sub.name.to_owned(),
                        coerce(sub, literal, sub.name).ok().flatten()?,
                    ),
                    None => (path.attr.clone(), literal),
                };
                out.insert(name, literal);
                Some(())
            }
            _ => None,
        }
    }
    let mut out = Map::new();
    collect(def, filter, &mut out)?;
    Some(Value::Object(out))
}

fn store_items(
    doc: &mut Document,
    urn: Option<&str>,
    rt: ResourceType,
    attr: &str,
    items: Vec<Value>,
) {
    fn put(container: &mut Document, attr: &str, items: Vec<Value>) {
        if items.is_empty() {
            container.remove(attr);
        } else {
            container.insert(attr.to_owned(), Value::Array(items));
        }
    }
    let Some(urn) = urn else {
        put(doc, attr, items);
        return;
    };
    let key = rt
        .schema(urn)
        .map(|s| s.id.to_owned())
        .or_else(|| doc.keys().find(|k| k.eq_ignore_ascii_case(urn)).cloned())
        .unwrap_or_else(|| urn.to_owned());
    let mut extension = match doc.remove(&key) {
        Some(Value::Object(object)) => object,
        _ => Map::new(),
    };
    put(&mut extension, attr, items);
    if !extension.is_empty() {
        doc.insert(key, Value::Object(extension));
    }
}

fn members_write(state: &mut Patched, kind: OpKind, value: Value) -> Result<(), ScimError> {
    let members = member_refs(&value)?;
    state.members.push(match kind {
        OpKind::Replace => MemberChange::ReplaceAll(members),
        _ => MemberChange::Add(members),
    });
    Ok(())
}

/// `[{"value": "id", "type": "User"}, …]` (or one such object).
pub fn member_refs(value: &Value) -> Result<Vec<MemberRef>, ScimError> {
    let items = match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        single => vec![single.clone()],
    };
    items
        .iter()
        .map(|item| {
            let object = item
                .as_object()
                .ok_or_else(|| ScimError::invalid_value("each member must be an object"))?;
            let id = get_ci(object, "value")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    ScimError::invalid_value("each member needs a \"value\" (the member's id)")
                })?;
            let kind = get_ci(object, "type")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(MemberRef {
                value: id.to_owned(),
                kind,
            })
        })
        .collect()
}

/// The ids a members filter selects, if it is `value eq "id"` (or several, or-ed).
fn member_ids_of(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.attr.eq_ignore_ascii_case("value") && path.sub_attr.is_none() => {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = member_ids_of(a)?;
            ids.extend(member_ids_of(b)?);
            Some(ids)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScimType;
    use crate::schema::{CORE_USER, ENTERPRISE_USER};
    use proptest::prelude::*;
    use serde_json::json;

    fn user(body: Value) -> Document {
        let mut body = body;
        if let Some(map) = body.as_object_mut() {
            map.insert("schemas".into(), json!([CORE_USER, ENTERPRISE_USER]));
        }
        resource::normalize(ResourceType::User, &body).expect("valid user")
    }

    fn ops(operations: Value) -> PatchRequest {
        PatchRequest::parse(&json!({"schemas": [crate::PATCH_OP], "Operations": operations}))
            .expect("valid PatchOp")
    }

    fn patch_user(doc: &Document, operations: Value) -> Result<Value, ScimError> {
        apply(ResourceType::User, doc, &ops(operations)).map(|p| Value::Object(p.doc))
    }

    #[test]
    fn entra_app_roles_sent_as_json_text_are_stored_as_their_value() {
        // Microsoft Learn, "Customize user provisioning attribute-mappings":
        // AppRoleAssignmentsComplex's PATCH, byte for byte in shape.
        let role = |id: &str, value: &str| json!({"value": format!(r#"{{"id":"{id}","value":"{value}","displayName":"{value}"}}"#)});
        let patched = patch_user(
            &ada(),
            json!([{"op": "Add", "path": "roles", "value": [
                role("06b07648-ecfe-589f-9d2f-6325724a46ee", "Admin"),
                role("06b07648-ecfe-599f-9d2f-6325724a46ee", "User"),
            ]}]),
        )
        .expect("applied");
        let values: Vec<&str> = patched["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .filter_map(|r| r["value"].as_str())
            .collect();
        assert!(
            values.contains(&"Admin") && values.contains(&"User"),
            "{values:?}"
        );
        assert!(
            patched["roles"]
                .as_array()
                .expect("roles")
                .iter()
                .all(|r| r.get("display").is_some())
        );
        // SingleAppRoleAssignment through its filtered path.
        let patched = patch_user(
            &ada(),
            json!([{"op": "Add", "path": "roles[primary eq \"True\"].value",
                "value": r#"{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}"#}]),
        )
        .expect("applied");
        assert!(
            patched["roles"]
                .as_array()
                .expect("roles")
                .iter()
                .any(|r| r["value"] == "25" && r["primary"] == true),
            "{}",
            patched["roles"]
        );
        // Text that is not an app role is kept as sent.
        let patched = patch_user(
            &ada(),
            json!([{"op": "replace", "path": "roles", "value": [{"value": "{not json"}, {"value": "{\"id\":\"x\"}"}]}]),
        )
        .expect("applied");
        assert_eq!(
            patched["roles"],
            json!([{"value": "{not json"}, {"value": "{\"id\":\"x\"}"}])
        );
    }

    #[test]
    fn a_patch_leaves_no_empty_value_behind() {
        // What proptest found: a filtered add of null where nothing matched made
        // `emails: [{}]`, which no POST could store.
        let patched = patch_user(
            &ada(),
            json!([
                {"op": "remove", "path": "emails"},
                {"op": "add", "path": "emails[primary eq true].primary", "value": null},
            ]),
        )
        .expect("applies");
        assert!(patched.get("emails").is_none(), "{patched}");
    }

    #[test]
    fn a_patch_cannot_grow_a_user_past_the_caps() {
        // Adding one email at a time: the 101st add fails, and nothing of it is kept.
        let mut doc = ada();
        for i in 0..crate::resource::MAX_VALUES - 1 {
            let patched = patch_user(
                &doc,
                json!([{"op": "add", "path": "emails", "value": [{"value": format!("{i}@b")}]}]),
            )
            .expect("under the cap");
            doc = patched.as_object().expect("object").clone();
        }
        assert_eq!(
            doc["emails"].as_array().expect("emails").len(),
            crate::resource::MAX_VALUES
        );
        let err = patch_user(
            &doc,
            json!([{"op": "add", "path": "emails", "value": [{"value": "one-more@b"}]}]),
        )
        .expect_err("over the cap");
        assert_eq!(err.scim_type, Some(crate::ScimType::InvalidValue));
    }

    fn ada() -> Document {
        user(json!({
            "userName": "ada@example.com",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        }))
    }

    #[test]
    fn entra_replace_with_filtered_and_dotted_paths() {
        // Microsoft Learn, "Tutorial: Develop and plan provisioning for a SCIM
        // endpoint", update user (multi-valued and single-valued properties).
        let out = patch_user(&ada(), json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        ]))
        .expect("applies");
        assert_eq!(
            out["emails"],
            json!([{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}])
        );
        assert_eq!(
            out["name"],
            json!({"givenName": "Ada", "familyName": "updatedFamilyName"})
        );
    }

    /// RFC 7644 §3.5.2.3: replacing a complex attribute with some of its
    /// sub-attributes leaves the others unchanged, with or without a path; a
    /// multi-valued attribute is still replaced whole.
    #[test]
    fn replace_of_a_complex_value_keeps_the_sub_attributes_it_does_not_name() {
        let lovelace = json!({"givenName": "X", "familyName": "Lovelace"});
        for operations in [
            json!([{"op": "replace", "value": {"name": {"givenName": "X"}}}]),
            json!([{"op": "Replace", "path": "name", "value": {"givenName": "X"}}]),
            json!([{"op": "replace", "value": {"name.givenName": "X"}}]),
        ] {
            let out = patch_user(&ada(), operations.clone()).expect("applies");
            assert_eq!(out["name"], lovelace, "{operations}");
        }
        let manager = |doc: &Value| doc[ENTERPRISE_USER]["manager"].clone();
        let managed = user(json!({
            "userName": "ada@example.com",
            ENTERPRISE_USER: {"department": "R&D", "manager": {"value": "m-1", "displayName": "Boss"}},
        }));
        let out = patch_user(
            &managed,
            json!([{"op": "replace", "value": {ENTERPRISE_USER: {"manager": {"value": "m-2"}}}}]),
        )
        .expect("applies");
        assert_eq!(
            manager(&out),
            json!({"value": "m-2", "displayName": "Boss"})
        );
        assert_eq!(
            out[ENTERPRISE_USER]["department"], "R&D",
            "the extension's other attributes stay"
        );
        let out = patch_user(
            &ada(),
            json!([{"op": "replace", "value": {"emails": [{"value": "b@example.com", "type": "home"}]}}]),
        )
        .expect("applies");
        assert_eq!(
            out["emails"],
            json!([{"value": "b@example.com", "type": "home"}])
        );
    }

    #[test]
    fn entra_disable_user_with_string_boolean() {
        let out = patch_user(
            &ada(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .expect("applies");
        assert_eq!(out["active"], false);
        let out = patch_user(
            &ada(),
            json!([{"op": "replace", "value": {"active": "false"}}]),
        )
        .expect("applies");
        assert_eq!(out["active"], false);
    }

    #[test]
    fn okta_deactivate_without_path() {
        let out = patch_user(
            &ada(),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .expect("applies");
        assert_eq!(out["active"], false);
        assert_eq!(out["userName"], "ada@example.com");
    }

    #[test]
    fn entra_path_less_value_object_with_attribute_paths() {
        let out = patch_user(&ada(), json!([{"op": "Add", "value": {
            "emails[type eq \"work\"].value": "ada@newco.com",
            "name.givenName": "Augusta",
            "title": "Countess",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Analytical Engines",
            "addresses[type eq \"work\"].formatted": "12 St James's Square",
        }}]))
        .expect("applies");
        assert_eq!(out["emails"][0]["value"], "ada@newco.com");
        assert_eq!(out["name"]["givenName"], "Augusta");
        assert_eq!(out["title"], "Countess");
        assert_eq!(out[ENTERPRISE_USER]["department"], "Analytical Engines");
        assert_eq!(
            out["addresses"],
            json!([{"type": "work", "formatted": "12 St James's Square"}])
        );
    }

    #[test]
    fn entra_app_role_assignment_creates_and_replaces_the_primary_role() {
        // roles[primary eq "True"].value, fed by SingleAppRoleAssignment([appRoleAssignments]).
        let out = patch_user(
            &ada(),
            json!([{"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "admin"}]),
        )
        .expect("applies");
        assert_eq!(out["roles"], json!([{"primary": true, "value": "admin"}]));
        let again = patch_user(
            &user(serde_json::from_value(out).expect("doc")),
            json!([
                {"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "member"}
            ]),
        )
        .expect("applies");
        assert_eq!(
            again["roles"],
            json!([{"primary": true, "value": "member"}])
        );
    }

    #[test]
    fn entra_manager_in_every_shape() {
        for value in [
            json!("26118915"),
            json!({"value": "26118915"}),
            json!([{"$ref": null, "value": "26118915"}]),
        ] {
            let out = patch_user(&ada(), json!([{
                "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": value,
            }]))
            .expect("applies");
            assert_eq!(
                out[ENTERPRISE_USER]["manager"],
                json!({"value": "26118915"}),
                "{value}"
            );
        }
        let removed = patch_user(&ada(), json!([
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "x"},
            {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"},
        ]))
        .expect("applies");
        assert!(removed.get(ENTERPRISE_USER).is_none(), "{removed}");
    }

    #[test]
    fn add_to_multi_valued_appends_and_keeps_one_primary() {
        let out = patch_user(&ada(), json!([
            {"op": "add", "path": "emails", "value": [{"value": "home@example.com", "type": "home", "primary": true}]},
        ]))
        .expect("applies");
        assert_eq!(
            out["emails"],
            json!([
                {"value": "ada@example.com", "type": "work", "primary": false},
                {"value": "home@example.com", "type": "home", "primary": true},
            ])
        );
        let out = patch_user(&ada(), json!([
            {"op": "add", "path": "emails", "value": [{"value": "ada@example.com", "type": "work", "primary": true}]},
        ]))
        .expect("applies");
        assert_eq!(
            out["emails"].as_array().map(Vec::len),
            Some(1),
            "an identical value is not added twice"
        );
    }

    #[test]
    fn replace_multi_valued_without_filter_replaces_all() {
        let out = patch_user(
            &ada(),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "x@y.z"}]}]),
        )
        .expect("applies");
        assert_eq!(out["emails"], json!([{"value": "x@y.z"}]));
    }

    #[test]
    fn remove_by_filter_by_sub_attribute_and_whole() {
        let doc = user(json!({
            "userName": "a",
            "phoneNumbers": [{"value": "1", "type": "work"}, {"value": "2", "type": "mobile"}],
            "title": "t",
        }));
        let out = patch_user(
            &doc,
            json!([{"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}]),
        )
        .expect("applies");
        assert_eq!(
            out["phoneNumbers"],
            json!([{"value": "2", "type": "mobile"}])
        );
        let out = patch_user(
            &doc,
            json!([{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"].type"}]),
        )
        .expect("applies");
        assert_eq!(
            out["phoneNumbers"],
            json!([{"value": "1", "type": "work"}, {"value": "2"}])
        );
        let out = patch_user(
            &doc,
            json!([{"op": "Remove", "path": "title"}, {"op": "remove", "path": "phoneNumbers"}]),
        )
        .expect("applies");
        assert!(out.get("title").is_none() && out.get("phoneNumbers").is_none());
        let out = patch_user(
            &doc,
            json!([{"op": "remove", "path": "phoneNumbers", "value": [{"value": "1"}]}]),
        )
        .expect("applies");
        assert_eq!(
            out["phoneNumbers"],
            json!([{"value": "2", "type": "mobile"}])
        );
    }

    #[test]
    fn refusals_carry_the_right_scim_type() {
        let cases = [
            (json!([{"op": "remove"}]), ScimType::NoTarget),
            (
                json!([{"op": "replace", "path": "phoneNumbers[type eq \"work\" or type eq \"home\"].value", "value": "1"}]),
                ScimType::NoTarget,
            ),
            (
                json!([{"op": "replace", "path": "id", "value": "x"}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "replace", "path": "groups", "value": []}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "maybe"}]),
                ScimType::InvalidValue,
            ),
            // Core attributes keep their types through PATCH, with and without a path.
            (
                json!([{"op": "replace", "path": "userName", "value": 42}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "value": {"displayName": {"$ne": ""}}}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "path": "emails", "value": [{"value": true}]}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "remove", "path": "userName"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "path": "name.familyName.x", "value": "1"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "title[value eq \"x\"]", "value": "1"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq \"work\"].nope", "value": "1"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "value": "not an object"}]),
                ScimType::InvalidValue,
            ),
        ];
        for (operations, expected) in cases {
            let request = PatchRequest::parse(
                &json!({"schemas": [crate::PATCH_OP], "Operations": operations.clone()}),
            );
            let err = request
                .and_then(|r| apply(ResourceType::User, &ada(), &r))
                .expect_err("refused");
            assert_eq!(err.scim_type, Some(expected), "{operations}: {err}");
        }
        for body in [
            json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            json!({"schemas": [crate::PATCH_OP], "Operations": []}),
            json!({"schemas": [crate::PATCH_OP], "Operations": [{"op": "move", "path": "title"}]}),
            json!({"schemas": [crate::PATCH_OP], "Operations": [{"op": "add", "path": "title"}]}),
            json!({"schemas": [crate::PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": 1, "extra": 2}]}),
        ] {
            assert!(PatchRequest::parse(&body).is_err(), "{body}");
        }
        let err = PatchRequest::parse(&json!({"schemas": [crate::PATCH_OP], "Operations": [{"op": "add", "path": "emails[", "value": 1}]}))
            .expect_err("bad path");
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn a_failed_operation_changes_nothing() {
        let doc = ada();
        let request = ops(json!([
            {"op": "replace", "path": "title", "value": "Countess"},
            {"op": "replace", "path": "active", "value": "maybe"},
        ]));
        assert!(apply(ResourceType::User, &doc, &request).is_err());
        assert_eq!(doc, ada());
    }

    fn group_patch(operations: Value) -> Result<Patched, ScimError> {
        let doc = resource::normalize(
            ResourceType::Group,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"}),
        )?;
        apply(ResourceType::Group, &doc, &ops(operations))
    }

    fn member(id: &str) -> MemberRef {
        MemberRef {
            value: id.into(),
            kind: None,
        }
    }

    #[test]
    fn group_members_change_as_entra_and_okta_send_it() {
        // Entra: add, then remove in the older value-array style.
        let p = group_patch(
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]),
        )
        .expect("ok");
        assert_eq!(p.members, [MemberChange::Add(vec![member("u1")])]);
        let p = group_patch(
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]),
        )
        .expect("ok");
        assert_eq!(p.members, [MemberChange::Remove(vec!["u1".into()])]);
        // RFC style, as Okta sends it.
        let p =
            group_patch(json!([{"op": "remove", "path": "members[value eq \"u2\"]"}])).expect("ok");
        assert_eq!(p.members, [MemberChange::Remove(vec!["u2".into()])]);
        let p = group_patch(
            json!([{"op": "remove", "path": "members[value eq \"u2\" or value eq \"u3\"]"}]),
        )
        .expect("ok");
        assert_eq!(
            p.members,
            [MemberChange::Remove(vec!["u2".into(), "u3".into()])]
        );
        let p = group_patch(json!([{"op": "replace", "path": "members", "value": [{"value": "u4", "display": "x"}]}])).expect("ok");
        assert_eq!(p.members, [MemberChange::ReplaceAll(vec![member("u4")])]);
        let p = group_patch(json!([{"op": "remove", "path": "members"}])).expect("ok");
        assert_eq!(p.members, [MemberChange::RemoveAll]);
        // Okta's rename carries the group's id in the value.
        let p = group_patch(
            json!([{"op": "replace", "value": {"id": "abf4dd94", "displayName": "Test SCIMv2"}}]),
        )
        .expect("ok");
        assert_eq!(p.doc["displayName"], "Test SCIMv2");
        assert!(p.members.is_empty());
        let err = group_patch(json!([{"op": "remove", "path": "members[display eq \"x\"]"}]))
            .expect_err("refused");
        assert_eq!(err.scim_type, Some(ScimType::InvalidFilter));
        let err =
            group_patch(json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]))
                .expect_err("refused");
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
    }

    fn arb_op() -> impl Strategy<Value = Value> {
        let paths = prop::sample::select(vec![
            "title",
            "active",
            "userName",
            "name.givenName",
            "name",
            "emails",
            "emails[type eq \"work\"].value",
            "emails[type eq \"work\"]",
            "roles[primary eq \"True\"].value",
            "phoneNumbers[value co \"1\"]",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "id",
            "groups",
            "nope.x",
            "urn:example:ext:1.0:User:badge",
            "emails[primary eq true].primary",
        ]);
        let values = prop_oneof![
            Just(json!("x")),
            Just(json!(true)),
            Just(json!("False")),
            Just(json!(7)),
            Just(json!(null)),
            Just(json!({"value": "v", "primary": true})),
            Just(json!([{"value": "v", "type": "work"}])),
            Just(json!({"active": "True", "title": "t", "name.familyName": "f"})),
            Just(json!([])),
        ];
        (
            prop::sample::select(vec!["add", "Add", "replace", "Replace", "remove"]),
            proptest::option::of(paths),
            values,
        )
            .prop_map(|(op, path, value)| {
                let mut o = json!({"op": op, "value": value});
                if let (Some(p), Some(map)) = (path, o.as_object_mut()) {
                    map.insert("path".into(), json!(p));
                }
                o
            })
    }

    proptest! {
        #[test]
        fn patch_never_panics_and_leaves_a_valid_document(operations in prop::collection::vec(arb_op(), 1..6)) {
            let doc = ada();
            let Ok(request) = PatchRequest::parse(&json!({"schemas": [crate::PATCH_OP], "Operations": operations})) else {
                return Ok(());
            };
            if let Ok(patched) = apply(ResourceType::User, &doc, &request) {
                // The result is a document normalisation accepts and leaves as it is.
                let mut body = Value::Object(patched.doc.clone());
                if let Some(map) = body.as_object_mut() {
                    map.insert("schemas".into(), json!([CORE_USER]));
                }
                let again = resource::normalize(ResourceType::User, &body).expect("still a valid user");
                prop_assert_eq!(again, patched.doc.clone());
                prop_assert!(!patched.doc.contains_key("id"));
                let primaries = patched.doc.get("emails").and_then(Value::as_array).map(|e| {
                    e.iter().filter(|v| v.get("primary") == Some(&json!(true))).count()
                });
                prop_assert!(primaries.unwrap_or(0) <= 1);
            }
        }
    }
}
