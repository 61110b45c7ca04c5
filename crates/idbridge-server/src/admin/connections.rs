//! A tenant's connections: `/tenants/{slug}/connections[/{id}[/test]]`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use idbridge_app::connections::SamlTestStarted;
use idbridge_app::idp_connections::{self, ConnectionChange, ConnectionView, NewConnection};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath};

/// The tenant's connections, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    pub data: Vec<ConnectionView>,
}

#[utoipa::path(
    get, path = "/tenants/{slug}/connections", tag = "connections",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "Every connection, the tenant's SAML connection (`PUT …/saml`) included", body = ConnectionList),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_connections(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
) -> Result<Json<ConnectionList>, AdminError> {
    Ok(Json(ConnectionList {
        data: idp_connections::list(&state.app, &slug).await?,
    }))
}

#[utoipa::path(
    post, path = "/tenants/{slug}/connections", tag = "connections",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body = NewConnection,
    responses(
        (status = 201, description = "The connection; an OIDC issuer's discovery was fetched and checked first. The client secret is never returned", body = ConnectionView),
        (status = 400, description = "Invalid fields, an issuer whose discovery cannot be used, or no --secret-key to store the client secret with", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn create_connection(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
    AdminJson(body): AdminJson<serde_json::Value>,
) -> Result<(StatusCode, Json<ConnectionView>), AdminError> {
    let view = idp_connections::create(&state.app, &slug, body, &audit).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/connections/{id}", tag = "connections",
    params(
        ("slug" = String, Path, description = "Tenant slug"),
        ("id" = String, Path, description = "Connection id"),
    ),
    responses(
        (status = 200, description = "The connection", body = ConnectionView),
        (status = 404, description = "No such tenant or connection", body = ErrorBody),
    )
)]
pub async fn get_connection(
    State(state): State<AppState>,
    AdminPath((slug, id)): AdminPath<(String, String)>,
) -> Result<Json<ConnectionView>, AdminError> {
    Ok(Json(idp_connections::get(&state.app, &slug, &id).await?))
}

#[utoipa::path(
    patch, path = "/tenants/{slug}/connections/{id}", tag = "connections",
    params(
        ("slug" = String, Path, description = "Tenant slug"),
        ("id" = String, Path, description = "Connection id"),
    ),
    request_body = ConnectionChange,
    responses(
        (status = 200, description = "The connection as changed; a SAML connection also takes the fields of PUT …/saml", body = ConnectionView),
        (status = 400, description = "Invalid fields", body = ErrorBody),
        (status = 404, description = "No such tenant or connection", body = ErrorBody),
    )
)]
pub async fn update_connection(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath((slug, id)): AdminPath<(String, String)>,
    AdminJson(body): AdminJson<serde_json::Value>,
) -> Result<Json<ConnectionView>, AdminError> {
    Ok(Json(
        idp_connections::patch(&state.app, &slug, &id, body, &audit).await?,
    ))
}

#[utoipa::path(
    delete, path = "/tenants/{slug}/connections/{id}", tag = "connections",
    params(
        ("slug" = String, Path, description = "Tenant slug"),
        ("id" = String, Path, description = "Connection id"),
    ),
    responses(
        (status = 204, description = "Removed (for the tenant's SAML connection, its SAML settings too)"),
        (status = 404, description = "No such tenant or connection", body = ErrorBody),
    )
)]
pub async fn delete_connection(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath((slug, id)): AdminPath<(String, String)>,
) -> Result<StatusCode, AdminError> {
    idp_connections::delete(&state.app, &slug, &id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/tenants/{slug}/connections/{id}/test", tag = "connections",
    params(
        ("slug" = String, Path, description = "Tenant slug"),
        ("id" = String, Path, description = "Connection id"),
    ),
    responses(
        (status = 201, description = "A test sign-in through this connection, valid for 10 minutes", body = SamlTestStarted),
        (status = 404, description = "No such tenant or connection", body = ErrorBody),
    )
)]
pub async fn test_connection(
    State(state): State<AppState>,
    AdminPath((slug, id)): AdminPath<(String, String)>,
) -> Result<(StatusCode, Json<SamlTestStarted>), AdminError> {
    Ok((
        StatusCode::CREATED,
        Json(
            idp_connections::start_test(
                &state.app,
                &slug,
                &id,
                idbridge_app::sign_in::TestFrom::Api,
            )
            .await?,
        ),
    ))
}
