//! Who the assertion says the user is, in the order the contract fixes: the email
//! from the `email` attribute (what the seeds tell Entra admins to add, and Okta's
//! attribute statement), Microsoft's `…/claims/emailaddress`, `user.email`, `mail`,
//! then a NameID in emailAddress format. The name from `name`, Microsoft's
//! `…/claims/displayname`, or given name + surname.
//!
//! Role and group claims (Entra ID's app role assignments and groups, the `roles` /
//! `groups` attribute statements Okta admins add) are read from every attribute name
//! that carries them, as sets: deduplicated case-insensitively (role mappings compare
//! that way), sorted (so an IdP reordering them is not a change), and bounded, since
//! their number and length are the sender's to choose.

use std::collections::HashSet;

use crate::ns;
use crate::response::ValidAssertion;

pub const MS_EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
pub const MS_DISPLAY_NAME: &str = "http://schemas.microsoft.com/identity/claims/displayname";
pub const MS_GIVEN_NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname";
pub const MS_SURNAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname";
/// Entra ID's app role assignments (the values of the app roles the user has).
pub const MS_ROLE: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
/// Entra ID's group claim: group object IDs by default, names when the app's group
/// claim is configured to emit them.
pub const MS_GROUPS: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";

/// Attribute names whose values are IdP role values.
pub const ROLE_ATTRIBUTES: &[&str] = &[MS_ROLE, "roles", "role"];
/// Attribute names whose values are group names (or Entra object IDs).
pub const GROUP_ATTRIBUTES: &[&str] = &[MS_GROUPS, "groups"];
/// Attribute names for the given name and the surname, in order.
pub const GIVEN_NAME_ATTRIBUTES: &[&str] = &[MS_GIVEN_NAME, "firstName", "givenName", "given_name"];
pub const FAMILY_NAME_ATTRIBUTES: &[&str] = &[
    MS_SURNAME,
    "lastName",
    "surname",
    "sn",
    "familyName",
    "family_name",
];

/// At most this many role values, and as many group names, are kept: Entra sends at
/// most 150 groups in SAML (more become an overage link), so 200 cuts off nobody real.
pub const MAX_VALUES: usize = 200;
/// A role value, group name or name longer than this is ignored, not cut: a
/// truncated group name names nothing, and a role mapping value is at most 256.
pub const MAX_VALUE_CHARS: usize = 256;

/// Attribute names tried for the email, in order.
pub const EMAIL_ATTRIBUTES: &[&str] = &["email", MS_EMAIL, "user.email", "mail"];

fn first<'a>(assertion: &'a ValidAssertion, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        assertion
            .attributes
            .get(*name)
            .and_then(|values| values.first())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    })
}

/// Like [`first`], but an over-long value counts as absent, so the next name is
/// tried (a hostile `name` does not hide Entra's display name claim).
fn first_bounded<'a>(assertion: &'a ValidAssertion, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        assertion
            .attributes
            .get(*name)
            .and_then(|values| values.first())
            .map(String::as_str)
            .filter(|v| !v.is_empty() && v.chars().count() <= MAX_VALUE_CHARS)
    })
}

/// Every value of every attribute in `names`: deduplicated case-insensitively (first
/// spelling kept), without empty or over-long values, at most [`MAX_VALUES`], sorted.
fn value_set(assertion: &ValidAssertion, names: &[&str]) -> Vec<String> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut out: Vec<String> = Vec::new();
    let values = names
        .iter()
        .filter_map(|name| assertion.attributes.get(*name))
        .flatten();
    for value in values {
        if out.len() == MAX_VALUES {
            break;
        }
        if value.is_empty() || value.chars().count() > MAX_VALUE_CHARS {
            continue;
        }
        if seen.insert(value.to_lowercase()) {
            out.push(value.clone());
        }
    }
    out.sort();
    out
}

/// What a sign-in says about the user besides who they are: the attributes a
/// directory user created or updated by SAML takes from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserClaims {
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// IdP role values, as [`roles`] reads them.
    pub roles: Vec<String>,
    /// Group names (or Entra group object IDs), as [`groups`] reads them.
    pub groups: Vec<String>,
}

/// Everything [`UserClaims`] holds, read from the assertion.
pub fn user_claims(assertion: &ValidAssertion) -> UserClaims {
    UserClaims {
        display_name: display_name(assertion),
        given_name: given_name(assertion),
        family_name: family_name(assertion),
        roles: roles(assertion),
        groups: groups(assertion),
    }
}

/// The IdP role values: Entra's app role claim, `roles`, `role`, together.
pub fn roles(assertion: &ValidAssertion) -> Vec<String> {
    value_set(assertion, ROLE_ATTRIBUTES)
}

/// The groups: Entra's group claim and `groups` (Okta's group attribute statement,
/// by convention), together.
pub fn groups(assertion: &ValidAssertion) -> Vec<String> {
    value_set(assertion, GROUP_ATTRIBUTES)
}

pub fn given_name(assertion: &ValidAssertion) -> Option<String> {
    first_bounded(assertion, GIVEN_NAME_ATTRIBUTES).map(str::to_owned)
}

pub fn family_name(assertion: &ValidAssertion) -> Option<String> {
    first_bounded(assertion, FAMILY_NAME_ATTRIBUTES).map(str::to_owned)
}

/// The user's email, if the assertion carries one, in the default order.
pub fn email(assertion: &ValidAssertion) -> Option<String> {
    email_in(assertion, EMAIL_ATTRIBUTES)
}

/// The user's email from the first of `attributes` the assertion has, else from a
/// NameID in emailAddress format (a tenant's own order replaces the default).
pub fn email_in(assertion: &ValidAssertion, attributes: &[&str]) -> Option<String> {
    first(assertion, attributes).map(str::to_owned).or_else(|| {
        assertion
            .name_id
            .as_ref()
            .filter(|n| n.format.as_deref() == Some(ns::NAMEID_EMAIL) && !n.value.is_empty())
            .map(|n| n.value.clone())
    })
}

/// The user's display name, if the assertion carries one.
pub fn display_name(assertion: &ValidAssertion) -> Option<String> {
    if let Some(name) = first_bounded(assertion, &["name", MS_DISPLAY_NAME, "displayName"]) {
        return Some(name.to_owned());
    }
    let given = first_bounded(assertion, GIVEN_NAME_ATTRIBUTES);
    let family = first_bounded(assertion, FAMILY_NAME_ATTRIBUTES);
    match (given, family) {
        (Some(g), Some(f)) => Some(format!("{g} {f}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::NameId;
    use std::collections::BTreeMap;

    fn assertion(attributes: &[(&str, &str)], name_id: Option<(&str, &str)>) -> ValidAssertion {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in attributes {
            map.entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        ValidAssertion {
            assertion_id: "_a".into(),
            in_response_to: None,
            name_id: name_id.map(|(value, format)| NameId {
                value: value.into(),
                format: Some(format.into()),
            }),
            attributes: map,
            session_index: None,
            authn_instant: None,
            replay_until: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn email_follows_the_documented_order() {
        let a = assertion(&[(MS_EMAIL, "ms@x.com"), ("email", "plain@x.com")], None);
        assert_eq!(email(&a).as_deref(), Some("plain@x.com"));
        let a = assertion(&[("mail", "mail@x.com"), (MS_EMAIL, "ms@x.com")], None);
        assert_eq!(email(&a).as_deref(), Some("ms@x.com"));
        let a = assertion(
            &[("mail", "mail@x.com")],
            Some(("n@x.com", ns::NAMEID_EMAIL)),
        );
        assert_eq!(email(&a).as_deref(), Some("mail@x.com"));
        let a = assertion(&[], Some(("n@x.com", ns::NAMEID_EMAIL)));
        assert_eq!(email(&a).as_deref(), Some("n@x.com"));
        let a = assertion(&[], Some(("00u1abc", ns::NAMEID_UNSPECIFIED)));
        assert_eq!(email(&a), None);
    }

    #[test]
    fn a_tenant_order_replaces_the_default() {
        let a = assertion(&[("email", "plain@x.com"), ("mail", "mail@x.com")], None);
        assert_eq!(
            email_in(&a, &["mail", "email"]).as_deref(),
            Some("mail@x.com")
        );
        let a = assertion(
            &[("email", "plain@x.com")],
            Some(("n@x.com", ns::NAMEID_EMAIL)),
        );
        assert_eq!(email_in(&a, &["upn"]).as_deref(), Some("n@x.com"));
    }

    #[test]
    fn names_from_either_vendor() {
        assert_eq!(
            display_name(&assertion(&[("name", "Ada Lovelace")], None)).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            display_name(&assertion(
                &[(MS_GIVEN_NAME, "Ada"), (MS_SURNAME, "Lovelace")],
                None
            ))
            .as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(display_name(&assertion(&[], None)), None);
    }

    #[test]
    fn given_and_family_names_from_either_vendor() {
        let a = assertion(&[(MS_GIVEN_NAME, "Ada"), (MS_SURNAME, "Lovelace")], None);
        assert_eq!(given_name(&a).as_deref(), Some("Ada"));
        assert_eq!(family_name(&a).as_deref(), Some("Lovelace"));
        let a = assertion(&[("given_name", "Ada"), ("family_name", "King")], None);
        assert_eq!(given_name(&a).as_deref(), Some("Ada"));
        assert_eq!(family_name(&a).as_deref(), Some("King"));
        assert_eq!(display_name(&a).as_deref(), Some("Ada King"));
        let a = assertion(&[("firstName", "Ada"), ("lastName", "Byron")], None);
        assert_eq!(
            (given_name(&a).as_deref(), family_name(&a).as_deref()),
            (Some("Ada"), Some("Byron"))
        );
    }

    #[test]
    fn roles_and_groups_are_sets_from_every_vendor_name() {
        let a = assertion(
            &[
                (MS_ROLE, "Admin"),
                (MS_ROLE, "Reader"),
                ("roles", "admin"),
                ("role", "Auditor"),
                (MS_GROUPS, "07dd8a60-bf6d-4e17-8844-230b77145381"),
                ("groups", "Engineering"),
                ("groups", "engineering"),
            ],
            None,
        );
        assert_eq!(roles(&a), ["Admin", "Auditor", "Reader"]);
        assert_eq!(
            groups(&a),
            ["07dd8a60-bf6d-4e17-8844-230b77145381", "Engineering"]
        );
        assert!(roles(&assertion(&[], None)).is_empty());
    }

    #[test]
    fn hostile_claims_are_bounded() {
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        let many: Vec<String> = (0..MAX_VALUES + 50).map(|i| format!("g{i:04}")).collect();
        let mut attributes: Vec<(&str, &str)> = vec![("groups", long.as_str())];
        attributes.extend(many.iter().map(|g| ("groups", g.as_str())));
        attributes.push(("name", long.as_str()));
        attributes.push((MS_GIVEN_NAME, long.as_str()));
        let a = assertion(&attributes, None);
        let got = groups(&a);
        assert_eq!(got.len(), MAX_VALUES);
        assert!(got.iter().all(|g| g.chars().count() <= MAX_VALUE_CHARS));
        assert_eq!(
            got.first().map(String::as_str),
            Some("g0000"),
            "first ones kept"
        );
        assert_eq!(display_name(&a), None, "an over-long name is no name");
        let a = assertion(&[("name", long.as_str()), (MS_DISPLAY_NAME, "Ada")], None);
        assert_eq!(
            display_name(&a).as_deref(),
            Some("Ada"),
            "the next name is read"
        );
        assert_eq!(given_name(&a), None);
        let exact = "é".repeat(MAX_VALUE_CHARS);
        let a = assertion(&[("roles", exact.as_str())], None);
        assert_eq!(roles(&a), [exact], "the bound counts characters");
    }
}
