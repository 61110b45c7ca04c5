//! Setup links: how the operator lets a tenant's IT admin into the setup portal of
//! that one tenant, without an idbridge account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use uuid::Uuid;

use super::pagination::{List, ListParams};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath, AdminQuery};
use idbridge_app::setup_links::{
    self as service, CreateSetupLink, SetupLinkCreated, SetupLinkView,
};

#[utoipa::path(
    post, path = "/tenants/{slug}/setup-links", tag = "setup-links",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body = CreateSetupLink,
    responses(
        (status = 201, description = "Created; `url` is shown only here", body = SetupLinkCreated),
        (status = 400, description = "Bad lifetime, provider or note", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn create_setup_link(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
    AdminJson(input): AdminJson<CreateSetupLink>,
) -> Result<impl IntoResponse, AdminError> {
    let created = service::create_setup_link(&state.app, &slug, input, &audit).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/setup-links", tag = "setup-links",
    params(("slug" = String, Path, description = "Tenant slug"), ListParams),
    responses(
        (status = 200, description = "The tenant's setup links, newest first (never their URLs)", body = List<SetupLinkView>),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_setup_links(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<SetupLinkView>>, AdminError> {
    Ok(Json(
        service::list_setup_links(&state.app, &slug, params.page_request()?).await?,
    ))
}

#[utoipa::path(
    delete, path = "/tenants/{slug}/setup-links/{id}", tag = "setup-links",
    params(
        ("slug" = String, Path, description = "Tenant slug"),
        ("id" = Uuid, Path, description = "Setup link id"),
    ),
    responses(
        (status = 204, description = "Revoked: the link and every portal session opened with it stop working at once"),
        (status = 404, description = "No such tenant or link", body = ErrorBody),
    )
)]
pub async fn revoke_setup_link(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath((slug, id)): AdminPath<(String, Uuid)>,
) -> Result<StatusCode, AdminError> {
    service::revoke_setup_link(&state.app, &slug, id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
