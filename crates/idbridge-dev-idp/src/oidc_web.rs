//! The OpenID Provider's HTTP surface (CONTRACT.md, "Test IdP for app
//! developers"): discovery, `/oidc/authorize` (the sign-in form and its post),
//! `/oidc/token`, `/oidc/jwks`, `/oidc/userinfo`. The rules are [`crate::oidc`]'s;
//! this module holds the codes and access tokens (in memory, bounded), makes the
//! random values, signs, and answers.

use std::sync::{Mutex, MutexGuard, PoisonError};

use askama::Template;
use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::identity::{IdentityError, KeyPair};
use crate::oidc::{
    self, AccessGrant, AuthorizationRequest, AuthorizeError, AuthorizeParams, ClientConfig, Grant,
    IdTokenInput, MAX_PENDING, OidcFailure, OidcFlavor, Pending, TokenError, TokenForm,
};
use crate::sso::{self, Person, SsoError};
use crate::web::{Choice, DevIdp, page, remember, remembered};

type Body = axum::body::Body;

/// The OpenID Provider's state: who may ask, and the codes and access tokens
/// issued (in memory: a restart forgets them, which a dev tool may).
#[derive(Debug)]
pub(crate) struct OidcState {
    pub(crate) clients: ClientConfig,
    codes: Mutex<Pending<Grant>>,
    tokens: Mutex<Pending<AccessGrant>>,
}

impl OidcState {
    pub(crate) fn new(clients: ClientConfig) -> Self {
        Self {
            clients,
            codes: Mutex::new(Pending::new(MAX_PENDING)),
            tokens: Mutex::new(Pending::new(MAX_PENDING)),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// 32 random bytes, base64url: a code or an access token.
fn random_token() -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[derive(Debug, thiserror::Error)]
enum OidcWebError {
    #[error(transparent)]
    Authorize(#[from] oidc::AuthorizePageError),
    #[error(transparent)]
    Form(#[from] SsoError),
    #[error("the dev IdP cannot sign: {0}")]
    Key(#[from] IdentityError),
    #[error("the dev IdP cannot make a random value: {0}")]
    Random(#[from] openssl::error::ErrorStack),
}

#[derive(Template)]
#[template(path = "oidc_error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

fn error_page(err: &OidcWebError) -> Response<Body> {
    let status = match err {
        OidcWebError::Authorize(_) | OidcWebError::Form(_) => StatusCode::BAD_REQUEST,
        OidcWebError::Key(_) | OidcWebError::Random(_) => {
            tracing::error!(%err, "the dev IdP's OpenID Provider failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    page(
        status,
        &ErrorPage {
            message: &err.to_string(),
        },
    )
}

fn see_other(location: &str) -> Response<Body> {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => (
            StatusCode::BAD_REQUEST,
            "the redirect URI cannot be a header",
        )
            .into_response(),
    }
}

/// The redirect of a refused request back to the client, with `error=`.
fn error_redirect(
    issuer: &str,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response<Body> {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    see_other(&oidc::redirect_to(redirect_uri, &params))
}

pub(crate) async fn discovery(State(idp): State<DevIdp>) -> Json<Value> {
    Json(oidc::discovery(idp.public_url()))
}

/// The signing key's `kid` and JWK.
fn signing_jwk(signing: &KeyPair) -> Result<(String, Value), IdentityError> {
    let (n, e) = signing.rsa_public_numbers()?;
    Ok(oidc::signing_jwk(&n, &e, signing.certificate_base64()))
}

pub(crate) async fn jwks(State(idp): State<DevIdp>) -> Response<Body> {
    match signing_jwk(&idp.identity().signing) {
        Ok((_, jwk)) => Json(json!({ "keys": [jwk] })).into_response(),
        Err(err) => error_page(&err.into()),
    }
}

#[derive(Template)]
#[template(path = "oidc_sign_in.html")]
struct SignInPage<'a> {
    post_url: String,
    request: &'a AuthorizationRequest,
    code_challenge_method: &'a str,
    person: &'a Person,
    roles: String,
    groups: String,
    flavors: Vec<Choice>,
    failures: Vec<Choice>,
}

fn sign_in_form(idp: &DevIdp, request: &AuthorizationRequest, person: &Person) -> Response<Body> {
    let flavors = OidcFlavor::ALL
        .into_iter()
        .map(|f| Choice {
            value: f.as_str(),
            label: f.label(),
            selected: f == person.oidc_flavor,
        })
        .collect();
    let failures = OidcFailure::ALL
        .into_iter()
        .map(|f| Choice {
            value: f.as_str(),
            label: f.label(),
            selected: f == OidcFailure::None,
        })
        .collect();
    page(
        StatusCode::OK,
        &SignInPage {
            post_url: format!("{}/oidc/authorize", idp.public_url()),
            request,
            code_challenge_method: if request.code_challenge.is_some() {
                "S256"
            } else {
                ""
            },
            roles: person.roles.join(", "),
            groups: person.groups.join(", "),
            person,
            flavors,
            failures,
        },
    )
}

/// The answer to a refused authorization request: a page, or a redirect back.
fn refused(idp: &DevIdp, err: AuthorizeError) -> Response<Body> {
    match err {
        AuthorizeError::Page(err) => error_page(&err.into()),
        AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
            description,
        } => error_redirect(
            idp.public_url(),
            &redirect_uri,
            state.as_deref(),
            error,
            &description,
        ),
    }
}

pub(crate) async fn authorize_get(
    State(idp): State<DevIdp>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response<Body> {
    let request = match params.check(&idp.oidc().clients) {
        Ok(request) => request,
        Err(err) => return refused(&idp, err),
    };
    let mut person = remembered(&headers);
    // The relying party's login_hint names the account to sign in.
    if let Some(hint) = params
        .login_hint
        .as_deref()
        .map(str::trim)
        .filter(|h| h.contains('@') && h.chars().count() <= sso::MAX_FIELD_CHARS)
        && !hint.eq_ignore_ascii_case(person.email.trim())
    {
        person.email = hint.to_owned();
    }
    sign_in_form(&idp, &request, &person)
}

/// The sign-in form as posted: the request's hidden fields and what was typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SignInForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    email: String,
    first_name: String,
    last_name: String,
    roles: String,
    groups: String,
    flavor: String,
    failure: String,
}

fn read_form(form: &SignInForm, saml_side: &Person) -> Result<(Person, OidcFailure), SsoError> {
    let flavor = match form.flavor.trim() {
        "" => OidcFlavor::default(),
        value => OidcFlavor::parse(value).ok_or(SsoError::Unknown {
            field: "flavor",
            value: value.to_owned(),
        })?,
    };
    let failure = match form.failure.trim() {
        "" => OidcFailure::None,
        value => OidcFailure::parse(value).ok_or(SsoError::Unknown {
            field: "failure",
            value: value.to_owned(),
        })?,
    };
    let person = Person {
        email: form.email.trim().to_owned(),
        first_name: form.first_name.trim().to_owned(),
        last_name: form.last_name.trim().to_owned(),
        roles: sso::split_list(&form.roles),
        groups: sso::split_list(&form.groups),
        // The SAML side's choices stay as they were remembered.
        flavor: saml_side.flavor,
        name_id_format: saml_side.name_id_format,
        oidc_flavor: flavor,
    };
    person.check()?;
    Ok((person, failure))
}

pub(crate) async fn authorize_post(
    State(idp): State<DevIdp>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response<Body> {
    let request = match form.params.check(&idp.oidc().clients) {
        Ok(request) => request,
        Err(err) => return refused(&idp, err),
    };
    let (person, failure) = match read_form(&form, &remembered(&headers)) {
        Ok(read) => read,
        Err(err) => return error_page(&err.into()),
    };
    let issuer = idp.public_url();
    let mut response = if failure == OidcFailure::AccessDenied {
        tracing::info!(email = %person.email, client_id = %request.client_id, "dev IdP: the user declined");
        error_redirect(
            issuer,
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "The user declined to sign in (a deliberate failure of the dev IdP)",
        )
    } else {
        let code = match random_token() {
            Ok(code) => code,
            Err(err) => return error_page(&err.into()),
        };
        let now = idp.now();
        tracing::info!(
            email = %person.email,
            flavor = person.oidc_flavor.as_str(),
            failure = failure.as_str(),
            client_id = %request.client_id,
            redirect_uri = %request.redirect_uri,
            "dev IdP issued an authorization code"
        );
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = request.state.as_deref() {
            params.push(("state", state));
        }
        params.push(("iss", issuer));
        let location = oidc::redirect_to(&request.redirect_uri, &params);
        lock(&idp.oidc().codes).insert(
            code.clone(),
            Grant {
                request,
                flavor: person.oidc_flavor,
                person: person.clone(),
                failure,
                auth_time: now,
            },
            now + oidc::CODE_TTL,
            now,
        );
        see_other(&location)
    };
    remember(&mut response, &person);
    response
}

fn token_error(err: &TokenError) -> Response<Body> {
    let status = match err {
        TokenError::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = (
        status,
        Json(json!({"error": err.code(), "error_description": err.to_string()})),
    )
        .into_response();
    if let TokenError::InvalidClient { basic: true, .. } = err {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"idbridge dev-idp\""),
        );
    }
    response
}

fn server_error(err: &OidcWebError) -> Response<Body> {
    tracing::error!(%err, "the dev IdP's token endpoint failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": "server_error", "error_description": err.to_string()})),
    )
        .into_response()
}

pub(crate) async fn token(
    State(idp): State<DevIdp>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response<Body> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let checked = (|| {
        let credentials = oidc::client_credentials(authorization, &form)?;
        oidc::authenticate(&idp.oidc().clients, &credentials)?;
        let code = oidc::code_of(&form)?;
        let now = idp.now();
        // Taken before it is checked: a code is good for one try.
        let grant = lock(&idp.oidc().codes).take(code, now).ok_or_else(|| {
            TokenError::InvalidGrant(
                "unknown, used or expired code (codes live 60 seconds, once)".into(),
            )
        })?;
        oidc::check_grant(&grant, &credentials, &form)?;
        Ok((grant, now))
    })();
    let (grant, now) = match checked {
        Ok(ok) => ok,
        Err(err) => return token_error(&err),
    };
    let issued = (|| -> Result<(String, String), OidcWebError> {
        let access_token = random_token()?;
        let (kid, _) = signing_jwk(&idp.identity().signing)?;
        let claims = oidc::id_token_claims(&IdTokenInput {
            issuer: idp.public_url(),
            grant: &grant,
            access_token: &access_token,
            now,
        });
        let key = match grant.failure {
            OidcFailure::WrongKey => &idp.identity().wrong,
            _ => &idp.identity().signing,
        };
        let header = oidc::id_token_header(grant.flavor, &kid);
        let id_token = oidc::encode_jwt(&header, &claims, |m| key.sign_rs256(m))?;
        Ok((access_token, id_token))
    })();
    let (access_token, id_token) = match issued {
        Ok(issued) => issued,
        Err(err) => return server_error(&err),
    };
    lock(&idp.oidc().tokens).insert(
        access_token.clone(),
        AccessGrant {
            client_id: grant.request.client_id.clone(),
            person: grant.person.clone(),
            flavor: grant.flavor,
            failure: grant.failure,
        },
        now + oidc::TOKEN_TTL,
        now,
    );
    tracing::info!(
        email = %grant.person.email,
        flavor = grant.flavor.as_str(),
        failure = grant.failure.as_str(),
        client_id = %grant.request.client_id,
        "dev IdP issued an ID token"
    );
    let mut response = Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": oidc::TOKEN_TTL.whole_seconds(),
        "scope": grant.request.scope,
        "id_token": id_token,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub(crate) async fn userinfo(State(idp): State<DevIdp>, headers: HeaderMap) -> Response<Body> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let access = bearer.and_then(|token| lock(&idp.oidc().tokens).get(&token, idp.now()).cloned());
    match access {
        Some(access) => Json(oidc::userinfo_claims(idp.public_url(), &access)).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Bearer error=\"invalid_token\", error_description=\"unknown or expired access token\"",
            )],
        )
            .into_response(),
    }
}
