//! Stored directory records as SCIM resources: what SCIM answers, and what the
//! feed's `user.*` events carry, so the app sees a user the same way in both.

use idbridge_scim::projection::never_returned;
use idbridge_scim::resource::schemas_of;
use idbridge_scim::schema::{ResourceType, is_schema_urn};
use idbridge_scim::stored::Members;
use idbridge_store::{DirectoryGroup, DirectoryUser, GroupMember, StoredUser, UserGroup};
use serde_json::value::RawValue;
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

/// A user as SCIM answers it when no `attributes` or `excludedAttributes` trims
/// it, written straight to the serializer: the same JSON, byte for byte, as
/// [`user`] after [`Projection::apply`] gives serialized, without building that
/// map (a list page renders a hundred; building and dropping a tree of values for
/// each was a good part of a page's cost). A list's users come as stored
/// ([`UserResource::stored`]): their documents' values are written as the text
/// they were stored as, never parsed.
///
/// [`Projection::apply`]: idbridge_scim::projection::Projection::apply
pub struct UserResource<'a> {
    base: &'a Base<'a>,
    id: uuid::Uuid,
    created_at: time::OffsetDateTime,
    updated_at: time::OffsetDateTime,
    version: i64,
    document: Document<'a>,
    groups: Option<&'a [UserGroup]>,
    location: String,
}

/// A user's document: parsed, or its members read off the stored text.
enum Document<'a> {
    Parsed(&'a Map<String, Value>),
    Stored(Members<'a>),
}

/// One member's value, either way.
enum Member<'a> {
    Parsed(&'a Value),
    Stored(&'a RawValue),
}

impl serde::Serialize for Member<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Member::Parsed(value) => value.serialize(serializer),
            Member::Stored(raw) => raw.serialize(serializer),
        }
    }
}

impl Document<'_> {
    /// The members in byte order of their names.
    fn members(&self) -> Vec<(&str, Member<'_>)> {
        match self {
            Document::Parsed(map) => map
                .iter()
                .map(|(key, value)| (key.as_str(), Member::Parsed(value)))
                .collect(),
            Document::Stored(members) => members
                .iter()
                .map(|(key, raw)| (key, Member::Stored(raw)))
                .collect(),
        }
    }

    fn contains(&self, name: &str) -> bool {
        match self {
            Document::Parsed(map) => map.contains_key(name),
            Document::Stored(members) => members.contains(name),
        }
    }
}

impl<'a> UserResource<'a> {
    pub fn new(
        base: &'a Base<'a>,
        user: &'a DirectoryUser,
        groups: Option<&'a [UserGroup]>,
    ) -> Self {
        Self {
            base,
            id: user.id,
            created_at: user.created_at,
            updated_at: user.updated_at,
            version: user.version,
            document: Document::Parsed(&user.document),
            groups,
            location: base.location(ResourceType::User, &user.id),
        }
    }

    /// A listed user, its document as stored (the store checked it is an object).
    pub fn stored(
        base: &'a Base<'a>,
        user: &'a StoredUser,
        groups: Option<&'a [UserGroup]>,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            base,
            id: user.id,
            created_at: user.created_at,
            updated_at: user.updated_at,
            version: user.version,
            document: Document::Stored(Members::parse(&user.document)?),
            groups,
            location: base.location(ResourceType::User, &user.id),
        })
    }
}

/// The members a resource adds to its document, by name. [`user`] inserts
/// `schemas` and `id` before the document's own members (which win) and `groups`
/// (when there are any) and `meta` after them (which win).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Added {
    Groups,
    Id,
    Meta,
    Schemas,
}

impl Added {
    /// In byte order, as a map of names serializes.
    const ALL: [(Added, &'static str); 4] = [
        (Added::Groups, "groups"),
        (Added::Id, "id"),
        (Added::Meta, "meta"),
        (Added::Schemas, "schemas"),
    ];
}

impl serde::Serialize for UserResource<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let document = &self.document;
        let mine: Vec<&UserGroup> = self
            .groups
            .map(|groups| groups.iter().filter(|g| g.user_id == self.id).collect())
            .unwrap_or_default();
        // Which added members appear, and whether they or the document's win.
        let added = |which: Added| -> Option<bool> {
            match which {
                Added::Groups if mine.is_empty() => document.contains("groups").then_some(false),
                Added::Groups | Added::Meta => Some(true),
                Added::Id => Some(!document.contains("id")),
                Added::Schemas => Some(!document.contains("schemas")),
            }
        };
        let members = document.members();
        let mut map = serializer.serialize_map(None)?;
        let mut own = members
            .iter()
            .filter(|(key, _)| !never_returned(ResourceType::User, key))
            .peekable();
        for (which, name) in Added::ALL {
            while let Some((key, value)) = own.next_if(|(key, _)| *key < name) {
                map.serialize_entry(key, value)?;
            }
            let Some(ours) = added(which) else { continue };
            let theirs = own.next_if(|(key, _)| *key == name);
            if !ours {
                if let Some((key, value)) = theirs {
                    map.serialize_entry(key, value)?;
                }
                continue;
            }
            match which {
                Added::Groups => map.serialize_entry(
                    name,
                    &GroupsOf {
                        base: self.base,
                        groups: &mine,
                    },
                )?,
                Added::Id => map.serialize_entry(name, &self.id)?,
                Added::Meta => map.serialize_entry(
                    name,
                    &Meta {
                        resource_type: "User",
                        created: formatted(self.created_at),
                        last_modified: formatted(self.updated_at),
                        location: &self.location,
                        version: etag(self.version),
                    },
                )?,
                // The core schema, then each extension present (`schemas_of`).
                Added::Schemas => {
                    let mut schemas = vec![ResourceType::User.core_schema().id];
                    schemas.extend(
                        members
                            .iter()
                            .map(|(key, _)| *key)
                            .filter(|key| is_schema_urn(key)),
                    );
                    map.serialize_entry(name, &schemas)?
                }
            }
        }
        for (key, value) in own {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

fn formatted(t: time::OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

/// `meta`, its members in byte order.
#[derive(serde::Serialize)]
struct Meta<'a> {
    created: Option<String>,
    #[serde(rename = "lastModified")]
    last_modified: Option<String>,
    location: &'a str,
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    version: String,
}

struct GroupsOf<'a> {
    base: &'a Base<'a>,
    groups: &'a [&'a UserGroup],
}

impl serde::Serialize for GroupsOf<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.groups.iter().map(|g| GroupRef {
            reference: self.base.location(ResourceType::Group, &g.group_id),
            display: &g.display_name,
            kind: "direct",
            value: g.group_id,
        }))
    }
}

/// One of a user's `groups`, its members in byte order.
#[derive(serde::Serialize)]
struct GroupRef<'a> {
    #[serde(rename = "$ref")]
    reference: String,
    display: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: uuid::Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;
    use idbridge_scim::projection::Projection;
    use idbridge_store::UserSource;
    use proptest::prelude::*;
    use time::macros::datetime;
    use uuid::Uuid;

    /// What the list answered before [`UserResource`]: the map, projected, serialized.
    fn through_the_map(
        base: &Base<'_>,
        user: &DirectoryUser,
        groups: Option<&[UserGroup]>,
    ) -> String {
        let mut resource = super::user(base, user, groups);
        Projection::parse(None, None)
            .expect("no projection")
            .apply(ResourceType::User, &mut resource);
        serde_json::to_string(&Value::Object(resource)).expect("json")
    }

    fn a_user(document: Map<String, Value>) -> DirectoryUser {
        DirectoryUser {
            id: Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001),
            tenant_id: Uuid::from_u128(7),
            user_name: "ada@acme.example".into(),
            external_id: None,
            active: true,
            document,
            source: UserSource::Scim,
            created_at: datetime!(2026-12-06 12:00:00.123456 UTC),
            updated_at: datetime!(2026-12-06 13:00 UTC),
            version: 3,
        }
    }

    /// Names around the ones a resource adds, in byte order and out of it.
    const NAMES: &[&str] = &[
        "$ref",
        "Groups",
        "active",
        "displayName",
        "emails",
        "groups",
        "groupz",
        "id",
        "idx",
        "meta",
        "name",
        "password",
        "schemas",
        "schemaz",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "userName",
        "zz",
        "\u{e9}t\u{e9}",
    ];

    fn documents() -> impl Strategy<Value = Map<String, Value>> {
        proptest::collection::btree_map(
            proptest::sample::select(NAMES),
            prop_oneof![
                any::<bool>().prop_map(Value::from),
                "[a-z\"\\\\\u{e9}]{0,6}".prop_map(Value::from),
                Just(serde_json::json!({"department": "R&D", "manager": {"value": "x"}})),
                Just(serde_json::json!([{"value": "a@b.example", "primary": true}])),
            ],
            0..8,
        )
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    proptest! {
        #[test]
        fn a_user_written_straight_out_is_the_map_serialized(
            document in documents(),
            with_groups in any::<bool>(),
            names in proptest::collection::vec("[A-Za-z ]{1,5}", 0..3),
        ) {
            let public_url = PublicUrl::parse("https://id.example.com").expect("url");
            let slug = TenantSlug::parse("acme").expect("slug");
            let base = Base { public_url: &public_url, slug: &slug };
            let user = a_user(document);
            let groups: Vec<UserGroup> = names
                .iter()
                .enumerate()
                .map(|(n, name)| UserGroup {
                    user_id: if n == 2 { Uuid::from_u128(9) } else { user.id },
                    group_id: Uuid::from_u128(100 + n as u128),
                    display_name: name.clone(),
                })
                .collect();
            let groups = with_groups.then_some(groups.as_slice());
            let straight = serde_json::to_string(&UserResource::new(&base, &user, groups)).expect("json");
            let expected = through_the_map(&base, &user, groups);
            prop_assert_eq!(&straight, &expected);
            // As stored: compact (SQLite), or spaced as PostgreSQL gives `jsonb`.
            let document = Value::Object(user.document.clone());
            for text in [
                serde_json::to_string(&document).expect("json"),
                serde_json::to_string_pretty(&document).expect("json"),
            ] {
                let text = idbridge_scim::stored::compact(&text).into_owned();
                let stored = StoredUser {
                    id: user.id,
                    created_at: user.created_at,
                    updated_at: user.updated_at,
                    version: user.version,
                    document: text,
                };
                let resource = UserResource::stored(&base, &stored, groups).expect("object");
                prop_assert_eq!(serde_json::to_string(&resource).expect("json"), expected.clone());
            }
        }
    }

    #[test]
    fn a_stored_document_that_is_not_one_json_object_is_refused() {
        // The store hands documents over unparsed; this is where they are read.
        let public_url = PublicUrl::parse("https://id.example.com").expect("url");
        let slug = TenantSlug::parse("acme").expect("slug");
        let base = Base {
            public_url: &public_url,
            slug: &slug,
        };
        let user = a_user(Map::new());
        for text in ["[1]", "\"x\"", "{\"a\":1} {}", "{\"a\":", ""] {
            let stored = StoredUser {
                id: user.id,
                created_at: user.created_at,
                updated_at: user.updated_at,
                version: user.version,
                document: text.into(),
            };
            assert!(
                UserResource::stored(&base, &stored, None).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn a_page_written_straight_out_is_the_list_response_serialized() {
        let public_url = PublicUrl::parse("https://id.example.com").expect("url");
        let slug = TenantSlug::parse("acme").expect("slug");
        let base = Base {
            public_url: &public_url,
            slug: &slug,
        };
        let users = [
            a_user(
                serde_json::json!({"userName": "a", "active": true})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            a_user(Map::new()),
        ];
        let straight = idbridge_scim::discovery::ListResponse::new(
            40,
            11,
            users
                .iter()
                .map(|u| UserResource::new(&base, u, Some(&[])))
                .collect(),
        );
        let values = users
            .iter()
            .map(|u| serde_json::from_str(&through_the_map(&base, u, Some(&[]))).expect("value"))
            .collect();
        assert_eq!(
            serde_json::to_string(&straight).expect("json"),
            serde_json::to_string(&idbridge_scim::discovery::list_response(40, 11, values))
                .expect("json"),
        );
    }
}
