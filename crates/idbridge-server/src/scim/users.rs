//! `/Users`: each handler reads the request, calls the application's directory
//! (which writes, with its events and log line), and renders the answer.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idbridge_app::credentials::{self, PresentedScimToken};
use idbridge_app::directory::render;
use idbridge_app::directory::{self, ScimChange};
use idbridge_scim::projection::Projection;
use idbridge_scim::query::ListRequest;
use idbridge_scim::schema::ResourceType;
use idbridge_scim::{ScimError, discovery, query};
use idbridge_store::{Listing, StoreError, StoredUser, UserGroup};
use serde_json::Value;

use super::error::{ScimProblem, json, scim_json, scim_json_text};
use super::extract::{ListQuery, Preconditions, RequestMeta, ScimBody, ScimParams};
use super::log::LoggedTenant;
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
    let body = render::UserResource::new(&base, &user, Some(&[])).to_json()?;
    Ok(answer(
        StatusCode::CREATED,
        body,
        user.version,
        Some(base.location(ResourceType::User, &user.id)),
    ))
}

/// `GET /Users/{id}`. Its token is checked here, as `GET /Users`'s is: a read of
/// the whole user is the token, the user and its groups in one statement
/// (`credentials::list_users_as` with `id eq`); any other (a projection, an id
/// that is not one) checks the token first. Whatever else is wrong with the
/// request, a token that does not open the tenant is answered 401.
pub async fn get_user(
    State(state): State<AppState>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    Extension(presented): Extension<PresentedScimToken>,
    query: Result<ScimParams, ScimProblem>,
    preconditions: Preconditions,
) -> Response {
    let slug = params.get("slug").map(String::as_str).unwrap_or_default();
    let projection = query.and_then(|query| {
        Ok(Projection::parse(
            query.get("attributes"),
            query.get("excludedAttributes"),
        )?)
    });
    let id = resource_id(&params);
    if let (Ok(projection), Ok(id)) = (&projection, &id)
        && projection.trims_nothing()
    {
        let request = ListRequest::of_id(&id.to_string());
        let with_groups = projection.wants(ResourceType::User, "groups");
        return users_as(
            &state,
            slug,
            presented,
            &request,
            with_groups,
            |base, listing, groups| match listing.items.first() {
                Some(user) => whole_user(base, user, groups, &preconditions),
                None => Err(not_found()),
            },
        )
        .await;
    }
    let caller = match checked_caller(&state, slug, presented).await {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    let answer = match (projection, id) {
        (Ok(projection), Ok(id)) => {
            read_user(&state, &caller, id, projection, &preconditions).await
        }
        (Err(problem), _) | (_, Err(problem)) => Err(problem),
    };
    logged(caller, answer)
}

/// For a route that checks its own token: the users `request` reads, read with
/// the token that `presented` is in one statement (`credentials::list_users_as`),
/// answered by `answer` for the caller it names; 401 for a token that does not
/// open the tenant at `slug`.
async fn users_as(
    state: &AppState,
    slug: &str,
    presented: PresentedScimToken,
    request: &ListRequest,
    with_groups: bool,
    answer: impl FnOnce(
        &render::Base<'_>,
        &Listing<StoredUser>,
        Option<&[UserGroup]>,
    ) -> Result<Response, ScimProblem>,
) -> Response {
    match credentials::list_users_as(&state.app, slug, presented, request, with_groups).await {
        Err(e) => ScimProblem::from(e).into_response(),
        Ok(None) => ScimProblem::unauthorized().into_response(),
        Ok(Some((caller, page))) => {
            let answer = page
                .map_err(ScimProblem::from)
                .and_then(|(listing, groups)| {
                    answer(&base(state, &caller), &listing, groups.as_deref())
                });
            logged(caller, answer)
        }
    }
}

/// For a route that checks its own token, before anything else it reads: the
/// caller `presented` names, or the 401 (or unavailable) answer.
async fn checked_caller(
    state: &AppState,
    slug: &str,
    presented: PresentedScimToken,
) -> Result<ScimTenant, ScimProblem> {
    credentials::authenticate_scim(&state.app, slug, presented)
        .await?
        .ok_or_else(ScimProblem::unauthorized)
}

/// `answer`, logged as the caller's (the middleware logs the other routes').
fn logged(caller: ScimTenant, answer: Result<Response, ScimProblem>) -> Response {
    let mut response = answer.into_response();
    response.extensions_mut().insert(LoggedTenant(caller));
    response
}

/// A user read whole, as stored, with its groups when asked.
fn whole_user(
    base: &render::Base<'_>,
    user: &StoredUser,
    groups: Option<&[UserGroup]>,
    preconditions: &Preconditions,
) -> Result<Response, ScimProblem> {
    if not_modified(preconditions, user.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let body = render::UserResource::stored(base, user, groups)
        .map_err(|e| ScimProblem::from(StoreError::Corrupt(format!("a stored user: {e}"))))?
        .to_json()?;
    Ok(answer(StatusCode::OK, body, user.version, None))
}

/// Whether `If-None-Match` names the user's version: 304, nothing sent.
fn not_modified(preconditions: &Preconditions, version: i64) -> bool {
    preconditions
        .if_none_match
        .as_ref()
        .is_some_and(|m| m.matches(version))
}

/// A user read for a checked caller, trimmed as `projection` says.
async fn read_user(
    state: &AppState,
    tenant: &ScimTenant,
    id: uuid::Uuid,
    projection: Projection,
    preconditions: &Preconditions,
) -> Result<Response, ScimProblem> {
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
    if not_modified(preconditions, user.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let base = base(state, tenant);
    if projection.trims_nothing() {
        let body = render::UserResource::new(&base, &user, groups.as_deref()).to_json()?;
        return Ok(answer(StatusCode::OK, body, user.version, None));
    }
    let mut body = render::user(&base, &user, groups.as_deref());
    projection.apply(ResourceType::User, &mut body);
    Ok(answer(StatusCode::OK, json(&body), user.version, None))
}

fn not_found() -> ScimProblem {
    ScimError::not_found("no such user in this tenant").into()
}

/// `GET /Users`. Its token is checked here rather than by
/// `auth::require_scim_token`: an IdP's lookup before each write (`userName eq`)
/// reads the token and the user in one statement (`credentials::list_users_as`);
/// any other list checks the token first. Whatever else is wrong with the
/// request, a token that does not open the tenant is answered 401, as everywhere
/// else.
pub async fn list_users(
    State(state): State<AppState>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    Extension(presented): Extension<PresentedScimToken>,
    query: Result<ScimParams, ScimProblem>,
) -> Response {
    let slug = params.get("slug").map(String::as_str).unwrap_or_default();
    let parsed = query.and_then(|query| list_query(&ListQuery::from_params(&query)));
    if let Ok((request, projection)) = &parsed
        && projection.trims_nothing()
    {
        let with_groups = projection.wants(ResourceType::User, "groups");
        return users_as(
            &state,
            slug,
            presented,
            request,
            with_groups,
            |base, listing, groups| whole_page(base, listing, groups, request.start_index),
        )
        .await;
    }
    let caller = match checked_caller(&state, slug, presented).await {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    let answer = match parsed {
        Ok((request, projection)) => list(&state, &caller, request, projection).await,
        Err(problem) => Err(problem),
    };
    logged(caller, answer)
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): a list whose parameters come in the body.
pub async fn search_users(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimProblem> {
    let (request, projection) = list_query(&ListQuery::from_search_request(&body)?)?;
    list(&state, &tenant, request, projection).await
}

/// What a list asks: its page and what each resource shows.
fn list_query(query: &ListQuery) -> Result<(ListRequest, Projection), ScimProblem> {
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
    Ok((request, projection))
}

/// A list of users whole, as IdPs ask for them: each document written out as
/// stored.
fn whole_page(
    base: &render::Base<'_>,
    listing: &Listing<StoredUser>,
    groups: Option<&[UserGroup]>,
    start_index: usize,
) -> Result<Response, ScimProblem> {
    let resources = listing
        .items
        .iter()
        .map(|user| render::UserResource::stored(base, user, groups))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ScimProblem::from(StoreError::Corrupt(format!("a stored user: {e}"))))?;
    let body = render::list_of_users(base, &resources, listing.total, start_index)?;
    Ok(scim_json_text(StatusCode::OK, body))
}

async fn list(
    state: &AppState,
    tenant: &ScimTenant,
    request: ListRequest,
    projection: Projection,
) -> Result<Response, ScimProblem> {
    let store = &state.app.store;
    let with_groups = projection.wants(ResourceType::User, "groups");
    let base = base(state, tenant);
    if projection.trims_nothing() {
        let (listing, groups) = store
            .list_stored_users(tenant.tenant.id, &request, with_groups)
            .await?;
        return whole_page(&base, &listing, groups.as_deref(), request.start_index);
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
    let body = render::UserResource::new(&base, &user, Some(&groups)).to_json()?;
    Ok(answer(StatusCode::OK, body, user.version, None))
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
