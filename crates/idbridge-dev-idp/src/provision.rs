//! Pushes a sample directory into a SCIM 2.0 service provider the way Microsoft
//! Entra ID's provisioning service does in a cycle, with its request shapes (Microsoft
//! Learn, "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft
//! Entra ID", and "Known issues and resolutions with SCIM 2.0 protocol compliance"):
//!
//! 1. each user: `GET /Users?filter=userName eq "…"`, then `POST /Users` (core and
//!    enterprise schemas, `externalId` = mailNickname, `roles` as
//!    `{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": …}`);
//! 2. managers: `PATCH /Users/{id}` adding the enterprise `manager` (Entra sets it
//!    once both users exist);
//! 3. each group: `GET /Groups?excludedAttributes=members&filter=displayName eq "…"`,
//!    `POST /Groups` (no members), then `PATCH /Groups/{id}` with
//!    `{"op": "Add", "path": "members", "value": [{"value": …}]}`;
//! 4. updates: `PATCH /Users/{id}` with `"op": "Replace"` (Entra capitalises it) of
//!    the title and the enterprise department;
//! 5. deactivations: `PATCH /Users/{id}` `{"op": "Replace", "path": "active",
//!    "value": "False"}` (a string, as Entra sends it).
//!
//! The data is invented and deterministic: the same arguments push the same
//! directory, so a second run finds every user and group and creates nothing.

use std::io::Write;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most users and groups one run pushes.
pub const MAX_USERS: usize = 10_000;
pub const MAX_GROUPS: usize = 1_000;
/// Members added per group PATCH (Entra batches membership changes).
const MEMBERS_PER_PATCH: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("the SCIM URL {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("the domain {0:?} is not a DNS name")]
    BadDomain(String),
    #[error("at most {MAX_USERS} users and {MAX_GROUPS} groups")]
    TooMany,
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("{method} {path} failed: {source}")]
    Http {
        method: Method,
        path: String,
        source: reqwest::Error,
    },
    #[error("{method} {path} answered {status}: {body}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        body: String,
    },
    #[error("{method} {path} answered without {what}: {body}")]
    Answer {
        method: Method,
        path: String,
        what: &'static str,
        body: String,
    },
    #[error("cannot write the report: {0}")]
    Output(#[from] std::io::Error),
}

/// What to push, and where.
#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    /// The tenant's SCIM base URL (`…/scim/v2/{slug}`).
    pub scim_url: String,
    /// Its bearer token.
    pub token: String,
    pub users: usize,
    pub groups: usize,
    /// The users' email domain.
    pub domain: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub users_created: usize,
    pub users_found: usize,
    pub groups_created: usize,
    pub groups_found: usize,
    pub memberships: usize,
    pub managers: usize,
    pub updated: usize,
    pub deactivated: usize,
    pub requests: usize,
}

const FIRST_NAMES: &[&str] = &[
    "Dana", "Ravi", "Mirela", "Tobias", "Ines", "Kwame", "Linnea", "Mateo", "Yuki", "Oskar",
    "Amara", "Farid", "Greta", "Hugo", "Ilse", "Jonas", "Keiko", "Lucan", "Noor", "Priya",
];
const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Marchetti",
    "Brennan",
    "Castellano",
    "Achterberg",
    "Nakamura",
    "Oyelaran",
    "Petrakis",
    "Quennell",
    "Rautio",
    "Szabados",
    "Tamarin",
    "Umberfield",
    "Valdemar",
    "Whitcombe",
    "Yarrowby",
    "Zeller",
    "Halloran",
    "Edevane",
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Finance",
    "Marketing",
    "Support",
    "Legal",
];
const TITLES: &[&str] = &[
    "Engineer",
    "Account Executive",
    "Analyst",
    "Designer",
    "Support Specialist",
    "Counsel",
];
const GROUP_NAMES: &[&str] = &[
    "Engineering",
    "Sales Team",
    "Finance",
    "Marketing",
    "Support",
    "Legal",
    "App Admins",
    "Project Falcon",
    "Project Heron",
    "All Staff",
];

/// One sample user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleUser {
    pub given_name: String,
    pub family_name: String,
    pub user_name: String,
    pub mail_nickname: String,
    pub employee_number: String,
    pub department: &'static str,
    pub title: &'static str,
    pub role: &'static str,
    /// The index of the user's manager (the first user of the department).
    pub manager: Option<usize>,
}

/// User `i` of a directory on `domain` (deterministic; unique user names).
pub fn sample_user(i: usize, domain: &str) -> SampleUser {
    let f = FIRST_NAMES.len();
    let l = LAST_NAMES.len();
    let given = FIRST_NAMES[i % f];
    let family = LAST_NAMES[(i / f + i % f) % l];
    let round = i / (f * l);
    let nickname = if round == 0 {
        format!("{}.{}", given.to_lowercase(), family.to_lowercase())
    } else {
        format!("{}.{}{round}", given.to_lowercase(), family.to_lowercase())
    };
    let department = i % DEPARTMENTS.len();
    SampleUser {
        given_name: given.to_owned(),
        family_name: family.to_owned(),
        user_name: format!("{nickname}@{domain}"),
        mail_nickname: nickname,
        employee_number: format!("E{:05}", 1001 + i),
        department: DEPARTMENTS[department],
        title: TITLES[department],
        role: match i {
            0 => "Admin",
            i if i % 5 == 1 => "AppAdmin",
            _ => "Member",
        },
        manager: (i >= DEPARTMENTS.len()).then_some(department),
    }
}

/// The name of group `g`.
pub fn group_name(g: usize) -> String {
    let n = GROUP_NAMES.len();
    if g < n {
        GROUP_NAMES[g].to_owned()
    } else {
        format!("{} {}", GROUP_NAMES[g % n], g / n + 1)
    }
}

/// The users (indexes) of group `g` among `users`: every user whose index is `g`
/// modulo the number of groups, and user 0 in every group.
pub fn group_members(g: usize, groups: usize, users: usize) -> Vec<usize> {
    (0..users).filter(|&i| i % groups == g || i == 0).collect()
}

/// The users a run updates (title and department): every fourth, from the second.
pub fn updated_users(users: usize) -> Vec<usize> {
    (1..users).step_by(4).collect()
}

/// The users a run deactivates: the last tenth (at least one when there are two or
/// more), never user 0.
pub fn deactivated_users(users: usize) -> Vec<usize> {
    if users < 2 {
        return Vec::new();
    }
    let count = (users / 10).max(1);
    (users - count..users).collect()
}

fn filter_query(expression: &str) -> String {
    url::form_urlencoded::byte_serialize(expression.as_bytes()).collect()
}

struct Client<'a, W: Write> {
    http: reqwest::Client,
    base: String,
    token: &'a str,
    out: &'a mut W,
    requests: usize,
}

impl<W: Write> Client<'_, W> {
    /// Sends one request; prints `METHOD path → status`; returns the status and
    /// the JSON body (Null when empty or not JSON).
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        note: &str,
    ) -> Result<(StatusCode, Value), ProvisionError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(self.token)
            .header("accept", "application/scim+json");
        if let Some(body) = body {
            // Entra sends application/json.
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| ProvisionError::Http {
                method: method.clone(),
                path: path.to_owned(),
                source,
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|source| ProvisionError::Http {
                method: method.clone(),
                path: path.to_owned(),
                source,
            })?;
        self.requests += 1;
        let shown = percent_decode(path);
        if note.is_empty() {
            writeln!(self.out, "{method} {shown} → {}", status.as_u16())?;
        } else {
            writeln!(self.out, "{method} {shown} ({note}) → {}", status.as_u16())?;
        }
        if !status.is_success() {
            return Err(ProvisionError::Status {
                method,
                path: path.to_owned(),
                status,
                body: text.chars().take(2000).collect(),
            });
        }
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// A path with its query percent-decoded, for the report.
fn percent_decode(path: &str) -> String {
    match path.split_once('?') {
        None => path.to_owned(),
        Some((before, query)) => {
            let pairs: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{before}?{}", pairs.join("&"))
        }
    }
}

fn id_of(value: &Value) -> Option<String> {
    value.get("id").and_then(Value::as_str).map(str::to_owned)
}

/// The first resource of a list response, if any.
fn first_resource(value: &Value) -> Option<&Value> {
    value
        .get("Resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
}

fn user_body(user: &SampleUser) -> Value {
    json!({
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "externalId": user.mail_nickname,
        "userName": user.user_name,
        "active": true,
        "displayName": format!("{} {}", user.given_name, user.family_name),
        "title": user.title,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": user.user_name,
        }],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": format!("{} {}", user.given_name, user.family_name),
            "familyName": user.family_name,
            "givenName": user.given_name,
        },
        "roles": [{
            "primary": "True",
            "type": "WindowsAzureActiveDirectoryRole",
            "value": user.role,
        }],
        ENTERPRISE_USER: {
            "employeeNumber": user.employee_number,
            "department": user.department,
        },
    })
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// Pushes `options.users` users and `options.groups` groups into the SCIM service
/// provider, printing each request and its status to `out`.
pub async fn provision<W: Write>(
    options: &ProvisionOptions,
    out: &mut W,
) -> Result<Summary, ProvisionError> {
    let base = options.scim_url.trim().trim_end_matches('/').to_owned();
    match url::Url::parse(&base) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        _ => return Err(ProvisionError::BadUrl(options.scim_url.clone())),
    }
    let domain = options.domain.trim().to_lowercase();
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !domain_ok {
        return Err(ProvisionError::BadDomain(options.domain.clone()));
    }
    if options.users > MAX_USERS || options.groups > MAX_GROUPS {
        return Err(ProvisionError::TooMany);
    }
    let http = reqwest::Client::builder()
        .user_agent("idbridge-dev-idp provisioner (Entra ID request shapes)")
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(ProvisionError::Client)?;
    let mut client = Client {
        http,
        base,
        token: &options.token,
        out,
        requests: 0,
    };
    let mut summary = Summary::default();
    let users: Vec<SampleUser> = (0..options.users)
        .map(|i| sample_user(i, &domain))
        .collect();

    // 1. Users: look up by userName, create when missing.
    let mut ids = Vec::with_capacity(users.len());
    for user in &users {
        let path = format!(
            "/Users?filter={}",
            filter_query(&format!("userName eq \"{}\"", user.user_name))
        );
        let (_, found) = client.send(Method::GET, &path, None, "").await?;
        let id = match first_resource(&found).and_then(id_of) {
            Some(id) => {
                summary.users_found += 1;
                id
            }
            None => {
                let (_, created) = client
                    .send(
                        Method::POST,
                        "/Users",
                        Some(&user_body(user)),
                        &user.user_name,
                    )
                    .await?;
                summary.users_created += 1;
                id_of(&created).ok_or_else(|| ProvisionError::Answer {
                    method: Method::POST,
                    path: "/Users".into(),
                    what: "an id",
                    body: created.to_string(),
                })?
            }
        };
        ids.push(id);
    }

    // 2. Managers, once both ends exist.
    for (i, user) in users.iter().enumerate() {
        let Some(manager) = user.manager else {
            continue;
        };
        let body = patch(json!([{
            "op": "Add",
            "path": format!("{ENTERPRISE_USER}:manager"),
            "value": ids[manager],
        }]));
        client
            .send(
                Method::PATCH,
                &format!("/Users/{}", ids[i]),
                Some(&body),
                &format!("manager of {}", user.user_name),
            )
            .await?;
        summary.managers += 1;
    }

    // 3. Groups: look up by displayName (without members), create, add members.
    for g in 0..options.groups {
        let name = group_name(g);
        let path = format!(
            "/Groups?excludedAttributes=members&filter={}",
            filter_query(&format!("displayName eq \"{name}\""))
        );
        let (_, found) = client.send(Method::GET, &path, None, "").await?;
        let id = match first_resource(&found).and_then(id_of) {
            Some(id) => {
                summary.groups_found += 1;
                id
            }
            None => {
                let body = json!({
                    "schemas": [CORE_GROUP],
                    "externalId": format!("group-{:04}", g + 1),
                    "displayName": name,
                    "meta": {"resourceType": "Group"},
                });
                let (_, created) = client
                    .send(Method::POST, "/Groups", Some(&body), &name)
                    .await?;
                summary.groups_created += 1;
                id_of(&created).ok_or_else(|| ProvisionError::Answer {
                    method: Method::POST,
                    path: "/Groups".into(),
                    what: "an id",
                    body: created.to_string(),
                })?
            }
        };
        let members = group_members(g, options.groups, users.len());
        for chunk in members.chunks(MEMBERS_PER_PATCH) {
            let value: Vec<Value> = chunk.iter().map(|&i| json!({"value": ids[i]})).collect();
            let body = patch(json!([{"op": "Add", "path": "members", "value": value}]));
            client
                .send(
                    Method::PATCH,
                    &format!("/Groups/{id}"),
                    Some(&body),
                    &format!("{name}: add {} members", chunk.len()),
                )
                .await?;
            summary.memberships += chunk.len();
        }
    }

    // 4. Updates: a new title and department.
    for i in updated_users(users.len()) {
        let user = &users[i];
        let department = DEPARTMENTS[(i + 1) % DEPARTMENTS.len()];
        let body = patch(json!([
            {"op": "Replace", "path": "title", "value": format!("Senior {}", user.title)},
            {"op": "Replace", "path": format!("{ENTERPRISE_USER}:department"), "value": department},
        ]));
        client
            .send(
                Method::PATCH,
                &format!("/Users/{}", ids[i]),
                Some(&body),
                &format!("update {}", user.user_name),
            )
            .await?;
        summary.updated += 1;
    }

    // 5. Deactivations, with Entra's string boolean.
    for i in deactivated_users(users.len()) {
        let body = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        client
            .send(
                Method::PATCH,
                &format!("/Users/{}", ids[i]),
                Some(&body),
                &format!("deactivate {}", users[i].user_name),
            )
            .await?;
        summary.deactivated += 1;
    }
    summary.requests = client.requests;
    writeln!(
        client.out,
        "done: {} users created ({} already there), {} groups created ({} already there), \
         {} memberships, {} managers, {} updated, {} deactivated, {} requests",
        summary.users_created,
        summary.users_found,
        summary.groups_created,
        summary.groups_found,
        summary.memberships,
        summary.managers,
        summary.updated,
        summary.deactivated,
        summary.requests,
    )?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn sample_users_are_unique_and_deterministic() {
        let names: HashSet<String> = (0..1000)
            .map(|i| sample_user(i, "example.com").user_name)
            .collect();
        assert_eq!(names.len(), 1000);
        assert_eq!(sample_user(3, "example.com"), sample_user(3, "example.com"));
        assert_eq!(
            sample_user(0, "example.com").user_name,
            "dana.okafor@example.com"
        );
        assert_eq!(sample_user(0, "example.com").manager, None);
        assert_eq!(sample_user(7, "example.com").manager, Some(1));
    }

    #[test]
    fn groups_updates_and_deactivations() {
        assert_eq!(group_members(1, 3, 7), vec![0, 1, 4]);
        assert_eq!(group_members(0, 3, 7), vec![0, 3, 6]);
        assert_eq!(updated_users(10), vec![1, 5, 9]);
        assert_eq!(deactivated_users(10), vec![9]);
        assert_eq!(deactivated_users(25), vec![23, 24]);
        assert!(deactivated_users(1).is_empty());
        assert_eq!(group_name(10), "Engineering 2");
    }

    #[test]
    fn a_user_is_shaped_as_entra_sends_it() {
        let body = user_body(&sample_user(1, "example.com"));
        assert_eq!(body["roles"][0]["primary"], "True");
        assert_eq!(body["roles"][0]["type"], "WindowsAzureActiveDirectoryRole");
        assert_eq!(body["roles"][0]["value"], "AppAdmin");
        assert_eq!(body[ENTERPRISE_USER]["employeeNumber"], "E01002");
        assert_eq!(body["schemas"][1], ENTERPRISE_USER);
    }
}
