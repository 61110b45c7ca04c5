//! Users an operator creates by hand (the admin API, the console, the CLI):
//! `source: manual`. They sign in only through the tenant's IdP, like every
//! user; a later SCIM create of the same userName or email adopts them
//! ([`super::create_scim_user`]). Every change is in the audit log.

use idbridge_core::domain::email_domain;
use idbridge_scim::resource::{self, Document};
use idbridge_scim::schema::ResourceType;
use idbridge_store::{DirectoryUser, Tenant, UserSource};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::write::{
    DirectoryError, Origin, TenantRef, UserToUpdate, create_user, delete_user, update_user,
};
use super::{DirectoryUserView, user_views};
use crate::audit::Audit;
use crate::tenants::{MAX_NAME_CHARS, validate_text};
use crate::{App, Error, Result, roles};

/// How long an address may be (RFC 5321's path limit).
const MAX_EMAIL_CHARS: usize = 254;
const MAX_ROLES: usize = 20;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonName {
    #[serde(default, rename = "givenName")]
    pub given_name: Option<String>,
    #[serde(default, rename = "familyName")]
    pub family_name: Option<String>,
}

/// `POST /api/v1/tenants/{slug}/users`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The user's address; also their userName.
    #[schema(example = "ada@acme.example")]
    pub email: String,
    #[serde(default)]
    pub name: Option<PersonName>,
    /// App roles (`PUT /api/v1/app-roles`).
    #[serde(default)]
    #[schema(example = json!(["Member"]))]
    pub roles: Option<Vec<String>>,
    /// Default true.
    #[serde(default)]
    pub active: Option<bool>,
}

/// `PATCH /api/v1/tenants/{slug}/users/{id}`: absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    pub active: Option<bool>,
    /// The name parts given replace the user's; parts not given stay.
    #[serde(default)]
    pub name: Option<PersonName>,
    /// Replaces the user's roles.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

/// A directory write's refusal, as the operator-facing surfaces say it.
impl From<DirectoryError> for Error {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::UserNameTaken(name) => Error::UserExists(name),
            DirectoryError::NotFound(_) => Error::NotFound("user"),
            DirectoryError::Store(e) => e.into(),
            DirectoryError::Busy(what) => Error::Busy(what),
            other => Error::Invalid(other.to_string()),
        }
    }
}

/// The name parts, checked; empty strings clear nothing and are refused.
fn checked_name(name: &PersonName) -> Result<PersonName> {
    Ok(PersonName {
        given_name: name
            .given_name
            .as_deref()
            .map(|n| validate_text("name.givenName", n, MAX_NAME_CHARS))
            .transpose()?,
        family_name: name
            .family_name
            .as_deref()
            .map(|n| validate_text("name.familyName", n, MAX_NAME_CHARS))
            .transpose()?,
    })
}

/// The roles, each an app role (spelled as the app spells it), none twice.
async fn checked_roles(app: &App, roles: &[String]) -> Result<Vec<String>> {
    if roles.len() > MAX_ROLES {
        return Err(Error::Invalid(format!("at most {MAX_ROLES} roles")));
    }
    let app_roles = roles::app_roles(app).await?;
    let mut out: Vec<String> = Vec::new();
    for role in roles {
        let known = if app_roles.is_empty() {
            Some(validate_text("role", role, crate::tenants::MAX_ROLE_CHARS)?)
        } else {
            app_roles
                .iter()
                .find(|r| r.eq_ignore_ascii_case(role))
                .cloned()
        };
        let Some(known) = known else {
            return Err(Error::Invalid(format!(
                "{role:?} is not one of the app's roles ({})",
                app_roles.join(", ")
            )));
        };
        if !out.contains(&known) {
            out.push(known);
        }
    }
    Ok(out)
}

fn roles_value(roles: &[String]) -> Value {
    Value::Array(
        roles
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"value": r, "primary": i == 0}))
            .collect(),
    )
}

fn name_value(name: &PersonName) -> Option<Value> {
    let mut out = Map::new();
    if let Some(given) = &name.given_name {
        out.insert("givenName".into(), given.clone().into());
    }
    if let Some(family) = &name.family_name {
        out.insert("familyName".into(), family.clone().into());
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// `givenName familyName`, if there is either.
fn display_name(name: &Map<String, Value>) -> Option<String> {
    let parts: Vec<&str> = ["givenName", "familyName"]
        .iter()
        .filter_map(|k| name.get(*k).and_then(Value::as_str))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The SCIM document of a new user, normalised as a SCIM create's would be.
fn new_document(
    email: &str,
    name: &PersonName,
    roles: &[String],
    active: bool,
) -> Result<Document> {
    let mut body = json!({
        "schemas": [idbridge_scim::schema::CORE_USER],
        "userName": email,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": active,
    });
    if let Some(name) = name_value(name) {
        if let Some(display) = name.as_object().and_then(display_name) {
            body["displayName"] = display.into();
        }
        body["name"] = name;
    }
    if !roles.is_empty() {
        body["roles"] = roles_value(roles);
    }
    resource::normalize(ResourceType::User, &body).map_err(|e| Error::Invalid(e.to_string()))
}

async fn view(app: &App, tenant: &Tenant, user: DirectoryUser) -> Result<DirectoryUserView> {
    let mut views = user_views(app, tenant, vec![user]).await?;
    views
        .pop()
        .ok_or_else(|| Error::internal(DirectoryError::NotFound("user")))
}

/// Creates a user by hand; 409 ([`Error::UserExists`]) if the tenant has a user at
/// that userName or email.
pub async fn create(
    app: &App,
    tenant: &Tenant,
    input: NewUser,
    audit: &Audit,
) -> Result<DirectoryUserView> {
    let email = input.email.trim().to_lowercase();
    if email.chars().count() > MAX_EMAIL_CHARS || email.chars().any(char::is_whitespace) {
        return Err(Error::Invalid(format!(
            "{:?} is not an email address",
            input.email
        )));
    }
    email_domain(&email)?;
    let name = checked_name(&input.name.unwrap_or_default())?;
    let roles = checked_roles(app, input.roles.as_deref().unwrap_or_default()).await?;
    let active = input.active.unwrap_or(true);
    if app
        .store
        .user_for_sign_in(tenant.id, &email)
        .await?
        .is_some()
    {
        return Err(Error::UserExists(email));
    }
    let doc = new_document(&email, &name, &roles, active)?;
    let changes = json!({
        "email": email,
        "name": name_value(&name),
        "roles": roles,
        "active": active,
    });
    let origin = Origin::Manual {
        audit,
        changes: &changes,
    };
    let user = create_user(app, &TenantRef::from(tenant), doc, &origin).await?;
    tracing::info!(tenant = %tenant.slug, user = %user.id, "user created by hand");
    view(app, tenant, user).await
}

/// Changes a user by hand. A user the IdP provisions over SCIM is refused
/// ([`Error::ManagedByScim`]): the IdP would write over the change on its next push.
pub async fn change(
    app: &App,
    tenant: &Tenant,
    id: Uuid,
    input: UserChange,
    audit: &Audit,
) -> Result<DirectoryUserView> {
    let name = input.name.as_ref().map(checked_name).transpose()?;
    let roles = match &input.roles {
        Some(roles) => Some(checked_roles(app, roles).await?),
        None => None,
    };
    let mut changes = Map::new();
    if let Some(active) = input.active {
        changes.insert("active".into(), active.into());
    }
    if let Some(name) = &name {
        changes.insert("name".into(), name_value(name).unwrap_or(Value::Null));
    }
    if let Some(roles) = &roles {
        changes.insert("roles".into(), json!(roles));
    }
    let changes = Value::Object(changes);
    let origin = Origin::Manual {
        audit,
        changes: &changes,
    };
    let updated = update_user::<Error>(
        app,
        &TenantRef::from(tenant),
        UserToUpdate::Id(id),
        None,
        &origin,
        5,
        |existing| {
            if existing.source == UserSource::Scim {
                return Err(Error::ManagedByScim);
            }
            let mut doc = existing.document.clone();
            if let Some(active) = input.active {
                doc.insert("active".into(), active.into());
            }
            if let Some(name) = &name {
                let mut current = doc
                    .get("name")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if let Some(Value::Object(given)) = name_value(name) {
                    current.extend(given);
                }
                if let Some(display) = display_name(&current) {
                    doc.insert("displayName".into(), display.into());
                }
                doc.insert("name".into(), Value::Object(current));
            }
            if let Some(roles) = &roles {
                if roles.is_empty() {
                    doc.remove("roles");
                } else {
                    doc.insert("roles".into(), roles_value(roles));
                }
            }
            Ok(Some(doc))
        },
    )
    .await?;
    view(app, tenant, updated.into_user()).await
}

/// Deletes a user by hand (any user: an IdP that provisions it would create it
/// again on its next push).
pub async fn delete(app: &App, tenant: &Tenant, id: Uuid, audit: &Audit) -> Result<()> {
    let changes = json!({});
    let origin = Origin::Manual {
        audit,
        changes: &changes,
    };
    delete_user(app, &TenantRef::from(tenant), id, None, &origin).await?;
    tracing::info!(tenant = %tenant.slug, user = %id, "user deleted by hand");
    Ok(())
}
