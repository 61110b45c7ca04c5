use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::pagination::{List, ListParams};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath, AdminQuery};
use idbridge_app::tenants::{self, CreateTenant, UpdateTenant};
use idbridge_app::views::{TenantDetail, TenantView};

#[utoipa::path(
    post, path = "/tenants", tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, description = "Tenant created", body = TenantDetail),
        (status = 400, description = "Invalid slug or body", body = ErrorBody),
        (status = 409, description = "The slug is taken", body = ErrorBody),
    )
)]
pub async fn create_tenant(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminJson(input): AdminJson<CreateTenant>,
) -> Result<impl IntoResponse, AdminError> {
    let tenant = TenantDetail::new(
        tenants::create(&state.app, input, &audit).await?,
        &state.app.config.public_url,
    );
    let location = format!("/api/v1/tenants/{}", tenant.tenant.slug);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(tenant),
    ))
}

#[utoipa::path(
    get, path = "/tenants", tag = "tenants",
    params(ListParams),
    responses((status = 200, description = "A page of tenants, oldest first", body = List<TenantView>))
)]
pub async fn list_tenants(
    State(state): State<AppState>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<TenantView>>, AdminError> {
    let page = tenants::list(&state.app, params.page_request()?).await?;
    Ok(Json(List::from_page(page, TenantView::from)))
}

#[utoipa::path(
    get, path = "/tenants/{slug}", tag = "tenants",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "The tenant with its SAML, SCIM and domain summaries", body = TenantDetail),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn get_tenant(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
) -> Result<Json<TenantDetail>, AdminError> {
    let overview = tenants::get(&state.app, &slug).await?;
    Ok(Json(TenantDetail::new(
        overview,
        &state.app.config.public_url,
    )))
}

#[utoipa::path(
    patch, path = "/tenants/{slug}", tag = "tenants",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body = UpdateTenant,
    responses(
        (status = 200, description = "The updated tenant", body = TenantDetail),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn update_tenant(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
    AdminJson(input): AdminJson<UpdateTenant>,
) -> Result<Json<TenantDetail>, AdminError> {
    let overview = tenants::update(&state.app, &slug, input, &audit).await?;
    Ok(Json(TenantDetail::new(
        overview,
        &state.app.config.public_url,
    )))
}

#[utoipa::path(
    delete, path = "/tenants/{slug}", tag = "tenants",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 204, description = "Deleted, with its tokens and directory"),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn delete_tenant(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
) -> Result<StatusCode, AdminError> {
    tenants::delete(&state.app, &slug, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
