//! A tenant's SAML connection: `PUT`/`GET /tenants/{slug}/saml`.

use axum::Json;
use axum::extract::State;
use idbridge_app::connections::{self, PutSamlConnection, SamlConnectionView, SamlTestStarted};
use idbridge_app::tenants;

use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath};

#[utoipa::path(
    get, path = "/tenants/{slug}/saml", tag = "saml",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "The SP values to copy, and the IdP connection if configured", body = SamlConnectionView),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn get_saml(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
) -> Result<Json<SamlConnectionView>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let stored = connections::get(&state.app, tenant).await?;
    Ok(Json(SamlConnectionView::new(&state.app, &stored)))
}

#[utoipa::path(
    put, path = "/tenants/{slug}/saml", tag = "saml",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body = PutSamlConnection,
    responses(
        (status = 200, description = "The connection as stored", body = SamlConnectionView),
        (status = 400, description = "Unusable metadata, or invalid settings", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn put_saml(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
    AdminJson(input): AdminJson<PutSamlConnection>,
) -> Result<Json<SamlConnectionView>, AdminError> {
    let stored = connections::put(&state.app, &slug, input, &audit).await?;
    Ok(Json(SamlConnectionView::new(&state.app, &stored)))
}

#[utoipa::path(
    post, path = "/tenants/{slug}/saml/test", tag = "saml",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 201, description = "A test sign-in, valid for 10 minutes", body = SamlTestStarted),
        (status = 404, description = "No such tenant, or no SAML connection", body = ErrorBody),
    )
)]
pub async fn test_saml(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
) -> Result<(axum::http::StatusCode, Json<SamlTestStarted>), AdminError> {
    Ok((
        axum::http::StatusCode::CREATED,
        Json(
            connections::start_test(&state.app, &slug, idbridge_app::sign_in::TestFrom::Api)
                .await?,
        ),
    ))
}

#[utoipa::path(
    post, path = "/tenants/{slug}/saml/sp-key/rotate", tag = "saml",
    params(("slug" = String, Path, description = "Tenant slug")),
    responses(
        (status = 200, description = "A new SP key pair is published; the previous one still decrypts", body = SamlConnectionView),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
/// Replaces the tenant's SP key pair. The new certificate is in the SP metadata and
/// the view at once; assertions encrypted to the previous certificate still decrypt,
/// so the IdP can switch when it next reads the metadata (or its admin uploads the
/// new certificate).
pub async fn rotate_sp_key(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminAudit(audit): AdminAudit,
) -> Result<Json<SamlConnectionView>, AdminError> {
    let tenant = tenants::find(&state.app, &slug).await?;
    let stored = connections::rotate_sp_key(&state.app, tenant, &audit).await?;
    Ok(Json(SamlConnectionView::new(&state.app, &stored)))
}
