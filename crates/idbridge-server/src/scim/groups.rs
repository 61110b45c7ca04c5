//! `/Groups`. Members live in their own table: a group's members are read only
//! when the response carries them, and PATCHes change them by difference.

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_scim::patch::{self, MemberChange, PatchRequest, member_refs};
use idbridge_scim::projection::Projection;
use idbridge_scim::resource::{self, string_attr};
use idbridge_scim::schema::ResourceType;
use idbridge_scim::{ScimError, discovery, query};
use idbridge_store::{DirectoryGroup, NewEvent, StoreError, WriteContext};
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{ScimProblem, scim_json};
use super::extract::{ListQuery, Preconditions, RequestMeta, ScimBody, ScimParams};
use super::render::{self, Base};
use super::{ScimTenant, provisioning_record, resource_id};
use crate::AppState;

const WRITE_ATTEMPTS: usize = 5;

fn base<'a>(state: &'a AppState, tenant: &'a ScimTenant) -> Base<'a> {
    Base {
        public_url: &state.app.config.public_url,
        slug: &tenant.slug,
    }
}

fn not_found() -> ScimProblem {
    ScimError::not_found("no such group in this tenant").into()
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

fn event_data(group: &DirectoryGroup) -> Value {
    json!({"group": {"id": group.id.to_string(), "displayName": group.display_name, "externalId": group.external_id}})
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

async fn members_for(
    state: &AppState,
    tenant: &ScimTenant,
    groups: &[DirectoryGroup],
    projection: &Projection,
) -> Result<Option<Vec<(Uuid, idbridge_store::GroupMember)>>, ScimProblem> {
    if !projection.wants(ResourceType::Group, "members") || groups.is_empty() {
        return Ok(None);
    }
    let ids: Vec<Uuid> = groups.iter().map(|g| g.id).collect();
    Ok(Some(
        state
            .app
            .store
            .group_members(tenant.tenant_id, &ids)
            .await?,
    ))
}

pub async fn create_group(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    meta: RequestMeta,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let doc = resource::normalize(ResourceType::Group, &body)?;
    let members = body_members(&body)?;
    let now = state.app.clock.now();
    let group = DirectoryGroup {
        id: Uuid::now_v7(),
        tenant_id: tenant.tenant_id,
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
        events: vec![NewEvent {
            kind: idbridge_core::EventKind::GroupCreated,
            resource_type: idbridge_core::EventResource::Group,
            resource_id: group.id,
            data: event_data(&group),
        }],
        log: Some(provisioning_record(
            &tenant,
            &meta,
            201,
            "Group",
            Some(group.id),
            now,
        )),
    };
    state.app.store.create_group(&group, &members, &ctx).await?;
    let base = base(&state, &tenant);
    let stored_members = state
        .app
        .store
        .group_members(tenant.tenant_id, &[group.id])
        .await?;
    let body = render::group(&base, &group, Some(&stored_members));
    Ok(answer(
        StatusCode::CREATED,
        &body,
        group.version,
        Some(base.location(ResourceType::Group, &group.id)),
    ))
}

pub async fn get_group(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    query: ScimParams,
    preconditions: Preconditions,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let projection = Projection::parse(query.get("attributes"), query.get("excludedAttributes"))?;
    let group = state
        .app
        .store
        .group_by_id(tenant.tenant_id, id)
        .await?
        .ok_or_else(not_found)?;
    if preconditions
        .if_none_match
        .as_ref()
        .is_some_and(|m| m.matches(group.version))
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let members = members_for(&state, &tenant, std::slice::from_ref(&group), &projection).await?;
    let mut body = render::group(&base(&state, &tenant), &group, members.as_deref());
    projection.apply(ResourceType::Group, &mut body);
    Ok(answer(StatusCode::OK, &body, group.version, None))
}

pub async fn list_groups(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    query: ScimParams,
) -> Result<Response, ScimProblem> {
    list(&state, &tenant, ListQuery::from_params(&query)).await
}

/// `POST /Groups/.search` (RFC 7644 §3.4.3).
pub async fn search_groups(
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
        ResourceType::Group,
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
        .list_groups(tenant.tenant_id, &request)
        .await?;
    let members = members_for(state, tenant, &listing.items, &projection).await?;
    let base = base(state, tenant);
    let resources = listing
        .items
        .iter()
        .map(|group| {
            let mut body = render::group(&base, group, members.as_deref());
            projection.apply(ResourceType::Group, &mut body);
            Value::Object(body)
        })
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &discovery::list_response(listing.total, request.start_index, resources),
    ))
}

pub async fn replace_group(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    meta: RequestMeta,
    preconditions: Preconditions,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let doc = resource::normalize(ResourceType::Group, &body)?;
    let members = body_members(&body)?;
    write_group(&state, &tenant, id, &meta, &preconditions, |_| {
        Ok((doc.clone(), vec![MemberChange::ReplaceAll(members.clone())]))
    })
    .await?;
    // PUT answers with the whole group as it now is, members included (Okta reads it).
    let group = state
        .app
        .store
        .group_by_id(tenant.tenant_id, id)
        .await?
        .ok_or_else(not_found)?;
    let stored_members = state
        .app
        .store
        .group_members(tenant.tenant_id, &[id])
        .await?;
    let body = render::group(&base(&state, &tenant), &group, Some(&stored_members));
    Ok(answer(StatusCode::OK, &body, group.version, None))
}

pub async fn patch_group(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    meta: RequestMeta,
    preconditions: Preconditions,
    query: ScimParams,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let request = PatchRequest::parse(&body)?;
    write_group(&state, &tenant, id, &meta, &preconditions, |existing| {
        let patched = patch::apply(ResourceType::Group, &existing.document, &request)?;
        Ok((patched.doc, patched.members))
    })
    .await?;
    // Microsoft's SCIM guide asks for 204 on group PATCH ("returning a body with a
    // list of all the members isn't advisable"), and RFC 7644 §3.5.2 allows it;
    // with `attributes`/`excludedAttributes` the client asked for a body, so it gets one.
    let wants_body = query.get("attributes").is_some() || query.get("excludedAttributes").is_some();
    if !wants_body {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let projection = Projection::parse(query.get("attributes"), query.get("excludedAttributes"))?;
    let group = state
        .app
        .store
        .group_by_id(tenant.tenant_id, id)
        .await?
        .ok_or_else(not_found)?;
    let members = members_for(&state, &tenant, std::slice::from_ref(&group), &projection).await?;
    let mut body = render::group(&base(&state, &tenant), &group, members.as_deref());
    projection.apply(ResourceType::Group, &mut body);
    Ok(answer(StatusCode::OK, &body, group.version, None))
}

async fn write_group(
    state: &AppState,
    tenant: &ScimTenant,
    id: Uuid,
    meta: &RequestMeta,
    preconditions: &Preconditions,
    change: impl Fn(&DirectoryGroup) -> Result<(resource::Document, Vec<MemberChange>), ScimError>,
) -> Result<Response, ScimProblem> {
    let base = base(state, tenant);
    for _ in 0..WRITE_ATTEMPTS {
        let existing = state
            .app
            .store
            .group_by_id(tenant.tenant_id, id)
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
        let (doc, member_changes) = change(&existing)?;
        let now = state.app.clock.now();
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
            events.push(NewEvent {
                kind: idbridge_core::EventKind::GroupUpdated,
                resource_type: idbridge_core::EventResource::Group,
                resource_id: id,
                data: event_data(&group),
            });
        }
        let ctx = WriteContext {
            now,
            events,
            log: Some(provisioning_record(
                tenant,
                meta,
                200,
                "Group",
                Some(id),
                now,
            )),
        };
        match state
            .app
            .store
            .update_group(&group, existing.version, &member_changes, &ctx)
            .await
        {
            Ok(()) => {
                // The group as written, without its members (a PUT answers with them
                // below; a PATCH usually answers 204).
                let body = render::group(&base, &group, None);
                return Ok(answer(StatusCode::OK, &body, group.version, None));
            }
            Err(StoreError::VersionMismatch) if preconditions.if_match.is_none() => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ScimError::new(
        409,
        None,
        "the group is being changed by other requests; retry",
    )
    .into())
}

pub async fn delete_group(
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
        .group_by_id(tenant.tenant_id, id)
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
            kind: idbridge_core::EventKind::GroupDeleted,
            resource_type: idbridge_core::EventResource::Group,
            resource_id: id,
            data: event_data(&existing),
        }],
        log: Some(provisioning_record(
            &tenant,
            &meta,
            204,
            "Group",
            Some(id),
            now,
        )),
    };
    state
        .app
        .store
        .delete_group(tenant.tenant_id, id, expected, &ctx)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
