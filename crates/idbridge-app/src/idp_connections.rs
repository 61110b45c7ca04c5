//! A tenant's identity-provider connections: any number, each SAML or OpenID
//! Connect, with the email domains it serves and at most one default; and which one
//! a sign-in goes through.
//!
//! The tenant's first SAML connection is the one `PUT /tenants/{slug}/saml` sets up
//! (`connections.rs`); it is listed here with the tenant's own id. OpenID Connect
//! connections are made here: the issuer's discovery document is fetched and
//! checked before anything is stored, and the client secret is sealed with the
//! operator's secret key (`--secret-key`), never returned, never logged.

use crate::audit::Audit;
use idbridge_core::audit::AuditAction;
use idbridge_core::domain::DomainName;
use idbridge_store::{ConnectionKind, ConnectionRecord, OidcSettings, StoreError, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::tenants::{find, validate_text};
use crate::{App, Error, Result};

/// At most this many connections per tenant.
pub const MAX_CONNECTIONS: usize = 20;
const MAX_DOMAINS: usize = 50;
const MAX_SCOPES: usize = 20;
const MAX_NAME_CHARS: usize = 100;
const MAX_FIELD_CHARS: usize = 2000;

/// A connection as the admin API, the console and the CLI show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: Uuid,
    /// `saml` or `oidc`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: String,
    /// Email domains whose users sign in through this connection.
    pub domains: Vec<String>,
    /// The connection a sign-in uses when neither `connection=` nor the
    /// `login_hint`'s domain picks one.
    pub default: bool,
    /// OIDC: the issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// OIDC: the client registered at the issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// OIDC: whether a client secret is stored (it is never shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_client_secret: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// OIDC: the URL the IT admin registers at the IdP ("Redirect URI").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// SAML: the SP's Entity ID ("Identifier (Entity ID)" in Entra ID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_entity_id: Option<String>,
    /// SAML: the ACS URL ("Reply URL").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acs_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_metadata_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `POST /tenants/{slug}/connections` (documentation of the body; the body is
/// read by [`create`]).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewConnection {
    /// `oidc`, or `saml` with the fields of `PUT /tenants/{slug}/saml`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub domains: Option<Vec<String>>,
    pub default: Option<bool>,
    /// Discovery at `{issuer}/.well-known/openid-configuration`.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Default `["openid", "email", "profile"]`.
    pub scopes: Option<Vec<String>>,
}

/// `PATCH /tenants/{slug}/connections/{id}`: any field; `client_secret` replaces
/// the stored one (`null` removes it).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionChange {
    pub name: Option<String>,
    pub domains: Option<Vec<String>>,
    pub default: Option<bool>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    #[serde(default, with = "double_option")]
    pub client_secret: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
}

/// `null` and absent told apart.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcInput {
    #[serde(rename = "type")]
    _kind: String,
    name: Option<String>,
    domains: Option<Vec<String>>,
    default: Option<bool>,
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
}

fn view(app: &App, tenant: &Tenant, c: &ConnectionRecord) -> ConnectionView {
    let public = &app.config.public_url;
    let oidc = c.oidc.as_ref();
    // A SAML connection's own URLs: the SP's Entity ID is the base of the others.
    let sp = (c.kind == ConnectionKind::Saml)
        .then(|| crate::sign_in::sp_endpoints_of(app, tenant, Some(c.id)));
    ConnectionView {
        id: c.id,
        kind: c.kind.as_str(),
        name: c.name.clone(),
        domains: c.domains.clone(),
        default: c.is_default,
        issuer: oidc.map(|o| o.issuer.clone()),
        client_id: oidc.map(|o| o.client_id.clone()),
        has_client_secret: oidc.map(|o| o.sealed_secret.is_some()),
        scopes: oidc.map(|o| o.scopes.clone()),
        redirect_uri: oidc.map(|_| public.oidc_callback_url(&tenant.slug)),
        sp_entity_id: sp.as_ref().map(|sp| sp.entity_id.clone()),
        acs_url: sp.as_ref().map(|sp| sp.acs_url.clone()),
        sp_metadata_url: sp.as_ref().map(|sp| format!("{}/metadata", sp.entity_id)),
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// The tenant's connections, oldest first (its first SAML connection included).
pub async fn list(app: &App, slug: &str) -> Result<Vec<ConnectionView>> {
    let tenant = find(app, slug).await?;
    let all = app.store.connections(tenant.id).await?;
    Ok(all.iter().map(|c| view(app, &tenant, c)).collect())
}

pub async fn get(app: &App, slug: &str, id: &str) -> Result<ConnectionView> {
    let tenant = find(app, slug).await?;
    let record = record(app, &tenant, id).await?;
    Ok(view(app, &tenant, &record))
}

async fn record(app: &App, tenant: &Tenant, id: &str) -> Result<ConnectionRecord> {
    let id = Uuid::parse_str(id).map_err(|_| Error::NotFound("connection"))?;
    app.store
        .connection(tenant.id, id)
        .await?
        .ok_or(Error::NotFound("connection"))
}

/// Adds a connection. An OpenID Connect connection is checked against its issuer
/// (discovery fetched now) before it is stored. A SAML body makes the tenant's
/// first SAML connection when it has none; more SAML connections per tenant are
/// not supported yet, and are refused with a clear error.
pub async fn create(app: &App, slug: &str, body: Value, audit: &Audit) -> Result<ConnectionView> {
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Invalid("type is required: \"oidc\" or \"saml\"".into()))?;
    match ConnectionKind::parse(kind) {
        Some(ConnectionKind::Oidc) => create_oidc(app, slug, body, audit).await,
        Some(ConnectionKind::Saml) => create_saml(app, slug, body, audit).await,
        None => Err(Error::Invalid(format!(
            "type must be \"oidc\" or \"saml\", not {kind:?}"
        ))),
    }
}

async fn create_saml(
    app: &App,
    slug: &str,
    mut body: Value,
    audit: &Audit,
) -> Result<ConnectionView> {
    let tenant = find(app, slug).await?;
    let existing = app.store.connections(tenant.id).await?;
    if existing.len() >= MAX_CONNECTIONS {
        return Err(Error::Invalid(format!(
            "a tenant has at most {MAX_CONNECTIONS} connections"
        )));
    }
    let map = body
        .as_object_mut()
        .ok_or_else(|| Error::Invalid("the body must be a JSON object".into()))?;
    map.remove("type");
    let name = map.remove("name");
    let domain_list = map.remove("domains");
    let default = map.remove("default");
    let input: crate::connections::PutSamlConnection = serde_json::from_value(body)
        .map_err(|e| Error::Invalid(format!("invalid SAML connection: {e}")))?;
    // The tenant's first SAML connection is the one `PUT …/saml` also sets up (its
    // id is the tenant's); any further one has its own id, Entity ID and ACS URL.
    let first = app.store.saml_connection(tenant.id).await?.is_none()
        && !existing.iter().any(|c| c.id == tenant.id);
    let id = if first { tenant.id } else { Uuid::now_v7() };
    let change = ConnectionChange {
        name: Some(match name.as_ref().and_then(Value::as_str) {
            Some(name) => name.to_owned(),
            None if first => "SAML".to_owned(),
            None => format!("SAML {}", existing.len() + 1),
        }),
        domains: match domain_list {
            Some(v) => Some(
                serde_json::from_value(v)
                    .map_err(|_| Error::Invalid("domains must be a list of domain names".into()))?,
            ),
            None => None,
        },
        default: default.and_then(|v| v.as_bool()),
        ..ConnectionChange::default()
    };
    // Checked before anything is written: the name and domains now, the metadata
    // by `put_for`.
    validate_text(
        "name",
        change.name.as_deref().unwrap_or_default(),
        MAX_NAME_CHARS,
    )?;
    if let Some(list) = &change.domains {
        domains(list.clone(), &existing, id)?;
    }
    // Recorded as what it is to the operator: a connection made (its name and
    // domains follow as `connection.updated`).
    crate::connections::put_for(
        app,
        slug,
        Some(id),
        input,
        audit,
        AuditAction::ConnectionCreated,
    )
    .await?;
    update(app, slug, &id.to_string(), change, audit).await
}

async fn create_oidc(app: &App, slug: &str, body: Value, audit: &Audit) -> Result<ConnectionView> {
    let input: OidcInput = serde_json::from_value(body)
        .map_err(|e| Error::Invalid(format!("invalid OpenID Connect connection: {e}")))?;
    let tenant = find(app, slug).await?;
    let existing = app.store.connections(tenant.id).await?;
    if existing.len() >= MAX_CONNECTIONS {
        return Err(Error::Invalid(format!(
            "a tenant has at most {MAX_CONNECTIONS} connections"
        )));
    }
    let now = app.clock.now();
    let id = Uuid::now_v7();
    let issuer = issuer(&input.issuer)?;
    let client_id = validate_text("client_id", &input.client_id, MAX_FIELD_CHARS)?;
    let domains = domains(input.domains.unwrap_or_default(), &existing, id)?;
    let scopes = scopes(input.scopes)?;
    let sealed_secret = match input.client_secret {
        Some(secret) => Some(seal(app, id, &secret)?),
        None => None,
    };
    let name = match input.name {
        Some(name) => validate_text("name", &name, MAX_NAME_CHARS)?,
        None => default_name(&issuer),
    };
    let document = crate::sign_in::discover(app, &issuer)
        .await
        .map_err(Error::Invalid)?;
    let record = ConnectionRecord {
        id,
        tenant_id: tenant.id,
        kind: ConnectionKind::Oidc,
        name,
        domains,
        is_default: input.default.unwrap_or(false),
        oidc: Some(OidcSettings {
            issuer,
            client_id,
            sealed_secret,
            scopes,
            provider_cache: None,
            provider_fetched_at: None,
        }),
        created_at: now,
        updated_at: now,
    };
    app.store
        .create_connection(
            &record,
            Some(&audit.of_tenant(
                now,
                AuditAction::ConnectionCreated,
                &tenant,
                Some(id.to_string()),
                summary(&record),
            )),
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::TenantNotFound(slug.to_owned()),
            StoreError::Conflict(_) => another_default(),
            other => other.into(),
        })?;
    app.store.cache_provider(id, &document, now).await?;
    Ok(view(app, &tenant, &record))
}

/// The fields of [`ConnectionChange`]; anything else in a PATCH body is a SAML
/// setting (the fields of `PUT …/saml`).
const CHANGE_FIELDS: [&str; 7] = [
    "name",
    "domains",
    "default",
    "issuer",
    "client_id",
    "client_secret",
    "scopes",
];

/// `PATCH …/connections/{id}`: any field. For a SAML connection the body may also
/// carry the fields of `PUT …/saml` (metadata, signing requirements, …), applied
/// to that connection's settings first, with the same checks; an OpenID Connect
/// connection refuses them.
pub async fn patch(
    app: &App,
    slug: &str,
    id: &str,
    body: Value,
    audit: &Audit,
) -> Result<ConnectionView> {
    let Value::Object(mut fields) = body else {
        return Err(Error::Invalid("the body must be a JSON object".into()));
    };
    let mut change = serde_json::Map::new();
    for name in CHANGE_FIELDS {
        if let Some(value) = fields.remove(name) {
            change.insert(name.to_owned(), value);
        }
    }
    let change: ConnectionChange = serde_json::from_value(Value::Object(change))
        .map_err(|e| Error::Invalid(format!("invalid connection change: {e}")))?;
    if !fields.is_empty() {
        let tenant = find(app, slug).await?;
        let current = record(app, &tenant, id).await?;
        if current.kind != ConnectionKind::Saml {
            let names: Vec<&str> = fields.keys().map(String::as_str).collect();
            return Err(Error::Invalid(format!(
                "unknown field(s) for an OpenID Connect connection: {}",
                names.join(", ")
            )));
        }
        let saml: crate::connections::PutSamlConnection =
            serde_json::from_value(Value::Object(fields))
                .map_err(|e| Error::Invalid(format!("invalid SAML connection: {e}")))?;
        // The rest of the change is checked before the SAML settings are written,
        // so a refused request changes nothing.
        if change.issuer.is_some()
            || change.client_id.is_some()
            || change.client_secret.is_some()
            || change.scopes.is_some()
        {
            return Err(Error::Invalid(
                "issuer, client_id, client_secret and scopes belong to OpenID Connect connections"
                    .into(),
            ));
        }
        if let Some(name) = &change.name {
            validate_text("name", name, MAX_NAME_CHARS)?;
        }
        if let Some(list) = &change.domains {
            let existing = app.store.connections(tenant.id).await?;
            domains(list.clone(), &existing, current.id)?;
        }
        crate::connections::put_for(
            app,
            slug,
            Some(current.id),
            saml,
            audit,
            AuditAction::SamlConfigured,
        )
        .await?;
    }
    update(app, slug, id, change, audit).await
}

/// Changes a connection: any field; a new issuer is discovered again first.
pub async fn update(
    app: &App,
    slug: &str,
    id: &str,
    change: ConnectionChange,
    audit: &Audit,
) -> Result<ConnectionView> {
    let tenant = find(app, slug).await?;
    let mut record = record(app, &tenant, id).await?;
    let existing = app.store.connections(tenant.id).await?;
    if let Some(name) = change.name {
        record.name = validate_text("name", &name, MAX_NAME_CHARS)?;
    }
    if let Some(list) = change.domains {
        record.domains = domains(list, &existing, record.id)?;
    }
    if let Some(default) = change.default {
        record.is_default = default;
    }
    let mut rediscovered = None;
    match record.oidc.as_mut() {
        Some(oidc) => {
            if let Some(raw) = change.issuer {
                let new = issuer(&raw)?;
                if new != oidc.issuer {
                    rediscovered = Some(
                        crate::sign_in::discover(app, &new)
                            .await
                            .map_err(Error::Invalid)?,
                    );
                    oidc.issuer = new;
                }
            }
            if let Some(client_id) = change.client_id {
                oidc.client_id = validate_text("client_id", &client_id, MAX_FIELD_CHARS)?;
            }
            if let Some(secret) = change.client_secret {
                oidc.sealed_secret = match secret {
                    Some(secret) => Some(seal(app, record.id, &secret)?),
                    None => None,
                };
            }
            if change.scopes.is_some() {
                oidc.scopes = scopes(change.scopes)?;
            }
        }
        None => {
            if change.issuer.is_some()
                || change.client_id.is_some()
                || change.client_secret.is_some()
                || change.scopes.is_some()
            {
                return Err(Error::Invalid(
                    "issuer, client_id, client_secret and scopes belong to OpenID Connect connections; change a SAML connection with PUT /api/v1/tenants/{slug}/saml".into(),
                ));
            }
        }
    }
    let now = app.clock.now();
    record.updated_at = now;
    app.store
        .update_connection(
            &record,
            Some(&audit.of_tenant(
                now,
                AuditAction::ConnectionUpdated,
                &tenant,
                Some(record.id.to_string()),
                summary(&record),
            )),
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::NotFound("connection"),
            StoreError::Conflict(_) => another_default(),
            other => other.into(),
        })?;
    if let Some(document) = rediscovered {
        app.store.cache_provider(record.id, &document, now).await?;
    }
    Ok(view(app, &tenant, &record))
}

pub async fn delete(app: &App, slug: &str, id: &str, audit: &Audit) -> Result<()> {
    let tenant = find(app, slug).await?;
    let record = record(app, &tenant, id).await?;
    let audited = audit.of_tenant(
        app.clock.now(),
        AuditAction::ConnectionDeleted,
        &tenant,
        Some(record.id.to_string()),
        summary(&record),
    );
    app.store
        .delete_connection(tenant.id, record.id, Some(&audited))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::NotFound("connection"),
            other => other.into(),
        })
}

/// What the audit log says of a connection: its settings, never its secret (only
/// whether it has one).
fn summary(record: &ConnectionRecord) -> Value {
    let oidc = record.oidc.as_ref();
    serde_json::json!({
        "type": record.kind.as_str(),
        "name": record.name,
        "domains": record.domains,
        "default": record.is_default,
        "issuer": oidc.map(|o| o.issuer.as_str()),
        "client_id": oidc.map(|o| o.client_id.as_str()),
        "has_client_secret": oidc.is_some_and(|o| o.sealed_secret.is_some()),
        "scopes": oidc.map(|o| &o.scopes),
    })
}

/// Two connections made the default at the same moment: the unique index let one
/// through.
fn another_default() -> Error {
    Error::Invalid(
        "another connection of this tenant was made the default at the same moment; try again"
            .into(),
    )
}

/// An issuer URL: absolute, https (http only with `--allow-private-urls`, for a
/// provider on the operator's own network), no query or fragment. Kept exactly as
/// given otherwise: discovery must name the same string.
fn issuer(raw: &str) -> Result<String> {
    let raw = raw.trim();
    let url = url::Url::parse(raw)
        .map_err(|_| Error::Invalid(format!("issuer {raw:?} is not an absolute URL")))?;
    if !matches!(url.scheme(), "https" | "http")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(Error::Invalid(
            "issuer must be an https URL without query, fragment or credentials".into(),
        ));
    }
    if raw.chars().count() > MAX_FIELD_CHARS {
        return Err(Error::Invalid("issuer is too long".into()));
    }
    Ok(raw.to_owned())
}

fn default_name(issuer: &str) -> String {
    let host = url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    if host.ends_with("microsoftonline.com") {
        "Microsoft Entra ID".into()
    } else if host.ends_with("okta.com") || host.ends_with("oktapreview.com") {
        "Okta".into()
    } else if host == "accounts.google.com" {
        "Google Workspace".into()
    } else {
        format!("OpenID Connect ({host})")
    }
}

/// Domain names, each once, lowercase; none may be served by another connection
/// of the tenant (routing by domain must be unambiguous).
fn domains(list: Vec<String>, existing: &[ConnectionRecord], this: Uuid) -> Result<Vec<String>> {
    if list.len() > MAX_DOMAINS {
        return Err(Error::Invalid(format!(
            "a connection serves at most {MAX_DOMAINS} domains"
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for raw in list {
        let domain = DomainName::parse(&raw)?.to_string();
        if let Some(other) = existing
            .iter()
            .find(|c| c.id != this && c.domains.contains(&domain))
        {
            return Err(Error::Invalid(format!(
                "{domain} is already served by the connection {:?}",
                other.name
            )));
        }
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    Ok(out)
}

fn scopes(input: Option<Vec<String>>) -> Result<Vec<String>> {
    let list = input.unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
    if list.len() > MAX_SCOPES {
        return Err(Error::Invalid(format!("at most {MAX_SCOPES} scopes")));
    }
    let mut out = vec!["openid".to_owned()];
    for scope in list {
        // RFC 6749 §3.3: scope-token characters.
        let ok = !scope.is_empty()
            && scope.len() <= 200
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !ok {
            return Err(Error::Invalid(format!("{scope:?} is not a valid scope")));
        }
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

fn seal(app: &App, id: Uuid, secret: &str) -> Result<Vec<u8>> {
    let keys = app.config.secret_keys.as_ref().ok_or_else(|| {
        Error::Invalid(
            "this server has no secret key to store client secrets with: start it with --secret-key (IDBRIDGE_SECRET_KEY); `idbridge secret-key generate` makes one".into(),
        )
    })?;
    let secret = secret.trim();
    if secret.is_empty() || secret.len() > 4096 {
        return Err(Error::Invalid(
            "client_secret must be 1 to 4096 characters".into(),
        ));
    }
    Ok(keys.seal(secret.as_bytes(), id.as_bytes()))
}

/// The connection `GET /lookup` names for an address at `tenant`.
pub async fn for_lookup(app: &App, tenant: &Tenant, email: &str) -> Result<Option<ConnectionView>> {
    let all = app.store.connections(tenant.id).await?;
    Ok(crate::sign_in::pick(all, tenant.id, Some(email)).map(|c| view(app, tenant, &c)))
}

/// "Test connection" for the connection `id`: a sign-in that ends on a page
/// showing what the IdP sent, with no user written and no code issued.
pub async fn start_test(
    app: &App,
    slug: &str,
    id: &str,
    from: crate::sign_in::TestFrom,
) -> Result<crate::connections::SamlTestStarted> {
    let tenant = find(app, slug).await?;
    let (login_url, expires_at) =
        crate::sign_in::start_connection_test(app, tenant.slug.as_str(), id, from)
            .await
            .map_err(|refusal| match refusal {
                crate::sign_in::SignInRefusal::UnknownConnection => Error::NotFound("connection"),
                crate::sign_in::SignInRefusal::SamlNotConfigured => {
                    Error::NotFound("SAML connection")
                }
                other => Error::Invalid(other.to_string()),
            })?;
    Ok(crate::connections::SamlTestStarted {
        login_url,
        expires_at,
    })
}

/// After a key rotation (`--secret-key NEW,OLD`): seals again, with the first key,
/// every client secret sealed with another configured key, so the old key can be
/// dropped. Secrets whose key is not configured at all are left (and reported).
/// Run by every process's housekeeping; returns how many it sealed again.
pub async fn reseal_secrets(app: &App) -> std::result::Result<usize, StoreError> {
    let Some(keys) = app.config.secret_keys.as_ref() else {
        return Ok(0);
    };
    let mut resealed = 0;
    let mut after = None;
    loop {
        let page = app.store.sealed_connections_after(after, 100).await?;
        let Some(last) = page.last() else {
            return Ok(resealed);
        };
        after = Some(last.id);
        for c in &page {
            let Some(sealed) = c.oidc.as_ref().and_then(|o| o.sealed_secret.as_deref()) else {
                continue;
            };
            if !keys.is_stale(sealed) {
                continue;
            }
            match keys.open(sealed, c.id.as_bytes()) {
                Ok(secret) => {
                    use secrecy::ExposeSecret;
                    let new = keys.seal(secret.expose_secret().as_bytes(), c.id.as_bytes());
                    if app.store.reseal_secret(c.id, sealed, &new).await? {
                        resealed += 1;
                    }
                }
                Err(e) => {
                    tracing::warn!(connection = %c.id, error = %e, "a client secret cannot be sealed again");
                }
            }
        }
    }
}
