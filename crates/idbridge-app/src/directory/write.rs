//! Directory writes: the one path by which users and groups change, whoever asks
//! (an IdP over SCIM, a sign-in creating or updating its user).
//!
//! Every write is read, change, write with a version check ([`update_user`],
//! [`update_group`]), retried when another write to the same resource came first
//! (unless the caller named a version with `If-Match`, which asks for a refusal
//! instead). Each carries the events it raises ([`EventKind`]) and, for SCIM, its
//! provisioning log line, committed in the same transaction: a failed write leaves
//! none of the three.

use idbridge_core::audit::AuditAction;
use idbridge_core::domain::{DomainName, email_domain};
use idbridge_core::{EventKind, EventResource, TenantSlug};
use idbridge_scim::ScimError;
use idbridge_scim::patch::{self, MemberChange, PatchRequest, member_refs};
use idbridge_scim::resource::{self, Document, string_attr};
use idbridge_scim::schema::ResourceType;
use idbridge_store::{
    AuditRecord, DirectoryGroup, DirectoryUser, GroupMember, NewEvent, ProvisioningRecord,
    StoreError, UserGroup, UserSource, WriteContext,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::render::{self, Base};
use crate::audit::Audit;
pub use crate::tenants::TenantRef;
use crate::{App, domains};

/// How often a write is retried when another request changed the same resource
/// between its read and its write.
const WRITE_ATTEMPTS: usize = 5;

/// A SCIM request that writes: who sent it (the tenant and its token) and what the
/// provisioning log records of it.
#[derive(Debug, Clone)]
pub struct ScimRequest {
    pub tenant: TenantRef,
    /// The SCIM token the request was authenticated with.
    pub token_id: Uuid,
    pub method: String,
    /// The path, never the query: a filter may carry personal data.
    pub path: String,
    pub request_id: Option<String>,
}

/// Who made a write: it decides the log line and what the events say.
#[derive(Debug, Clone)]
pub enum Origin<'a> {
    Scim(&'a ScimRequest),
    /// A sign-in: logged in the sign-in log, and `"source": "saml"` in its events.
    SignIn,
    /// An operator, by hand (the admin API, the console, the CLI): recorded in the
    /// audit log with `changes`, and `"source": "manual"` in its events.
    Manual {
        audit: &'a Audit,
        changes: &'a Value,
    },
}

impl Origin<'_> {
    /// The audit record of `action` on user `user_id`, for a change made by hand.
    fn audit(
        &self,
        now: OffsetDateTime,
        action: AuditAction,
        tenant: &TenantRef,
        user_id: Uuid,
    ) -> Option<AuditRecord> {
        match self {
            Origin::Manual { audit, changes } => Some(audit.record(
                now,
                action,
                Some((tenant.id, &tenant.slug)),
                Some(user_id.to_string()),
                (*changes).clone(),
            )),
            Origin::Scim(_) | Origin::SignIn => None,
        }
    }

    /// Whether the tenant's domain policy applies to the addresses written (it does
    /// not to a sign-in, which checked the asserted email itself).
    fn checks_domains(&self) -> bool {
        !matches!(self, Origin::SignIn)
    }
}

/// An `If-Match` (or `If-None-Match`) condition: `*`, or a list of versions
/// (`W/"3"` → 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionMatch {
    Any,
    Versions(Vec<i64>),
}

impl VersionMatch {
    pub fn parse(raw: &str) -> Self {
        if raw.trim() == "*" {
            return VersionMatch::Any;
        }
        let versions = raw
            .split(',')
            .filter_map(|tag| {
                let tag = tag.trim();
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                tag.trim_matches('"').parse::<i64>().ok()
            })
            .collect();
        VersionMatch::Versions(versions)
    }

    pub fn matches(&self, version: i64) -> bool {
        match self {
            VersionMatch::Any => true,
            VersionMatch::Versions(list) => list.contains(&version),
        }
    }
}

/// Why a directory write did not happen. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The body, PATCH or value is not acceptable SCIM (the protocol core's refusal,
    /// with its `scimType`).
    #[error(transparent)]
    Request(#[from] ScimError),
    #[error("no such {0} in this tenant")]
    NotFound(&'static str),
    #[error("the resource's version does not match If-Match")]
    PreconditionFailed,
    #[error("a user with userName {0:?} already exists")]
    UserNameTaken(String),
    #[error("a group with displayName {0:?} already exists")]
    GroupNameTaken(String),
    #[error("{0:?} is not an email address")]
    NotAnEmail(String),
    #[error(
        "the email domain {0} is not verified for this tenant, which requires verified domains"
    )]
    DomainNotVerified(DomainName),
    /// Other writes kept changing the resource for every attempt.
    #[error("the {0} is being changed by other requests; retry")]
    Busy(&'static str),
    /// What the store refused or could not do.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DirectoryError {
    /// Stable, `snake_case`: what a surface records as the reason.
    pub fn reason(&self) -> &'static str {
        match self {
            DirectoryError::Request(_) => "invalid_request",
            DirectoryError::NotFound(_) => "not_found",
            DirectoryError::PreconditionFailed => "precondition_failed",
            DirectoryError::UserNameTaken(_) => "user_name_taken",
            DirectoryError::GroupNameTaken(_) => "group_name_taken",
            DirectoryError::NotAnEmail(_) => "not_an_email",
            DirectoryError::DomainNotVerified(_) => "email_domain_not_verified",
            DirectoryError::Busy(_) => "busy",
            DirectoryError::Store(e) if e.is_unavailable() => "unavailable",
            DirectoryError::Store(_) => "internal_error",
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, DirectoryError::Store(e) if e.is_unavailable())
    }
}

type Result<T, E = DirectoryError> = std::result::Result<T, E>;

fn base<'a>(app: &'a App, tenant: &'a TenantRef) -> Base<'a> {
    Base {
        public_url: &app.config.public_url,
        slug: &tenant.slug,
    }
}

/// What a `user.*` event says about a user: enough for the app to act without a
/// lookup, and where the change came from when it was not SCIM.
fn user_event(
    kind: EventKind,
    base: &Base<'_>,
    user: &DirectoryUser,
    origin: &Origin<'_>,
) -> NewEvent {
    let rendered = Value::Object(render::user(base, user, None));
    NewEvent {
        kind,
        resource_type: EventResource::User,
        resource_id: user.id,
        data: match origin {
            Origin::Scim(_) => json!({ "user": rendered }),
            Origin::SignIn => json!({ "user": rendered, "source": "saml" }),
            Origin::Manual { .. } => json!({ "user": rendered, "source": "manual" }),
        },
    }
}

fn group_event(kind: EventKind, group: &DirectoryGroup) -> NewEvent {
    NewEvent {
        kind,
        resource_type: EventResource::Group,
        resource_id: group.id,
        data: json!({"group": {"id": group.id.to_string(), "displayName": group.display_name, "externalId": group.external_id}}),
    }
}

/// The events a change of a user from `before` to `after` raises.
fn change_events(
    base: &Base<'_>,
    before: &DirectoryUser,
    after: &DirectoryUser,
    origin: &Origin<'_>,
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    let without_active = |d: &Document| {
        let mut d = d.clone();
        d.remove("active");
        d
    };
    if without_active(&before.document) != without_active(&after.document) {
        events.push(user_event(EventKind::UserUpdated, base, after, origin));
    }
    if before.active != after.active {
        let kind = if after.active {
            EventKind::UserReactivated
        } else {
            EventKind::UserDeactivated
        };
        events.push(user_event(kind, base, after, origin));
    }
    events
}

/// The log line of a write a SCIM request made, committed with it.
fn log_line(
    origin: &Origin<'_>,
    status: u16,
    resource_type: ResourceType,
    resource_id: Uuid,
    now: OffsetDateTime,
) -> Option<ProvisioningRecord> {
    let Origin::Scim(request) = origin else {
        return None;
    };
    Some(ProvisioningRecord {
        id: Uuid::now_v7(),
        tenant_id: request.tenant.id,
        occurred_at: now,
        method: request.method.clone(),
        path: request.path.clone(),
        status,
        resource_type: Some(resource_type.name().to_owned()),
        resource_id: Some(resource_id),
        reason: None,
        request_id: request.request_id.clone(),
        token_id: Some(request.token_id),
    })
}

/// With the tenant's `require_verified_domains`, every address the user document
/// carries (an email-shaped userName, each `emails[].value`) must be at a domain the
/// tenant verified: an IdP must not provision someone else's users.
async fn check_email_domains(app: &App, tenant: &TenantRef, doc: &Document) -> Result<()> {
    if !tenant.require_verified_domains {
        return Ok(());
    }
    let mut addresses: Vec<&str> = Vec::new();
    if let Some(user_name) = doc.get("userName").and_then(Value::as_str)
        && user_name.contains('@')
    {
        addresses.push(user_name);
    }
    if let Some(emails) = doc.get("emails").and_then(Value::as_array) {
        addresses.extend(
            emails
                .iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str)),
        );
    }
    let mut checked: Vec<DomainName> = Vec::new();
    for address in addresses {
        let domain =
            email_domain(address).map_err(|_| DirectoryError::NotAnEmail(address.to_owned()))?;
        if checked.contains(&domain) {
            continue;
        }
        if !domains::verified_by(app, tenant.id, &domain).await? {
            return Err(DirectoryError::DomainNotVerified(domain));
        }
        checked.push(domain);
    }
    Ok(())
}

/// A new user from a SCIM document.
fn new_user(
    tenant: &TenantRef,
    doc: Document,
    source: UserSource,
    now: OffsetDateTime,
) -> DirectoryUser {
    DirectoryUser {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        user_name: string_attr(&doc, "userName").unwrap_or_default().to_owned(),
        external_id: string_attr(&doc, "externalId").map(str::to_owned),
        active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
        document: doc,
        source,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// The stored user with `doc` written over it by `origin`.
fn with_document(
    existing: &DirectoryUser,
    doc: Document,
    origin: &Origin<'_>,
    now: OffsetDateTime,
) -> DirectoryUser {
    DirectoryUser {
        user_name: string_attr(&doc, "userName").unwrap_or_default().to_owned(),
        external_id: string_attr(&doc, "externalId").map(str::to_owned),
        // `active` absent after a write keeps its value; Okta and Entra always send it.
        active: doc
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or(existing.active),
        document: doc,
        updated_at: now,
        version: existing.version + 1,
        // A user SCIM writes is SCIM's from now on, even one a sign-in created: the
        // IdP's provisioning found it and took it over, and sign-ins stop editing it.
        source: match origin {
            Origin::Scim(_) => UserSource::Scim,
            Origin::SignIn | Origin::Manual { .. } => existing.source,
        },
        ..existing.clone()
    }
}

/// Creates a user: from a SCIM body (`POST /Users`), or a sign-in's document.
pub async fn create_user(
    app: &App,
    tenant: &TenantRef,
    doc: Document,
    origin: &Origin<'_>,
) -> Result<DirectoryUser> {
    if origin.checks_domains() {
        check_email_domains(app, tenant, &doc).await?;
    }
    let now = app.clock.now();
    let source = match origin {
        Origin::Scim(_) => UserSource::Scim,
        Origin::SignIn => UserSource::Jit,
        Origin::Manual { .. } => UserSource::Manual,
    };
    let user = new_user(tenant, doc, source, now);
    let base = base(app, tenant);
    let mut events = vec![user_event(EventKind::UserCreated, &base, &user, origin)];
    if tenant.invite_new_users {
        events.push(user_event(EventKind::UserInvited, &base, &user, origin));
    }
    let ctx = WriteContext {
        now,
        events,
        log: log_line(origin, 201, ResourceType::User, user.id, now),
        audit: origin.audit(now, AuditAction::UserCreated, tenant, user.id),
        // Queued with the user, sent later by the outbox: a mail server that is down
        // delays the invitation, never this write.
        mail: if tenant.invite_new_users {
            crate::mail::invitation_for(app, &user, now)
        } else {
            None
        },
    };
    match app.store.create_user(&user, &ctx).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(DirectoryError::UserNameTaken(user.user_name)),
        Err(other) => Err(other.into()),
    }
}

/// `POST /Users`. A user an operator created by hand at the same userName or email
/// is adopted: the IdP's document is written over it and it is SCIM's from then on,
/// rather than a second user being made beside it.
pub async fn create_scim_user(
    app: &App,
    request: &ScimRequest,
    body: &Value,
) -> Result<DirectoryUser> {
    let doc = resource::normalize(ResourceType::User, body)?;
    let origin = Origin::Scim(request);
    if let Some(manual) = manual_user_at(app, &request.tenant, &doc).await? {
        let adopted = update_user::<DirectoryError>(
            app,
            &request.tenant,
            UserToUpdate::Read(manual),
            None,
            &origin,
            WRITE_ATTEMPTS,
            |_| Ok(Some(doc.clone())),
        )
        .await?;
        return Ok(adopted.into_user());
    }
    create_user(app, &request.tenant, doc, &origin).await
}

/// The user created by hand whose userName or email is one of `doc`'s addresses.
async fn manual_user_at(
    app: &App,
    tenant: &TenantRef,
    doc: &Document,
) -> Result<Option<DirectoryUser>> {
    let mut addresses: Vec<&str> = string_attr(doc, "userName").into_iter().collect();
    if let Some(emails) = doc.get("emails").and_then(Value::as_array) {
        addresses.extend(
            emails
                .iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str)),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for address in addresses {
        let lowered = address.to_lowercase();
        if seen.contains(&lowered) {
            continue;
        }
        if let Some(user) = app.store.manual_user_at(tenant.id, &lowered).await? {
            return Ok(Some(user));
        }
        seen.push(lowered);
    }
    Ok(None)
}

/// What [`update_user`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Updated {
    /// Nothing changed (an IdP re-sent unchanged values): no write, no event.
    Unchanged(DirectoryUser),
    Written(DirectoryUser),
}

impl Updated {
    pub fn user(&self) -> &DirectoryUser {
        match self {
            Updated::Unchanged(user) | Updated::Written(user) => user,
        }
    }

    pub fn into_user(self) -> DirectoryUser {
        match self {
            Updated::Unchanged(user) | Updated::Written(user) => user,
        }
    }
}

/// Which user [`update_user`] writes: by id, or as the caller just read it (which
/// saves the first read).
#[derive(Debug, Clone)]
pub enum UserToUpdate {
    Id(Uuid),
    Read(DirectoryUser),
}

/// The versioned write of a user: `change` sees the user as stored and returns its
/// new document (`None`: leave it as it is), which is written with a version check;
/// another write in between makes it start again from that write's version.
///
/// With `if_match`, a version that does not match is refused rather than retried.
/// `change` may refuse with its own error (`E`), for example when the fresh read
/// shows the user was deactivated meanwhile.
pub async fn update_user<E: From<DirectoryError>>(
    app: &App,
    tenant: &TenantRef,
    user: UserToUpdate,
    if_match: Option<&VersionMatch>,
    origin: &Origin<'_>,
    attempts: usize,
    mut change: impl FnMut(&DirectoryUser) -> Result<Option<Document>, E>,
) -> Result<Updated, E> {
    let base = base(app, tenant);
    let (id, mut next) = match user {
        UserToUpdate::Id(id) => (id, None),
        UserToUpdate::Read(user) => (user.id, Some(user)),
    };
    for _ in 0..attempts {
        let existing = match next.take() {
            Some(user) => user,
            None => app
                .store
                .user_by_id(tenant.id, id)
                .await
                .map_err(DirectoryError::from)?
                .ok_or(DirectoryError::NotFound("user"))?,
        };
        if let Some(condition) = if_match
            && !condition.matches(existing.version)
        {
            return Err(DirectoryError::PreconditionFailed.into());
        }
        let Some(doc) = change(&existing)? else {
            return Ok(Updated::Unchanged(existing));
        };
        if origin.checks_domains() {
            check_email_domains(app, tenant, &doc).await?;
        }
        let now = app.clock.now();
        let user = with_document(&existing, doc, origin, now);
        if existing.document == user.document
            && existing.active == user.active
            && existing.source == user.source
        {
            return Ok(Updated::Unchanged(existing));
        }
        let ctx = WriteContext {
            now,
            events: change_events(&base, &existing, &user, origin),
            log: log_line(origin, 200, ResourceType::User, id, now),
            audit: origin.audit(now, AuditAction::UserUpdated, tenant, id),
            mail: None,
        };
        let emails_changed = idbridge_scim::resource::email_keys(&existing.document)
            != idbridge_scim::resource::email_keys(&user.document);
        match app
            .store
            .update_user(&user, existing.version, emails_changed, &ctx)
            .await
        {
            Ok(()) => return Ok(Updated::Written(user)),
            // Someone else wrote the user since it was read: start from their version.
            Err(StoreError::VersionMismatch) if if_match.is_none() => continue,
            Err(StoreError::VersionMismatch) => {
                return Err(DirectoryError::PreconditionFailed.into());
            }
            Err(StoreError::Conflict(_)) => {
                return Err(DirectoryError::UserNameTaken(user.user_name).into());
            }
            Err(other) => return Err(DirectoryError::from(other).into()),
        }
    }
    Err(DirectoryError::Busy("user").into())
}

/// `PUT /Users/{id}` (`patch` `None`) or `PATCH /Users/{id}`: the user as written,
/// with its groups.
pub async fn write_scim_user(
    app: &App,
    request: &ScimRequest,
    id: Uuid,
    if_match: Option<&VersionMatch>,
    change: ScimChange<'_>,
) -> Result<(DirectoryUser, Vec<UserGroup>)> {
    let replacement = match change {
        ScimChange::Replace(body) => Some(resource::normalize(ResourceType::User, body)?),
        ScimChange::Patch(_) => None,
    };
    let patch = match change {
        ScimChange::Patch(body) => Some(PatchRequest::parse(body)?),
        ScimChange::Replace(_) => None,
    };
    // The user and its groups in one read. A user's write does not change its
    // groups, so those read here are the answer's (as if a membership change racing
    // this write came after it).
    let (existing, groups) = app
        .store
        .user_with_groups(request.tenant.id, id)
        .await
        .map_err(DirectoryError::from)?
        .ok_or(DirectoryError::NotFound("user"))?;
    let updated = update_user::<DirectoryError>(
        app,
        &request.tenant,
        UserToUpdate::Read(existing),
        if_match,
        &Origin::Scim(request),
        WRITE_ATTEMPTS,
        |existing| {
            Ok(Some(match (&replacement, &patch) {
                (Some(doc), _) => doc.clone(),
                (None, Some(patch)) => {
                    patch::apply(ResourceType::User, &existing.document, patch)?.doc
                }
                (None, None) => existing.document.clone(),
            }))
        },
    )
    .await?;
    Ok((updated.into_user(), groups))
}

/// What a SCIM write asks: a whole new document (`PUT`), or a PATCH request.
#[derive(Debug, Clone, Copy)]
pub enum ScimChange<'a> {
    Replace(&'a Value),
    Patch(&'a Value),
}

/// `DELETE /Users/{id}`.
pub async fn delete_scim_user(
    app: &App,
    request: &ScimRequest,
    id: Uuid,
    if_match: Option<&VersionMatch>,
) -> Result<()> {
    delete_user(app, &request.tenant, id, if_match, &Origin::Scim(request)).await
}

/// Deletes a user (its memberships go with it), with its `user.deleted` event.
pub async fn delete_user(
    app: &App,
    tenant: &TenantRef,
    id: Uuid,
    if_match: Option<&VersionMatch>,
    origin: &Origin<'_>,
) -> Result<()> {
    let existing = app
        .store
        .user_by_id(tenant.id, id)
        .await?
        .ok_or(DirectoryError::NotFound("user"))?;
    let expected = checked_version(if_match, existing.version)?;
    let now = app.clock.now();
    let ctx = WriteContext {
        now,
        events: vec![NewEvent {
            kind: EventKind::UserDeleted,
            resource_type: EventResource::User,
            resource_id: id,
            data: json!({"user": {"id": id.to_string(), "userName": existing.user_name, "externalId": existing.external_id}}),
        }],
        log: log_line(origin, 204, ResourceType::User, id, now),
        audit: origin.audit(now, AuditAction::UserDeleted, tenant, id),
        mail: None,
    };
    match app.store.delete_user(tenant.id, id, expected, &ctx).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(DirectoryError::NotFound("user")),
        Err(other) => Err(other.into()),
    }
}

/// The version a delete must find, under `If-Match`.
fn checked_version(if_match: Option<&VersionMatch>, version: i64) -> Result<Option<i64>> {
    match if_match {
        Some(condition) if !condition.matches(version) => Err(DirectoryError::PreconditionFailed),
        Some(_) => Ok(Some(version)),
        None => Ok(None),
    }
}

/// Members as a POST or PUT body lists them (absent means none).
fn body_members(body: &Value) -> Result<Vec<patch::MemberRef>, ScimError> {
    let members = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("members")))
        .map(|(_, v)| v.clone())
        .unwrap_or(Value::Null);
    member_refs(&members)
}

/// `POST /Groups`: the group as created, with its members.
pub async fn create_scim_group(
    app: &App,
    request: &ScimRequest,
    body: &Value,
) -> Result<(DirectoryGroup, Vec<(Uuid, GroupMember)>)> {
    let tenant = &request.tenant;
    let doc = resource::normalize(ResourceType::Group, body)?;
    let members = body_members(body)?;
    let now = app.clock.now();
    let group = DirectoryGroup {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        display_name: string_attr(&doc, "displayName")
            .unwrap_or_default()
            .to_owned(),
        external_id: string_attr(&doc, "externalId").map(str::to_owned),
        document: doc,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let ctx = WriteContext {
        now,
        events: vec![group_event(EventKind::GroupCreated, &group)],
        log: log_line(
            &Origin::Scim(request),
            201,
            ResourceType::Group,
            group.id,
            now,
        ),
        audit: None,
        mail: None,
    };
    match app.store.create_group(&group, &members, &ctx).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(DirectoryError::GroupNameTaken(group.display_name));
        }
        Err(other) => return Err(other.into()),
    }
    let stored_members = app.store.group_members(tenant.id, &[group.id]).await?;
    Ok((group, stored_members))
}

/// The versioned write of a group and its member changes, retried as
/// [`update_user`] is. Returns the group as written (its members unread).
async fn update_group(
    app: &App,
    request: &ScimRequest,
    id: Uuid,
    if_match: Option<&VersionMatch>,
    change: impl Fn(&DirectoryGroup) -> Result<(Document, Vec<MemberChange>), ScimError>,
) -> Result<DirectoryGroup> {
    let tenant = &request.tenant;
    for _ in 0..WRITE_ATTEMPTS {
        let existing = app
            .store
            .group_by_id(tenant.id, id)
            .await?
            .ok_or(DirectoryError::NotFound("group"))?;
        if let Some(condition) = if_match
            && !condition.matches(existing.version)
        {
            return Err(DirectoryError::PreconditionFailed);
        }
        let (doc, member_changes) = change(&existing)?;
        let now = app.clock.now();
        // Only members change (Entra ID and Okta push each membership change as its
        // own PATCH, in parallel): applied to the group as it then stands, so
        // concurrent changes all land instead of racing for one version. With
        // If-Match the client asked for the version check, and gets it.
        if doc == existing.document && if_match.is_none() {
            let ctx = WriteContext {
                now,
                events: Vec::new(),
                log: log_line(&Origin::Scim(request), 200, ResourceType::Group, id, now),
                audit: None,
                mail: None,
            };
            return match app
                .store
                .change_group_members(&existing, &member_changes, &ctx)
                .await
            {
                Ok(version) => Ok(DirectoryGroup {
                    updated_at: now,
                    version,
                    ..existing
                }),
                Err(StoreError::NotFound) => Err(DirectoryError::NotFound("group")),
                Err(other) => Err(other.into()),
            };
        }
        let group = DirectoryGroup {
            display_name: string_attr(&doc, "displayName")
                .unwrap_or_default()
                .to_owned(),
            external_id: string_attr(&doc, "externalId").map(str::to_owned),
            document: doc,
            updated_at: now,
            version: existing.version + 1,
            ..existing.clone()
        };
        let mut events = Vec::new();
        if group.document != existing.document {
            events.push(group_event(EventKind::GroupUpdated, &group));
        }
        let ctx = WriteContext {
            now,
            events,
            log: log_line(&Origin::Scim(request), 200, ResourceType::Group, id, now),
            audit: None,
            mail: None,
        };
        match app
            .store
            .update_group(&group, existing.version, &member_changes, &ctx)
            .await
        {
            Ok(()) => return Ok(group),
            Err(StoreError::VersionMismatch) if if_match.is_none() => continue,
            Err(StoreError::Conflict(_)) => {
                return Err(DirectoryError::GroupNameTaken(group.display_name));
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(DirectoryError::Busy("group"))
}

/// `PUT /Groups/{id}`: the group as it now is, with its members (Okta reads them
/// from the answer).
pub async fn replace_scim_group(
    app: &App,
    request: &ScimRequest,
    id: Uuid,
    if_match: Option<&VersionMatch>,
    body: &Value,
) -> Result<(DirectoryGroup, Vec<(Uuid, GroupMember)>)> {
    let doc = resource::normalize(ResourceType::Group, body)?;
    let members = body_members(body)?;
    update_group(app, request, id, if_match, |_| {
        Ok((doc.clone(), vec![MemberChange::ReplaceAll(members.clone())]))
    })
    .await?;
    let tenant_id = request.tenant.id;
    let group = app
        .store
        .group_by_id(tenant_id, id)
        .await?
        .ok_or(DirectoryError::NotFound("group"))?;
    let members = app.store.group_members(tenant_id, &[id]).await?;
    Ok((group, members))
}

/// `PATCH /Groups/{id}`: the group as written, without its members (Microsoft's
/// guide asks for a 204 on group PATCH).
pub async fn patch_scim_group(
    app: &App,
    request: &ScimRequest,
    id: Uuid,
    if_match: Option<&VersionMatch>,
    body: &Value,
) -> Result<DirectoryGroup> {
    let patch = PatchRequest::parse(body)?;
    update_group(app, request, id, if_match, |existing| {
        let patched = patch::apply(ResourceType::Group, &existing.document, &patch)?;
        Ok((patched.doc, patched.members))
    })
    .await
}

/// `DELETE /Groups/{id}`.
pub async fn delete_scim_group(
    app: &App,
    request: &ScimRequest,
    id: Uuid,
    if_match: Option<&VersionMatch>,
) -> Result<()> {
    let tenant = &request.tenant;
    let existing = app
        .store
        .group_by_id(tenant.id, id)
        .await?
        .ok_or(DirectoryError::NotFound("group"))?;
    let expected = checked_version(if_match, existing.version)?;
    let now = app.clock.now();
    let ctx = WriteContext {
        now,
        events: vec![group_event(EventKind::GroupDeleted, &existing)],
        log: log_line(&Origin::Scim(request), 204, ResourceType::Group, id, now),
        audit: None,
        mail: None,
    };
    match app.store.delete_group(tenant.id, id, expected, &ctx).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(DirectoryError::NotFound("group")),
        Err(other) => Err(other.into()),
    }
}

/// Whose SCIM request failed, as far as known.
#[derive(Debug, Clone)]
pub enum FailedCaller {
    /// Authenticated: the tenant and the token.
    Known { tenant_id: Uuid, token_id: Uuid },
    /// Refused before authentication: logged under the tenant the path names, if
    /// that tenant exists (a wrong token pasted into Entra shows up there).
    Path(TenantSlug),
}

/// Writes the provisioning log line of a SCIM request that failed (successful
/// writes log inside their own transaction), so a tenant admin can see why Entra
/// ID or Okta reports an error. A failure to write it is logged, not raised: the
/// request has already been answered.
pub async fn log_failed_request(
    app: &App,
    caller: FailedCaller,
    request: (String, String, Option<String>),
    status: u16,
    reason: Option<String>,
) {
    let (method, path, request_id) = request;
    let (tenant_id, token_id) = match caller {
        FailedCaller::Known {
            tenant_id,
            token_id,
        } => (Some(tenant_id), Some(token_id)),
        FailedCaller::Path(slug) => (
            app.store
                .tenant_by_slug(&slug)
                .await
                .ok()
                .flatten()
                .map(|t| t.id),
            None,
        ),
    };
    let Some(tenant_id) = tenant_id else {
        return;
    };
    let record = ProvisioningRecord {
        id: Uuid::now_v7(),
        tenant_id,
        occurred_at: app.clock.now(),
        method,
        path,
        status,
        resource_type: None,
        resource_id: None,
        reason,
        request_id,
        token_id,
    };
    if let Err(err) = app.store.record_provisioning(&record).await {
        tracing::warn!(error = %err, "could not write a provisioning log line");
    }
}
