//! The dev IdP's HTTP surface (CONTRACT.md, "Test IdP for app developers"):
//! `GET /metadata`, `GET /sso` (HTTP-Redirect binding), `POST /sso` (the sign-in
//! form → an auto-posting page), `GET /sso/initiate` (IdP-initiated), and the
//! OpenID Provider's routes (`/.well-known/openid-configuration`, `/oidc/…`, whose
//! handlers are in the private `oidc_web` module). Every page is an askama template; the auto-post script
//! is a file, so the pages' CSP allows no inline script.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

use crate::identity::Identity;
use crate::oidc::ClientConfig;
use crate::oidc_web::{self, OidcState};
use crate::saml;
use crate::sso::{self, AuthnRequestInfo, Failure, Flavor, NameIdFormat, Person, SsoError, Target};

/// The cookie that remembers the form's last values (not the failure).
pub const FORM_COOKIE: &str = "idbridge_dev_idp_form";
const COOKIE_MAX_BYTES: usize = 3800;
const MAX_RELAY_STATE: usize = 4096;

const AUTOPOST_JS: &str = include_str!("../static/autopost.js");
const STYLE_CSS: &str = include_str!("../static/dev-idp.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   form-action 'self' http: https:; base-uri 'none'; frame-ancestors 'none'";

/// Where assertion times come from: `Arc::new(OffsetDateTime::now_utc)` in the
/// binary, a test's manual clock in tests.
pub type Now = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the public URL {0:?} is not an http(s) URL without query or fragment")]
    PublicUrl(String),
    #[error("the OpenID client secret is empty")]
    EmptyClientSecret,
}

/// A running dev IdP's configuration: its keys, where it is reached, its clock.
#[derive(Clone)]
pub struct DevIdp {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Identity,
    public_url: String,
    now: Now,
    oidc: OidcState,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp")
            .field("public_url", &self.inner.public_url)
            .finish_non_exhaustive()
    }
}

impl DevIdp {
    /// `public_url` is the base of every URL the IdP hands out (Entity IDs, SSO
    /// URL, the OpenID issuer); `now` gives assertion and token times (tests pass
    /// their manual clock's). The OpenID Provider takes any client_id and the
    /// default secret ([`crate::oidc::DEFAULT_CLIENT_SECRET`]).
    pub fn new(identity: Identity, public_url: &str, now: Now) -> Result<Self, ConfigError> {
        Self::with_oidc_clients(identity, public_url, now, ClientConfig::default())
    }

    /// [`DevIdp::new`], with the OpenID Provider's client_id and secret given.
    pub fn with_oidc_clients(
        identity: Identity,
        public_url: &str,
        now: Now,
        clients: ClientConfig,
    ) -> Result<Self, ConfigError> {
        if clients.client_secret.is_empty() {
            return Err(ConfigError::EmptyClientSecret);
        }
        let trimmed = public_url.trim().trim_end_matches('/');
        let ok = url::Url::parse(trimmed).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
        });
        if !ok {
            return Err(ConfigError::PublicUrl(public_url.to_owned()));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                identity,
                public_url: trimmed.to_owned(),
                now,
                oidc: OidcState::new(clients),
            }),
        })
    }

    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// The OpenID Provider's issuer (the public URL).
    pub fn issuer(&self) -> &str {
        &self.inner.public_url
    }

    /// The OpenID Provider's client_id (`None`: any) and secret.
    pub fn oidc_clients(&self) -> &ClientConfig {
        &self.inner.oidc.clients
    }

    pub(crate) fn oidc(&self) -> &OidcState {
        &self.inner.oidc
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        (self.inner.now)()
    }

    /// The Entity ID (issuer) of `flavor`.
    pub fn entity_id(&self, flavor: Flavor) -> String {
        sso::entity_id(&self.inner.public_url, flavor)
    }

    /// The SSO URL the metadata of `flavor` names: `/sso?flavor=…`, so the form
    /// opens with the flavor the SP was configured with.
    pub fn sso_url(&self, flavor: Flavor) -> String {
        format!("{}/sso?flavor={}", self.inner.public_url, flavor.as_str())
    }

    /// The IdP metadata of `flavor`.
    pub fn metadata_xml(&self, flavor: Flavor) -> String {
        saml::metadata_xml(
            &self.entity_id(flavor),
            &self.sso_url(flavor),
            self.inner.identity.signing.certificate_base64(),
            false,
        )
    }

    /// Serves [`Self::router`] on `listener` until `shutdown` completes.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// The router: `/metadata`, `/sso`, `/sso/initiate`, the OpenID Provider's
    /// routes, `/`, and the static files.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route(
                "/.well-known/openid-configuration",
                get(oidc_web::discovery),
            )
            .route(
                "/oidc/authorize",
                get(oidc_web::authorize_get).post(oidc_web::authorize_post),
            )
            .route("/oidc/token", post(oidc_web::token))
            .route("/oidc/jwks", get(oidc_web::jwks))
            .route(
                "/oidc/userinfo",
                get(oidc_web::userinfo).post(oidc_web::userinfo),
            )
            .route("/metadata", get(metadata))
            .route("/sso", get(sso_get).post(sso_post))
            .route("/sso/initiate", get(initiate))
            .route("/static/autopost.js", get(autopost_js))
            .route("/static/dev-idp.css", get(style_css))
            .layer(axum::middleware::map_response(security_headers))
            .with_state(self.clone())
    }
}

async fn security_headers(mut response: Response<axum::body::Body>) -> Response<axum::body::Body> {
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CSP);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    response
}

pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response<axum::body::Body> {
    match template.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(%err, "a dev-idp template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

fn bad_request(err: &SsoError) -> Response<axum::body::Body> {
    page(
        StatusCode::BAD_REQUEST,
        &ErrorPage {
            message: &err.to_string(),
        },
    )
}

struct Link {
    label: &'static str,
    metadata_url: String,
    entity_id: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    links: Vec<Link>,
    initiate_url: String,
    issuer: String,
    client_id: Option<String>,
    default_secret: bool,
}

async fn index(State(idp): State<DevIdp>) -> Response<axum::body::Body> {
    let links = Flavor::ALL
        .into_iter()
        .map(|flavor| Link {
            label: flavor.label(),
            metadata_url: format!("{}/metadata?flavor={}", idp.public_url(), flavor.as_str()),
            entity_id: idp.entity_id(flavor),
        })
        .collect();
    page(
        StatusCode::OK,
        &IndexPage {
            links,
            initiate_url: format!("{}/sso/initiate", idp.public_url()),
            issuer: idp.issuer().to_owned(),
            client_id: idp.oidc_clients().client_id.clone(),
            default_secret: idp.oidc_clients().client_secret == crate::oidc::DEFAULT_CLIENT_SECRET,
        },
    )
}

#[derive(Debug, Deserialize)]
struct FlavorQuery {
    flavor: Option<String>,
}

fn flavor_of(raw: Option<&str>) -> Result<Option<Flavor>, SsoError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(value) => Flavor::parse(value).map(Some).ok_or(SsoError::Unknown {
            field: "flavor",
            value: value.to_owned(),
        }),
    }
}

async fn metadata(
    State(idp): State<DevIdp>,
    Query(query): Query<FlavorQuery>,
) -> Response<axum::body::Body> {
    match flavor_of(query.flavor.as_deref()) {
        Ok(flavor) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            idp.metadata_xml(flavor.unwrap_or_default()),
        )
            .into_response(),
        Err(err) => bad_request(&err),
    }
}

pub(crate) struct Choice {
    pub(crate) value: &'static str,
    pub(crate) label: &'static str,
    pub(crate) selected: bool,
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    post_url: String,
    request: Option<&'a AuthnRequestInfo>,
    saml_request: &'a str,
    relay_state: &'a str,
    acs: &'a str,
    audience: &'a str,
    person: &'a Person,
    roles: String,
    groups: String,
    flavors: Vec<Choice>,
    failures: Vec<Choice>,
    name_id_formats: Vec<Choice>,
}

/// The person the form last sent (this browser's cookie), else the sample.
pub(crate) fn remembered(headers: &HeaderMap) -> Person {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == FORM_COOKIE)
        .and_then(|(_, value)| URL_SAFE_NO_PAD.decode(value).ok())
        .and_then(|bytes| serde_json::from_slice::<Person>(&bytes).ok())
        .filter(|p| p.check().is_ok())
        .unwrap_or_else(Person::sample)
}

struct FormContext<'a> {
    public_url: &'a str,
    request: Option<&'a AuthnRequestInfo>,
    saml_request: &'a str,
    relay_state: &'a str,
    acs: &'a str,
    audience: &'a str,
}

fn sign_in_form(
    headers: &HeaderMap,
    flavor: Option<Flavor>,
    context: FormContext<'_>,
) -> Response<axum::body::Body> {
    let mut person = remembered(headers);
    if let Some(flavor) = flavor {
        person.flavor = flavor;
    }
    let flavors = Flavor::ALL
        .into_iter()
        .map(|f| Choice {
            value: f.as_str(),
            label: f.label(),
            selected: f == person.flavor,
        })
        .collect();
    let failures = Failure::ALL
        .into_iter()
        .map(|f| Choice {
            value: f.as_str(),
            label: f.label(),
            selected: f == Failure::None,
        })
        .collect();
    let name_id_formats = NameIdFormat::ALL
        .into_iter()
        .map(|f| Choice {
            value: f.as_str(),
            label: f.label(),
            selected: f == person.name_id_format,
        })
        .collect();
    page(
        StatusCode::OK,
        &SignInPage {
            post_url: format!("{}/sso", context.public_url),
            request: context.request,
            saml_request: context.saml_request,
            relay_state: context.relay_state,
            acs: context.acs,
            audience: context.audience,
            roles: person.roles.join(", "),
            groups: person.groups.join(", "),
            person: &person,
            flavors,
            failures,
            name_id_formats,
        },
    )
}

#[derive(Debug, Deserialize)]
struct SsoQuery {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
    flavor: Option<String>,
}

async fn sso_get(
    State(idp): State<DevIdp>,
    headers: HeaderMap,
    Query(query): Query<SsoQuery>,
) -> Response<axum::body::Body> {
    let checked = (|| {
        let flavor = flavor_of(query.flavor.as_deref())?;
        let raw = query.saml_request.as_deref().ok_or(SsoError::Missing(
            "SAMLRequest (start at the SP, or use /sso/initiate)",
        ))?;
        let request = sso::decode_authn_request(raw)?;
        let relay_state = query.relay_state.as_deref().unwrap_or_default();
        if relay_state.len() > MAX_RELAY_STATE {
            return Err(SsoError::TooMuch("RelayState"));
        }
        Ok((flavor, request, raw, relay_state))
    })();
    match checked {
        Ok((flavor, request, raw, relay_state)) => sign_in_form(
            &headers,
            flavor,
            FormContext {
                public_url: idp.public_url(),
                request: Some(&request),
                saml_request: raw,
                relay_state,
                acs: &request.acs_url,
                audience: &request.issuer,
            },
        ),
        Err(err) => bad_request(&err),
    }
}

#[derive(Debug, Deserialize)]
struct InitiateQuery {
    acs: Option<String>,
    audience: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
    flavor: Option<String>,
}

async fn initiate(
    State(idp): State<DevIdp>,
    headers: HeaderMap,
    Query(query): Query<InitiateQuery>,
) -> Response<axum::body::Body> {
    let checked = (|| {
        let flavor = flavor_of(query.flavor.as_deref())?;
        let acs = sso::check_acs_url(query.acs.as_deref().unwrap_or_default())?;
        let audience = query
            .audience
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .ok_or(SsoError::NoAudience)?;
        let relay_state = query.relay_state.as_deref().unwrap_or_default();
        if relay_state.len() > MAX_RELAY_STATE {
            return Err(SsoError::TooMuch("RelayState"));
        }
        Ok((flavor, acs, audience, relay_state))
    })();
    match checked {
        Ok((flavor, acs, audience, relay_state)) => sign_in_form(
            &headers,
            flavor,
            FormContext {
                public_url: idp.public_url(),
                request: None,
                saml_request: "",
                relay_state,
                acs: &acs,
                audience,
            },
        ),
        Err(err) => bad_request(&err),
    }
}

/// The sign-in form as posted. Every field is optional here and checked below.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SsoForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: String,
    #[serde(rename = "RelayState")]
    relay_state: String,
    acs: String,
    audience: String,
    email: String,
    first_name: String,
    last_name: String,
    roles: String,
    groups: String,
    flavor: String,
    failure: String,
    name_id_format: String,
}

#[derive(Template)]
#[template(path = "autopost.html")]
struct AutoPostPage<'a> {
    action: &'a str,
    saml_response: &'a str,
    relay_state: &'a str,
    issuer: &'a str,
    audience: &'a str,
    name_id: &'a str,
    in_response_to: &'a str,
    failure: Option<&'static str>,
    xml: &'a str,
}

fn read_form(form: &SsoForm, remembered: &Person) -> Result<(Person, Target, Failure), SsoError> {
    let flavor = flavor_of(Some(&form.flavor))?.unwrap_or_default();
    let failure = match form.failure.trim() {
        "" => Failure::None,
        value => Failure::parse(value).ok_or(SsoError::Unknown {
            field: "failure",
            value: value.to_owned(),
        })?,
    };
    let name_id_format = match form.name_id_format.trim() {
        "" => NameIdFormat::Email,
        value => NameIdFormat::parse(value).ok_or(SsoError::Unknown {
            field: "NameID format",
            value: value.to_owned(),
        })?,
    };
    let target = if form.saml_request.trim().is_empty() {
        // IdP-initiated: the ACS and audience come with the form.
        let audience = form.audience.trim();
        if audience.is_empty() {
            return Err(SsoError::NoAudience);
        }
        Target {
            acs_url: sso::check_acs_url(&form.acs)?,
            audience: audience.to_owned(),
            in_response_to: None,
        }
    } else {
        let request = sso::decode_authn_request(&form.saml_request)?;
        Target {
            acs_url: request.acs_url,
            audience: request.issuer,
            in_response_to: Some(request.id),
        }
    };
    if form.relay_state.len() > MAX_RELAY_STATE {
        return Err(SsoError::TooMuch("RelayState"));
    }
    let person = Person {
        email: form.email.trim().to_owned(),
        first_name: form.first_name.trim().to_owned(),
        last_name: form.last_name.trim().to_owned(),
        roles: sso::split_list(&form.roles),
        groups: sso::split_list(&form.groups),
        flavor,
        name_id_format,
        oidc_flavor: remembered.oidc_flavor,
    };
    person.check()?;
    Ok((person, target, failure))
}

async fn sso_post(
    State(idp): State<DevIdp>,
    headers: HeaderMap,
    Form(form): Form<SsoForm>,
) -> Response<axum::body::Body> {
    let (person, target, failure) = match read_form(&form, &remembered(&headers)) {
        Ok(read) => read,
        Err(err) => return bad_request(&err),
    };
    let issued = match sso::issue(
        &idp.inner.identity,
        &idp.inner.public_url,
        &person,
        &target,
        failure,
        (idp.inner.now)(),
    ) {
        Ok(issued) => issued,
        Err(err) => {
            tracing::error!(%err, "the dev IdP could not sign a response");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &ErrorPage {
                    message: &err.to_string(),
                },
            );
        }
    };
    tracing::info!(
        email = %person.email,
        flavor = person.flavor.as_str(),
        failure = failure.as_str(),
        acs = %target.acs_url,
        "dev IdP issued a SAML response"
    );
    let saml_response = STANDARD.encode(&issued.xml);
    let mut response = page(
        StatusCode::OK,
        &AutoPostPage {
            action: &target.acs_url,
            saml_response: &saml_response,
            relay_state: form.relay_state.as_str(),
            issuer: &issued.issuer,
            audience: &issued.audience,
            name_id: &issued.name_id,
            in_response_to: target.in_response_to.as_deref().unwrap_or_default(),
            failure: (failure != Failure::None).then(|| failure.label()),
            xml: &issued.xml,
        },
    );
    remember(&mut response, &person);
    response
}

/// Sets the cookie that remembers `person` for the next form (unless too large).
pub(crate) fn remember(response: &mut Response<axum::body::Body>, person: &Person) {
    if let Ok(json) = serde_json::to_vec(person) {
        let value = URL_SAFE_NO_PAD.encode(json);
        if value.len() <= COOKIE_MAX_BYTES
            && let Ok(cookie) = HeaderValue::from_str(&format!(
                "{FORM_COOKIE}={value}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
            ))
        {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
}

async fn autopost_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        AUTOPOST_JS,
    )
}

async fn style_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLE_CSS,
    )
}
