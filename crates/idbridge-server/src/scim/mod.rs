//! The SCIM 2.0 service provider, `/scim/v2/{slug}`: the "Tenant URL" an IdP admin
//! pastes into Entra ID or Okta. Every request is authenticated by a SCIM token of
//! that tenant; a token of one tenant never reaches another tenant's data, and an id
//! of another tenant is a 404.
//!
//! The protocol lives in `idbridge-scim` (pure) and the writes in the application's
//! directory (`idbridge_app::directory`); this module only moves requests in and
//! answers out, in SCIM's error format.

mod auth;
mod error;
mod extract;
mod groups;
mod log;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post};
use idbridge_app::directory::ScimRequest;
use idbridge_app::directory::render::{self, Base};
use idbridge_scim::schema::ResourceType;
use idbridge_scim::{ScimError, discovery};
use serde_json::Value;
use uuid::Uuid;

pub use error::ScimProblem;
pub use idbridge_app::credentials::ScimCaller as ScimTenant;

use crate::AppState;
use error::{scim_json, scim_json_text};
use extract::RequestMeta;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{name}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{urn}", get(schema))
        .route("/Users", get(users::list_users).post(users::create_user))
        .route("/Users/.search", post(users::search_users))
        // Searching users and groups at once (RFC 7644 §3.4.3, server root) is not
        // built; 501 is the answer the RFC gives for it. No IdP uses it.
        .route(
            "/.search",
            post(|| async {
                ScimProblem(ScimError::new(501, None, "searching several resource types at once is not supported; search /Users or /Groups"))
            }),
        )
        .route(
            "/Users/{id}",
            get(users::get_user)
                .put(users::replace_user)
                .patch(users::patch_user)
                .delete(users::delete_user),
        )
        .route("/Groups/.search", post(groups::search_groups))
        .route(
            "/Groups",
            get(groups::list_groups).post(groups::create_group),
        )
        .route(
            "/Groups/{id}",
            get(groups::get_group)
                .put(groups::replace_group)
                .patch(groups::patch_group)
                .delete(groups::delete_group),
        )
        .fallback(|| async { ScimProblem(ScimError::not_found("no such SCIM endpoint")) })
        .method_not_allowed_fallback(|| async {
            ScimProblem(ScimError::new(
                405,
                None,
                "method not allowed on this SCIM endpoint",
            ))
        })
        .layer(DefaultBodyLimit::max(state.config.scim_body_limit.bytes()))
        // `layer`, not `route_layer`: an unknown path is refused for lack of a token
        // before it is reported missing, so an anonymous caller learns nothing.
        .layer(from_fn_with_state(state.clone(), auth::require_scim_token))
        // Outermost: failures, including refused tokens, reach the provisioning log.
        .layer(from_fn_with_state(state.clone(), log::record_failures))
}

fn base_url(state: &AppState, tenant: &ScimTenant) -> String {
    state
        .app
        .config
        .public_url
        .scim_base_url(&tenant.tenant.slug)
}

const DOCUMENTATION: &str = "https://github.com/idbridge/idbridge#scim";

async fn service_provider_config(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
) -> Response {
    scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(
            &base_url(&state, &tenant),
            DOCUMENTATION,
            state.config.scim_body_limit.bytes(),
        ),
    )
}

async fn resource_types(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
) -> Response {
    let all = discovery::resource_types(&base_url(&state, &tenant));
    scim_json(
        StatusCode::OK,
        &discovery::list_response(all.len() as u64, 1, all),
    )
}

async fn resource_type(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
) -> Result<Response, ScimProblem> {
    let name = params.get("name").map(String::as_str).unwrap_or_default();
    let rt = [ResourceType::User, ResourceType::Group]
        .into_iter()
        .find(|rt| rt.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name:?}")))?;
    Ok(scim_json(
        StatusCode::OK,
        &discovery::resource_type(rt, &base_url(&state, &tenant)),
    ))
}

async fn schemas(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
) -> Response {
    let all = discovery::schemas(&base_url(&state, &tenant));
    scim_json(
        StatusCode::OK,
        &discovery::list_response(all.len() as u64, 1, all),
    )
}

async fn schema(
    State(state): State<AppState>,
    Extension(tenant): Extension<ScimTenant>,
    Path(params): Path<std::collections::HashMap<String, String>>,
) -> Result<Response, ScimProblem> {
    let urn = params.get("urn").map(String::as_str).unwrap_or_default();
    let found = discovery::schemas(&base_url(&state, &tenant))
        .into_iter()
        .find(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(urn))
        })
        .ok_or_else(|| ScimError::not_found(format!("no schema {urn:?}")))?;
    Ok(scim_json(StatusCode::OK, &found))
}

/// The `{id}` of a resource path. Anything that is not a UUID names no resource: 404,
/// the same answer as an id of another tenant.
fn resource_id(params: &std::collections::HashMap<String, String>) -> Result<Uuid, ScimProblem> {
    params
        .get("id")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| ScimProblem(ScimError::not_found("resource not found")))
}

/// The write a request asks, as the directory records it.
fn scim_request(tenant: &ScimTenant, meta: RequestMeta) -> ScimRequest {
    ScimRequest {
        tenant: tenant.tenant.clone(),
        token_id: tenant.token_id,
        method: meta.method,
        path: meta.path,
        request_id: meta.request_id,
    }
}

/// The tenant's SCIM base, for `meta.location` and `$ref`.
fn base<'a>(state: &'a AppState, tenant: &'a ScimTenant) -> Base<'a> {
    Base {
        public_url: &state.app.config.public_url,
        slug: &tenant.tenant.slug,
    }
}

/// A SCIM resource answer with its `ETag` (and `Location`, for a create).
fn answer(status: StatusCode, body: Vec<u8>, version: i64, location: Option<String>) -> Response {
    let mut response = scim_json_text(status, body);
    if let Ok(etag) = HeaderValue::from_str(&render::etag(version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
