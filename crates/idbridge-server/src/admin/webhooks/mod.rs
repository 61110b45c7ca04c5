//! Webhook endpoints: registration, secrets, delivery state per tenant, attempts
//! and replay. Delivery itself is [`idbridge_app::webhooks::delivery`].

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use uuid::Uuid;

use super::pagination::{List, ListParams};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath, AdminQuery};
use idbridge_app::webhooks::{
    self as service, CreateWebhook, ReplayView, ReplayWebhook, UpdateWebhook, WebhookAttemptView,
    WebhookCreated, WebhookTenantView, WebhookView,
};

#[utoipa::path(
    post, path = "/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Endpoint created; it receives events from now on. `secret` is shown only here", body = WebhookCreated),
        (status = 400, description = "Unusable URL (`invalid_webhook_url`) or event types", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminJson(input): AdminJson<CreateWebhook>,
) -> Result<impl IntoResponse, AdminError> {
    let created = service::create_webhook(&state.app, input, &audit).await?;
    let location = format!("/api/v1/webhooks/{}", created.webhook.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    ))
}

#[utoipa::path(
    get, path = "/webhooks", tag = "webhooks",
    params(ListParams),
    responses((status = 200, description = "A page of endpoints, oldest first", body = List<WebhookView>))
)]
pub async fn list_webhooks(
    State(state): State<AppState>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<WebhookView>>, AdminError> {
    Ok(Json(
        service::list_webhooks(&state.app, params.page_request()?).await?,
    ))
}

#[utoipa::path(
    get, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint (never its secret)", body = WebhookView),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    )
)]
pub async fn get_webhook(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<Uuid>,
) -> Result<Json<WebhookView>, AdminError> {
    Ok(Json(service::get_webhook(&state.app, id).await?))
}

#[utoipa::path(
    patch, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, description = "Changed", body = WebhookView),
        (status = 400, description = "Unusable URL or event types", body = ErrorBody),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    )
)]
pub async fn update_webhook(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(id): AdminPath<Uuid>,
    AdminJson(input): AdminJson<UpdateWebhook>,
) -> Result<Json<WebhookView>, AdminError> {
    Ok(Json(
        service::update_webhook(&state.app, id, input, &audit).await?,
    ))
}

#[utoipa::path(
    delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted, with its delivery state and attempts"),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    )
)]
pub async fn delete_webhook(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(id): AdminPath<Uuid>,
) -> Result<StatusCode, AdminError> {
    service::delete_webhook(&state.app, id, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "A new secret, shown only here; the previous one also signs for 24 hours", body = WebhookCreated),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    )
)]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(id): AdminPath<Uuid>,
) -> Result<Json<WebhookCreated>, AdminError> {
    Ok(Json(
        service::rotate_webhook_secret(&state.app, id, &audit).await?,
    ))
}

#[utoipa::path(
    get, path = "/webhooks/{id}/tenants", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id"), ListParams),
    responses(
        (status = 200, description = "Delivery state per tenant: position, retries, dead letters", body = List<WebhookTenantView>),
        (status = 404, description = "No such endpoint", body = ErrorBody),
    )
)]
pub async fn webhook_tenants(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<Uuid>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<WebhookTenantView>>, AdminError> {
    Ok(Json(
        service::webhook_tenants(&state.app, id, params.page_request()?).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptParams {
    /// Only this tenant's attempts.
    pub tenant: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/webhooks/{id}/attempts", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id"), AttemptParams),
    responses(
        (status = 200, description = "Delivery attempts, newest first (kept 30 days)", body = List<WebhookAttemptView>),
        (status = 404, description = "No such endpoint or tenant", body = ErrorBody),
    )
)]
pub async fn webhook_attempts(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<Uuid>,
    AdminQuery(params): AdminQuery<AttemptParams>,
) -> Result<Json<List<WebhookAttemptView>>, AdminError> {
    let page = ListParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .page_request()?;
    Ok(Json(
        service::webhook_attempts(&state.app, id, params.tenant.as_deref(), page).await?,
    ))
}

#[utoipa::path(
    post, path = "/webhooks/{id}/replay", tag = "webhooks",
    params(("id" = Uuid, Path, description = "Endpoint id")),
    request_body = ReplayWebhook,
    responses(
        (status = 200, description = "Deliveries resumed (dead letters) or rewound (`from_seq`)", body = ReplayView),
        (status = 400, description = "Inconsistent options", body = ErrorBody),
        (status = 404, description = "No such endpoint or tenant", body = ErrorBody),
    )
)]
pub async fn replay_webhook(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<Uuid>,
    AdminAudit(audit): AdminAudit,
    AdminJson(input): AdminJson<ReplayWebhook>,
) -> Result<Json<ReplayView>, AdminError> {
    Ok(Json(
        service::replay_webhook(&state.app, id, input, &audit).await?,
    ))
}
