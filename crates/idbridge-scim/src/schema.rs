//! The schemas idbridge serves (RFC 7643 §4 and §8.7.1): core User, core Group, and the
//! enterprise User extension. They drive everything that depends on an attribute's
//! definition: type coercion of what clients send (Entra's `"True"`), case-sensitivity
//! of filters, mutability checks, what is returned, and `/Schemas`.
//!
//! Attributes outside these schemas (other extensions an IdP sends) are kept as sent;
//! they have no definition, so they are treated as case-insensitive strings.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Complex,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub description: &'static str,
    pub sub_attributes: &'static [Attribute],
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
}

impl Attribute {
    const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            description,
            sub_attributes: &[],
            canonical_values: &[],
            reference_types: &[],
        }
    }
    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }
    const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }
    const fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        let mut a = Self::new(name, AttrType::Reference, description);
        a.reference_types = types;
        a.case_exact = true;
        a
    }
    const fn complex(
        name: &'static str,
        subs: &'static [Attribute],
        description: &'static str,
    ) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = subs;
        a
    }
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    const fn write_only(mut self) -> Self {
        self.mutability = Mutability::WriteOnly;
        self.returned = Returned::Never;
        self
    }
    const fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// A sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The attribute's definition as `/Schemas` shows it.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "name": self.name,
            "type": match self.ty {
                AttrType::String => "string",
                AttrType::Boolean => "boolean",
                AttrType::Decimal => "decimal",
                AttrType::Integer => "integer",
                AttrType::DateTime => "dateTime",
                AttrType::Reference => "reference",
                AttrType::Complex => "complex",
                AttrType::Binary => "binary",
            },
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            },
            "uniqueness": match self.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
                Uniqueness::Global => "global",
            },
        });
        if let Some(map) = out.as_object_mut() {
            if !self.sub_attributes.is_empty() {
                map.insert(
                    "subAttributes".into(),
                    self.sub_attributes.iter().map(Attribute::to_json).collect(),
                );
            }
            if !self.canonical_values.is_empty() {
                map.insert("canonicalValues".into(), json!(self.canonical_values));
            }
            if !self.reference_types.is_empty() {
                map.insert("referenceTypes".into(), json!(self.reference_types));
            }
        }
        out
    }
}

#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// An attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": location },
        })
    }
}

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const TYPE_WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];

const fn value_display_type_primary(
    value: Attribute,
    types: &'static [&'static str],
) -> [Attribute; 4] {
    [
        value,
        Attribute::string(
            "display",
            "A human-readable name, primarily used for display purposes.",
        ),
        Attribute::string("type", "A label indicating the attribute's function.").canonical(types),
        Attribute::boolean(
            "primary",
            "Whether this is the preferred value; at most one value is primary.",
        ),
    ]
}

const EMAIL_SUBS: [Attribute; 4] = value_display_type_primary(
    Attribute::string("value", "Email address for the user."),
    TYPE_WORK_HOME_OTHER,
);
const PHONE_SUBS: [Attribute; 4] = value_display_type_primary(
    Attribute::string("value", "Phone number of the user."),
    &["work", "home", "mobile", "fax", "pager", "other"],
);
const IMS_SUBS: [Attribute; 4] = value_display_type_primary(
    Attribute::string("value", "Instant messaging address for the user."),
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
);
const PHOTO_SUBS: [Attribute; 4] = value_display_type_primary(
    Attribute::reference("value", &["external"], "URL of a photo of the user."),
    &["photo", "thumbnail"],
);
const ENTITLEMENT_SUBS: [Attribute; 4] = value_display_type_primary(
    Attribute::string("value", "The value of an entitlement."),
    &[],
);
const ROLE_SUBS: [Attribute; 4] =
    value_display_type_primary(Attribute::string("value", "The value of a role."), &[]);
const X509_SUBS: [Attribute; 4] = value_display_type_primary(
    Attribute::new(
        "value",
        AttrType::Binary,
        "The value of an X.509 certificate.",
    ),
    &[],
);

const NAME_SUBS: [Attribute; 6] = [
    Attribute::string("formatted", "The full name, formatted for display."),
    Attribute::string("familyName", "The family name of the User."),
    Attribute::string("givenName", "The given name of the User."),
    Attribute::string("middleName", "The middle name(s) of the User."),
    Attribute::string("honorificPrefix", "The honorific prefix(es) of the User."),
    Attribute::string("honorificSuffix", "The honorific suffix(es) of the User."),
];

const ADDRESS_SUBS: [Attribute; 8] = [
    Attribute::string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    Attribute::string("streetAddress", "The full street address component."),
    Attribute::string("locality", "The city or locality component."),
    Attribute::string("region", "The state or region component."),
    Attribute::string("postalCode", "The zip code or postal code component."),
    Attribute::string("country", "The country name component."),
    Attribute::string("type", "A label indicating the attribute's function.")
        .canonical(TYPE_WORK_HOME_OTHER),
    Attribute::boolean("primary", "Whether this is the preferred mailing address."),
];

const USER_GROUP_SUBS: [Attribute; 4] = [
    Attribute::string("value", "The identifier of the User's group.").read_only(),
    Attribute::reference(
        "$ref",
        &["User", "Group"],
        "The URI of the corresponding Group resource.",
    )
    .read_only(),
    Attribute::string("display", "A human-readable name for the group.").read_only(),
    Attribute::string("type", "How the membership was derived.")
        .canonical(&["direct", "indirect"])
        .read_only(),
];

const USER_ATTRIBUTES: [Attribute; 22] = [
    Attribute::string(
        "userName",
        "Unique identifier for the User, typically used to sign in.",
    )
    .required()
    .unique(),
    Attribute::complex(
        "name",
        &NAME_SUBS,
        "The components of the user's real name.",
    ),
    Attribute::string(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    Attribute::string(
        "nickName",
        "The casual way to address the user in real life.",
    ),
    Attribute::reference(
        "profileUrl",
        &["external"],
        "A fully qualified URL to the User's online profile.",
    ),
    Attribute::string("title", "The user's title, such as \"Vice President\"."),
    Attribute::string(
        "userType",
        "Identifies the relationship between the organization and the user.",
    ),
    Attribute::string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    Attribute::string("locale", "The User's default location for localization."),
    Attribute::string(
        "timezone",
        "The User's time zone in the IANA Time Zone database format.",
    ),
    Attribute::boolean("active", "The User's administrative status."),
    Attribute::string(
        "password",
        "Accepted on write, never stored in clear and never returned.",
    )
    .write_only(),
    Attribute::complex("emails", &EMAIL_SUBS, "Email addresses for the user.").multi(),
    Attribute::complex("phoneNumbers", &PHONE_SUBS, "Phone numbers for the User.").multi(),
    Attribute::complex(
        "ims",
        &IMS_SUBS,
        "Instant messaging addresses for the User.",
    )
    .multi(),
    Attribute::complex("photos", &PHOTO_SUBS, "URLs of photos of the User.").multi(),
    Attribute::complex(
        "addresses",
        &ADDRESS_SUBS,
        "A physical mailing address for this User.",
    )
    .multi(),
    Attribute::complex(
        "groups",
        &USER_GROUP_SUBS,
        "Groups the user belongs to, read-only.",
    )
    .multi()
    .read_only(),
    Attribute::complex(
        "entitlements",
        &ENTITLEMENT_SUBS,
        "Entitlements for the User.",
    )
    .multi(),
    Attribute::complex(
        "roles",
        &ROLE_SUBS,
        "Roles for the User; app roles resolve from them.",
    )
    .multi(),
    Attribute::complex(
        "x509Certificates",
        &X509_SUBS,
        "X.509 certificates issued to the User.",
    )
    .multi(),
    Attribute::string("externalId", "The IdP's identifier for the User.").case_exact(),
];

pub static USER_SCHEMA: Schema = Schema {
    id: CORE_USER,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRIBUTES,
};

const MANAGER_SUBS: [Attribute; 3] = [
    Attribute::string(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    ),
    Attribute::reference(
        "$ref",
        &["User"],
        "The URI of the SCIM resource representing the User's manager.",
    ),
    Attribute::string("displayName", "The displayName of the User's manager.").read_only(),
];

const ENTERPRISE_ATTRIBUTES: [Attribute; 6] = [
    Attribute::string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    Attribute::string("costCenter", "Identifies the name of a cost center."),
    Attribute::string("organization", "Identifies the name of an organization."),
    Attribute::string("division", "Identifies the name of a division."),
    Attribute::string("department", "Identifies the name of a department."),
    Attribute::complex("manager", &MANAGER_SUBS, "The User's manager."),
];

pub static ENTERPRISE_USER_SCHEMA: Schema = Schema {
    id: ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_ATTRIBUTES,
};

const MEMBER_SUBS: [Attribute; 4] = [
    Attribute::string("value", "Identifier of the member of this Group.")
        .immutable()
        .case_exact(),
    Attribute::reference(
        "$ref",
        &["User", "Group"],
        "The URI of the member resource.",
    )
    .immutable(),
    Attribute::string("type", "The type of the member.")
        .canonical(&["User", "Group"])
        .immutable(),
    Attribute::string("display", "A human-readable name for the member.").read_only(),
];

const GROUP_ATTRIBUTES: [Attribute; 3] = [
    Attribute::string("displayName", "A human-readable name for the Group.").required(),
    Attribute::complex("members", &MEMBER_SUBS, "A list of members of the Group.").multi(),
    Attribute::string("externalId", "The IdP's identifier for the Group.").case_exact(),
];

pub static GROUP_SCHEMA: Schema = Schema {
    id: CORE_GROUP,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRIBUTES,
};

/// Attributes every resource has (RFC 7643 §3.1); `externalId` is in the schemas above.
pub const COMMON_READ_ONLY: [&str; 3] = ["id", "meta", "schemas"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    User,
    Group,
}

impl ResourceType {
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::User => "User",
            ResourceType::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceType::User => "/Users",
            ResourceType::Group => "/Groups",
        }
    }

    pub fn core_schema(self) -> &'static Schema {
        match self {
            ResourceType::User => &USER_SCHEMA,
            ResourceType::Group => &GROUP_SCHEMA,
        }
    }

    /// Extension schemas idbridge knows the definitions of.
    pub fn known_extensions(self) -> &'static [&'static Schema] {
        static USER_EXTENSIONS: [&Schema; 1] = [&ENTERPRISE_USER_SCHEMA];
        match self {
            ResourceType::User => &USER_EXTENSIONS,
            ResourceType::Group => &[],
        }
    }

    /// The schema a URN names, for this resource type (case-insensitive).
    pub fn schema(self, urn: &str) -> Option<&'static Schema> {
        std::iter::once(self.core_schema())
            .chain(self.known_extensions().iter().copied())
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}

/// Every schema `/Schemas` serves.
pub fn all_schemas() -> [&'static Schema; 3] {
    [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA]
}

/// Whether a top-level key of a resource names an extension schema (a URN).
pub fn is_schema_urn(key: &str) -> bool {
    // `get`, not indexing: a hostile key may have a character across byte 4.
    key.len() > 4 && key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_with_a_character_across_byte_four_is_not_a_urn_and_no_panic() {
        assert!(!is_schema_urn("abc\u{e9}"));
        assert!(!is_schema_urn("\u{e9}t\u{e9}"));
        assert!(!is_schema_urn("ur\u{1F600}x"));
        assert!(is_schema_urn("URN:x"));
        assert!(!is_schema_urn("urn:"));
    }

    #[test]
    fn attribute_lookup_is_case_insensitive() {
        assert_eq!(
            USER_SCHEMA.attribute("USERNAME").map(|a| a.name),
            Some("userName")
        );
        let emails = USER_SCHEMA.attribute("emails").expect("emails");
        assert_eq!(emails.sub_attribute("Value").map(|a| a.name), Some("value"));
        assert!(USER_SCHEMA.attribute("nope").is_none());
        assert_eq!(
            ResourceType::User
                .schema(&ENTERPRISE_USER.to_uppercase())
                .map(|s| s.id),
            Some(ENTERPRISE_USER)
        );
        assert!(ResourceType::Group.schema(ENTERPRISE_USER).is_none());
    }

    #[test]
    fn schema_definitions_follow_rfc_7643() {
        let user_name = USER_SCHEMA.attribute("userName").expect("userName");
        assert!(user_name.required && !user_name.case_exact);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        let password = USER_SCHEMA.attribute("password").expect("password");
        assert_eq!(
            (password.mutability, password.returned),
            (Mutability::WriteOnly, Returned::Never)
        );
        assert!(
            USER_SCHEMA
                .attribute("externalId")
                .expect("externalId")
                .case_exact
        );
        assert!(
            USER_SCHEMA.attribute("groups").expect("groups").mutability == Mutability::ReadOnly
        );
        let json = USER_SCHEMA.to_json("/Schemas/x");
        assert_eq!(json["attributes"][0]["name"], "userName");
        assert_eq!(json["attributes"][0]["uniqueness"], "server");
        assert!(json["attributes"][12]["subAttributes"].is_array());
    }
}
