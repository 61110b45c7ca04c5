//! A tenant's email domains and the lookup that routes an email to its tenant.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::pagination::{List, ListParams};
use crate::AppState;
use crate::error::{AdminError, ErrorBody};
use crate::extract::{AdminAudit, AdminJson, AdminPath, AdminQuery};
use idbridge_app::domains::{self, AddDomain};
use idbridge_app::views::{DomainView, LookupConnection, LookupView};

#[utoipa::path(
    post, path = "/tenants/{slug}/domains", tag = "domains",
    params(("slug" = String, Path, description = "Tenant slug")),
    request_body = AddDomain,
    responses(
        (status = 201, description = "Claimed, pending: publish `txt_record`, then call verify", body = DomainView),
        (status = 200, description = "The tenant already claims this domain; the same record applies", body = DomainView),
        (status = 400, description = "Not a domain name, or a public mail provider's domain (`invalid_domain`, `public_mail_domain`)", body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 409, description = "Another tenant verified this domain (`claimed_by_another_tenant`)", body = ErrorBody),
    )
)]
pub async fn add_domain(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath(slug): AdminPath<String>,
    AdminJson(input): AdminJson<AddDomain>,
) -> Result<impl IntoResponse, AdminError> {
    let (domain, created) = domains::add(&state.app, &slug, input, &audit).await?;
    let domain = DomainView::from(domain);
    let location = format!("/api/v1/tenants/{slug}/domains/{}", domain.domain);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, [(header::LOCATION, location)], Json(domain)))
}

#[utoipa::path(
    get, path = "/tenants/{slug}/domains", tag = "domains",
    params(("slug" = String, Path, description = "Tenant slug"), ListParams),
    responses(
        (status = 200, description = "The tenant's domains, oldest claim first", body = List<DomainView>),
        (status = 404, description = "No such tenant", body = ErrorBody),
    )
)]
pub async fn list_domains(
    State(state): State<AppState>,
    AdminPath(slug): AdminPath<String>,
    AdminQuery(params): AdminQuery<ListParams>,
) -> Result<Json<List<DomainView>>, AdminError> {
    let page = domains::list(&state.app, &slug, params.page_request()?).await?;
    Ok(Json(List::from_page(page, DomainView::from)))
}

#[utoipa::path(
    post, path = "/tenants/{slug}/domains/{domain}/verify", tag = "domains",
    params(
        ("slug" = String, Path, description = "Tenant slug"),
        ("domain" = String, Path, description = "The domain"),
    ),
    responses(
        (status = 200, description = "DNS was asked now: `verified`, and `verification_error` when not", body = DomainView),
        (status = 404, description = "No such tenant, or the tenant does not claim this domain", body = ErrorBody),
        (status = 409, description = "Another tenant verified this domain (`claimed_by_another_tenant`)", body = ErrorBody),
    )
)]
pub async fn verify_domain(
    State(state): State<AppState>,
    AdminPath((slug, domain)): AdminPath<(String, String)>,
    AdminAudit(audit): AdminAudit,
) -> Result<Json<DomainView>, AdminError> {
    Ok(Json(
        domains::verify(&state.app, &slug, &domain, &audit)
            .await?
            .into(),
    ))
}

#[utoipa::path(
    delete, path = "/tenants/{slug}/domains/{domain}", tag = "domains",
    params(
        ("slug" = String, Path, description = "Tenant slug"),
        ("domain" = String, Path, description = "The domain"),
    ),
    responses(
        (status = 204, description = "Removed; emails at this domain no longer lead to the tenant"),
        (status = 404, description = "No such tenant or domain", body = ErrorBody),
    )
)]
pub async fn delete_domain(
    State(state): State<AppState>,
    AdminAudit(audit): AdminAudit,
    AdminPath((slug, domain)): AdminPath<(String, String)>,
) -> Result<StatusCode, AdminError> {
    domains::delete(&state.app, &slug, &domain, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupParams {
    /// The address someone signs in with.
    #[param(example = "jane@example.com")]
    pub email: String,
}

#[utoipa::path(
    get, path = "/lookup", tag = "domains",
    params(LookupParams),
    responses(
        (status = 200, description = "The tenant whose verified domain the address is at, or null", body = LookupView),
        (status = 400, description = "Not an email address (`invalid_email`)", body = ErrorBody),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    AdminQuery(params): AdminQuery<LookupParams>,
) -> Result<Json<LookupView>, AdminError> {
    let tenant = domains::tenant_for_email(&state.app, &params.email).await?;
    let connection = match &tenant {
        Some(t) => idbridge_app::idp_connections::for_lookup(&state.app, t, &params.email)
            .await?
            .map(|c| LookupConnection {
                id: c.id,
                kind: c.kind,
                name: c.name,
            }),
        None => None,
    };
    Ok(Json(LookupView {
        sso_required: tenant.as_ref().is_some_and(|t| t.sso_required),
        tenant: tenant.map(|t| t.slug.to_string()),
        connection,
    }))
}
