//! Stored directory records as SCIM resources: what SCIM answers, and what the
//! feed's `user.*` events carry, so the app sees a user the same way in both.

use idbridge_scim::projection::never_returned;
use idbridge_scim::resource::schemas_of;
use idbridge_scim::schema::{ResourceType, is_schema_urn};
use idbridge_scim::stored::Members;
use idbridge_store::{DirectoryGroup, DirectoryUser, GroupMember, StoredUser, UserGroup};
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
        format!("{}/{id}", self.location_root(rt))
    }

    /// Where the tenant's resources of a type are: `…/scim/v2/{slug}/Users`.
    fn location_root(&self, rt: ResourceType) -> String {
        format!("{}{}", self.url(), rt.endpoint())
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
/// it, written straight out as JSON text ([`UserResource::to_json`],
/// [`list_of_users`]): the same bytes as [`user`] after [`Projection::apply`]
/// gives serialized, without building that map. A list page renders a hundred:
/// building and dropping a tree of values for each was a good part of a page's
/// cost, and writing each name and string through the serializer's escaping most
/// of what was left. A list's users come as stored ([`UserResource::stored`]):
/// their documents' values, and the names stored without an escape, are copied
/// as the text they were stored as.
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
    /// The stored text's length, to size the answer's buffer (0 when parsed).
    stored_len: usize,
}

/// A user's document: parsed, or its members read off the stored text.
enum Document<'a> {
    Parsed(&'a Map<String, Value>),
    Stored(Members<'a>),
}

/// One member's value, either way.
enum Member<'a> {
    Parsed(&'a Value),
    /// Its JSON text as stored.
    Stored(&'a str),
}

/// A member name, and whether its JSON text is the name between quotes as it is
/// (a name stored without an escape); any other name goes through the escaping.
type Name<'a> = (&'a str, bool);

impl Document<'_> {
    /// The members in byte order of their names.
    fn members(&self) -> Vec<(Name<'_>, Member<'_>)> {
        match self {
            Document::Parsed(map) => map
                .iter()
                .map(|(key, value)| ((key.as_str(), false), Member::Parsed(value)))
                .collect(),
            Document::Stored(members) => members
                .iter()
                .map(|(key, plain, text)| ((key, plain), Member::Stored(text)))
                .collect(),
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
            stored_len: 0,
        }
    }

    /// A listed user, its document as stored (the store checked it is an object).
    pub fn stored(
        base: &'a Base<'a>,
        user: &'a StoredUser,
        groups: Option<&'a [UserGroup]>,
    ) -> Result<Self, idbridge_scim::stored::Malformed> {
        Ok(Self {
            base,
            id: user.id,
            created_at: user.created_at,
            updated_at: user.updated_at,
            version: user.version,
            document: Document::Stored(Members::parse(&user.document)?),
            groups,
            stored_len: user.document.len(),
        })
    }

    /// The user's JSON text.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write(&Locations::of(self.base), &mut out)?;
        Ok(out)
    }

    /// About what the text takes: the document and what a resource adds.
    fn size_hint(&self) -> usize {
        self.stored_len.max(256) + 320
    }
}

/// `users` as a list response (RFC 7644 §3.4.2) of a list with `total` results
/// starting at `start_index`, each user written as [`UserResource::to_json`].
pub fn list_of_users(
    base: &Base<'_>,
    users: &[UserResource<'_>],
    total: u64,
    start_index: usize,
) -> Result<Vec<u8>, serde_json::Error> {
    let locations = Locations::of(base);
    let mut out =
        Vec::with_capacity(256 + users.iter().map(UserResource::size_hint).sum::<usize>());
    idbridge_scim::discovery::write_list_response(&mut out, total, start_index, |out| {
        for (n, user) in users.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            user.write(&locations, out)?;
        }
        Ok(users.len())
    })?;
    Ok(out)
}

/// The tenant's `/Users/` URL as the start of a JSON string
/// (`"https://…/Users/`, the id and closing quote to follow), escaped once for
/// all the users written.
struct Locations {
    users: Vec<u8>,
}

impl Locations {
    fn of(base: &Base<'_>) -> Self {
        let mut users = json_string(&format!("{}/", base.location_root(ResourceType::User)));
        users.pop();
        Self { users }
    }
}

/// `text` as a JSON string.
fn json_string(text: &str) -> Vec<u8> {
    // Serializing a string into memory cannot fail.
    serde_json::to_vec(text).unwrap_or_else(|_| b"\"\"".to_vec())
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

/// An object's members written one after another: the comma before each but the
/// first, and the name.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, empty: true }
    }

    /// Writes `"name":` and hands back the buffer for the value.
    fn name(&mut self, name: Name<'_>) -> Result<&mut Vec<u8>, serde_json::Error> {
        if !std::mem::replace(&mut self.empty, false) {
            self.out.push(b',');
        }
        write_string(self.out, name)?;
        self.out.push(b':');
        Ok(self.out)
    }

    fn member(&mut self, name: Name<'_>, value: &Member<'_>) -> Result<(), serde_json::Error> {
        let out = self.name(name)?;
        match value {
            Member::Parsed(value) => serde_json::to_writer(out, value),
            Member::Stored(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(())
            }
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

impl UserResource<'_> {
    fn write(&self, locations: &Locations, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mine: Vec<&UserGroup> = self
            .groups
            .map(|groups| groups.iter().filter(|g| g.user_id == self.id).collect())
            .unwrap_or_default();
        let members = self.document.members();
        let mut object = Object::open(out);
        let mut own = members
            .iter()
            .filter(|((key, _), _)| !never_returned(ResourceType::User, key))
            .peekable();
        for (which, name) in Added::ALL {
            while let Some((key, value)) = own.next_if(|((key, _), _)| before(key, name)) {
                object.member(*key, value)?;
            }
            let theirs = own.next_if(|((key, _), _)| *key == name);
            // Whether the resource's own member is written: `groups` when the
            // user has any, `meta` always, `id` and `schemas` unless the document
            // has its own.
            let ours = match which {
                Added::Groups => !mine.is_empty(),
                Added::Meta => true,
                Added::Id | Added::Schemas => theirs.is_none(),
            };
            if !ours {
                if let Some((key, value)) = theirs {
                    object.member(*key, value)?;
                }
                continue;
            }
            let out = object.name((name, true))?;
            match which {
                Added::Groups => serde_json::to_writer(
                    out,
                    &GroupsOf {
                        base: self.base,
                        groups: &mine,
                    },
                )?,
                Added::Id => write_uuid(out, &self.id),
                Added::Meta => self.write_meta(locations, out),
                // The core schema, then each extension present (`schemas_of`).
                Added::Schemas => {
                    let core = (ResourceType::User.core_schema().id, true);
                    let extensions = members
                        .iter()
                        .map(|(key, _)| *key)
                        .filter(|(key, _)| is_schema_urn(key));
                    out.push(b'[');
                    for (n, urn) in std::iter::once(core).chain(extensions).enumerate() {
                        if n > 0 {
                            out.push(b',');
                        }
                        write_string(out, urn)?;
                    }
                    out.push(b']');
                }
            }
        }
        for (key, value) in own {
            object.member(*key, value)?;
        }
        object.close();
        Ok(())
    }

    /// `meta`, its members in byte order: none of its strings needs an escape
    /// but the location, whose escaped start `locations` holds.
    fn write_meta(&self, locations: &Locations, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"created\":");
        write_timestamp(out, self.created_at);
        out.extend_from_slice(b",\"lastModified\":");
        write_timestamp(out, self.updated_at);
        out.extend_from_slice(b",\"location\":");
        out.extend_from_slice(&locations.users);
        out.extend_from_slice(
            self.id
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .as_bytes(),
        );
        out.extend_from_slice(b"\",\"resourceType\":\"User\",\"version\":\"W/\\\"");
        out.extend_from_slice(self.version.to_string().as_bytes());
        out.extend_from_slice(b"\\\"\"}");
    }
}

/// `key < name`, as names sort: most names differ from an added one in their
/// first byte, so that is looked at before the whole names are compared.
fn before(key: &str, name: &str) -> bool {
    match key.as_bytes().first().cmp(&name.as_bytes().first()) {
        std::cmp::Ordering::Equal => key < name,
        order => order.is_lt(),
    }
}

/// A name as a JSON string: as it is when plain, escaped otherwise.
fn write_string(out: &mut Vec<u8>, (text, plain): Name<'_>) -> Result<(), serde_json::Error> {
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, text)
    }
}

/// A UUID as a JSON string, as it serializes.
fn write_uuid(out: &mut Vec<u8>, id: &uuid::Uuid) {
    out.push(b'"');
    out.extend_from_slice(
        id.hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer())
            .as_bytes(),
    );
    out.push(b'"');
}

/// An RFC 3339 timestamp as a JSON string, or `null` where it has none (a year
/// past 9999), as [`timestamp`] gives it.
fn write_timestamp(out: &mut Vec<u8>, t: time::OffsetDateTime) {
    let start = out.len();
    out.push(b'"');
    if t.format_into(out, &Rfc3339).is_ok() {
        out.push(b'"');
    } else {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
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

    /// Tenant acme's URL and slug, which a [`Base`] borrows.
    fn acme() -> (PublicUrl, TenantSlug) {
        (
            PublicUrl::parse("https://id.example.com").expect("url"),
            TenantSlug::parse("acme").expect("slug"),
        )
    }

    fn base_of((public_url, slug): &(PublicUrl, TenantSlug)) -> Base<'_> {
        Base { public_url, slug }
    }

    fn written(text: Result<Vec<u8>, serde_json::Error>) -> String {
        String::from_utf8(text.expect("written")).expect("utf-8")
    }

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
        "urn:x:\"quoted\"",
        "userName",
        "we\\ird\n",
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
            let acme = acme();
            let base = base_of(&acme);
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
            let straight = written(UserResource::new(&base, &user, groups).to_json());
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
                prop_assert_eq!(written(resource.to_json()), expected.clone());
            }
        }
    }

    #[test]
    fn a_stored_document_that_is_not_one_json_object_is_refused() {
        // The store hands documents over unparsed; this is where they are read.
        let acme = acme();
        let base = base_of(&acme);
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
    fn a_time_rfc_3339_cannot_write_is_null_either_way() {
        let acme = acme();
        let base = base_of(&acme);
        let mut user = a_user(Map::new());
        // RFC 3339 has no offset with seconds.
        user.created_at = datetime!(2026-12-06 12:00 +01:00:30);
        let straight = written(UserResource::new(&base, &user, None).to_json());
        assert!(straight.contains(r#""created":null,"#), "{straight}");
        assert_eq!(straight, through_the_map(&base, &user, None));
    }

    #[test]
    fn a_page_written_straight_out_is_the_list_response_serialized() {
        let acme = acme();
        let base = base_of(&acme);
        let users = [
            a_user(
                serde_json::json!({"userName": "a", "active": true})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            a_user(Map::new()),
        ];
        let resources: Vec<_> = users
            .iter()
            .map(|u| UserResource::new(&base, u, Some(&[])))
            .collect();
        let straight = written(list_of_users(&base, &resources, 40, 11));
        let values = users
            .iter()
            .map(|u| serde_json::from_str(&through_the_map(&base, u, Some(&[]))).expect("value"))
            .collect();
        assert_eq!(
            straight,
            serde_json::to_string(&idbridge_scim::discovery::list_response(40, 11, values))
                .expect("json"),
        );
    }
}
