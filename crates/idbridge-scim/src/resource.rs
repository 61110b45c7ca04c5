//! Turning what a client sent into the canonical form idbridge stores, and stored
//! resources back into what clients get.
//!
//! Stored form ("document"): a JSON object with the client-writable attributes only
//! (no `id`, `meta`, `schemas`, `groups`, `password`; for Groups no `members`, which
//! live in their own table), attribute names in their schema's spelling, values of
//! the schema's type, extension attributes nested under their schema URN.
//!
//! Leniency, where real IdPs need it: booleans as strings (`"True"`, Entra), a single
//! object where an array is expected, the enterprise `manager` as a plain id string
//! (Entra), extension attributes flattened into the top level as
//! `urn:…:User:attr` keys, unknown attributes (kept as sent, never dropped).

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{AttrType, Attribute, Mutability, ResourceType, Schema, is_schema_urn};

pub type Document = Map<String, Value>;

/// Canonicalises a whole resource body (POST or PUT) into a stored document.
pub fn normalize(rt: ResourceType, body: &Value) -> Result<Document, ScimError> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    check_schemas(rt, object)?;
    let mut doc = Document::new();
    for (key, value) in object {
        set_attribute(rt, &mut doc, key, value.clone(), WriteMode::Replace)?;
    }
    finish(rt, &mut doc)?;
    Ok(doc)
}

/// Refuses a request body that holds U+0000 (NUL, `\u0000` in JSON text) in any
/// string or member name: no SCIM attribute holds one, PostgreSQL stores none in
/// text, and its JSON functions cannot read one out of a stored document, so one
/// stored would break every filter that reads into its tenant's documents.
pub fn refuse_nul(body: &Value) -> Result<(), ScimError> {
    if holds_nul(body) {
        return Err(ScimError::invalid_value(
            "the body holds U+0000 (NUL), which no SCIM value may",
        ));
    }
    Ok(())
}

pub use idbridge_core::json::holds_nul;

/// `schemas` must list the resource's core schema (RFC 7643 §3).
fn check_schemas(rt: ResourceType, object: &Map<String, Value>) -> Result<(), ScimError> {
    let schemas = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
        .ok_or_else(|| ScimError::invalid_syntax("the resource has no \"schemas\" attribute"))?;
    let list = schemas
        .as_array()
        .ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must be an array of URNs"))?;
    let core = rt.core_schema().id;
    if !list
        .iter()
        .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(core)))
    {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must include {core}"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMode {
    /// The value replaces whatever was there.
    Replace,
    /// Multi-valued attributes gain the values; complex ones merge sub-attributes.
    Add,
    /// PATCH `replace` (RFC 7644 §3.5.2.3): a single-valued complex value, or an
    /// extension, keeps the sub-attributes the new value does not name ("sub-attributes
    /// that are not specified in the value parameter are left unchanged"); every other
    /// value is replaced, multi-valued ones whole.
    Merge,
}

/// Sets one top-level key (an attribute name, an extension URN, or a flattened
/// `urn:…:attr`) of a document from a client value.
pub(crate) fn set_attribute(
    rt: ResourceType,
    doc: &mut Document,
    key: &str,
    value: Value,
    mode: WriteMode,
) -> Result<(), ScimError> {
    if key.eq_ignore_ascii_case("schemas") {
        return Ok(());
    }
    if is_schema_urn(key) {
        return set_extension_key(rt, doc, key, value, mode);
    }
    match rt.core_schema().attribute(key) {
        Some(def) => set_defined(doc, def, value, mode, Scalars::Strict),
        None if is_common_read_only(key) => Ok(()),
        // Not in any schema idbridge knows: keep it as sent rather than lose data.
        None => {
            match value {
                Value::Null => doc.remove(key),
                other => doc.insert(key.to_owned(), other),
            };
            Ok(())
        }
    }
}

fn is_common_read_only(key: &str) -> bool {
    ["id", "meta"].iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// `urn:…:Schema` (an object of that schema's attributes), or `urn:…:Schema:attr[.sub]`.
fn set_extension_key(
    rt: ResourceType,
    doc: &mut Document,
    key: &str,
    value: Value,
    mode: WriteMode,
) -> Result<(), ScimError> {
    // The core schema's URN may prefix a core attribute: `urn:…:core:2.0:User:userName`.
    let core = rt.core_schema();
    if let Some(rest) = strip_prefix_ci(key, core.id).and_then(|r| r.strip_prefix(':')) {
        return set_dotted(rt, doc, None, rest, value, mode);
    }
    if key.eq_ignore_ascii_case(core.id) {
        let object = value
            .as_object()
            .ok_or_else(|| ScimError::invalid_value(format!("{key} must be an object")))?;
        for (k, v) in object {
            set_attribute(rt, doc, k, v.clone(), mode)?;
        }
        return Ok(());
    }
    // A whole extension object?
    if let Some(schema) = rt
        .schema(key)
        .or_else(|| unknown_extension_object(key, &value))
    {
        let urn = schema_key(doc, rt, key);
        let Some(object) = value.as_object() else {
            if value.is_null() {
                doc.remove(&urn);
                return Ok(());
            }
            return Err(ScimError::invalid_value(format!("{key} must be an object")));
        };
        let mut ext = match mode {
            WriteMode::Replace => Document::new(),
            WriteMode::Add | WriteMode::Merge => doc
                .get(&urn)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        };
        for (k, v) in object {
            set_in_extension(
                Some(schema).filter(|s| !s.attributes.is_empty()),
                &mut ext,
                k,
                v.clone(),
                mode,
            )?;
        }
        put_extension(doc, urn, ext);
        return Ok(());
    }
    // Flattened: `urn:…:Schema:attr[.sub]`. The schema is everything before the last ':'.
    let (urn, attr) = key
        .rsplit_once(':')
        .ok_or_else(|| ScimError::invalid_path(format!("{key} is not an attribute path")))?;
    set_dotted(rt, doc, Some(urn), attr, value, mode)
}

/// An extension idbridge has no definition for, sent as a whole object: accepted with
/// an empty definition (its attributes are kept as sent).
fn unknown_extension_object(_key: &str, value: &Value) -> Option<&'static Schema> {
    static UNKNOWN: Schema = Schema {
        id: "",
        name: "",
        description: "",
        attributes: &[],
    };
    (value.is_object() || value.is_null()).then_some(&UNKNOWN)
}

/// The key under which an extension is stored: the known schema's spelling, or the
/// spelling already in the document, or the client's.
fn schema_key(doc: &Document, rt: ResourceType, urn: &str) -> String {
    if let Some(schema) = rt.schema(urn) {
        return schema.id.to_owned();
    }
    doc.keys()
        .find(|k| k.eq_ignore_ascii_case(urn))
        .cloned()
        .unwrap_or_else(|| urn.to_owned())
}

fn put_extension(doc: &mut Document, urn: String, ext: Document) {
    if ext.is_empty() {
        doc.remove(&urn);
    } else {
        doc.insert(urn, Value::Object(ext));
    }
}

/// Sets `attr` or `attr.sub` in the core (`urn` None) or in an extension.
pub(crate) fn set_dotted(
    rt: ResourceType,
    doc: &mut Document,
    urn: Option<&str>,
    path: &str,
    value: Value,
    mode: WriteMode,
) -> Result<(), ScimError> {
    let (attr, sub) = match path.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (path, None),
    };
    if attr.is_empty() || sub.is_some_and(|s| s.is_empty() || s.contains('.')) {
        return Err(ScimError::invalid_path(format!(
            "{path} is not an attribute path"
        )));
    }
    let value = match sub {
        Some(sub) => {
            let mut object = Map::new();
            object.insert(sub.to_owned(), value);
            Value::Object(object)
        }
        None => value,
    };
    // A sub-attribute write merges into the complex value instead of replacing it.
    let mode = if sub.is_some() { WriteMode::Add } else { mode };
    match urn {
        None => set_attribute(rt, doc, attr, value, mode),
        Some(urn) => {
            let key = schema_key(doc, rt, urn);
            let schema = rt.schema(urn);
            let mut ext = doc
                .get(&key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            set_in_extension(schema, &mut ext, attr, value, mode)?;
            put_extension(doc, key, ext);
            Ok(())
        }
    }
}

fn set_in_extension(
    schema: Option<&'static Schema>,
    ext: &mut Document,
    key: &str,
    value: Value,
    mode: WriteMode,
) -> Result<(), ScimError> {
    match schema.and_then(|s| s.attribute(key)) {
        Some(def) => set_defined(ext, def, value, mode, Scalars::Lenient),
        None => {
            match value {
                Value::Null => ext.remove(key),
                other => ext.insert(key.to_owned(), other),
            };
            Ok(())
        }
    }
}

/// Sets a schema-defined attribute, coercing the value to its definition.
fn set_defined(
    doc: &mut Document,
    def: &'static Attribute,
    value: Value,
    mode: WriteMode,
    scalars: Scalars,
) -> Result<(), ScimError> {
    match def.mutability {
        // Read-only attributes in a client body are ignored (RFC 7643 §2.2, RFC 7644 §3.3).
        Mutability::ReadOnly => return Ok(()),
        // Write-only: `password` is accepted and dropped. idbridge never holds
        // passwords: users sign in at their IdP.
        Mutability::WriteOnly => return Ok(()),
        Mutability::ReadWrite | Mutability::Immutable => {}
    }
    let Some(value) = coerce_with(def, value, def.name, scalars)? else {
        doc.remove(def.name);
        return Ok(());
    };
    let merged = match (mode, doc.remove(def.name)) {
        (WriteMode::Add, Some(Value::Array(mut existing))) if def.multi_valued => {
            for item in value.as_array().cloned().unwrap_or_default() {
                // A value that is already there (same `value`) is updated, not doubled.
                let same =
                    existing
                        .iter()
                        .position(|e| match (e.get("value"), item.get("value")) {
                            (Some(a), Some(b)) => a == b,
                            _ => *e == item,
                        });
                match same {
                    Some(i) => existing[i] = item,
                    None => existing.push(item),
                }
            }
            // The values just added come last, so a primary among them wins.
            if def.ty == AttrType::Complex {
                enforce_single_primary(&mut existing);
            }
            Value::Array(existing)
        }
        (WriteMode::Add | WriteMode::Merge, Some(Value::Object(mut existing)))
            if def.ty == AttrType::Complex && !def.multi_valued =>
        {
            if let Value::Object(new) = value {
                for (k, v) in new {
                    existing.insert(k, v);
                }
            }
            Value::Object(existing)
        }
        _ => value,
    };
    doc.insert(def.name.to_owned(), merged);
    Ok(())
}

/// How a number or a boolean sent where a string belongs is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalars {
    /// Refused with `invalidValue`: the core schemas' strings are strings
    /// (`"userName": 42` is a client bug, not a user name).
    Strict,
    /// Kept as its text: an extension attribute such as `employeeNumber` that an
    /// IdP's attribute mapping sends as a number.
    Lenient,
}

impl Scalars {
    /// Core attributes are strict; extension attributes (under a URN) are lenient.
    pub(crate) fn for_extension(urn: Option<&str>) -> Self {
        if urn.is_some() {
            Self::Lenient
        } else {
            Self::Strict
        }
    }
}

/// Coerces a client value to a core attribute's definition. `Ok(None)` means
/// "unassigned" (JSON null, or an empty array of a multi-valued attribute).
pub fn coerce(def: &Attribute, value: Value, path: &str) -> Result<Option<Value>, ScimError> {
    coerce_with(def, value, path, Scalars::Strict)
}

pub(crate) fn coerce_with(
    def: &Attribute,
    value: Value,
    path: &str,
    scalars: Scalars,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if def.multi_valued {
        let items = match value {
            Value::Array(items) => items,
            // One value where an array belongs: some clients send that.
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = coerce_single(def, item, path, scalars)? {
                out.push(v);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        if def.ty == AttrType::Complex {
            enforce_single_primary(&mut out);
        }
        return Ok(Some(Value::Array(out)));
    }
    coerce_single(def, value, path, scalars)
}

fn coerce_single(
    def: &Attribute,
    value: Value,
    path: &str,
    scalars: Scalars,
) -> Result<Option<Value>, ScimError> {
    let wrong = |expected: &str| ScimError::invalid_value(format!("{path} must be {expected}"));
    Ok(Some(match (def.ty, value) {
        (_, Value::Null) => return Ok(None),
        (AttrType::Boolean, Value::Bool(b)) => Value::Bool(b),
        (AttrType::Boolean, Value::String(s)) => {
            Value::Bool(parse_bool(&s).ok_or_else(|| wrong("a boolean"))?)
        }
        (AttrType::Boolean, _) => return Err(wrong("a boolean")),
        (
            AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary,
            Value::String(s),
        ) => Value::String(s),
        // Numbers and booleans where an extension's string belongs (an employee
        // number sent as a number): kept as their text rather than refused.
        (AttrType::String, Value::Number(n)) if scalars == Scalars::Lenient => {
            Value::String(n.to_string())
        }
        (AttrType::String, Value::Bool(b)) if scalars == Scalars::Lenient => {
            Value::String(b.to_string())
        }
        (AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary, _) => {
            return Err(wrong("a string"));
        }
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n),
        (AttrType::Integer, _) => return Err(wrong("an integer")),
        (AttrType::Decimal, Value::Number(n)) => Value::Number(n),
        (AttrType::Decimal, _) => return Err(wrong("a number")),
        (AttrType::Complex, Value::Object(object)) => {
            let mut out = Map::new();
            for (key, v) in object {
                match def.sub_attribute(&key) {
                    Some(sub) if sub.mutability == Mutability::WriteOnly => {}
                    Some(sub) => {
                        let sub_path = format!("{path}.{}", sub.name);
                        if let Some(v) = coerce_single(sub, v, &sub_path, scalars)? {
                            out.insert(sub.name.to_owned(), v);
                        }
                    }
                    None if !v.is_null() => {
                        out.insert(key, v);
                    }
                    None => {}
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Object(out)
        }
        // A one-element array where one complex value belongs: Entra ID sends the
        // enterprise manager as `[{"value": "<id>"}]`.
        (AttrType::Complex, Value::Array(mut items)) if !def.multi_valued && items.len() <= 1 => {
            match items.pop() {
                Some(item) => return coerce_single(def, item, path, scalars),
                None => return Ok(None),
            }
        }
        // A bare value for a complex attribute means its `value` sub-attribute: Entra
        // sends the enterprise manager as the manager's id string.
        (AttrType::Complex, simple @ (Value::String(_) | Value::Number(_) | Value::Bool(_)))
            if !def.multi_valued && def.sub_attribute("value").is_some() =>
        {
            let mut object = Map::new();
            object.insert("value".into(), simple);
            return coerce_single(def, Value::Object(object), path, scalars);
        }
        (AttrType::Complex, _) => return Err(wrong("an object")),
    }))
}

/// `"True"`/`"False"` in any case, as Entra ID sends booleans.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// At most one value of a multi-valued attribute is primary (RFC 7643 §2.4): the
/// last one marked primary wins, because it is the one written most recently.
pub(crate) fn enforce_single_primary(items: &mut [Value]) {
    let last_primary = items
        .iter()
        .rposition(|v| v.get("primary").and_then(Value::as_bool) == Some(true));
    if let Some(keep) = last_primary {
        for (i, item) in items.iter_mut().enumerate() {
            if i != keep
                && let Some(object) = item.as_object_mut()
                && object.get("primary").and_then(Value::as_bool) == Some(true)
            {
                object.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

/// Checks that hold for every stored document, after any write.
pub(crate) fn finish(rt: ResourceType, doc: &mut Document) -> Result<(), ScimError> {
    for def in rt.core_schema().attributes.iter().filter(|a| a.required) {
        let present = match doc.get(def.name) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(Value::Null) | None => false,
            Some(_) => true,
        };
        if !present {
            return Err(ScimError::invalid_value(format!(
                "{} is required",
                def.name
            )));
        }
    }
    match rt {
        // Members of a Group are stored apart from its document.
        ResourceType::Group => {
            doc.remove("members");
        }
        ResourceType::User => unwrap_entra_app_roles(doc),
    }
    drop_empty_values(doc);
    check_bounds(doc)
}

/// A PATCH can leave what a body could not carry: a complex value with nothing in it
/// (`add` of null to a filtered sub-attribute that matched nothing), or an empty
/// list. They are dropped, as [`normalize`] drops them, so a stored document is the
/// same whichever way it was written.
fn drop_empty_values(doc: &mut Document) {
    fn is_empty(value: &Value) -> bool {
        match value {
            Value::Object(map) => map.is_empty(),
            Value::Array(items) => items.is_empty(),
            Value::Null => true,
            _ => false,
        }
    }
    fn prune(map: &mut Map<String, Value>) {
        for value in map.values_mut() {
            match value {
                Value::Array(items) => items.retain(|item| !is_empty(item)),
                Value::Object(inner) => inner.retain(|_, v| !is_empty(v)),
                _ => {}
            }
        }
        map.retain(|_, v| !is_empty(v));
    }
    prune(doc);
    for (_, extension) in doc.iter_mut().filter(|(k, _)| is_schema_urn(k)) {
        if let Value::Object(ext) = extension {
            prune(ext);
        }
    }
    doc.retain(|_, v| !is_empty(v));
}

/// Entra ID's PATCH of an app role (mapped with `SingleAppRoleAssignment` or
/// `AppRoleAssignmentsComplex`) carries the whole app role as JSON text in `value`:
/// `{"value": "{\"id\":\"…\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}`,
/// where its POST sends `{"value": "Admin"}`. Stored, both become `Admin`: the app
/// role's value (its display name when it has no value), its display name as
/// `display` unless one was sent. However the role arrives (POST, PUT, PATCH with or
/// without a path), this runs on the finished document.
fn unwrap_entra_app_roles(doc: &mut Document) {
    let Some(Value::Array(roles)) = doc.get_mut("roles") else {
        return;
    };
    for role in roles.iter_mut().filter_map(Value::as_object_mut) {
        let Some((value, display)) = role
            .get("value")
            .and_then(Value::as_str)
            .and_then(entra_app_role)
        else {
            continue;
        };
        role.insert("value".into(), Value::String(value));
        if let Some(display) = display {
            role.entry("display").or_insert(Value::String(display));
        }
    }
}

/// `(value, displayName)` of an app role Entra sent as JSON text; `None` for any
/// other string, which is kept as sent.
pub fn entra_app_role(text: &str) -> Option<(String, Option<String>)> {
    let text = text.trim();
    if !text.starts_with('{') {
        return None;
    }
    let Value::Object(role) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    let field = |name: &str| {
        get_ci(&role, name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let display = field("displayName");
    let value = field("value").or_else(|| display.clone())?;
    Some((value, display))
}

/// `object[key]`, else the first key equal to it ignoring ASCII case (attribute names
/// are case-insensitive, RFC 7643 §2.1).
pub(crate) fn get_ci<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Most values one multi-valued attribute may hold (emails, phone numbers, roles,
/// any extension's list). Entra ID and Okta send one to five.
pub const MAX_VALUES: usize = 100;
/// Most attributes one object may hold: the resource, an extension, a complex value.
pub const MAX_ATTRIBUTES: usize = 200;
/// Deepest nesting of objects and arrays in a stored resource (the schemas need 4).
pub const MAX_DEPTH: usize = 16;
/// Largest stored resource, as compact JSON. A user with every attribute of the core
/// and enterprise schemas filled is about 2 KiB.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// One resource cannot grow without bound, however it is written (POST, PUT, or a
/// PATCH adding one value at a time).
fn check_bounds(doc: &Document) -> Result<(), ScimError> {
    fn walk(value: &Value, path: &str, depth: usize) -> Result<(), ScimError> {
        if depth > MAX_DEPTH {
            return Err(ScimError::invalid_value(format!(
                "{path} is nested more than {MAX_DEPTH} levels deep"
            )));
        }
        match value {
            Value::Array(items) => {
                if items.len() > MAX_VALUES {
                    return Err(ScimError::invalid_value(format!(
                        "{path} has {} values; a resource keeps at most {MAX_VALUES} per attribute",
                        items.len()
                    )));
                }
                items.iter().try_for_each(|v| walk(v, path, depth + 1))
            }
            Value::Object(map) => walk_object(map, path, depth),
            _ => Ok(()),
        }
    }
    fn walk_object(map: &Map<String, Value>, path: &str, depth: usize) -> Result<(), ScimError> {
        if map.len() > MAX_ATTRIBUTES {
            let what = if path.is_empty() {
                "the resource"
            } else {
                path
            };
            return Err(ScimError::invalid_value(format!(
                "{what} has {} attributes; at most {MAX_ATTRIBUTES} are kept",
                map.len()
            )));
        }
        for (key, value) in map {
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            walk(value, &inner, depth + 1)?;
        }
        Ok(())
    }
    walk_object(doc, "", 0)?;
    let mut size = ByteCount(0);
    // Writing into a counter cannot fail; the map holds only JSON values.
    let _ = serde_json::to_writer(&mut size, doc);
    if size.0 > MAX_DOCUMENT_BYTES {
        return Err(ScimError::invalid_value(format!(
            "the resource would be {} bytes; at most {MAX_DOCUMENT_BYTES} are stored",
            size.0
        )));
    }
    Ok(())
}

/// An `io::Write` that only counts, to size a document without building its text.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// The indexed view of a user's emails: `(value lowercased, type lowercased, primary)`.
pub fn email_keys(doc: &Document) -> Vec<(String, Option<String>, bool)> {
    doc.get("emails")
        .and_then(Value::as_array)
        .map(|emails| {
            emails
                .iter()
                .filter_map(|e| {
                    let value = e.get("value")?.as_str()?.to_lowercase();
                    let kind = e.get("type").and_then(Value::as_str).map(str::to_lowercase);
                    let primary = e.get("primary").and_then(Value::as_bool).unwrap_or(false);
                    Some((value, kind, primary))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A string attribute of a document, if it has one.
pub fn string_attr<'d>(doc: &'d Document, name: &str) -> Option<&'d str> {
    doc.get(name).and_then(Value::as_str)
}

/// The schema URNs a document's response lists: the core schema, then each
/// extension present.
pub fn schemas_of(rt: ResourceType, doc: &Document) -> Vec<Value> {
    let mut out = vec![Value::String(rt.core_schema().id.to_owned())];
    out.extend(
        doc.keys()
            .filter(|k| is_schema_urn(k))
            .map(|k| Value::String(k.clone())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_anywhere_in_a_body_is_refused() {
        for body in [
            json!({"userName": "a\u{0}b"}),
            json!({"emails": [{"value": "\u{0}"}]}),
            json!({"x\u{0}": 1}),
            json!({"Operations": [{"op": "add", "value": {"title": ["\u{0}"]}}]}),
        ] {
            let err = refuse_nul(&body).expect_err("refused");
            assert_eq!(err.status, 400, "{body}");
            assert_eq!(
                err.scim_type,
                Some(crate::error::ScimType::InvalidValue),
                "{body}"
            );
        }
        for body in [
            json!({"userName": "a\\u0000b", "n": 0, "t": null}),
            json!([]),
        ] {
            refuse_nul(&body).expect("kept");
        }
    }

    fn user(body: Value) -> Result<Document, ScimError> {
        normalize(ResourceType::User, &body)
    }

    #[test]
    fn a_key_with_a_character_across_byte_four_is_an_answer_not_a_panic() {
        // Byte 4 of "abcé" falls inside "é": reading it as a URN prefix by byte
        // index panicked (in POST, PATCH and every response's `schemas`).
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "abc\u{e9}": 1,
        });
        let doc = user(body).expect("an unknown attribute is dropped or kept, not a panic");
        assert_eq!(schemas_of(ResourceType::User, &doc).len(), 1);
    }

    #[test]
    fn canonicalises_names_and_coerces_entra_strings() {
        let doc = user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "USERNAME": "ada@example.com",
            "Active": "False",
            "emails": [{"Primary": "True", "type": "work", "value": "ada@example.com"}],
            "name": {"GivenName": "Ada", "familyName": "Lovelace"},
        }))
        .expect("valid");
        assert_eq!(
            Value::Object(doc),
            json!({
                "userName": "ada@example.com",
                "active": false,
                "emails": [{"primary": true, "type": "work", "value": "ada@example.com"}],
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
            })
        );
    }

    #[test]
    fn drops_read_only_and_password_and_keeps_unknown_extensions() {
        let doc = user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:ext:1.0:User"],
            "id": "client-chosen",
            "meta": {"created": "x"},
            "groups": [{"value": "g"}],
            "userName": "a",
            "password": "hunter2",
            "urn:example:ext:1.0:User": {"badge": 7, "floor": "3"},
            "nonStandard": {"x": 1},
        }))
        .expect("valid");
        assert_eq!(
            Value::Object(doc),
            json!({
                "userName": "a",
                "urn:example:ext:1.0:User": {"badge": 7, "floor": "3"},
                "nonStandard": {"x": 1},
            })
        );
    }

    #[test]
    fn enterprise_manager_as_plain_id_becomes_a_complex_value() {
        let doc = user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", crate::schema::ENTERPRISE_USER],
            "userName": "a",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "Department": "R&D", "manager": "26118915-6090-4610-87e4-49d8ca9f808d", "employeeNumber": 701984,
            },
        }))
        .expect("valid");
        assert_eq!(
            doc[crate::schema::ENTERPRISE_USER],
            json!({"department": "R&D", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}, "employeeNumber": "701984"})
        );
    }

    #[test]
    fn refuses_what_cannot_be_a_user() {
        for (body, scim_type) in [
            (json!([]), crate::ScimType::InvalidSyntax),
            (json!({"userName": "a"}), crate::ScimType::InvalidSyntax),
            (
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "a"}),
                crate::ScimType::InvalidSyntax,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER]}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": "  "}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": "a", "active": "yes"}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": "a", "emails": "x"}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": "a", "name": "Ada"}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": ["a"]}),
                crate::ScimType::InvalidValue,
            ),
            // An operator object, a number or a boolean is not a user name.
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": {"$ne": ""}}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": 42}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": "a", "displayName": true}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": "a", "name": {"givenName": 7}}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": "a", "emails": [{"value": 5}]}),
                crate::ScimType::InvalidValue,
            ),
            (
                json!({"schemas": [crate::schema::CORE_USER], "userName": "a", "urn:ietf:params:scim:schemas:core:2.0:User:externalId": 9}),
                crate::ScimType::InvalidValue,
            ),
        ] {
            let err = user(body.clone()).expect_err("refused");
            assert_eq!(
                (err.status, err.scim_type),
                (400, Some(scim_type)),
                "{body}"
            );
        }
    }

    #[test]
    fn one_resource_cannot_grow_without_bound() {
        let base = || json!({"schemas": [crate::schema::CORE_USER], "userName": "a"});
        let with = |key: &str, value: Value| {
            let mut body = base();
            body[key] = value;
            user(body)
        };
        let emails =
            |n: usize| Value::Array((0..n).map(|i| json!({"value": format!("{i}@a")})).collect());
        assert!(with("emails", emails(MAX_VALUES)).is_ok());
        let err = with("emails", emails(MAX_VALUES + 1)).expect_err("too many emails");
        assert_eq!(err.scim_type, Some(crate::ScimType::InvalidValue));
        assert!(
            err.detail.contains("emails has 101 values"),
            "{}",
            err.detail
        );
        // An extension's list and an unknown attribute's list are held to the same cap.
        let many: Vec<Value> = (0..=MAX_VALUES).map(|i| json!(i.to_string())).collect();
        let ext = "urn:example:params:scim:schemas:extension:acme:2.0:User";
        assert!(with(ext, json!({"badges": many.clone()})).is_err());
        assert!(with("nicknames", json!(many)).is_err());
        // Too many attributes in one object.
        let wide: Map<String, Value> = (0..=MAX_ATTRIBUTES)
            .map(|i| (format!("x{i}"), json!("v")))
            .collect();
        let err = with(ext, Value::Object(wide)).expect_err("too wide");
        assert!(err.detail.contains("attributes"), "{}", err.detail);
        // Too deep.
        let mut deep = json!("leaf");
        for _ in 0..MAX_DEPTH {
            deep = json!({ "k": deep });
        }
        assert!(with("nested", deep).is_err());
        // Too large: 70 values of 1 KiB each stay under the value cap but not the size cap.
        let big = Value::Array(
            (0..70)
                .map(|i| json!(format!("{i}{}", "x".repeat(1024))))
                .collect(),
        );
        let err = with("notes", big).expect_err("too large");
        assert!(err.detail.contains("bytes"), "{}", err.detail);
    }

    #[test]
    fn only_one_value_stays_primary() {
        let doc = user(json!({
            "schemas": [crate::schema::CORE_USER], "userName": "a",
            "emails": [{"value": "x@a", "primary": true}, {"value": "y@a", "primary": "True"}],
        }))
        .expect("valid");
        assert_eq!(
            doc["emails"],
            json!([{"value": "x@a", "primary": false}, {"value": "y@a", "primary": true}])
        );
    }

    #[test]
    fn groups_keep_members_apart() {
        let doc = normalize(
            ResourceType::Group,
            &json!({"schemas": [crate::schema::CORE_GROUP], "displayName": "Eng", "members": [{"value": "u1"}]}),
        )
        .expect("valid");
        assert_eq!(Value::Object(doc), json!({"displayName": "Eng"}));
    }
}
