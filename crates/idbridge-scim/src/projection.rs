//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5 and §3.9): which
//! attributes of a resource a response carries.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{AttrPath, Filter};
use crate::schema::{Mutability, ResourceType, Returned};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// Only these (plus what is always returned), if given.
    pub attributes: Option<Vec<AttrPath>>,
    /// Not these, if given (ignored when `attributes` is given, as RFC 7644 allows).
    pub excluded: Vec<AttrPath>,
}

fn parse_list(list: &str, parameter: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match Filter::parse(&format!("{item} pr")) {
            Ok(Filter::Present(path)) => Ok(path),
            _ => Err(ScimError::invalid_value(format!(
                "{parameter}: {item:?} is not an attribute path"
            ))),
        })
        .collect()
}

impl Projection {
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        let attributes = attributes
            .map(|a| parse_list(a, "attributes"))
            .transpose()?
            .filter(|list| !list.is_empty());
        let excluded = excluded
            .map(|e| parse_list(e, "excludedAttributes"))
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            attributes,
            excluded,
        })
    }

    /// Whether the response needs a top-level attribute at all (so the server can
    /// skip loading group members when `members` is excluded).
    pub fn wants(&self, rt: ResourceType, name: &str) -> bool {
        match &self.attributes {
            Some(list) => list.iter().any(|p| names(rt, p, name)),
            None => !self
                .excluded
                .iter()
                .any(|p| names(rt, p, name) && p.sub_attr.is_none()),
        }
    }

    /// Applies the projection to a rendered resource (which has `id`, `schemas` and
    /// `meta`).
    pub fn apply(&self, rt: ResourceType, resource: &mut Map<String, Value>) {
        match &self.attributes {
            Some(list) => {
                let keys: Vec<String> = resource.keys().cloned().collect();
                for key in keys {
                    if always_returned(rt, &key) {
                        continue;
                    }
                    let wanted: Vec<&AttrPath> = list
                        .iter()
                        .filter(|p| names(rt, p, &key) || extension_holds(p, &key))
                        .collect();
                    if wanted.is_empty() {
                        resource.remove(&key);
                        continue;
                    }
                    // Keep only the named sub-attributes, unless one request names the whole.
                    if wanted
                        .iter()
                        .all(|p| p.sub_attr.is_some() && !extension_holds(p, &key))
                        && let Some(value) = resource.get_mut(&key)
                    {
                        let subs: Vec<&str> = wanted
                            .iter()
                            .filter_map(|p| p.sub_attr.as_deref())
                            .collect();
                        keep_subs(value, &subs);
                    }
                    if crate::schema::is_schema_urn(&key)
                        && let Some(Value::Object(ext)) = resource.get_mut(&key)
                    {
                        let attrs: Vec<&AttrPath> = wanted
                            .iter()
                            .copied()
                            .filter(|p| extension_holds(p, &key))
                            .collect();
                        if !attrs.is_empty() {
                            ext.retain(|k, _| attrs.iter().any(|p| p.attr.eq_ignore_ascii_case(k)));
                        }
                    }
                }
            }
            None => {
                for path in &self.excluded {
                    let keys: Vec<String> = resource.keys().cloned().collect();
                    for key in keys {
                        if always_returned(rt, &key) {
                            continue;
                        }
                        if names(rt, path, &key) {
                            match &path.sub_attr {
                                None => {
                                    resource.remove(&key);
                                }
                                Some(sub) => {
                                    if let Some(value) = resource.get_mut(&key) {
                                        drop_sub(value, sub);
                                    }
                                }
                            }
                        } else if extension_holds(path, &key)
                            && let Some(Value::Object(ext)) = resource.get_mut(&key)
                        {
                            ext.retain(|k, _| !k.eq_ignore_ascii_case(&path.attr));
                        }
                    }
                }
            }
        }
        // `returned: never` attributes are never in a response, projection or not.
        resource.retain(|k, _| !never_returned(rt, k));
    }

    /// Whether [`Projection::apply`] keeps every attribute a response may hold.
    pub fn trims_nothing(&self) -> bool {
        self.attributes.is_none() && self.excluded.is_empty()
    }
}

/// Whether a top-level attribute is one no response holds (`returned: never`,
/// `writeOnly`), projection or not.
pub fn never_returned(rt: ResourceType, key: &str) -> bool {
    // A list page asks this of every member of every user: the few such names
    // (a User has one, `password`) are picked out of the schema once.
    static USER: OnceLock<Vec<&'static str>> = OnceLock::new();
    static GROUP: OnceLock<Vec<&'static str>> = OnceLock::new();
    let names = match rt {
        ResourceType::User => &USER,
        ResourceType::Group => &GROUP,
    }
    .get_or_init(|| {
        rt.core_schema()
            .attributes
            .iter()
            .filter(|a| a.returned == Returned::Never || a.mutability == Mutability::WriteOnly)
            .map(|a| a.name)
            .collect()
    });
    names.iter().any(|name| name.eq_ignore_ascii_case(key))
}

fn always_returned(_rt: ResourceType, key: &str) -> bool {
    ["id", "schemas"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
}

/// Whether `path` names the top-level key `key` (a core attribute, possibly written
/// with the core schema's URN, or a whole extension).
fn names(rt: ResourceType, path: &AttrPath, key: &str) -> bool {
    if names_extension(path, key) {
        return true;
    }
    match &path.schema {
        None => path.attr.eq_ignore_ascii_case(key),
        Some(urn) if urn.eq_ignore_ascii_case(rt.core_schema().id) => {
            path.attr.eq_ignore_ascii_case(key)
        }
        Some(_) => false,
    }
}

/// Whether `path` is an attribute inside the extension stored under `key`.
fn extension_holds(path: &AttrPath, key: &str) -> bool {
    path.schema
        .as_deref()
        .is_some_and(|urn| urn.eq_ignore_ascii_case(key))
}

/// Whether `path` names the whole extension stored under `key` (it reads as schema
/// `urn:…:2.0` with attribute `User`).
fn names_extension(path: &AttrPath, key: &str) -> bool {
    path.sub_attr.is_none()
        && path.schema.as_deref().is_some_and(|urn| {
            key.len() == urn.len() + 1 + path.attr.len()
                && key.is_char_boundary(urn.len())
                && key[..urn.len()].eq_ignore_ascii_case(urn)
                && key[urn.len() + 1..].eq_ignore_ascii_case(&path.attr)
        })
}

fn keep_subs(value: &mut Value, subs: &[&str]) {
    match value {
        Value::Object(object) => {
            object.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
        }
        Value::Array(items) => items.iter_mut().for_each(|item| keep_subs(item, subs)),
        _ => {}
    }
}

fn drop_sub(value: &mut Value, sub: &str) {
    match value {
        Value::Object(object) => object.retain(|k, _| !k.eq_ignore_ascii_case(sub)),
        Value::Array(items) => items.iter_mut().for_each(|item| drop_sub(item, sub)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let mut resource = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", crate::schema::ENTERPRISE_USER],
            "id": "1",
            "userName": "ada",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "a@x", "type": "work"}],
            "meta": {"resourceType": "User"},
            crate::schema::ENTERPRISE_USER: {"department": "R&D", "costCenter": "7"},
        });
        let projection = Projection::parse(attributes, excluded).expect("valid");
        if let Some(map) = resource.as_object_mut() {
            projection.apply(ResourceType::User, map);
        }
        resource
    }

    #[test]
    fn attributes_keep_only_what_is_asked_and_always_returned() {
        let out = project(Some("userName,name.familyName"), None);
        assert_eq!(
            out,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", crate::schema::ENTERPRISE_USER],
                   "id": "1", "userName": "ada", "name": {"familyName": "Lovelace"}})
        );
        let out = project(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            None,
        );
        assert_eq!(
            out[crate::schema::ENTERPRISE_USER],
            json!({"department": "R&D"})
        );
        assert!(out.get("userName").is_none());
    }

    #[test]
    fn excluded_attributes_drop_what_is_named() {
        let out = project(None, Some("emails, meta ,name.givenName"));
        assert!(out.get("emails").is_none() && out.get("meta").is_none());
        assert_eq!(out["name"], json!({"familyName": "Lovelace"}));
        assert_eq!(out["id"], "1");
        let out = project(None, Some("id"));
        assert_eq!(out["id"], "1", "id is always returned");
    }

    #[test]
    fn wants_tells_whether_members_must_be_loaded() {
        let p = Projection::parse(None, Some("members")).expect("valid");
        assert!(!p.wants(ResourceType::Group, "members"));
        let p = Projection::parse(Some("displayName"), None).expect("valid");
        assert!(!p.wants(ResourceType::Group, "members"));
        let p = Projection::parse(None, None).expect("valid");
        assert!(p.wants(ResourceType::Group, "members"));
        assert!(Projection::parse(Some("bad path!"), None).is_err());
    }
}
