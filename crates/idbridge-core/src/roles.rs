//! App roles: how what an IdP says about a user (Entra's `roles` from app role
//! assignments, the groups Okta pushes) becomes the roles the app sees.
//!
//! The operator names the app's roles, in priority order. A tenant maps IdP role
//! values and group names to those roles, names a default role for users nothing
//! maps, and chooses whether a user with several roles gets the highest one or all.
//! With no mapping, an IdP role value that is the name of an app role (compared
//! case-insensitively) is that role, so the Entra guides' `Admin`/`admin` values work
//! without setup. With no app roles defined at all, IdP role values pass through.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolePolicy {
    /// The one role with the highest priority.
    #[default]
    Highest,
    /// Every role that applies, highest priority first.
    All,
}

impl RolePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RolePolicy::Highest => "highest",
            RolePolicy::All => "all",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "highest" => Some(RolePolicy::Highest),
            "all" => Some(RolePolicy::All),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingSource {
    /// A role value the IdP sends (SCIM `roles[].value`, a SAML role claim).
    Role,
    /// The display name of a group the user is a member of.
    Group,
}

impl MappingSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MappingSource::Role => "role",
            MappingSource::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "role" => Some(MappingSource::Role),
            "group" => Some(MappingSource::Group),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleMapping {
    pub source: MappingSource,
    /// The IdP's value or group name, compared case-insensitively.
    pub value: String,
    /// The app role it gives.
    pub role: String,
}

/// A tenant's role rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleRules {
    pub mappings: Vec<RoleMapping>,
    pub default_role: Option<String>,
    pub policy: RolePolicy,
}

/// The app roles of a user. `app_roles` is the operator's list, highest priority
/// first; `idp_roles` and `groups` are what the IdP says.
pub fn resolve(
    app_roles: &[String],
    rules: &RoleRules,
    idp_roles: &[&str],
    groups: &[&str],
) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut add = |role: &str| {
        if !found.iter().any(|r| r == role) {
            found.push(role.to_owned());
        }
    };
    for value in idp_roles {
        let mut mapped = false;
        for m in rules
            .mappings
            .iter()
            .filter(|m| m.source == MappingSource::Role && m.value.eq_ignore_ascii_case(value))
        {
            add(&m.role);
            mapped = true;
        }
        if !mapped {
            if let Some(role) = app_roles.iter().find(|r| r.eq_ignore_ascii_case(value)) {
                add(role);
            } else if app_roles.is_empty() {
                add(value);
            }
        }
    }
    for group in groups {
        for m in rules
            .mappings
            .iter()
            .filter(|m| m.source == MappingSource::Group && m.value.eq_ignore_ascii_case(group))
        {
            add(&m.role);
        }
    }
    if found.is_empty() {
        return rules.default_role.iter().cloned().collect();
    }
    // Priority order: the operator's list first, then roles outside it in the order met.
    let rank = |role: &String| {
        app_roles
            .iter()
            .position(|r| r == role)
            .unwrap_or(usize::MAX)
    };
    found.sort_by_key(rank);
    match rules.policy {
        RolePolicy::Highest => found.truncate(1),
        RolePolicy::All => {}
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn mapping(source: MappingSource, value: &str, role: &str) -> RoleMapping {
        RoleMapping {
            source,
            value: value.into(),
            role: role.into(),
        }
    }

    #[test]
    fn entra_role_values_that_name_app_roles_need_no_mapping() {
        let app = roles(&["admin", "AppAdmin", "member"]);
        let rules = RoleRules::default();
        assert_eq!(resolve(&app, &rules, &["Admin"], &[]), ["admin"]);
        assert_eq!(resolve(&app, &rules, &["appadmin"], &[]), ["AppAdmin"]);
        assert_eq!(
            resolve(&app, &rules, &["unknown"], &[]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn mappings_groups_default_and_policy() {
        let app = roles(&["owner", "editor", "viewer"]);
        let mut rules = RoleRules {
            mappings: vec![
                mapping(MappingSource::Role, "SuperUser", "owner"),
                mapping(MappingSource::Group, "Editors", "editor"),
                mapping(MappingSource::Group, "everyone", "viewer"),
            ],
            default_role: Some("viewer".into()),
            policy: RolePolicy::Highest,
        };
        assert_eq!(
            resolve(&app, &rules, &[], &["editors", "Everyone"]),
            ["editor"]
        );
        assert_eq!(
            resolve(&app, &rules, &["superuser"], &["Editors"]),
            ["owner"]
        );
        assert_eq!(
            resolve(&app, &rules, &[], &["Sales"]),
            ["viewer"],
            "default when nothing maps"
        );
        rules.policy = RolePolicy::All;
        assert_eq!(
            resolve(&app, &rules, &["superuser"], &["Everyone", "Editors"]),
            ["owner", "editor", "viewer"]
        );
        rules.default_role = None;
        assert!(resolve(&app, &rules, &[], &[]).is_empty());
    }

    #[test]
    fn without_app_roles_idp_values_pass_through() {
        let rules = RoleRules {
            policy: RolePolicy::All,
            ..RoleRules::default()
        };
        assert_eq!(
            resolve(&[], &rules, &["admin", "auditor"], &[]),
            ["admin", "auditor"]
        );
    }
}
