//! The Assertion Consumer Service, `POST /saml/{slug}/acs` (HTTP-POST binding).
//!
//! Order matters: the tenant and its connection; the response verified
//! (`idbridge_saml::verify`: parse, gate, xmlsec, rules); the AuthnRequest it answers
//! consumed (or, unsolicited, allowed by the tenant); the assertion recorded in the
//! replay cache. Only then is anything read about the user. Every outcome after the
//! tenant is known is a sign-in event with its reason.
//!
//! Built so far: the whole verification, and completion of "test connection"
//! sign-ins (a page for the admin with what the IdP sent). Not built yet: completing
//! a sign-in for the app (JIT user, authorization code, redirect), which answers 501
//! with a page that says so, and is logged with the reason
//! `sign_in_completion_unavailable`.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_saml::response::{Expectations, ValidAssertion};
use idbridge_saml::verify::{decode_post_value, verify_response};
use idbridge_saml::{Certificate, claims};
use idbridge_store::{SamlConnection, SignInEvent, Tenant};
use serde::Deserialize;
use uuid::Uuid;

use super::page::escape_html;
use super::{FlowError, endpoints, tenant, unavailable};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

fn refuse(status: StatusCode, reason: &'static str, message: impl Into<String>) -> FlowError {
    FlowError::new(status, reason, message)
}

pub async fn acs(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    form: Result<Form<AcsForm>, FormRejection>,
) -> Response {
    let tenant = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(e) => return e.page(&headers),
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut log = SignInEvent {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        occurred_at: state.clock.now(),
        success: false,
        reason: None,
        detail: None,
        email: None,
        user_id: None,
        test: false,
        request_id,
    };
    let outcome = consume(&state, &tenant, form, &mut log).await;
    match &outcome {
        Ok(_) => log.success = true,
        Err(e) => {
            log.reason = Some(e.reason.to_owned());
            log.detail = Some(e.message.clone());
            tracing::info!(tenant = %tenant.slug, reason = e.reason, "SAML sign-in refused");
        }
    }
    if let Err(e) = state.store.record_sign_in(&log).await {
        return unavailable(e).page(&headers);
    }
    match outcome {
        Ok(page) => page,
        Err(e) => e.page(&headers),
    }
}

async fn consume(
    state: &AppState,
    tenant: &Tenant,
    form: Result<Form<AcsForm>, FormRejection>,
    log: &mut SignInEvent,
) -> Result<Response, FlowError> {
    let connection = state
        .store
        .saml_connection(tenant.id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            refuse(
                StatusCode::NOT_FOUND,
                "saml_not_configured",
                "Single sign-on is not set up for this organisation.",
            )
        })?;
    let Ok(Form(form)) = form else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "The sign-in request is not a SAML HTTP-POST form.",
        ));
    };
    let Some(encoded) = form.saml_response else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "The sign-in request carries no SAMLResponse.",
        ));
    };
    let assertion = verify(state, tenant, &connection, &encoded)?;
    log.email = claims::email(&assertion);

    // Which request this answers: one of ours, once, for this tenant; or none.
    let now = state.clock.now();
    let request = match &assertion.in_response_to {
        Some(id) => {
            let request = state
                .store
                .take_saml_request(tenant.id, id, now)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| {
                    refuse(
                        StatusCode::BAD_REQUEST,
                        "unknown_request",
                        "The response answers a sign-in request this service does not have (unknown, expired, or already used). Start the sign-in again.",
                    )
                })?;
            if form.relay_state.as_deref() != Some(request.relay_state.as_str()) {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "relay_state_mismatch",
                    "The response did not come back with the sign-in request's RelayState.",
                ));
            }
            Some(request)
        }
        None if connection.allow_idp_initiated => None,
        None => {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "idp_initiated_refused",
                "This organisation does not accept sign-ins started at the identity provider. Start the sign-in from the app.",
            ));
        }
    };
    log.test = request.as_ref().is_some_and(|r| r.test);
    let fresh = state
        .store
        .remember_assertion(
            tenant.id,
            &assertion.assertion_id,
            assertion.replay_until,
            now,
        )
        .await
        .map_err(unavailable)?;
    if !fresh {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "replayed",
            "This sign-in response was already used.",
        ));
    }

    if log.test {
        return Ok(test_result_page(&assertion));
    }
    Err(refuse(
        StatusCode::NOT_IMPLEMENTED,
        "sign_in_completion_unavailable",
        "The identity provider's response is valid, but completing the sign-in for the app (user provisioning and the authorization code) is not available yet.",
    ))
}

fn verify(
    state: &AppState,
    tenant: &Tenant,
    connection: &SamlConnection,
    encoded: &str,
) -> Result<ValidAssertion, FlowError> {
    let certificates: Vec<Certificate> = connection
        .idp_certificates
        .iter()
        .filter_map(|b64| Certificate::from_base64(b64).ok())
        .collect();
    let sp = endpoints(state, tenant);
    let expect = Expectations {
        idp_entity_id: &connection.idp_entity_id,
        sp_entity_id: &sp.entity_id,
        acs_url: &sp.acs_url,
        now: state.clock.now(),
        clock_skew: time::Duration::seconds(connection.clock_skew_seconds),
        want_response_signed: connection.want_response_signed,
        want_assertions_signed: connection.want_assertions_signed,
    };
    let bytes = decode_post_value(encoded)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.reason(), e.to_string()))?;
    verify_response(&bytes, &certificates, &expect).map_err(|e| {
        let status = match e.reason() {
            "signature_invalid" | "signature_missing" => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        refuse(
            status,
            e.reason(),
            format!("The identity provider's response was refused: {e}."),
        )
    })
}

/// What an admin sees at the end of "test connection": the claims as received.
fn test_result_page(assertion: &ValidAssertion) -> Response {
    let mut rows = String::new();
    for (name, values) in &assertion.attributes {
        rows.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape_html(name),
            escape_html(&values.join(", "))
        ));
    }
    let name_id = assertion
        .name_id
        .as_ref()
        .map(|n| escape_html(&n.value))
        .unwrap_or_default();
    let email = claims::email(assertion)
        .map(|e| escape_html(&e))
        .unwrap_or_else(|| "(none: add an <code>email</code> claim)".into());
    let display = claims::display_name(assertion)
        .map(|n| escape_html(&n))
        .unwrap_or_default();
    let body = format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>Test connection succeeded</title><style>",
            "body{{font-family:system-ui,sans-serif;max-width:48rem;margin:3rem auto;padding:0 1rem;color:#1f2933}}",
            "table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d9e2ec;vertical-align:top;word-break:break-all}}",
            "</style></head><body><h1>Test connection succeeded</h1>",
            "<p>The identity provider's response was signed, addressed to this service, and valid. No sign-in to the app took place.</p>",
            "<dl><dt>Email</dt><dd>{email}</dd><dt>Name</dt><dd>{display}</dd><dt>NameID</dt><dd>{name_id}</dd></dl>",
            "<h2>Claims received</h2><table>{rows}</table></body></html>"
        ),
        email = email,
        display = display,
        name_id = name_id,
        rows = rows,
    );
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
