//! The SAML service provider's browser routes, under `/saml/{slug}`: `metadata`,
//! `login` (SP-initiated) and `acs`. The rules are the application's
//! ([`idbridge_app::sign_in`]); these handlers read the request, call it, and
//! answer with a redirect, a document, or a page.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use idbridge_app::sign_in::{self, SamlPost, SignInOutcome, SignInRefusal};
use serde::Deserialize;

use crate::web::flow::{
    SAML_POST_SCRIPT, refusal_page, saml_post_page, test_refused_page, test_result_page,
};
use crate::web::{Form, Query};

use crate::{AppState, rate_limit};

/// Largest ACS form read: a SAMLResponse decodes to at most 256 KiB of XML.
const ACS_BODY_LIMIT: usize = 512 * 1024;

/// `login` and `acs` are open to anyone and write rows (an AuthnRequest; a sign-in
/// log entry for every refusal), so each client address has a budget on them
/// ([`crate::rate_limit`]), checked before the body is read.
/// A SAML route's place: the tenant, and which of its SAML connections (none in
/// the path: its first, at `/saml/{slug}`; a further one at
/// `/saml/{slug}/c/{connection}`).
#[derive(Debug, Deserialize)]
pub struct SamlPath {
    slug: String,
    #[serde(default)]
    connection: Option<String>,
}

impl SamlPath {
    /// The connection the path names; a segment that is not an id is no such
    /// connection.
    fn connection(&self) -> Result<Option<uuid::Uuid>, SignInRefusal> {
        self.connection
            .as_deref()
            .map(|raw| uuid::Uuid::parse_str(raw).map_err(|_| SignInRefusal::UnknownConnection))
            .transpose()
    }
}

pub fn router(state: &AppState) -> Router<AppState> {
    let limited = || axum::middleware::from_fn_with_state(state.clone(), rate_limit::enforce);
    Router::new()
        .route("/metadata", get(metadata))
        .route("/login", get(login).layer(limited()))
        .route("/post", get(post_form))
        .route(
            "/acs",
            axum::routing::post(acs)
                .layer(axum::extract::DefaultBodyLimit::max(ACS_BODY_LIMIT))
                .layer(limited()),
        )
}

/// SP metadata, served as soon as the tenant exists.
async fn metadata(
    State(state): State<AppState>,
    Path(path): Path<SamlPath>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let connection = match path.connection() {
        Ok(connection) => connection,
        Err(refusal) => return Err(refusal_page(&state.app, &refusal, &headers).await),
    };
    Ok(
        match sign_in::sp_metadata(&state.app, &path.slug, connection).await {
            Ok(xml) => (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/samlmetadata+xml"),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_static("inline; filename=\"idbridge-sp-metadata.xml\""),
                    ),
                ],
                xml,
            )
                .into_response(),
            Err(refusal) => refusal_page(&state.app, &refusal, &headers).await,
        },
    )
}

/// SP-initiated sign-in opened directly (no app request): the sign-in will land at
/// the connection's `default_redirect_uri`.
async fn login(
    State(state): State<AppState>,
    Path(path): Path<SamlPath>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let connection = match path.connection() {
        Ok(connection) => connection,
        Err(refusal) => return Err(refusal_page(&state.app, &refusal, &headers).await),
    };
    Ok(
        match sign_in::start_saml(&state.app, &path.slug, connection, None, None).await {
            Ok(location) => redirect(StatusCode::FOUND, &location),
            Err(refusal) => refusal_page(&state.app, &refusal, &headers).await,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct PostQuery {
    request: String,
}

/// The HTTP-POST binding, for IdPs whose metadata offers only it: the page that
/// posts the stored AuthnRequest to the IdP.
async fn post_form(
    State(state): State<AppState>,
    Path(path): Path<SamlPath>,
    Query(query): Query<PostQuery>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let connection = match path.connection() {
        Ok(connection) => connection,
        Err(refusal) => return Err(refusal_page(&state.app, &refusal, &headers).await),
    };
    Ok(
        match sign_in::saml_post_form(&state.app, &path.slug, connection, &query.request).await {
            Ok(form) => saml_post_page(&form),
            Err(refusal) => refusal_page(&state.app, &refusal, &headers).await,
        },
    )
}

/// The script of the HTTP-POST binding's page (served from this origin: the page's
/// policy allows no inline script).
pub async fn post_script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        SAML_POST_SCRIPT,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The Assertion Consumer Service, `POST /saml/{slug}/acs` (HTTP-POST binding).
async fn acs(
    State(state): State<AppState>,
    Path(path): Path<SamlPath>,
    headers: HeaderMap,
    form: Result<Form<AcsForm>, crate::web::InputRefused>,
) -> Result<Response, Response> {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let post = match form {
        Ok(Form(form)) => SamlPost {
            is_form: true,
            saml_response: form.saml_response,
            relay_state: form.relay_state,
            request_id,
        },
        Err(_) => SamlPost {
            request_id,
            ..SamlPost::default()
        },
    };
    let connection = match path.connection() {
        Ok(connection) => connection,
        Err(refusal) => return Err(refusal_page(&state.app, &refusal, &headers).await),
    };
    Ok(
        match sign_in::complete_saml(&state.app, &path.slug, connection, post).await {
            Ok(SignInOutcome::App { redirect: target }) => {
                redirect(StatusCode::SEE_OTHER, target.as_str())
            }
            Ok(SignInOutcome::Test(result)) => test_result_page(&state.app, &result).await,
            Ok(SignInOutcome::TestRefused(refused)) => {
                test_refused_page(&state.app, &refused, &headers).await
            }
            Err(refusal) => refusal_page(&state.app, &refusal, &headers).await,
        },
    )
}

/// A redirect nobody caches (it may carry a code).
pub(crate) fn redirect(status: StatusCode, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (
            status,
            [
                (header::LOCATION, value),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
