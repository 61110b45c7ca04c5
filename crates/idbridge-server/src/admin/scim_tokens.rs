use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use uuid::Uuid;

use super::pagination::{List, ListParams};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminPath, AdminQuery, OptionalAdminJson};
use idbridge_app::credentials::{self, CreateScimToken};
use idbridge_app::views::{ScimTokenCreated, ScimTokenView};

#[utoipa::path(
    post, path = "/tenants/{slug}/scim-tokens", tag = "scim-tokens",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body(content = Option<CreateScimToken>, description = "Optional; an empty body is fine"),
    responses(
        (status = 201, description = "Token created; `token` is shown only here", body = ScimTokenCreated),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn create_scim_token(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
    OptionalAdminJson(input): OptionalAdminJson<CreateScimToken>,
) -> Result<impl IntoResponse, AdminError> {
    let issued =
        credentials::issue_scim_token(&state.app, &slug, input.unwrap_or_default(), &audit).await?;
    let created = ScimTokenCreated::new(issued, &state.app.config.public_url);
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/scim-tokens", tag = "scim-tokens",
    params(("slug" = String, Path, description = "Tenant slug"), ListParams),
    responses(
        (status = 200, description = "The tenant's tokens (never the tokens themselves)", body = List<ScimTokenView>),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_scim_tokens(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<ScimTokenView>>, AdminError> {
    let page = credentials::list_scim_tokens(&state.app, &slug, params.page_request()?).await?;
    Ok(Json(List::from_page(page, ScimTokenView::from)))
}

#[utoipa::path(
    delete, path = "/tenants/{slug}/scim-tokens/{id}", tag = "scim-tokens",
    params(
        ("slug" = String, Path, description = "Tenant slug"),
        ("id" = Uuid, Path, description = "Token id"),
    ),
    responses(
        (status = 204, description = "Revoked; the token stops working at once on every node"),
        (status = 404, description = "No such tenant or token", body = ErrorBody),
    )
)]
pub async fn revoke_scim_token(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath((slug, id)): AdminPath<(String, Uuid)>,
) -> Result<StatusCode, AdminError> {
    credentials::revoke_scim_token(&state.app, &slug, id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
