//! The admin API (`/api/v1`): tenants, OIDC clients, SCIM tokens, the directory,
//! roles, SAML connections, domains, setup links and webhooks. Handlers are thin:
//! extract, call the application's operation (`idbridge_app`), answer with its view.
//! The OpenAPI document is generated from the handlers' annotations, so it cannot
//! drift from the routes.

mod audit;
mod auth;
mod branding;
mod clients;
mod connections;
pub mod directory;
mod domains;
pub mod pagination;
pub mod roles;
pub mod saml;
mod scim_tokens;

pub mod setup_links;
mod tenants;
mod users;
pub mod webhooks;

use axum::Router;
use axum::middleware::from_fn_with_state;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use idbridge_app::credentials::AdminPrincipal;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "idbridge admin API",
        description = "Operator API of idbridge: tenants, OIDC clients, SCIM tokens, SAML \
                       connections and email domains. \
                       Every request carries `Authorization: Bearer <admin API key>`.",
    ),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth),
    security(("admin_api_key" = [])),
    tags(
        (name = "tenants", description = "The app's enterprise customers"),
        (name = "clients", description = "OIDC clients: the app's side of sign-in"),
        (name = "scim-tokens", description = "Bearer tokens for a tenant's SCIM endpoint"),
        (name = "directory", description = "A tenant's users, groups, events and provisioning log"),
        (name = "roles", description = "App roles and how each tenant's IdP roles and groups map to them"),
        (name = "saml", description = "A tenant's SAML connection to its IdP"),
        (name = "connections", description = "A tenant's IdP connections, SAML and OpenID Connect, and which one a sign-in goes through"),
        (name = "domains", description = "Email domains a tenant proves with a DNS TXT record, and the lookup from an email to its tenant"),
        (name = "setup-links", description = "Links that let a tenant's IT admin into the setup portal for that tenant, without an account"),
        (name = "audit", description = "Every change made through the admin API, the console, the setup portal and the CLI: who, what, when, from where"),
        (name = "webhooks", description = "Endpoints that receive every tenant's events as signed POSTs, their delivery state and replay"),
        (name = "branding", description = "The app's name, logo, accent colour, support contact and return URL shown to tenants' IT admins and users instead of idbridge's"),
    )
)]
struct AdminApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The admin routes (relative to `/api/v1`) and their OpenAPI document.
pub fn router(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, openapi) = OpenApiRouter::with_openapi(AdminApiDoc::openapi())
        .routes(routes!(tenants::create_tenant, tenants::list_tenants))
        .routes(routes!(
            tenants::get_tenant,
            tenants::update_tenant,
            tenants::delete_tenant
        ))
        .routes(routes!(clients::create_client, clients::list_clients))
        .routes(routes!(clients::get_client, clients::delete_client))
        .routes(routes!(
            scim_tokens::create_scim_token,
            scim_tokens::list_scim_tokens
        ))
        .routes(routes!(scim_tokens::revoke_scim_token))
        .routes(routes!(directory::list_users, users::create_user))
        .routes(routes!(
            directory::get_user,
            users::update_user,
            users::delete_user
        ))
        .routes(routes!(audit::list_audit_log))
        .routes(routes!(users::list_mail))
        .routes(routes!(directory::list_groups))
        .routes(routes!(directory::list_events))
        .routes(routes!(directory::list_provisioning_log))
        .routes(routes!(roles::get_app_roles, roles::put_app_roles))
        .routes(routes!(branding::get_branding, branding::put_branding))
        .routes(routes!(branding::put_logo, branding::delete_logo))
        .routes(routes!(roles::get_role_mappings, roles::put_role_mappings))
        .routes(routes!(saml::get_saml, saml::put_saml))
        .routes(routes!(saml::test_saml))
        .routes(routes!(saml::rotate_sp_key))
        .routes(routes!(
            connections::list_connections,
            connections::create_connection
        ))
        .routes(routes!(
            connections::get_connection,
            connections::update_connection,
            connections::delete_connection
        ))
        .routes(routes!(connections::test_connection))
        .routes(routes!(directory::list_sign_ins))
        .routes(routes!(domains::add_domain, domains::list_domains))
        .routes(routes!(domains::verify_domain))
        .routes(routes!(domains::delete_domain))
        .routes(routes!(domains::lookup))
        .routes(routes!(
            setup_links::create_setup_link,
            setup_links::list_setup_links
        ))
        .routes(routes!(setup_links::revoke_setup_link))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::webhook_tenants))
        .routes(routes!(webhooks::webhook_attempts))
        .routes(routes!(webhooks::replay_webhook))
        .split_for_parts();
    let router = router.route_layer(from_fn_with_state(state.clone(), auth::require_admin));
    (router, openapi)
}
