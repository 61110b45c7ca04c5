//! The Assertion Consumer Service, `POST /saml/{slug}/acs` (HTTP-POST binding).
//!
//! Order matters: the tenant and its connection; the response verified
//! (`idbridge_saml::verify`: parse, gate, xmlsec, rules); the AuthnRequest it answers
//! consumed (or, unsolicited, allowed by the tenant); the assertion recorded in the
//! replay cache. Only then is anything read about the user. Every outcome after the
//! tenant is known is a sign-in event with its reason.
//!
//! A sign-in ends either on the "test connection" page (claims for the admin, no
//! code) or, for the app, with the directory user matched by email (userName, then
//! emails) or created just in time, refused if SCIM deactivated them, and an
//! authorization code (60 s, single use, stored as a digest) sent to the redirect
//! URI of the request that started it or the tenant's `default_redirect_uri`.
//!
//! Users SAML created (source `jit`) take their names, role values and group names
//! from every sign-in (`document::with_claims`): a `user.updated` event when that
//! changes something, no write when it does not. Users SCIM provisioned are left as
//! SCIM wrote them, claims included: SCIM is the IdP's authoritative channel for
//! them (Entra and Okta push roles and groups there), a SCIM PUT would wipe
//! anything SAML added, and so the app sees one consistent set of roles for a
//! user, in the directory view and in the ID token alike.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idbridge_core::secret::{AuthorizationCode, SecretHash};
use idbridge_saml::SpDecryptionKey;
use idbridge_saml::claims::UserClaims;
use idbridge_saml::response::{Expectations, ValidAssertion};
use idbridge_saml::verify::{decode_post_value, verify_response};
use idbridge_saml::{Certificate, claims};
use idbridge_store::{
    AuthorizationCodeRecord, DirectoryUser, NewEvent, SamlConnection, SamlRequestState,
    SignInEvent, StoreError, Tenant, UserSource, WriteContext,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use idbridge_app::directory::render::{self, Base};

use super::page::escape_html;
use super::{FlowError, endpoints, tenant_with_connection, unavailable};
use crate::AppState;
use idbridge_app::directory::saml_claims::with_claims;

#[derive(Debug, Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// How long an authorization code may wait for the token endpoint.
pub use idbridge_oidc::CODE_TTL;

fn refuse(status: StatusCode, reason: &'static str, message: impl Into<String>) -> FlowError {
    FlowError::new(status, reason, message)
}

pub async fn acs(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    form: Result<Form<AcsForm>, FormRejection>,
) -> Response {
    let (tenant, connection) = match tenant_with_connection(&state, &slug).await {
        Ok(found) => found,
        Err(e) => return e.page(&headers),
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut log = SignInEvent {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        occurred_at: state.app.clock.now(),
        success: false,
        reason: None,
        detail: None,
        email: None,
        user_id: None,
        test: false,
        request_id,
    };
    let outcome = consume(&state, &tenant, connection, form, &mut log).await;
    match &outcome {
        Ok(_) => log.success = true,
        Err(e) => {
            log.reason = Some(e.reason.to_owned());
            log.detail = Some(e.message.clone());
            tracing::info!(tenant = %tenant.slug, reason = e.reason, "SAML sign-in refused");
        }
    }
    // The log row, its feed event and the code (if one was issued) are one write: a
    // code never exists without its sign-in on record, nor the record without it.
    let code = match &outcome {
        Ok(Finished {
            code: Some((hash, record)),
            ..
        }) => Some((hash, record)),
        _ => None,
    };
    if let Err(e) = state.app.store.record_sign_in(&log, code).await {
        return unavailable(e).page(&headers);
    }
    match outcome {
        Ok(finished) => finished.response,
        Err(e) => e.page(&headers),
    }
}

/// How a sign-in that got through ends: the response to send, and the
/// authorization code to store with its log row.
struct Finished {
    response: Response,
    code: Option<(SecretHash, AuthorizationCodeRecord)>,
}

async fn consume(
    state: &AppState,
    tenant: &Tenant,
    connection: Option<SamlConnection>,
    form: Result<Form<AcsForm>, FormRejection>,
    log: &mut SignInEvent,
) -> Result<Finished, FlowError> {
    let connection = connection.ok_or_else(|| {
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
    let bytes = decode_post_value(&encoded)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.reason(), e.to_string()))?;
    let keys = decryption_keys(state, tenant, &bytes).await?;
    let assertion = verify(state, tenant, &connection, &bytes, &keys)?;
    log.email = email_of(&connection, &assertion);

    // Which request this answers: one of ours, once, for this tenant; or none.
    let now = state.app.clock.now();
    let request = match &assertion.in_response_to {
        Some(id) => {
            let request = state
                .app
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
        .app
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
    if tenant.require_verified_domains {
        require_verified_domain(state, tenant, log.email.as_deref()).await?;
    }

    if log.test {
        let roles = resolved_roles(state, tenant, &claims::user_claims(&assertion)).await?;
        return Ok(Finished {
            response: test_result_page(&connection, &assertion, &roles),
            code: None,
        });
    }
    complete(
        state,
        tenant,
        &connection,
        request.as_ref(),
        &assertion,
        log,
    )
    .await
}

/// The tenant requires verified domains: the email must be at one it verified, or
/// its IdP could sign in someone else's users (anyone can type any address into an
/// IdP's directory).
async fn require_verified_domain(
    state: &AppState,
    tenant: &Tenant,
    email: Option<&str>,
) -> Result<(), FlowError> {
    let domain = email.and_then(|e| idbridge_core::domain::email_domain(e).ok());
    let verified = match &domain {
        Some(domain) => state
            .app
            .store
            .tenant_for_verified_domain(domain.as_str())
            .await
            .map_err(unavailable)?
            .is_some_and(|owner| owner.id == tenant.id),
        None => false,
    };
    if verified {
        return Ok(());
    }
    Err(refuse(
        StatusCode::FORBIDDEN,
        "email_domain_not_verified",
        match domain {
            Some(domain) => format!(
                "This organisation only accepts sign-ins at domains it has verified, and {domain} is not one of them."
            ),
            None => "This organisation only accepts sign-ins at domains it has verified, and the identity provider sent no usable email address.".to_owned(),
        },
    ))
}

/// A verified sign-in for the app: the directory user (matched, or created just in
/// time), an authorization code bound to client, redirect URI, tenant and user, and
/// the redirect that carries it.
async fn complete(
    state: &AppState,
    tenant: &Tenant,
    connection: &SamlConnection,
    request: Option<&SamlRequestState>,
    assertion: &ValidAssertion,
    log: &mut SignInEvent,
) -> Result<Finished, FlowError> {
    // Where the sign-in lands, and for which client: the app's authorization
    // request, or the tenant's default (whose client was resolved when it was saved).
    let oidc = request.and_then(|r| r.oidc.as_ref().zip(r.redirect_uri.as_ref()));
    let (redirect_uri, client_id) = match oidc {
        Some((o, uri)) => (uri.clone(), Some(o.client_id)),
        None => {
            let uri = connection.default_redirect_uri.clone().ok_or_else(|| {
                refuse(
                    StatusCode::CONFLICT,
                    "no_redirect_uri",
                    "The sign-in is valid, but this organisation has no address to return to (its SAML connection needs a default_redirect_uri).",
                )
            })?;
            (uri, connection.default_client_id)
        }
    };
    let oidc = oidc.map(|(o, _)| o);
    let client_id = client_id.ok_or_else(|| {
        refuse(
            StatusCode::CONFLICT,
            "redirect_uri_unregistered",
            "The address to return to is no longer registered by any app.",
        )
    })?;
    // Read once, in `consume`, from the verified assertion.
    let email = log.email.clone().ok_or_else(|| {
        refuse(
            StatusCode::BAD_REQUEST,
            "email_missing",
            "The identity provider sent no email address for the user. Add an \"email\" claim (Entra ID: user.mail).",
        )
    })?;
    let user_claims = claims::user_claims(assertion);
    let user = match state
        .app
        .store
        .user_for_sign_in(tenant.id, &email)
        .await
        .map_err(unavailable)?
    {
        Some(user) if !user.active => return Err(inactive()),
        Some(user) => update_from_claims(state, tenant, user, &user_claims).await?,
        None if tenant.jit_enabled => {
            // A user the organisation's directory deleted is not created again by
            // the next sign-in: only SCIM can bring it back.
            if state
                .app
                .store
                .email_of_deleted_user(tenant.id, &email)
                .await
                .map_err(unavailable)?
            {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    "user_deleted",
                    "This account was removed from the organisation's directory.",
                ));
            }
            create_just_in_time(state, tenant, &user_claims, &email).await?
        }
        None => return Err(not_provisioned()),
    };
    log.user_id = Some(user.id);

    let code = AuthorizationCode::generate();
    let now = state.app.clock.now();
    let record = AuthorizationCodeRecord {
        client_id,
        redirect_uri: redirect_uri.clone(),
        tenant_id: tenant.id,
        user_id: user.id,
        nonce: oidc.and_then(|o| o.nonce.clone()),
        code_challenge: oidc.and_then(|o| o.code_challenge.clone()),
        // An IdP-initiated sign-in grants what every app sign-in needs.
        scope: oidc.map_or_else(|| "openid email profile".to_owned(), |o| o.scope.clone()),
        auth_time: now,
        created_at: now,
        expires_at: now + CODE_TTL,
    };
    let mut target = url::Url::parse(&redirect_uri).map_err(|_| {
        refuse(
            StatusCode::CONFLICT,
            "redirect_uri_invalid",
            "The address to return to is not a URL.",
        )
    })?;
    {
        let mut query = target.query_pairs_mut();
        query.append_pair("code", code.expose_secret());
        if let Some(app_state) = oidc.and_then(|o| o.state.as_deref()) {
            query.append_pair("state", app_state);
        }
        // RFC 9207: says which provider answered (mix-up defence).
        query.append_pair("iss", state.app.config.public_url.as_str());
    }
    let location = HeaderValue::from_str(target.as_str()).map_err(|_| {
        refuse(
            StatusCode::CONFLICT,
            "redirect_uri_invalid",
            "The address to return to cannot be sent to the browser.",
        )
    })?;
    Ok(Finished {
        response: (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        code: Some((code.hash(), record)),
    })
}

/// At most 300 characters of `text`: refusal messages quote what the response
/// said (an issuer, an audience), which is the sender's to make arbitrarily long,
/// and they go to a page and the sign-in log.
fn bounded(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The user's email, in the tenant's attribute order or the default one.
fn email_of(connection: &SamlConnection, assertion: &ValidAssertion) -> Option<String> {
    match &connection.email_attributes {
        Some(order) => {
            let order: Vec<&str> = order.iter().map(String::as_str).collect();
            claims::email_in(assertion, &order)
        }
        None => claims::email(assertion),
    }
}

fn inactive() -> FlowError {
    refuse(
        StatusCode::FORBIDDEN,
        "user_inactive",
        "This account is deactivated in the organisation's directory.",
    )
}

/// How often a sign-in re-reads and re-applies its update when another write to the
/// same user came first (a SCIM request, a parallel sign-in).
const UPDATE_ATTEMPTS: usize = 3;

/// A later sign-in of a user SAML created: the mapped attributes follow the
/// assertion, through the same versioned write SCIM uses, with a `user.updated`
/// event in the same transaction. Nothing changed, nothing written. Users SCIM
/// provisioned are returned as they are (see the module documentation).
async fn update_from_claims(
    state: &AppState,
    tenant: &Tenant,
    mut user: DirectoryUser,
    user_claims: &UserClaims,
) -> Result<DirectoryUser, FlowError> {
    for _ in 0..UPDATE_ATTEMPTS {
        if user.source != UserSource::Jit {
            return Ok(user);
        }
        let document = with_claims(&user.document, user_claims);
        if document == user.document {
            return Ok(user);
        }
        let now = state.app.clock.now();
        let updated = DirectoryUser {
            document,
            updated_at: now,
            version: user.version + 1,
            ..user.clone()
        };
        let ctx = WriteContext {
            now,
            events: vec![user_event(
                idbridge_core::EventKind::UserUpdated,
                state,
                tenant,
                &updated,
            )],
            log: None,
        };
        match state
            .app
            .store
            .update_user(&updated, user.version, &ctx)
            .await
        {
            Ok(()) => return Ok(updated),
            // Someone else wrote the user since it was read: start from their version
            // (which may have deactivated or deleted them).
            Err(StoreError::VersionMismatch) => {
                user = match state
                    .app
                    .store
                    .user_by_id(tenant.id, user.id)
                    .await
                    .map_err(unavailable)?
                {
                    Some(fresh) if !fresh.active => return Err(inactive()),
                    Some(fresh) => fresh,
                    None => return Err(not_provisioned()),
                };
            }
            Err(e) => return Err(unavailable(e)),
        }
    }
    // Fail closed: signing in with roles the IdP has just taken away is worse than
    // asking the user to try again.
    Err(refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "user_busy",
        "The account is being changed elsewhere right now. Try signing in again.",
    ))
}

fn not_provisioned() -> FlowError {
    refuse(
        StatusCode::FORBIDDEN,
        "user_not_provisioned",
        "This account has not been given access to the app by the organisation.",
    )
}

/// A directory event about `user` raised by a sign-in: the user as SCIM renders it,
/// and `source: saml` so the app can tell it from a SCIM write.
fn user_event(
    kind: idbridge_core::EventKind,
    state: &AppState,
    tenant: &Tenant,
    user: &DirectoryUser,
) -> NewEvent {
    let base = Base {
        public_url: &state.app.config.public_url,
        slug: &tenant.slug,
    };
    NewEvent {
        kind,
        resource_type: idbridge_core::EventResource::User,
        resource_id: user.id,
        data: json!({ "user": Value::Object(render::user(&base, user, None)), "source": "saml" }),
    }
}

/// The app roles the claims alone give, under the tenant's rules (for the "test
/// connection" page: no directory user is involved there).
async fn resolved_roles(
    state: &AppState,
    tenant: &Tenant,
    user_claims: &UserClaims,
) -> Result<Vec<String>, FlowError> {
    let app_roles = state.app.store.app_roles().await.map_err(unavailable)?;
    let mappings = state
        .app
        .store
        .role_mappings(tenant.id)
        .await
        .map_err(unavailable)?;
    let rules = idbridge_core::roles::RoleRules {
        mappings,
        default_role: tenant.default_role.clone(),
        policy: tenant.role_policy,
    };
    let roles: Vec<&str> = user_claims.roles.iter().map(String::as_str).collect();
    let groups: Vec<&str> = user_claims.groups.iter().map(String::as_str).collect();
    Ok(idbridge_core::roles::resolve(
        &app_roles, &rules, &roles, &groups,
    ))
}

/// Just-in-time provisioning: the first sign-in of someone SCIM has not provisioned
/// creates them, with what the assertion says, in the shape SCIM would store.
async fn create_just_in_time(
    state: &AppState,
    tenant: &Tenant,
    user_claims: &UserClaims,
    email: &str,
) -> Result<DirectoryUser, FlowError> {
    let now = state.app.clock.now();
    let mut document = serde_json::Map::new();
    document.insert("userName".into(), json!(email));
    document.insert(
        "emails".into(),
        json!([{"value": email, "type": "work", "primary": true}]),
    );
    let document = with_claims(&document, user_claims);
    let user = DirectoryUser {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        user_name: email.to_owned(),
        external_id: None,
        active: true,
        document,
        source: UserSource::Jit,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let ctx = WriteContext {
        now,
        events: vec![user_event(
            idbridge_core::EventKind::UserCreated,
            state,
            tenant,
            &user,
        )],
        log: None,
    };
    match state.app.store.create_user(&user, &ctx).await {
        Ok(()) => Ok(user),
        // Two first sign-ins at once: the other one created the user (with its own
        // assertion's claims, which this one's then update if they differ).
        Err(StoreError::Conflict(_)) => {
            let other = state
                .app
                .store
                .user_for_sign_in(tenant.id, email)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| unavailable(StoreError::NotFound))?;
            update_from_claims(state, tenant, other, user_claims).await
        }
        Err(e) => Err(unavailable(e)),
    }
}

/// The SP keys to decrypt with, loaded only for a response that carries an
/// encrypted assertion (most do not: no key parsing on their path). A tenant that
/// never had a key has none, and the assertion is refused as unexpected.
async fn decryption_keys(
    state: &AppState,
    tenant: &Tenant,
    response: &[u8],
) -> Result<Vec<SpDecryptionKey>, FlowError> {
    let encrypted = response.windows(18).any(|w| w == b"EncryptedAssertion");
    if !encrypted {
        return Ok(Vec::new());
    }
    let keys = super::sp_keys(state, tenant, false).await?;
    Ok(keys
        .iter()
        .filter_map(
            |k| match SpDecryptionKey::new(&k.private_key, &k.certificate) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::error!(error = %e, key = %k.id, "stored SP key cannot be used");
                    None
                }
            },
        )
        .collect())
}

fn verify(
    state: &AppState,
    tenant: &Tenant,
    connection: &SamlConnection,
    bytes: &[u8],
    decryption_keys: &[SpDecryptionKey],
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
        now: state.app.clock.now(),
        clock_skew: time::Duration::seconds(connection.clock_skew_seconds),
        want_response_signed: connection.want_response_signed,
        want_assertions_signed: connection.want_assertions_signed,
    };
    verify_response(bytes, &certificates, decryption_keys, &expect).map_err(|e| {
        let status = match e.reason() {
            "signature_invalid" | "signature_missing" => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        refuse(
            status,
            e.reason(),
            format!(
                "The identity provider's response was refused: {}.",
                bounded(&e.to_string())
            ),
        )
    })
}

/// What an admin sees at the end of "test connection": the claims as received, what
/// idbridge reads from them, and the app roles they give under the tenant's rules.
fn test_result_page(
    connection: &SamlConnection,
    assertion: &ValidAssertion,
    roles: &[String],
) -> Response {
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
    let email = email_of(connection, assertion)
        .map(|e| escape_html(&e))
        .unwrap_or_else(|| "(none: add an <code>email</code> claim)".into());
    let display = claims::display_name(assertion)
        .map(|n| escape_html(&n))
        .unwrap_or_default();
    let list = |values: &[String], none: &str| {
        if values.is_empty() {
            none.to_owned()
        } else {
            values
                .iter()
                .map(|v| escape_html(v))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let role_claims = list(&claims::roles(assertion), "(none)");
    let group_claims = list(&claims::groups(assertion), "(none)");
    let app_roles = list(
        roles,
        "(none: no role claim or group maps to an app role, and the organisation has no default role)",
    );
    let body = format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>Test connection succeeded</title><style>",
            "body{{font-family:system-ui,sans-serif;max-width:48rem;margin:3rem auto;padding:0 1rem;color:#1f2933}}",
            "table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d9e2ec;vertical-align:top;word-break:break-all}}",
            "</style></head><body><h1>Test connection succeeded</h1>",
            "<p>The identity provider's response was signed, addressed to this service, and valid. No sign-in to the app took place.</p>",
            "<dl><dt>Email</dt><dd>{email}</dd><dt>Name</dt><dd>{display}</dd><dt>NameID</dt><dd>{name_id}</dd>",
            "<dt>Role claims</dt><dd>{role_claims}</dd><dt>Group claims</dt><dd>{group_claims}</dd>",
            "<dt>App roles</dt><dd id=\"app-roles\">{app_roles}</dd></dl>",
            "<p>App roles are resolved from these claims with the organisation's role mappings. ",
            "For a user provisioned by SCIM, the directory's roles and groups count instead.</p>",
            "<h2>Claims received</h2><table>{rows}</table></body></html>"
        ),
        email = email,
        display = display,
        name_id = name_id,
        role_claims = role_claims,
        group_claims = group_claims,
        app_roles = app_roles,
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
