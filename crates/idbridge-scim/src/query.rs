//! Filters, sorting and paging for list requests, resolved against the schemas so the
//! store can compile them to SQL without knowing SCIM: every attribute path becomes a
//! [`Field`] in canonical spelling with its type and case rule.

use serde_json::Value;

use crate::error::ScimError;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::schema::{AttrType, Attribute, ResourceType};

/// Most results one list request returns (ServiceProviderConfig `filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;
/// `count` when the client sends none.
pub const DEFAULT_COUNT: usize = 100;

/// An attribute a filter or sort refers to, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `id`.
    Id,
    /// `meta.created`.
    Created,
    /// `meta.lastModified`.
    LastModified,
    /// An attribute of the stored document: `urn` is `None` for the core schema.
    /// `multi_valued` tells whether `name` holds an array (then `sub` is a field of
    /// each of its values).
    Attr {
        urn: Option<String>,
        name: String,
        sub: Option<String>,
        ty: AttrType,
        case_exact: bool,
        multi_valued: bool,
    },
}

impl Field {
    pub fn ty(&self) -> AttrType {
        match self {
            Field::Id => AttrType::String,
            Field::Created | Field::LastModified => AttrType::DateTime,
            Field::Attr { ty, .. } => *ty,
        }
    }

    pub fn case_exact(&self) -> bool {
        match self {
            Field::Id | Field::Created | Field::LastModified => true,
            Field::Attr { case_exact, .. } => *case_exact,
        }
    }

    /// Whether this is the core attribute `name` (and sub-attribute `sub`).
    pub fn is_core(&self, name: &str, sub: Option<&str>) -> bool {
        matches!(self, Field::Attr { urn: None, name: n, sub: s, .. } if n == name && s.as_deref() == sub)
    }
}

/// A filter the store can run.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `field op value`; `value` is already of the field's type (`"True"` became
    /// `true` for a boolean).
    Compare {
        field: Field,
        op: CompareOp,
        value: CompValue,
    },
    Present(Field),
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    Not(Box<Query>),
    /// Some value of the multi-valued attribute `field` satisfies `inner`, whose
    /// fields are its sub-attributes (`Field::Attr` with `sub` set).
    Any {
        field: Field,
        inner: Box<Query>,
    },
    /// Group membership: for Users, `groups.value eq "<group id>"`; for Groups,
    /// `members.value eq "<member id>"`.
    MemberOf(String),
    HasMember(String),
    /// A literal truth value (`schemas eq "<core schema>"` is always true).
    Const(bool),
    /// The resource has an extension object under this URN.
    HasExtension(String),
}

/// Resolves a parsed filter for a resource type.
pub fn resolve(rt: ResourceType, filter: &Filter) -> Result<Query, ScimError> {
    Ok(match filter {
        Filter::And(a, b) => Query::And(Box::new(resolve(rt, a)?), Box::new(resolve(rt, b)?)),
        Filter::Or(a, b) => Query::Or(Box::new(resolve(rt, a)?), Box::new(resolve(rt, b)?)),
        Filter::Not(inner) => Query::Not(Box::new(resolve(rt, inner)?)),
        Filter::Present(path) => match target(rt, path)? {
            Target::Single(field) => Query::Present(field),
            Target::Multi { field, sub } => {
                let inner = Query::Present(sub_field(&field, sub)?);
                Query::Any {
                    field,
                    inner: Box::new(inner),
                }
            }
            Target::Special(special) => special.present(),
        },
        Filter::Compare { path, op, value } => match target(rt, path)? {
            Target::Single(field) => compare(field, *op, value)?,
            Target::Multi { field, sub } => {
                // `emails co "x"` means the `value` sub-attribute (RFC 7644 §3.4.2.2).
                let sub = sub.or(Some("value"));
                let inner = compare(sub_field(&field, sub)?, *op, value)?;
                Query::Any {
                    field,
                    inner: Box::new(inner),
                }
            }
            Target::Special(special) => special.compare(rt, *op, value)?,
        },
        Filter::ValuePath { path, filter } => {
            let field = match target(rt, path)? {
                Target::Multi { field, sub: None } => field,
                Target::Special(Special::Members) => {
                    return members_filter(rt, filter);
                }
                _ => {
                    return Err(ScimError::invalid_filter(format!(
                        "{path} is not a multi-valued complex attribute"
                    )));
                }
            };
            Query::Any {
                inner: Box::new(resolve_inner(&field, filter)?),
                field,
            }
        }
    })
}

/// The inside of `attr[…]`: paths are sub-attributes of `parent`.
fn resolve_inner(parent: &Field, filter: &Filter) -> Result<Query, ScimError> {
    Ok(match filter {
        Filter::And(a, b) => Query::And(
            Box::new(resolve_inner(parent, a)?),
            Box::new(resolve_inner(parent, b)?),
        ),
        Filter::Or(a, b) => Query::Or(
            Box::new(resolve_inner(parent, a)?),
            Box::new(resolve_inner(parent, b)?),
        ),
        Filter::Not(inner) => Query::Not(Box::new(resolve_inner(parent, inner)?)),
        Filter::Present(path) => Query::Present(sub_field(parent, Some(&path.attr))?),
        Filter::Compare { path, op, value } => {
            compare(sub_field(parent, Some(&path.attr))?, *op, value)?
        }
        Filter::ValuePath { .. } => {
            return Err(ScimError::invalid_filter("value filters do not nest"));
        }
    })
}

/// `members[value eq "x"]` on Groups, `groups[value eq "x"]` on Users.
fn members_filter(rt: ResourceType, filter: &Filter) -> Result<Query, ScimError> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.attr.eq_ignore_ascii_case("value") => Ok(match rt {
            ResourceType::Group => Query::HasMember(id.clone()),
            ResourceType::User => Query::MemberOf(id.clone()),
        }),
        Filter::Or(a, b) => Ok(Query::Or(
            Box::new(members_filter(rt, a)?),
            Box::new(members_filter(rt, b)?),
        )),
        Filter::And(a, b) => Ok(Query::And(
            Box::new(members_filter(rt, a)?),
            Box::new(members_filter(rt, b)?),
        )),
        _ => Err(ScimError::invalid_filter(
            "membership can be filtered only by value eq \"<id>\"",
        )),
    }
}

enum Target<'p> {
    Single(Field),
    Multi { field: Field, sub: Option<&'p str> },
    Special(Special),
}

enum Special {
    Schemas,
    Members,
    ResourceType,
}

impl Special {
    fn present(&self) -> Query {
        match self {
            Special::Schemas | Special::ResourceType => Query::Const(true),
            // Any member at all: not an indexed question and no client asks it.
            Special::Members => Query::Const(true),
        }
    }

    fn compare(
        &self,
        rt: ResourceType,
        op: CompareOp,
        value: &CompValue,
    ) -> Result<Query, ScimError> {
        let CompValue::Str(s) = value else {
            return Ok(Query::Const(op == CompareOp::Ne));
        };
        let truth = match self {
            Special::ResourceType => Query::Const(s == rt.name()),
            Special::Schemas if s.eq_ignore_ascii_case(rt.core_schema().id) => Query::Const(true),
            Special::Schemas => Query::HasExtension(s.clone()),
            Special::Members => {
                return Err(ScimError::invalid_filter(
                    "filter membership as members[value eq \"<id>\"",
                )
                .with_detail_if(
                    rt == ResourceType::User,
                    "filter membership as groups[value eq \"<id>\"]",
                ));
            }
        };
        Ok(match op {
            CompareOp::Eq => truth,
            CompareOp::Ne => Query::Not(Box::new(truth)),
            _ => {
                return Err(ScimError::invalid_filter(
                    "schemas and meta.resourceType support only eq and ne",
                ));
            }
        })
    }
}

impl ScimError {
    fn with_detail_if(mut self, condition: bool, detail: &str) -> Self {
        if condition {
            self.detail = detail.to_owned();
        }
        self
    }
}

fn target<'p>(rt: ResourceType, path: &'p AttrPath) -> Result<Target<'p>, ScimError> {
    let core = rt.core_schema();
    let urn = path
        .schema
        .as_deref()
        .filter(|u| !u.eq_ignore_ascii_case(core.id));
    let sub = path.sub_attr.as_deref();
    if urn.is_none() {
        let attr = path.attr.as_str();
        if attr.eq_ignore_ascii_case("id") && sub.is_none() {
            return Ok(Target::Single(Field::Id));
        }
        if attr.eq_ignore_ascii_case("meta") {
            return match sub {
                Some(s) if s.eq_ignore_ascii_case("created") => Ok(Target::Single(Field::Created)),
                Some(s) if s.eq_ignore_ascii_case("lastModified") => {
                    Ok(Target::Single(Field::LastModified))
                }
                Some(s) if s.eq_ignore_ascii_case("resourceType") => {
                    Ok(Target::Special(Special::ResourceType))
                }
                _ => Err(ScimError::invalid_filter(format!(
                    "{path} cannot be filtered"
                ))),
            };
        }
        if attr.eq_ignore_ascii_case("schemas") {
            return Ok(Target::Special(Special::Schemas));
        }
        let membership = match rt {
            ResourceType::Group => "members",
            ResourceType::User => "groups",
        };
        if attr.eq_ignore_ascii_case(membership) {
            return match sub {
                None => Ok(Target::Special(Special::Members)),
                Some(s) if s.eq_ignore_ascii_case("value") => Err(ScimError::invalid_filter(
                    format!("filter membership as {membership}[value eq \"<id>\"]"),
                )),
                Some(_) => Err(ScimError::invalid_filter(format!(
                    "{path} cannot be filtered"
                ))),
            };
        }
    }
    let def: Option<&'static Attribute> = match urn {
        None => core.attribute(&path.attr),
        Some(urn) => rt.schema(urn).and_then(|s| s.attribute(&path.attr)),
    };
    let urn_key = urn.map(|u| {
        rt.schema(u)
            .map(|s| s.id.to_owned())
            .unwrap_or_else(|| u.to_owned())
    });
    match def {
        Some(def) if def.multi_valued => {
            let field = Field::Attr {
                urn: urn_key,
                name: def.name.to_owned(),
                sub: None,
                ty: def.ty,
                case_exact: def.case_exact,
                multi_valued: true,
            };
            if def.ty != AttrType::Complex && sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "{} has no sub-attributes",
                    def.name
                )));
            }
            Ok(Target::Multi { field, sub })
        }
        Some(def) => {
            let (sub_name, ty, case_exact) = match sub {
                None => (None, def.ty, def.case_exact),
                Some(s) => {
                    let sub_def = def.sub_attribute(s).ok_or_else(|| {
                        ScimError::invalid_filter(format!("{} has no sub-attribute {s}", def.name))
                    })?;
                    (
                        Some(sub_def.name.to_owned()),
                        sub_def.ty,
                        sub_def.case_exact,
                    )
                }
            };
            if def.ty == AttrType::Complex && sub_name.is_none() {
                return Err(ScimError::invalid_filter(format!(
                    "{} is complex: name a sub-attribute",
                    def.name
                )));
            }
            Ok(Target::Single(Field::Attr {
                urn: urn_key,
                name: def.name.to_owned(),
                sub: sub_name,
                ty,
                case_exact,
                multi_valued: false,
            }))
        }
        // Undefined: kept as sent, compared as a case-insensitive string (RFC 7644
        // §3.4.2.2 treats an undefined attribute as unassigned, which is what the
        // stored document says unless the client sent it).
        None => Ok(Target::Single(Field::Attr {
            urn: urn_key,
            name: path.attr.clone(),
            sub: path.sub_attr.clone(),
            ty: AttrType::String,
            case_exact: false,
            multi_valued: false,
        })),
    }
}

/// A sub-attribute of a multi-valued complex field.
fn sub_field(parent: &Field, sub: Option<&str>) -> Result<Field, ScimError> {
    let Field::Attr {
        urn,
        name,
        ty: parent_ty,
        multi_valued,
        ..
    } = parent
    else {
        return Err(ScimError::invalid_filter("not a complex attribute"));
    };
    let Some(sub) = sub else {
        return Ok(parent.clone());
    };
    if *parent_ty != AttrType::Complex {
        return Err(ScimError::invalid_filter(format!(
            "{name} has no sub-attributes"
        )));
    }
    let def = parent_definition(parent).and_then(|d| d.sub_attribute(sub));
    Ok(Field::Attr {
        urn: urn.clone(),
        name: name.clone(),
        sub: Some(
            def.map(|d| d.name.to_owned())
                .unwrap_or_else(|| sub.to_owned()),
        ),
        ty: def.map(|d| d.ty).unwrap_or(AttrType::String),
        case_exact: def.is_some_and(|d| d.case_exact),
        multi_valued: *multi_valued,
    })
}

fn parent_definition(parent: &Field) -> Option<&'static Attribute> {
    let Field::Attr { urn, name, .. } = parent else {
        return None;
    };
    for rt in [ResourceType::User, ResourceType::Group] {
        let schema = match urn {
            None => Some(rt.core_schema()),
            Some(u) => rt.schema(u),
        };
        if let Some(def) = schema.and_then(|s| s.attribute(name)) {
            return Some(def);
        }
    }
    None
}

/// Checks and converts a comparison's literal to the field's type.
fn compare(field: Field, op: CompareOp, value: &CompValue) -> Result<Query, ScimError> {
    let value = match (field.ty(), value) {
        (AttrType::Boolean, CompValue::Str(s)) => CompValue::Bool(
            crate::resource::parse_bool(s)
                .ok_or_else(|| ScimError::invalid_filter(format!("{s:?} is not a boolean")))?,
        ),
        (AttrType::Boolean, CompValue::Bool(_) | CompValue::Null) => value.clone(),
        (AttrType::Boolean, CompValue::Num(_)) => {
            return Err(ScimError::invalid_filter(
                "a boolean attribute compares with true or false",
            ));
        }
        (AttrType::DateTime, CompValue::Str(_) | CompValue::Null) => value.clone(),
        (AttrType::DateTime, _) => {
            return Err(ScimError::invalid_filter(
                "a dateTime compares with a string",
            ));
        }
        _ => value.clone(),
    };
    if field.ty() == AttrType::Boolean && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
        return Err(ScimError::invalid_filter("booleans support only eq and ne"));
    }
    if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        && !matches!(value, CompValue::Str(_))
    {
        return Err(ScimError::invalid_filter(
            "co, sw and ew compare with a string",
        ));
    }
    if field.ty() == AttrType::Complex {
        return Err(ScimError::invalid_filter(
            "a complex attribute cannot be compared; name a sub-attribute",
        ));
    }
    Ok(Query::Compare { field, op, value })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// A list request's parameters (RFC 7644 §3.4.2), validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    pub filter: Option<Query>,
    pub sort: Option<(Field, SortOrder)>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
}

impl ListRequest {
    /// The list of the one resource whose id is `id`: `filter=id eq "<id>"`,
    /// `count=1`, built without a filter to parse (`GET /Users/{id}` reads its user
    /// as such a list, checking its token in the same statement).
    pub fn of_id(id: &str) -> Self {
        ListRequest {
            filter: Some(Query::Compare {
                field: Field::Id,
                op: CompareOp::Eq,
                value: CompValue::Str(id.to_owned()),
            }),
            sort: None,
            start_index: 1,
            count: 1,
        }
    }
}

/// Reads `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`.
pub fn list_request(
    rt: ResourceType,
    filter: Option<&str>,
    sort_by: Option<&str>,
    sort_order: Option<&str>,
    start_index: Option<&str>,
    count: Option<&str>,
) -> Result<ListRequest, ScimError> {
    let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
        None => None,
        Some(text) => {
            let parsed =
                Filter::parse(text).map_err(|e| ScimError::invalid_filter(e.to_string()))?;
            Some(resolve(rt, &parsed)?)
        }
    };
    let sort = match sort_by.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => {
            let path = match Filter::parse(&format!("{text} pr")) {
                Ok(Filter::Present(path)) => path,
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "sortBy {text:?} is not an attribute path"
                    )));
                }
            };
            let field = match target(rt, &path).map_err(|e| ScimError::invalid_value(e.detail))? {
                Target::Single(field) => field,
                // Sorting by a multi-valued attribute sorts by its primary value;
                // idbridge sorts by the first value instead, which is the primary
                // one for what IdPs send.
                Target::Multi { field, sub } => sub_field(&field, sub.or(Some("value")))?,
                Target::Special(_) => {
                    return Err(ScimError::invalid_value(format!("cannot sort by {text}")));
                }
            };
            let order = match sort_order.map(str::trim) {
                None | Some("") => SortOrder::Ascending,
                Some(o) if o.eq_ignore_ascii_case("ascending") => SortOrder::Ascending,
                Some(o) if o.eq_ignore_ascii_case("descending") => SortOrder::Descending,
                Some(o) => {
                    return Err(ScimError::invalid_value(format!(
                        "sortOrder {o:?}: use ascending or descending"
                    )));
                }
            };
            Some((field, order))
        }
    };
    // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0.
    let start_index = match start_index.map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| ScimError::invalid_value(format!("startIndex {s:?} is not an integer")))?
            .max(1) as usize,
    };
    let count = match count.map(str::trim).filter(|s| !s.is_empty()) {
        None => DEFAULT_COUNT,
        Some(s) => {
            let n = s
                .parse::<i64>()
                .map_err(|_| ScimError::invalid_value(format!("count {s:?} is not an integer")))?;
            (n.max(0) as usize).min(MAX_RESULTS)
        }
    };
    Ok(ListRequest {
        filter,
        sort,
        start_index,
        count,
    })
}

/// The value a `Field::Attr` has in a stored document (for in-memory use and tests).
pub fn field_value<'d>(
    doc: &'d serde_json::Map<String, Value>,
    field: &Field,
) -> Option<&'d Value> {
    let Field::Attr { urn, name, sub, .. } = field else {
        return None;
    };
    let container = match urn {
        None => doc,
        Some(u) => doc
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(u))?
            .1
            .as_object()?,
    };
    let value = container.get(name)?;
    match sub {
        None => Some(value),
        Some(s) => value.get(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_one_id_is_the_filter_an_idp_would_send() {
        let id = "0190aaaa-0000-7000-8000-000000000000";
        for rt in [ResourceType::User, ResourceType::Group] {
            let parsed = list_request(
                rt,
                Some(&format!("id eq \"{id}\"")),
                None,
                None,
                None,
                Some("1"),
            )
            .expect("valid");
            assert_eq!(ListRequest::of_id(id), parsed);
        }
    }
}
