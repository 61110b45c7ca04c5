//! Who the assertion says the user is, in the order the contract fixes: the email
//! from the `email` attribute (what the seeds tell Entra admins to add, and Okta's
//! attribute statement), Microsoft's `…/claims/emailaddress`, `user.email`, `mail`,
//! then a NameID in emailAddress format. The name from `name`, Microsoft's
//! `…/claims/displayname`, or given name + surname.

use crate::ns;
use crate::response::ValidAssertion;

pub const MS_EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
pub const MS_DISPLAY_NAME: &str = "http://schemas.microsoft.com/identity/claims/displayname";
pub const MS_GIVEN_NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname";
pub const MS_SURNAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname";

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
    if let Some(name) = first(assertion, &["name", MS_DISPLAY_NAME, "displayName"]) {
        return Some(name.to_owned());
    }
    let given = first(assertion, &[MS_GIVEN_NAME, "firstName", "givenName"]);
    let family = first(assertion, &[MS_SURNAME, "lastName", "surname", "sn"]);
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
}
