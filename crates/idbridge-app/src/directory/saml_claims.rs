//! What a SAML sign-in writes into a directory user's SCIM document, and where the
//! SAML-only part lives.
//!
//! Names and role values go where SCIM puts them (`displayName`, `name.givenName`,
//! `name.familyName`, `roles[].value`), so every reader of the document (the admin
//! view, the ID token, SCIM GET) sees one shape whoever wrote it. Group claims are
//! not directory groups (there is no group resource, no id, no membership a SCIM
//! client could see or change), so they are kept as plain names in an
//! idbridge-owned extension, [`SAML_USER_SCHEMA`] → `groups`, which the role
//! resolution reads beside the user's directory group memberships.
//!
//! For a user SAML created, the latest assertion is the truth about access: roles
//! and groups it no longer sends are removed (an unassigned user must lose the
//! role). Names it does not send are kept: an IdP that omits a name has not said
//! the user has none.

use idbridge_saml::claims::UserClaims;
use serde_json::{Map, Value, json};

/// The extension holding what only SAML knows about a user: `{"groups": [names]}`.
pub const SAML_USER_SCHEMA: &str = "urn:idbridge:params:scim:schemas:extension:saml:2.0:User";

/// `doc` with the attributes the sign-in maps set from `claims`.
pub fn with_claims(doc: &Map<String, Value>, claims: &UserClaims) -> Map<String, Value> {
    let mut doc = doc.clone();
    if let Some(display) = &claims.display_name {
        doc.insert("displayName".into(), json!(display));
    }
    let names = [
        ("givenName", &claims.given_name),
        ("familyName", &claims.family_name),
    ];
    if names.iter().any(|(_, v)| v.is_some()) {
        // Keep what else `name` holds (`formatted`, `middleName`, …).
        let mut name = doc
            .get("name")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in names {
            if let Some(value) = value {
                name.insert(key.into(), json!(value));
            }
        }
        doc.insert("name".into(), Value::Object(name));
    }
    if claims.roles.is_empty() {
        doc.remove("roles");
    } else {
        let roles: Vec<Value> = claims
            .roles
            .iter()
            .map(|r| json!({"value": r, "primary": false}))
            .collect();
        doc.insert("roles".into(), Value::Array(roles));
    }
    if claims.groups.is_empty() {
        doc.remove(SAML_USER_SCHEMA);
    } else {
        doc.insert(SAML_USER_SCHEMA.into(), json!({ "groups": claims.groups }));
    }
    doc
}

/// The group names the last SAML sign-in sent, as stored by [`with_claims`].
pub fn saml_groups(doc: &Map<String, Value>) -> Vec<String> {
    doc.get(SAML_USER_SCHEMA)
        .and_then(|ext| ext.get("groups"))
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> UserClaims {
        UserClaims {
            display_name: Some("Ada Lovelace".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            roles: vec!["Admin".into()],
            groups: vec!["Engineering".into()],
        }
    }

    fn base() -> Map<String, Value> {
        let Value::Object(doc) = json!({
            "userName": "ada@example.com",
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        }) else {
            unreachable!()
        };
        doc
    }

    #[test]
    fn claims_land_where_scim_puts_them() {
        let doc = with_claims(&base(), &claims());
        assert_eq!(doc["displayName"], "Ada Lovelace");
        assert_eq!(
            doc["name"],
            json!({"givenName": "Ada", "familyName": "Lovelace"})
        );
        assert_eq!(doc["roles"], json!([{"value": "Admin", "primary": false}]));
        assert_eq!(doc[SAML_USER_SCHEMA], json!({"groups": ["Engineering"]}));
        assert_eq!(saml_groups(&doc), ["Engineering"]);
        assert_eq!(doc["userName"], "ada@example.com", "identity is untouched");
        assert_eq!(with_claims(&doc, &claims()), doc, "idempotent");
    }

    #[test]
    fn access_follows_the_latest_assertion_names_are_kept() {
        let mut doc = with_claims(&base(), &claims());
        doc["name"]["formatted"] = json!("Ada, Countess of Lovelace");
        let later = UserClaims {
            given_name: Some("Augusta Ada".into()),
            ..UserClaims::default()
        };
        let doc = with_claims(&doc, &later);
        assert!(doc.get("roles").is_none(), "a role no longer sent is gone");
        assert!(saml_groups(&doc).is_empty());
        assert!(doc.get(SAML_USER_SCHEMA).is_none());
        assert_eq!(
            doc["displayName"], "Ada Lovelace",
            "a name not sent is kept"
        );
        assert_eq!(
            doc["name"],
            json!({"givenName": "Augusta Ada", "familyName": "Lovelace", "formatted": "Ada, Countess of Lovelace"})
        );
    }
}
