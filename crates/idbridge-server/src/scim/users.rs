//! `/Users`.

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_scim::patch::{self, PatchRequest};
use idbridge_scim::projection::Projection;
use idbridge_scim::resource::{self, string_attr};
use idbridge_scim::schema::ResourceType;
use idbridge_scim::{ScimError, discovery, query};
use idbridge_store::{DirectoryUser, NewEvent, StoreError, UserSource, WriteContext};
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{ScimProblem, scim_json};
use super::extract::{ListQuery, Preconditions, RequestMeta, ScimBody, ScimParams};
use super::render::{self, Base};
use super::{ScimTenant, provisioning_record, resource_id};
use crate::AppState;

/// How often a write is retried when another request changed the same user between
/// our read and our write (only without `If-Match`, which asks for a 412 instead).
const WRITE_ATTEMPTS: usize = 5;

fn base<'a>(state: &'a AppState, tenant: &'a ScimTenant) -> Base<'a> {
    Base {
        public_url: &state.app.config.public_url,
        slug: &tenant.slug,
    }
}

fn answer(
    status: StatusCode,
    body: &serde_json::Map<String, Value>,
    version: i64,
    location: Option<String>,
) -> Response {
    let mut response = scim_json(status, body);
    if let Ok(etag) = HeaderValue::from_str(&render::etag(version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// What an event says about a user: enough for the app to act without a lookup.
fn event_data(base: &Base<'_>, user: &DirectoryUser) -> Value {
    json!({ "user": Value::Object(render::user(base, user, None)) })
}

fn new_user(
    tenant: &ScimTenant,
    doc: resource::Document,
    now: time::OffsetDateTime,
) -> DirectoryUser {
    DirectoryUser {
        id: Uuid::now_v7(),
        tenant_id: tenant.tenant_id,
        user_name: string_attr(&doc, "userName").unwrap_or_default().to_owned(),
        external_id: string_attr(&doc, "externalId").map(str::to_owned),
        active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
        document: doc,
        source: UserSource::Scim,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// The stored user with `doc` written over it.
fn updated(
    existing: &DirectoryUser,
    doc: resource::Document,
    now: time::OffsetDateTime,
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
        source: UserSource::Scim,
        ..existing.clone()
    }
}

/// The events a change from `before` to `after` raises.
fn change_events(base: &Base<'_>, before: &DirectoryUser, after: &DirectoryUser) -> Vec<NewEvent> {
    let mut events = Vec::new();
    let without_active = |d: &resource::Document| {
        let mut d = d.clone();
        d.remove("active");
        d
    };
    let data = event_data(base, after);
    if without_active(&before.document) != without_active(&after.document) {
        events.push(NewEvent {
            kind: idbridge_core::EventKind::UserUpdated,
            resource_type: idbridge_core::EventResource::User,
            resource_id: after.id,
            data: data.clone(),
        });
    }
    if before.active != after.active {
        let kind = if after.active {
            idbridge_core::EventKind::UserReactivated
        } else {
            idbridge_core::EventKind::UserDeactivated
        };
        events.push(NewEvent {
            kind,
            resource_type: idbridge_core::EventResource::User,
            resource_id: after.id,
            data,
        });
    }
    events
}

async fn groups_for(
    state: &AppState,
    tenant: &ScimTenant,
    users: &[DirectoryUser],
    projection: &Projection,
) -> Result<Option<Vec<idbridge_store::UserGroup>>, ScimProblem> {
    if !projection.wants(ResourceType::User, "groups") || users.is_empty() {
        return Ok(None);
    }
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    Ok(Some(
        state
            .app
            .store
            .groups_of_users(tenant.tenant_id, &ids)
            .await?,
    ))
}

pub async fn create_user(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    meta: RequestMeta,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let doc = resource::normalize(ResourceType::User, &body)?;
    check_email_domains(&state, &tenant, &doc).await?;
    let now = state.app.clock.now();
    let user = new_user(&tenant, doc, now);
    let base = base(&state, &tenant);
    let ctx = WriteContext {
        now,
        events: vec![NewEvent {
            kind: idbridge_core::EventKind::UserCreated,
            resource_type: idbridge_core::EventResource::User,
            resource_id: user.id,
            data: event_data(&base, &user),
        }],
        log: Some(provisioning_record(
            &tenant,
            &meta,
            201,
            "User",
            Some(user.id),
            now,
        )),
    };
    match state.app.store.create_user(&user, &ctx).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ScimError::uniqueness(format!(
                "a user with userName {:?} already exists",
                user.user_name
            ))
            .into());
        }
        Err(other) => return Err(other.into()),
    }
    let body = render::user(&base, &user, Some(&[]));
    Ok(answer(
        StatusCode::CREATED,
        &body,
        user.version,
        Some(base.location(ResourceType::User, &user.id)),
    ))
}

pub async fn get_user(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    query: ScimParams,
    preconditions: Preconditions,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let projection = Projection::parse(query.get("attributes"), query.get("excludedAttributes"))?;
    let user = state
        .app
        .store
        .user_by_id(tenant.tenant_id, id)
        .await?
        .ok_or_else(not_found)?;
    if preconditions
        .if_none_match
        .as_ref()
        .is_some_and(|m| m.matches(user.version))
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let groups = groups_for(&state, &tenant, std::slice::from_ref(&user), &projection).await?;
    let mut body = render::user(&base(&state, &tenant), &user, groups.as_deref());
    projection.apply(ResourceType::User, &mut body);
    Ok(answer(StatusCode::OK, &body, user.version, None))
}

fn not_found() -> ScimProblem {
    ScimError::not_found("no such user in this tenant").into()
}

pub async fn list_users(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    query: ScimParams,
) -> Result<Response, ScimProblem> {
    list(&state, &tenant, ListQuery::from_params(&query)).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): a list whose parameters come in the body.
pub async fn search_users(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    list(&state, &tenant, ListQuery::from_search_request(&body)?).await
}

async fn list(
    state: &AppState,
    tenant: &ScimTenant,
    query: ListQuery,
) -> Result<Response, ScimProblem> {
    let request = query::list_request(
        ResourceType::User,
        query.filter.as_deref(),
        query.sort_by.as_deref(),
        query.sort_order.as_deref(),
        query.start_index.as_deref(),
        query.count.as_deref(),
    )?;
    let projection = Projection::parse(
        query.attributes.as_deref(),
        query.excluded_attributes.as_deref(),
    )?;
    let listing = state
        .app
        .store
        .list_users(tenant.tenant_id, &request)
        .await?;
    let groups = groups_for(state, tenant, &listing.items, &projection).await?;
    let base = base(state, tenant);
    let resources = listing
        .items
        .iter()
        .map(|user| {
            let mut body = render::user(&base, user, groups.as_deref());
            projection.apply(ResourceType::User, &mut body);
            Value::Object(body)
        })
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &discovery::list_response(listing.total, request.start_index, resources),
    ))
}

pub async fn replace_user(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    meta: RequestMeta,
    preconditions: Preconditions,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let doc = resource::normalize(ResourceType::User, &body)?;
    write_user(&state, &tenant, id, &meta, &preconditions, |_| {
        Ok(doc.clone())
    })
    .await
}

pub async fn patch_user(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    meta: RequestMeta,
    preconditions: Preconditions,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let request = PatchRequest::parse(&body)?;
    write_user(&state, &tenant, id, &meta, &preconditions, |existing| {
        Ok(patch::apply(ResourceType::User, &existing.document, &request)?.doc)
    })
    .await
}

/// With the tenant's `require_verified_domains`, every address the user document
/// carries (an email-shaped userName, each `emails[].value`) must be at a domain the
/// tenant verified: an IdP must not provision someone else's users.
async fn check_email_domains(
    state: &AppState,
    tenant: &ScimTenant,
    doc: &resource::Document,
) -> Result<(), ScimProblem> {
    if !tenant.require_verified_domains {
        return Ok(());
    }
    let mut addresses: Vec<&str> = Vec::new();
    if let Some(user_name) = doc.get("userName").and_then(serde_json::Value::as_str)
        && user_name.contains('@')
    {
        addresses.push(user_name);
    }
    if let Some(emails) = doc.get("emails").and_then(serde_json::Value::as_array) {
        addresses.extend(
            emails
                .iter()
                .filter_map(|e| e.get("value").and_then(serde_json::Value::as_str)),
        );
    }
    let mut checked: Vec<idbridge_core::domain::DomainName> = Vec::new();
    for address in addresses {
        let domain = idbridge_core::domain::email_domain(address).map_err(|_| {
            ScimError::invalid_value(format!("{address:?} is not an email address"))
        })?;
        if checked.contains(&domain) {
            continue;
        }
        let owner = state
            .app
            .store
            .tenant_for_verified_domain(domain.as_str())
            .await?;
        if owner.is_none_or(|t| t.id != tenant.tenant_id) {
            return Err(ScimError::invalid_value(format!(
                "the email domain {domain} is not verified for this tenant, which requires verified domains"
            ))
            .into());
        }
        checked.push(domain);
    }
    Ok(())
}

/// Read, change, write with a version check; retried if another request won the race.
async fn write_user(
    state: &AppState,
    tenant: &ScimTenant,
    id: Uuid,
    meta: &RequestMeta,
    preconditions: &Preconditions,
    change: impl Fn(&DirectoryUser) -> Result<resource::Document, ScimError>,
) -> Result<Response, ScimProblem> {
    let base = base(state, tenant);
    for _ in 0..WRITE_ATTEMPTS {
        let existing = state
            .app
            .store
            .user_by_id(tenant.tenant_id, id)
            .await?
            .ok_or_else(not_found)?;
        if let Some(condition) = &preconditions.if_match
            && !condition.matches(existing.version)
        {
            return Err(ScimError::precondition_failed(
                "the resource's version does not match If-Match",
            )
            .into());
        }
        let doc = change(&existing)?;
        check_email_domains(state, tenant, &doc).await?;
        let now = state.app.clock.now();
        let user = updated(&existing, doc, now);
        let events = change_events(&base, &existing, &user);
        if existing.document == user.document && existing.active == user.active {
            // Nothing changed (Entra re-sends unchanged values): no write, no event.
            let groups = state
                .app
                .store
                .groups_of_users(tenant.tenant_id, &[existing.id])
                .await?;
            let body = render::user(&base, &existing, Some(&groups));
            return Ok(answer(StatusCode::OK, &body, existing.version, None));
        }
        let ctx = WriteContext {
            now,
            events,
            log: Some(provisioning_record(
                tenant,
                meta,
                200,
                "User",
                Some(id),
                now,
            )),
        };
        match state
            .app
            .store
            .update_user(&user, existing.version, &ctx)
            .await
        {
            Ok(()) => {
                let groups = state
                    .app
                    .store
                    .groups_of_users(tenant.tenant_id, &[user.id])
                    .await?;
                let body = render::user(&base, &user, Some(&groups));
                return Ok(answer(StatusCode::OK, &body, user.version, None));
            }
            Err(StoreError::VersionMismatch) if preconditions.if_match.is_none() => continue,
            Err(StoreError::Conflict(_)) => {
                return Err(ScimError::uniqueness(format!(
                    "a user with userName {:?} already exists",
                    user.user_name
                ))
                .into());
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(ScimError::new(
        409,
        None,
        "the user is being changed by other requests; retry",
    )
    .into())
}

pub async fn delete_user(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    meta: RequestMeta,
    preconditions: Preconditions,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let existing = state
        .app
        .store
        .user_by_id(tenant.tenant_id, id)
        .await?
        .ok_or_else(not_found)?;
    let expected = match &preconditions.if_match {
        Some(condition) if !condition.matches(existing.version) => {
            return Err(ScimError::precondition_failed(
                "the resource's version does not match If-Match",
            )
            .into());
        }
        Some(_) => Some(existing.version),
        None => None,
    };
    let now = state.app.clock.now();
    let ctx = WriteContext {
        now,
        events: vec![NewEvent {
            kind: idbridge_core::EventKind::UserDeleted,
            resource_type: idbridge_core::EventResource::User,
            resource_id: id,
            data: json!({"user": {"id": id.to_string(), "userName": existing.user_name, "externalId": existing.external_id}}),
        }],
        log: Some(provisioning_record(
            &tenant,
            &meta,
            204,
            "User",
            Some(id),
            now,
        )),
    };
    state
        .app
        .store
        .delete_user(tenant.tenant_id, id, expected, &ctx)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
