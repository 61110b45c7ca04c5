//! The tenant's directory as the operator and the app see it: users (with their
//! groups and app roles resolved), groups, the provisioning and sign-in logs and
//! their filters. The admin API, the console and the ID token all read users
//! through [`user_view`], so they agree on a user's email, names and roles.

pub mod manual;
pub mod render;
pub mod saml_claims;
mod write;

pub use write::{
    DirectoryError, FailedCaller, Origin, ScimChange, ScimRequest, TenantRef, Updated,
    UserToUpdate, VersionMatch, create_scim_group, create_scim_user, create_user,
    delete_scim_group, delete_scim_user, delete_user, log_failed_request, patch_scim_group,
    replace_scim_group, update_user, write_scim_user,
};

use idbridge_store::{
    DirectoryGroup, DirectoryUser, PageRequest, ProvisioningFilter, ProvisioningRecord,
    SignInFilter, Tenant, UserGroup,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::roles::TenantRoles;
use crate::{App, Error, Result};

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryUserView {
    pub id: Uuid,
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The primary email, else the first.
    pub email: Option<String>,
    /// The app roles the user has, resolved from `idp_roles`, `groups` and
    /// `saml_groups` through the tenant's role mappings (or its default role).
    pub roles: Vec<String>,
    /// Role values the IdP sent (SCIM `roles`, or a SAML role claim for a user
    /// created at sign-in).
    pub idp_roles: Vec<String>,
    /// The directory groups the user is a member of (SCIM).
    pub groups: Vec<GroupRefView>,
    /// Group names (or Entra group object IDs) the last SAML sign-in sent, for a
    /// user created at sign-in. They map to roles like directory group names.
    pub saml_groups: Vec<String>,
    /// `scim` or `jit`.
    pub source: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The full SCIM document, extension attributes included.
    #[schema(value_type = Object)]
    pub attributes: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupRefView {
    pub id: Uuid,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryGroupView {
    pub id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn str_at<'a>(doc: &'a serde_json::Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let mut value = doc.get(*path.first()?)?;
    for key in &path[1..] {
        value = value.get(key)?;
    }
    value.as_str()
}

pub fn user_view(
    user: DirectoryUser,
    groups: &[UserGroup],
    roles: &TenantRoles,
) -> DirectoryUserView {
    let doc = &user.document;
    let emails = doc.get("emails").and_then(Value::as_array);
    let email = emails
        .and_then(|list| {
            list.iter()
                .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
                .or_else(|| list.first())
        })
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let idp_roles: Vec<String> = doc
        .get("roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| r.get("value").and_then(Value::as_str))
                // Entra's JSON-text app roles stored before they were unwrapped on write.
                .map(|v| {
                    idbridge_scim::resource::entra_app_role(v)
                        .map_or_else(|| v.to_owned(), |(value, _)| value)
                })
                .collect()
        })
        .unwrap_or_default();
    let user_groups: Vec<&UserGroup> = groups.iter().filter(|g| g.user_id == user.id).collect();
    let saml_groups = saml_claims::saml_groups(doc);
    let roles = {
        let idp: Vec<&str> = idp_roles.iter().map(String::as_str).collect();
        let names: Vec<&str> = user_groups
            .iter()
            .map(|g| g.display_name.as_str())
            .chain(saml_groups.iter().map(String::as_str))
            .collect();
        roles.resolve(&idp, &names)
    };
    DirectoryUserView {
        id: user.id,
        roles,
        display_name: str_at(doc, &["displayName"]).map(str::to_owned),
        given_name: str_at(doc, &["name", "givenName"]).map(str::to_owned),
        family_name: str_at(doc, &["name", "familyName"]).map(str::to_owned),
        email,
        idp_roles,
        groups: user_groups
            .iter()
            .map(|g| GroupRefView {
                id: g.group_id,
                display_name: g.display_name.clone(),
            })
            .collect(),
        saml_groups,
        source: user.source.as_str().to_owned(),
        created_at: user.created_at,
        updated_at: user.updated_at,
        user_name: user.user_name,
        external_id: user.external_id,
        active: user.active,
        attributes: Value::Object(user.document),
    }
}

pub fn group_view(group: DirectoryGroup) -> DirectoryGroupView {
    DirectoryGroupView {
        id: group.id,
        display_name: group.display_name,
        external_id: group.external_id,
        created_at: group.created_at,
        updated_at: group.updated_at,
    }
}

/// Users as the API and the console show them: with their groups and resolved roles.
pub async fn user_views(
    app: &App,
    tenant: &Tenant,
    users: Vec<DirectoryUser>,
) -> Result<Vec<DirectoryUserView>> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let groups = app.store.groups_of_users(tenant.id, &ids).await?;
    let roles = TenantRoles::load(app, tenant).await?;
    Ok(users
        .into_iter()
        .map(|u| user_view(u, &groups, &roles))
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvisioningView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub resource_type: Option<String>,
    pub resource_id: Option<Uuid>,
    /// Why the request failed, as the IdP was told.
    pub reason: Option<String>,
    pub request_id: Option<String>,
    /// The SCIM token used (its id, never the token).
    pub token_id: Option<Uuid>,
}

impl From<ProvisioningRecord> for ProvisioningView {
    fn from(r: ProvisioningRecord) -> Self {
        Self {
            id: r.id,
            occurred_at: r.occurred_at,
            method: r.method,
            path: r.path,
            status: r.status,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            reason: r.reason,
            request_id: r.request_id,
            token_id: r.token_id,
        }
    }
}

/// The longest filter value taken: reasons are short codes, emails at most 320.
const MAX_FILTER_CHARS: usize = 320;

/// Filters of the two logs, as the admin API and the console take them.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (of the same filters).
    pub cursor: Option<String>,
    /// `success` or `failure` (provisioning: answered below 400, or 400 and above).
    pub outcome: Option<String>,
    /// Sign-in log only: the machine-readable reason, exactly.
    pub reason: Option<String>,
    /// Sign-in log only: the whole email address, case-insensitively.
    pub email: Option<String>,
    /// Provisioning log only: the HTTP method (`POST`, `PUT`, `PATCH`, `DELETE`,
    /// `GET`), in any case.
    pub method: Option<String>,
}

impl LogParams {
    pub fn page_request(&self) -> Result<PageRequest> {
        crate::paging::page_request(self.limit, self.cursor.as_deref())
    }

    fn outcome(&self) -> Result<Option<bool>> {
        match present(&self.outcome) {
            None => Ok(None),
            Some("success") => Ok(Some(true)),
            Some("failure") => Ok(Some(false)),
            Some(other) => Err(Error::Invalid(format!(
                "outcome {other:?} is neither success nor failure"
            ))),
        }
    }

    /// The sign-in log's filter; a provisioning-only parameter is refused rather
    /// than ignored, so a typo never silently lists everything.
    pub fn sign_in_filter(&self) -> Result<SignInFilter> {
        if present(&self.method).is_some() {
            return Err(Error::Invalid(
                "method filters the provisioning log, not the sign-in log".into(),
            ));
        }
        Ok(SignInFilter {
            success: self.outcome()?,
            reason: bounded("reason", present(&self.reason))?,
            email: bounded("email", present(&self.email))?,
        })
    }

    pub fn provisioning_filter(&self) -> Result<ProvisioningFilter> {
        if present(&self.reason).is_some() || present(&self.email).is_some() {
            return Err(Error::Invalid(
                "reason and email filter the sign-in log, not the provisioning log".into(),
            ));
        }
        let method = match present(&self.method).map(str::to_ascii_uppercase) {
            None => None,
            Some(m) if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str()) => Some(m),
            Some(m) => {
                return Err(Error::Invalid(format!(
                    "method {m:?} is not one SCIM uses (GET, POST, PUT, PATCH, DELETE)"
                )));
            }
        };
        Ok(ProvisioningFilter {
            method,
            success: self.outcome()?,
        })
    }
}

/// A parameter with something in it (an empty form field filters nothing).
fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn bounded(name: &str, value: Option<&str>) -> Result<Option<String>> {
    match value {
        Some(v) if v.chars().count() > MAX_FILTER_CHARS || v.chars().any(char::is_control) => {
            Err(Error::Invalid(format!(
                "{name} must be at most {MAX_FILTER_CHARS} characters, without control characters"
            )))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// One sign-in attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInView {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// `success` or `failure`.
    pub outcome: &'static str,
    /// Why it failed, machine-readable: `signature_invalid`, `audience_mismatch`,
    /// `expired`, `replayed`, `unknown_request`, …
    pub reason: Option<String>,
    /// Why it failed, for a human.
    pub detail: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<Uuid>,
    /// A "test connection" sign-in.
    pub test: bool,
    /// The `x-request-id` of the request, as on the page the user saw.
    pub request_id: Option<String>,
    /// The connection the sign-in came through, once it was known.
    pub connection_id: Option<Uuid>,
}

impl From<idbridge_store::SignInEvent> for SignInView {
    fn from(e: idbridge_store::SignInEvent) -> Self {
        Self {
            id: e.id,
            occurred_at: e.occurred_at,
            outcome: if e.success { "success" } else { "failure" },
            reason: e.reason,
            detail: e.detail,
            email: e.email,
            user_id: e.user_id,
            test: e.test,
            request_id: e.request_id,
            connection_id: e.connection_id,
        }
    }
}
