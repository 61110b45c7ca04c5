//! Stored directory records as SCIM resources: what SCIM answers, and what the
//! feed's `user.*` events carry, so the app sees a user the same way in both.

use idbridge_scim::resource::schemas_of;
use idbridge_scim::schema::ResourceType;
use idbridge_store::{DirectoryGroup, DirectoryUser, GroupMember, UserGroup};
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use crate::PublicUrl;
use idbridge_core::TenantSlug;

/// The tenant's SCIM base URL, for `meta.location` and `$ref`.
pub struct Base<'a> {
    pub public_url: &'a PublicUrl,
    pub slug: &'a TenantSlug,
}

impl Base<'_> {
    pub fn url(&self) -> String {
        self.public_url.scim_base_url(self.slug)
    }

    pub fn location(&self, rt: ResourceType, id: &uuid::Uuid) -> String {
        format!("{}{}/{id}", self.url(), rt.endpoint())
    }
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn timestamp(t: time::OffsetDateTime) -> Value {
    t.format(&Rfc3339).map(Value::String).unwrap_or(Value::Null)
}

pub fn user(
    base: &Base<'_>,
    user: &DirectoryUser,
    groups: Option<&[UserGroup]>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "schemas".into(),
        Value::Array(schemas_of(ResourceType::User, &user.document)),
    );
    out.insert("id".into(), Value::String(user.id.to_string()));
    for (key, value) in &user.document {
        out.insert(key.clone(), value.clone());
    }
    finish_user(base, user, groups, out)
}

/// [`user`], taking the user: its document's values move into the resource instead
/// of being copied (a list page renders a hundred).
pub fn user_owned(
    base: &Base<'_>,
    mut user: DirectoryUser,
    groups: Option<&[UserGroup]>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "schemas".into(),
        Value::Array(schemas_of(ResourceType::User, &user.document)),
    );
    out.insert("id".into(), Value::String(user.id.to_string()));
    out.append(&mut user.document);
    finish_user(base, &user, groups, out)
}

fn finish_user(
    base: &Base<'_>,
    user: &DirectoryUser,
    groups: Option<&[UserGroup]>,
    mut out: Map<String, Value>,
) -> Map<String, Value> {
    if let Some(groups) = groups {
        let list: Vec<Value> = groups
            .iter()
            .filter(|g| g.user_id == user.id)
            .map(|g| {
                json!({
                    "value": g.group_id.to_string(),
                    "$ref": base.location(ResourceType::Group, &g.group_id),
                    "display": g.display_name,
                    "type": "direct",
                })
            })
            .collect();
        if !list.is_empty() {
            out.insert("groups".into(), Value::Array(list));
        }
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": timestamp(user.created_at),
            "lastModified": timestamp(user.updated_at),
            "location": base.location(ResourceType::User, &user.id),
            "version": etag(user.version),
        }),
    );
    out
}

pub fn group(
    base: &Base<'_>,
    group: &DirectoryGroup,
    members: Option<&[(uuid::Uuid, GroupMember)]>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "schemas".into(),
        Value::Array(schemas_of(ResourceType::Group, &group.document)),
    );
    out.insert("id".into(), Value::String(group.id.to_string()));
    for (key, value) in &group.document {
        out.insert(key.clone(), value.clone());
    }
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .filter(|(g, _)| *g == group.id)
            .map(|(_, m)| {
                let rt = match m.kind {
                    idbridge_store::MemberKind::User => ResourceType::User,
                    idbridge_store::MemberKind::Group => ResourceType::Group,
                };
                // RFC 7643 §4.2 gives members `value`, `$ref` and `type`; a display
                // name is not part of them.
                json!({
                    "value": m.id.to_string(),
                    "$ref": base.location(rt, &m.id),
                    "type": m.kind.as_str(),
                })
            })
            .collect();
        out.insert("members".into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": timestamp(group.created_at),
            "lastModified": timestamp(group.updated_at),
            "location": base.location(ResourceType::Group, &group.id),
            "version": etag(group.version),
        }),
    );
    out
}
