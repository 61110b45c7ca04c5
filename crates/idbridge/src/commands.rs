use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use idbridge_app::clients::{self, CreateClient};
use idbridge_app::credentials::{self, CreateScimToken};
use idbridge_app::mail::{MailSettings, Mailer};
use idbridge_app::tenants::{self, CreateTenant};
use idbridge_app::views::{
    AdminKeyCreated, AdminKeyView, ClientCreated, ClientView, List, OperatorView, ScimTokenCreated,
    ScimTokenView, TenantDetail, TenantView,
};
use idbridge_app::{App, AppConfig, PublicUrl, Retention};
use idbridge_core::SystemClock;
use idbridge_core::sealed::Keyring;
use idbridge_core::secret::BootstrapAdminKey;
use idbridge_server::{AppState, MailTemplateSet, RateLimitQuota, ServerConfig};
use idbridge_store::{DatabaseUrl, PageRequest, PoolSettings, Store, StoreError};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::cli::{
    AdminKeyCommand, Cli, ClientCommand, Command, CommonArgs, KeysCommand, OperatorCommand,
    ScimTokenCommand, SecretKeyCommand, ServeArgs, TenantCommand, UserCommand,
};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(&cli.common, args).await,
        Command::Migrate => {
            let store = open_store(&cli.common, None).await?;
            store.close().await;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Tenant(command) => with_app(&cli.common, |app| tenant(app, command)).await,
        Command::User(command) => with_app(&cli.common, |app| user(app, command)).await,
        Command::AuditLog {
            tenant,
            actor,
            action,
            limit,
            cursor,
        } => {
            with_app(&cli.common, |app| async move {
                let page = idbridge_app::views::page_request(Some(limit), cursor.as_deref())?;
                let query = idbridge_app::audit::AuditQuery {
                    tenant: tenant.as_deref(),
                    actor: actor.as_deref(),
                    action: action.as_deref(),
                };
                let records = idbridge_app::audit::list(&app, query, page).await?;
                print(&List::from_page(records, |r| r))
            })
            .await
        }
        Command::ScimToken(command) => with_app(&cli.common, |app| scim_token(app, command)).await,
        Command::Client(command) => with_app(&cli.common, |app| client(app, command)).await,
        Command::AdminKey(command) => with_app(&cli.common, |app| admin_key(app, command)).await,
        Command::Keys(command) => with_app(&cli.common, |app| keys(app, command)).await,
        Command::Operator(command) => {
            // Read before connecting, so a prompt is not interleaved with start-up logs.
            let password = read_password()?;
            with_app(&cli.common, |app| operator(app, command, password)).await
        }
        Command::SecretKey(SecretKeyCommand::Generate) => {
            println!("{}", Keyring::generate_key());
            Ok(())
        }
        Command::DevIdp(args) => crate::dev_idp::run(&cli.common, args).await,
    }
}

fn public_url(common: &CommonArgs) -> anyhow::Result<PublicUrl> {
    let raw = common
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", common.listen));
    PublicUrl::parse(&raw).with_context(|| format!("--public-url {raw:?}"))
}

/// How long `serve` and the operator commands wait for a database that is still
/// starting (a container coming up beside idbridge) before giving up.
const DATABASE_WAIT: Duration = Duration::from_secs(60);
/// How long one attempt may take before it is reported and retried.
const DATABASE_ATTEMPT: Duration = Duration::from_secs(3);

/// Opens the database with a pool of `max_connections` (`None`: the backend's
/// default), waiting while it is unreachable, and applies migrations.
async fn open_store(
    common: &CommonArgs,
    max_connections: Option<u32>,
) -> anyhow::Result<Arc<dyn Store>> {
    let url = DatabaseUrl::parse(&common.database_url).context("--database-url")?;
    tracing::info!(database = %url.redacted(), "opening database");
    let settings = PoolSettings {
        max_connections: max_connections
            .unwrap_or_else(|| PoolSettings::default_connections(url.backend())),
        ..PoolSettings::default()
    };
    let store = idbridge_store::connect(&url, &settings).context("cannot open the database")?;
    let deadline = tokio::time::Instant::now() + DATABASE_WAIT;
    let mut delay = Duration::from_millis(250);
    loop {
        let reason = match tokio::time::timeout(DATABASE_ATTEMPT, store.ping()).await {
            Ok(Ok(())) => break,
            Ok(Err(StoreError::Unavailable(err))) => err.to_string(),
            Ok(Err(err)) => return Err(err).context("cannot open the database"),
            Err(_) => format!("no connection within {DATABASE_ATTEMPT:?}"),
        };
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("the database was not reachable within {DATABASE_WAIT:?}: {reason}");
        }
        tracing::warn!(reason, "database not reachable yet; retrying in {delay:?}");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    Ok(store)
}

async fn serve(common: &CommonArgs, args: ServeArgs) -> anyhow::Result<()> {
    let public_url = public_url(common)?;
    let store = open_store(common, args.database_max_connections).await?;
    let dns_resolver = match &args.dns_resolver {
        Some(raw) => {
            let addr = resolve_dns_server(raw).await?;
            tracing::info!(dns_resolver = %addr, "domain verification asks this DNS server only");
            Some(addr)
        }
        None => None,
    };
    if args.allow_private_urls {
        tracing::warn!(
            "--allow-private-urls: metadata URLs may reach private and loopback addresses"
        );
    }
    let rate_limit = RateLimitQuota::new(args.rate_limit_per_minute, args.rate_limit_burst);
    match rate_limit {
        Some(quota) => tracing::info!(
            per_minute = quota.per_minute,
            burst = quota.burst,
            "sign-in routes are limited per client address, in this process"
        ),
        None => {
            tracing::warn!("--rate-limit-per-minute 0: the sign-in routes have no per-client limit")
        }
    }
    if !args.trusted_proxies.is_empty() {
        tracing::info!(
            trusted_proxies = %args.trusted_proxies,
            "X-Forwarded-For is believed from these peers"
        );
    }
    let secret_keys = match &args.secret_key {
        Some(keys) => {
            let ring = Keyring::parse(keys.expose_secret()).context("--secret-key")?;
            tracing::info!(key_ids = ?ring.key_ids(), "client secrets are sealed with the first secret key");
            Some(Arc::new(ring))
        }
        None => None,
    };
    let app = App::new(
        Arc::clone(&store),
        Arc::new(SystemClock),
        AppConfig {
            public_url: public_url.clone(),
            allow_private_urls: args.allow_private_urls,
            dns_resolver,
            retention: Retention {
                event_days: args.event_retention_days,
                provisioning_log_days: args.provisioning_log_retention_days,
                audit_days: args.audit_log_retention_days,
            },
            secret_keys,
        },
    );
    app.build_outbound();
    let app = match &args.smtp_url {
        Some(smtp_url) => app.with_mailer(mailer(smtp_url, &args, &public_url)?),
        None => app,
    };
    let config = ServerConfig {
        bootstrap_admin_key: args.admin_api_key.as_ref().map(BootstrapAdminKey::new),
        rate_limit,
        trusted_proxies: args.trusted_proxies,
        scim_body_limit: args.scim_max_body_bytes,
    };
    let state = AppState::new(app, config);
    // ID token signing keys exist before the first request (one per algorithm, even
    // when several processes start at once).
    idbridge_app::keys::ensure_signing_keys(&state.app)
        .await
        .context("cannot create ID token signing keys")?;
    let listener = tokio::net::TcpListener::bind(common.listen)
        .await
        .with_context(|| format!("cannot listen on {}", common.listen))?;
    let bound = listener.local_addr()?;
    if let Some(path) = &args.write_addr_to {
        std::fs::write(path, bound.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    tracing::info!(listen = %bound, public_url = public_url.as_str(), "idbridge is ready");
    // Background work every process shares; it holds no state of its own.
    let jobs = idbridge_app::jobs::spawn(&state.app);
    idbridge_server::serve(
        listener,
        state,
        shutdown_signal(),
        Duration::from_secs(args.shutdown_grace_seconds),
    )
    .await
    .context("server failed")?;
    // A delivery cut off here is retried after its lease runs out (at least once).
    drop(jobs);
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `--smtp-url`, `--mail-from` and `--invite-url`, with the server's templates.
fn mailer(
    smtp_url: &secrecy::SecretString,
    args: &ServeArgs,
    public_url: &PublicUrl,
) -> anyhow::Result<Mailer> {
    let settings = MailSettings::parse(
        smtp_url.expose_secret(),
        args.mail_from.as_deref(),
        args.invite_url.as_deref(),
        public_url,
    )?;
    if settings.smtp.sends_password_in_clear() {
        tracing::warn!(
            smtp = %settings.smtp,
            "--smtp-url sends its password unencrypted: use smtps:// or ?tls=starttls beyond this host"
        );
    }
    if settings.invite_url.is_none() {
        tracing::info!(
            "--invite-url is not set: invitations link to the tenant's SAML sign-in ({{public-url}}/saml/{{slug}}/login)"
        );
    }
    Ok(Mailer::new(settings, Arc::new(MailTemplateSet))?)
}

/// `--dns-resolver host:port` as an address. A host name is resolved once, at
/// start, by the system: the server it names is then the only one asked.
async fn resolve_dns_server(raw: &str) -> anyhow::Result<std::net::SocketAddr> {
    if let Ok(addr) = raw.parse() {
        return Ok(addr);
    }
    tokio::net::lookup_host(raw)
        .await
        .with_context(|| format!("--dns-resolver {raw:?}: expected host:port"))?
        .next()
        .with_context(|| format!("--dns-resolver {raw:?}: the host has no address"))
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received; finishing in-flight requests"),
        () = terminate => tracing::info!("SIGTERM received; finishing in-flight requests"),
    }
}

/// Runs an operator command against the same database the service uses, through
/// the application layer (no HTTP state: operator commands serve no requests).
async fn with_app<F, Fut>(common: &CommonArgs, f: F) -> anyhow::Result<()>
where
    F: FnOnce(App) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let store = open_store(common, Some(2)).await?;
    let app = App::new(
        Arc::clone(&store),
        Arc::new(SystemClock),
        AppConfig::new(public_url(common)?),
    );
    let result = f(app).await;
    store.close().await;
    result
}

fn print(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn tenant(app: App, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create {
            slug,
            name,
            sso_required,
            default_role,
        } => {
            let input = CreateTenant {
                slug,
                name,
                sso_required: Some(sso_required),
                jit_enabled: None,
                require_verified_domains: None,
                default_role,
                role_policy: None,
                invite_new_users: None,
            };
            let created = tenants::create(&app, input, &cli_audit()).await?;
            print(&TenantDetail::new(created, &app.config.public_url))
        }
        TenantCommand::List { limit, cursor } => {
            let page = idbridge_app::views::page_request(Some(limit), cursor.as_deref())?;
            let tenants = tenants::list(&app, page).await?;
            print(&List::from_page(tenants, TenantView::from))
        }
        TenantCommand::Delete { slug } => {
            tenants::delete(&app, &slug, &cli_audit()).await?;
            eprintln!("tenant {slug} deleted");
            Ok(())
        }
    }
}

async fn user(app: App, command: UserCommand) -> anyhow::Result<()> {
    use idbridge_app::directory::manual::{self, NewUser, PersonName, UserChange};
    let audit = cli_audit();
    let (slug, id, change) = match command {
        UserCommand::Create {
            tenant,
            email,
            given_name,
            family_name,
            roles,
            inactive,
        } => {
            let tenant = tenants::find(&app, &tenant).await?;
            let input = NewUser {
                email,
                name: Some(PersonName {
                    given_name,
                    family_name,
                }),
                roles: Some(roles),
                active: Some(!inactive),
            };
            return print(&manual::create(&app, &tenant, input, &audit).await?);
        }
        UserCommand::Delete { tenant, id } => {
            let tenant = tenants::find(&app, &tenant).await?;
            manual::delete(&app, &tenant, id, &audit).await?;
            eprintln!("user {id} deleted");
            return Ok(());
        }
        UserCommand::Deactivate { tenant, id } => (tenant, id, false),
        UserCommand::Activate { tenant, id } => (tenant, id, true),
    };
    let tenant = tenants::find(&app, &slug).await?;
    let input = UserChange {
        active: Some(change),
        ..UserChange::default()
    };
    print(&manual::change(&app, &tenant, id, input, &audit).await?)
}

async fn scim_token(app: App, command: ScimTokenCommand) -> anyhow::Result<()> {
    match command {
        ScimTokenCommand::Create {
            tenant,
            description,
        } => {
            let input = CreateScimToken { description };
            let issued = credentials::issue_scim_token(&app, &tenant, input, &cli_audit()).await?;
            let created = ScimTokenCreated::new(issued, &app.config.public_url);
            eprintln!(
                "This token is shown once. Paste it as the Secret Token (Entra ID) or API Token (Okta)."
            );
            print(&created)
        }
        ScimTokenCommand::List { tenant } => {
            let page = PageRequest::first(PageRequest::MAX_LIMIT);
            let tokens = credentials::list_scim_tokens(&app, &tenant, page).await?;
            print(&List::from_page(tokens, ScimTokenView::from))
        }
        ScimTokenCommand::Revoke { tenant, id } => {
            credentials::revoke_scim_token(&app, &tenant, id, &cli_audit()).await?;
            eprintln!("SCIM token {id} revoked");
            Ok(())
        }
    }
}

async fn client(app: App, command: ClientCommand) -> anyhow::Result<()> {
    match command {
        ClientCommand::Create {
            name,
            redirect_uris,
            public,
            id_token_alg,
        } => {
            let created = clients::create(
                &app,
                CreateClient {
                    name,
                    redirect_uris,
                    public,
                    id_token_signed_response_alg: id_token_alg,
                },
                &cli_audit(),
            )
            .await?;
            let created = ClientCreated::from(created);
            if created.client_secret.is_some() {
                eprintln!("The client secret is shown once; store it in the app's configuration.");
            }
            print(&created)
        }
        ClientCommand::List => {
            let page = clients::list(&app, PageRequest::first(PageRequest::MAX_LIMIT)).await?;
            print(&List::from_page(page, ClientView::from))
        }
        ClientCommand::Delete { client_id } => {
            clients::delete(&app, client_id, &cli_audit()).await?;
            eprintln!("client {client_id} deleted");
            Ok(())
        }
    }
}

async fn admin_key(app: App, command: AdminKeyCommand) -> anyhow::Result<()> {
    match command {
        AdminKeyCommand::Create { name } => {
            let created = AdminKeyCreated::from(
                credentials::create_admin_key(&app, &name, &cli_audit()).await?,
            );
            eprintln!("This admin API key is shown once.");
            print(&created)
        }
        AdminKeyCommand::List => {
            let page = PageRequest::first(PageRequest::MAX_LIMIT);
            let keys = credentials::list_admin_keys(&app, page).await?;
            print(&List::from_page(keys, AdminKeyView::from))
        }
        AdminKeyCommand::Revoke { id } => {
            credentials::revoke_admin_key(&app, id, &cli_audit()).await?;
            eprintln!("admin API key {id} revoked");
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct SigningKeyView {
    kid: String,
    algorithm: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    retired_at: Option<time::OffsetDateTime>,
}

async fn keys(app: App, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::List => {
            let keys: Vec<SigningKeyView> = app
                .store
                .signing_keys()
                .await?
                .into_iter()
                .map(|k| SigningKeyView {
                    kid: k.kid,
                    algorithm: k.algorithm,
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                })
                .collect();
            print(&keys)
        }
        KeysCommand::Rotate { alg } => {
            let algorithm = idbridge_oidc::SigningAlgorithm::parse(&alg)
                .with_context(|| format!("--alg {alg:?}: RS256 or ES256"))?;
            let kid = idbridge_app::keys::rotate(&app, algorithm, &cli_audit()).await?;
            eprintln!(
                "{alg} signing key rotated: {kid} signs from now; the previous key stays published for 24 hours"
            );
            Ok(())
        }
    }
}

/// The password on standard input: the first line, without its line ending. When a
/// person types it, the terminal echoes it; pipe it from a password manager instead.
fn read_password() -> anyhow::Result<secrecy::SecretString> {
    use std::io::BufRead as _;
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("Password (at least 12 characters), then Enter:");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok(secrecy::SecretString::from(password))
}

async fn operator(
    app: App,
    command: OperatorCommand,
    password: secrecy::SecretString,
) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Create { email } => {
            let operator =
                idbridge_app::operators::create(&app, &email, &password, &cli_audit()).await?;
            print(&OperatorView::from(operator))
        }
    }
}

/// The CLI as the audit log names it: the OS user who ran it, when the environment
/// says (`SUDO_USER` first: the person behind `sudo`, not root).
fn cli_audit() -> idbridge_app::audit::Audit {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    idbridge_app::audit::Audit::cli(user)
}
