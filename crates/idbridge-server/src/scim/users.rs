//! `/Users`: each handler reads the request, calls the application's directory
//! (which writes, with its events and log line), and renders the answer.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idbridge_app::directory::render;
use idbridge_app::directory::{self, ScimChange};
use idbridge_scim::projection::Projection;
use idbridge_scim::schema::ResourceType;
use idbridge_scim::{ScimError, discovery, query};
use idbridge_store::StoreError;
use serde_json::Value;

use super::error::{ScimProblem, scim_json};
use super::extract::{ListQuery, Preconditions, RequestMeta, ScimBody, ScimParams};
use super::{ScimTenant, answer, base, resource_id, scim_request};
use crate::AppState;

pub async fn create_user(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    meta: RequestMeta,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let request = scim_request(&tenant, meta);
    let user = directory::create_scim_user(&state.app, &request, &body).await?;
    let base = base(&state, &tenant);
    let body = render::UserResource::new(&base, &user, Some(&[]));
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
    let store = &state.app.store;
    // The groups come with the user, in its statement, when the answer shows them.
    let (user, groups) = if projection.wants(ResourceType::User, "groups") {
        let (user, groups) = store
            .user_with_groups(tenant.tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        (user, Some(groups))
    } else {
        let user = store
            .user_by_id(tenant.tenant.id, id)
            .await?
            .ok_or_else(not_found)?;
        (user, None)
    };
    if preconditions
        .if_none_match
        .as_ref()
        .is_some_and(|m| m.matches(user.version))
    {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let base = base(&state, &tenant);
    if projection.trims_nothing() {
        let body = render::UserResource::new(&base, &user, groups.as_deref());
        return Ok(answer(StatusCode::OK, &body, user.version, None));
    }
    let mut body = render::user(&base, &user, groups.as_deref());
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
    let store = &state.app.store;
    let with_groups = projection.wants(ResourceType::User, "groups");
    let base = base(state, tenant);
    if projection.trims_nothing() {
        // What IdPs ask: every user whole, each document written out as stored.
        let (listing, groups) = store
            .list_stored_users(tenant.tenant.id, &request, with_groups)
            .await?;
        let resources = listing
            .items
            .iter()
            .map(|user| render::UserResource::stored(&base, user, groups.as_deref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ScimProblem::from(StoreError::Corrupt(format!("a stored user: {e}"))))?;
        return Ok(scim_json(
            StatusCode::OK,
            &discovery::ListResponse::new(listing.total, request.start_index, resources),
        ));
    }
    // The groups come with the page, in its statement, when the answer shows them.
    let (listing, groups) = if with_groups {
        let (listing, groups) = store
            .list_users_with_groups(tenant.tenant.id, &request)
            .await?;
        (listing, Some(groups))
    } else {
        (store.list_users(tenant.tenant.id, &request).await?, None)
    };
    let resources = listing
        .items
        .into_iter()
        .map(|user| {
            let mut body = render::user_owned(&base, user, groups.as_deref());
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
    write(
        &state,
        &tenant,
        &params,
        meta,
        &preconditions,
        ScimChange::Replace(&body),
    )
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
    write(
        &state,
        &tenant,
        &params,
        meta,
        &preconditions,
        ScimChange::Patch(&body),
    )
    .await
}

async fn write(
    state: &AppState,
    tenant: &ScimTenant,
    params: &std::collections::HashMap<String, String>,
    meta: RequestMeta,
    preconditions: &Preconditions,
    change: ScimChange<'_>,
) -> Result<Response, ScimProblem> {
    let id = resource_id(params)?;
    let request = scim_request(tenant, meta);
    let (user, groups) = directory::write_scim_user(
        &state.app,
        &request,
        id,
        preconditions.if_match.as_ref(),
        change,
    )
    .await?;
    let base = base(state, tenant);
    let body = render::UserResource::new(&base, &user, Some(&groups));
    Ok(answer(StatusCode::OK, &body, user.version, None))
}

pub async fn delete_user(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    meta: RequestMeta,
    preconditions: Preconditions,
) -> Result<Response, ScimProblem> {
    let id = resource_id(&params)?;
    let request = scim_request(&tenant, meta);
    directory::delete_scim_user(&state.app, &request, id, preconditions.if_match.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
