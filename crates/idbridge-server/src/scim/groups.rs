//! `/Groups`. Members live in their own table: a group's members are read only
//! when the response carries them, and PATCHes change them by difference.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idbridge_app::directory::{self, render};
use idbridge_scim::projection::Projection;
use idbridge_scim::schema::ResourceType;
use idbridge_scim::{ScimError, discovery, query};
use idbridge_store::DirectoryGroup;
use serde_json::Value;
use uuid::Uuid;

use super::error::{ScimProblem, json, scim_json};
use super::extract::{ListQuery, Preconditions, RequestMeta, ScimBody, ScimParams};
use super::{ScimTenant, answer, base, resource_id, scim_request};
use crate::AppState;

fn not_found() -> ScimProblem {
    ScimError::not_found("no such group in this tenant").into()
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
            .group_members(tenant.tenant.id, &ids)
            .await?,
    ))
}

pub async fn create_group(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    meta: RequestMeta,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let request = scim_request(&tenant, meta);
    let (group, members) = directory::create_scim_group(&state.app, &request, &body).await?;
    let base = base(&state, &tenant);
    let body = render::group(&base, &group, Some(&members));
    Ok(answer(
        StatusCode::CREATED,
        json(&body),
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
        .group_by_id(tenant.tenant.id, id)
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
    Ok(answer(StatusCode::OK, json(&body), group.version, None))
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
        .list_groups(tenant.tenant.id, &request)
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
    let request = scim_request(&tenant, meta);
    let (group, members) = directory::replace_scim_group(
        &state.app,
        &request,
        id,
        preconditions.if_match.as_ref(),
        &body,
    )
    .await?;
    // PUT answers with the whole group as it now is, members included (Okta reads it).
    let body = render::group(&base(&state, &tenant), &group, Some(&members));
    Ok(answer(StatusCode::OK, json(&body), group.version, None))
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
    let request = scim_request(&tenant, meta);
    directory::patch_scim_group(
        &state.app,
        &request,
        id,
        preconditions.if_match.as_ref(),
        &body,
    )
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
        .group_by_id(tenant.tenant.id, id)
        .await?
        .ok_or_else(not_found)?;
    let members = members_for(&state, &tenant, std::slice::from_ref(&group), &projection).await?;
    let mut body = render::group(&base(&state, &tenant), &group, members.as_deref());
    projection.apply(ResourceType::Group, &mut body);
    Ok(answer(StatusCode::OK, json(&body), group.version, None))
}

pub async fn delete_group(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    meta: RequestMeta,
    preconditions: Preconditions,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let request = scim_request(&tenant, meta);
    directory::delete_scim_group(&state.app, &request, id, preconditions.if_match.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
