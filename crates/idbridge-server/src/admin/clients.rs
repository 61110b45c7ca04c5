use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use uuid::Uuid;

use super::pagination::{List, ListParams};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath, AdminQuery};
use idbridge_app::clients::{self, CreateClient};
use idbridge_app::views::{ClientCreated, ClientView};

#[utoipa::path(
    post, path = "/clients", tag = "clients",
    request_body = CreateClient,
    responses(
        (status = 201, description = "Client created; `client_secret` is shown only here", body = ClientCreated),
        (status = 400, description = "Invalid name or redirect URIs", body = ErrorBody),
    )
)]
pub async fn create_client(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminJson(input): AdminJson<CreateClient>,
) -> Result<impl IntoResponse, AdminError> {
    let created = ClientCreated::from(clients::create(&state.app, input, &audit).await?);
    let location = format!("/api/v1/clients/{}", created.client.client_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    ))
}

#[utoipa::path(
    get, path = "/clients", tag = "clients",
    params(ListParams),
    responses((status = 200, description = "A page of clients, oldest first", body = List<ClientView>))
)]
pub async fn list_clients(
    State(state): State<AppState>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<ClientView>>, AdminError> {
    let page = clients::list(&state.app, params.page_request()?).await?;
    Ok(Json(List::from_page(page, ClientView::from)))
}

#[utoipa::path(
    get, path = "/clients/{client_id}", tag = "clients",
    params(("client_id" = Uuid, Path, description = "The OAuth client_id")),
    responses(
        (status = 200, description = "The client (never its secret)", body = ClientView),
        (status = 404, description = "No such client", body = ErrorBody),
    )
)]
pub async fn get_client(
    State(state): State<AppState>,
    AdminPath(client_id): AdminPath<Uuid>,
) -> Result<Json<ClientView>, AdminError> {
    Ok(Json(clients::get(&state.app, client_id).await?.into()))
}

#[utoipa::path(
    delete, path = "/clients/{client_id}", tag = "clients",
    params(("client_id" = Uuid, Path, description = "The OAuth client_id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such client", body = ErrorBody),
    )
)]
pub async fn delete_client(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(client_id): AdminPath<Uuid>,
) -> Result<StatusCode, AdminError> {
    clients::delete(&state.app, client_id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
