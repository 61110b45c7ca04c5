//! The command line: `idbridge serve` and the operator commands, all reading the
//! same configuration (flags, or the `IDBRIDGE_*` environment variables).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use idbridge_app::Retention;
use idbridge_server::{RateLimitQuota, ScimBodyLimit, TrustedProxies};
use secrecy::SecretString;
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(
    name = "idbridge",
    version,
    about = "Enterprise identity bridge: per-tenant SAML SSO and SCIM provisioning in, OpenID Connect out.",
    after_help = "Every flag can also be set by the environment variable shown with it."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Database: sqlite://PATH (embedded, created if missing) or postgres://…
    #[arg(
        long,
        env = "IDBRIDGE_DATABASE_URL",
        default_value = "sqlite://idbridge.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Address to listen on.
    #[arg(
        long,
        env = "IDBRIDGE_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// Base of every URL idbridge hands out (Entity ID, ACS URL, SCIM base URL,
    /// issuer). Default: http://<listen address>.
    #[arg(long, env = "IDBRIDGE_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Log format.
    #[arg(long, env = "IDBRIDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    /// Log filter, in `tracing` EnvFilter syntax (e.g. `info`, `idbridge=debug`).
    #[arg(long, env = "IDBRIDGE_LOG", default_value = "info", global = true)]
    pub log: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Apply database migrations and exit (serve also applies them at start).
    Migrate,
    /// Manage tenants (the app's enterprise customers).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Create, change and delete a tenant's users by hand (they still sign in
    /// through the tenant's IdP).
    #[command(subcommand)]
    User(UserCommand),
    /// Every change made through the admin API, the console, the portal and the CLI.
    #[command(name = "audit-log")]
    AuditLog {
        /// Only changes to this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// An actor kind (admin_key, operator, setup_link, cli), an id, or kind:id.
        #[arg(long)]
        actor: Option<String>,
        /// One action, e.g. tenant.updated.
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// `next_cursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Manage a tenant's SCIM bearer tokens.
    #[command(subcommand, name = "scim-token")]
    ScimToken(ScimTokenCommand),
    /// Manage OIDC clients (the app).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage admin API keys.
    #[command(subcommand, name = "admin-key")]
    AdminKey(AdminKeyCommand),
    /// Manage the keys that sign ID tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the people who sign in to the admin console (`/admin`).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// The secret keys that seal IdP client secrets at rest (`serve --secret-key`).
    #[command(subcommand, name = "secret-key")]
    SecretKey(SecretKeyCommand),
    /// A test identity provider for local development (SAML IdP, SCIM provisioner).
    /// Never for production: it signs whatever is typed into it.
    #[command(
        name = "dev-idp",
        after_help = "Here --listen defaults to 127.0.0.1:9090 and --public-url to http://<listen address>; both are read from the command line only (IDBRIDGE_LISTEN and IDBRIDGE_PUBLIC_URL are serve's)."
    )]
    DevIdp(DevIdpArgs),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (`source: manual`); a later SCIM create of the same userName or
    /// email adopts it.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// An app role; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Create the user deactivated.
        #[arg(long)]
        inactive: bool,
    },
    /// Deactivate a user: its sign-ins are refused and the app is told.
    Deactivate {
        #[arg(long)]
        tenant: String,
        id: uuid::Uuid,
    },
    /// Activate a deactivated user again.
    Activate {
        #[arg(long)]
        tenant: String,
        id: uuid::Uuid,
    },
    /// Delete a user and its group memberships.
    Delete {
        #[arg(long)]
        tenant: String,
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretKeyCommand {
    /// Print a new random key (32 bytes, base64) for --secret-key / IDBRIDGE_SECRET_KEY.
    Generate,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create a console operator. The password is read from standard input (one
    /// line), never from the command line, where other users and shell history see it.
    Create {
        #[arg(long, env = "IDBRIDGE_OPERATOR_EMAIL")]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys (ids, algorithms, dates; never the private keys).
    List,
    /// Replace the active signing key with a new one. The old key stays in JWKS for
    /// 24 hours, so tokens it signed still verify.
    Rotate {
        /// RS256 or ES256.
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Accept this key on the admin API (bootstrap; keys from `admin-key create` also work).
    #[arg(long, env = "IDBRIDGE_ADMIN_API_KEY", hide_env_values = true)]
    pub admin_api_key: Option<SecretString>,

    /// host:port of one DNS server to ask instead of the system's resolvers (domain
    /// verification), over UDP and TCP. Default: the system's resolvers.
    #[arg(long, env = "IDBRIDGE_DNS_RESOLVER", value_name = "HOST:PORT")]
    pub dns_resolver: Option<String>,

    /// Keys that seal the client secrets of OpenID Connect connections (AES-256-GCM):
    /// comma-separated, each 32 bytes in base64 (`idbridge secret-key generate`). The
    /// first seals; all open, so a rotation puts the new key first and keeps the old
    /// one until connections' secrets are set again. Every process sharing a database
    /// needs the same keys. Without it, client secrets cannot be stored.
    #[arg(
        long,
        env = "IDBRIDGE_SECRET_KEY",
        hide_env_values = true,
        value_name = "KEYS"
    )]
    pub secret_key: Option<SecretString>,

    /// Let metadata and webhook URLs resolve to loopback/private addresses (tests,
    /// development).
    #[arg(long, env = "IDBRIDGE_ALLOW_PRIVATE_URLS", default_value_t = false)]
    pub allow_private_urls: bool,

    /// SMTP server for invitation e-mail: smtp://host:port (plain, e.g. a local
    /// relay), smtp://user:pass@host:port?tls=starttls, or smtps://user:pass@host:port
    /// (user name and password percent-encoded). Default: none, and no e-mail is
    /// queued or sent.
    #[arg(
        long,
        env = "IDBRIDGE_SMTP_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub smtp_url: Option<SecretString>,

    /// Sender of invitation e-mail: address or "Name <address>". Default:
    /// idbridge@<public-url host>.
    #[arg(long, env = "IDBRIDGE_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,

    /// The link in an invitation: the app's sign-in page, with {email} and {tenant}
    /// (the slug) filled in, e.g. https://app.example.com/login?login_hint={email}.
    /// Default: the tenant's SAML sign-in, {public-url}/saml/{slug}/login, which lands
    /// at the connection's default_redirect_uri.
    #[arg(long, env = "IDBRIDGE_INVITE_URL", value_name = "URL")]
    pub invite_url: Option<String>,

    /// Most database connections this process opens. Default: 10 on PostgreSQL
    /// (half readers, half writers); on SQLite (where these are the readers) two per
    /// core, between 4 and 10.
    #[arg(long, env = "IDBRIDGE_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,

    /// Requests per minute each client address may make, in this process, to the
    /// routes anyone can call that store something: /saml/{slug}/login,
    /// /saml/{slug}/acs and /oauth/authorize (one budget for the three; an IPv6
    /// client counts by its /64). Over it: 429 with Retry-After. 0 turns it off.
    #[arg(long, env = "IDBRIDGE_RATE_LIMIT_PER_MINUTE", default_value_t = RateLimitQuota::DEFAULT_PER_MINUTE)]
    pub rate_limit_per_minute: u32,

    /// Requests a client address may make at once before the per-minute rate applies.
    #[arg(long, env = "IDBRIDGE_RATE_LIMIT_BURST", default_value_t = RateLimitQuota::DEFAULT_BURST)]
    pub rate_limit_burst: NonZeroU32,

    /// Reverse proxies and load balancers whose X-Forwarded-For names the client:
    /// comma-separated IP addresses and CIDR blocks (10.0.0.0/8,2001:db8::/32).
    /// Default: none, and the header is ignored.
    #[arg(
        long,
        env = "IDBRIDGE_TRUSTED_PROXIES",
        value_name = "LIST",
        default_value = ""
    )]
    pub trusted_proxies: TrustedProxies,

    /// Largest SCIM request body, in bytes (at least 4096). A larger one is refused with
    /// 413 before it is read; /ServiceProviderConfig advertises it as
    /// bulk.maxPayloadSize. Raise it if an IdP pushes groups of more than about 20,000
    /// members in one request.
    #[arg(
        long,
        env = "IDBRIDGE_SCIM_MAX_BODY_BYTES",
        value_name = "BYTES",
        default_value_t = ScimBodyLimit::default()
    )]
    pub scim_max_body_bytes: ScimBodyLimit,

    /// Days the event feed keeps an event (0: for ever). An event a webhook endpoint
    /// (even a disabled or dead one) has not yet delivered is kept whatever its age.
    #[arg(
        long,
        env = "IDBRIDGE_EVENT_RETENTION_DAYS",
        value_name = "DAYS",
        default_value_t = Retention::DEFAULT_EVENT_DAYS
    )]
    pub event_retention_days: u32,

    /// Days the SCIM provisioning log keeps a line (0: for ever).
    #[arg(
        long,
        env = "IDBRIDGE_PROVISIONING_LOG_RETENTION_DAYS",
        value_name = "DAYS",
        default_value_t = Retention::DEFAULT_PROVISIONING_LOG_DAYS
    )]
    pub provisioning_log_retention_days: u32,

    /// Days the audit log keeps a record of a change (0: for ever).
    #[arg(
        long,
        env = "IDBRIDGE_AUDIT_LOG_RETENTION_DAYS",
        value_name = "DAYS",
        default_value_t = Retention::DEFAULT_AUDIT_DAYS
    )]
    pub audit_log_retention_days: u32,

    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    #[arg(long, env = "IDBRIDGE_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,

    /// Write the bound address to this file once listening (for scripts that pass
    /// --listen 127.0.0.1:0).
    #[arg(long, hide = true)]
    pub write_addr_to: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// [a-z0-9-]{1,63}
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// Tell the app that password login is off for this tenant's users.
        #[arg(long)]
        sso_required: bool,
        /// Role for users whose IdP sends none.
        #[arg(long)]
        default_role: Option<String>,
    },
    /// List tenants.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Delete a tenant and everything it owns.
    Delete { slug: String },
}

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Generate a SCIM token for a tenant (printed once).
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List a tenant's SCIM tokens (never the tokens themselves).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a SCIM token; it stops working at once.
    Revoke {
        #[arg(long)]
        tenant: String,
        id: Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an OIDC client (the secret is printed once).
    Create {
        #[arg(long)]
        name: String,
        /// Exact redirect URI; repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long)]
        public: bool,
        /// ID token signature: RS256 (default) or ES256.
        #[arg(long = "id-token-alg")]
        id_token_alg: Option<String>,
    },
    /// List OIDC clients.
    List,
    /// Delete an OIDC client.
    Delete { client_id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum AdminKeyCommand {
    /// Create an admin API key (printed once).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List admin API keys (never the keys themselves).
    List,
    /// Revoke an admin API key.
    Revoke { id: Uuid },
}

/// `idbridge dev-idp`: `--listen` (default here 127.0.0.1:9090) and `--public-url`
/// (default http://<listen address>) are read from the command line only: their
/// IDBRIDGE_* variables and defaults belong to `serve`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DevIdpArgs {
    #[command(subcommand)]
    pub command: Option<DevIdpCommand>,

    /// Where the signing key and certificate are kept, so the metadata stays the same
    /// across restarts. Default: $XDG_DATA_HOME/idbridge/dev-idp, else
    /// ~/.local/share/idbridge/dev-idp.
    #[arg(long, env = "IDBRIDGE_DEV_IDP_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Listen on an address other machines can reach. The dev IdP signs whatever
    /// anyone who reaches it types: only on a network you trust.
    #[arg(long, default_value_t = false)]
    pub allow_non_loopback: bool,

    /// The only client_id its OpenID Provider accepts. Default: any client_id.
    #[arg(long, env = "IDBRIDGE_DEV_IDP_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,

    /// The client secret its OpenID Provider checks at the token endpoint
    /// (client_secret_basic or client_secret_post).
    #[arg(
        long,
        env = "IDBRIDGE_DEV_IDP_OIDC_CLIENT_SECRET",
        hide_env_values = true,
        default_value = idbridge_dev_idp::DEFAULT_CLIENT_SECRET,
        value_name = "SECRET"
    )]
    pub oidc_client_secret: String,
}

#[derive(Debug, Subcommand)]
pub enum DevIdpCommand {
    /// Push a sample directory into a tenant as Entra ID's provisioning cycle would
    /// (users with enterprise attributes and app roles, groups with members, then
    /// some updates and deactivations), printing each request.
    Provision(DevIdpProvisionArgs),
}

#[derive(Debug, Args)]
pub struct DevIdpProvisionArgs {
    /// The tenant's SCIM base URL ({public-url}/scim/v2/{slug}).
    #[arg(long, value_name = "URL")]
    pub scim_url: String,
    /// The tenant's SCIM token (`idbridge scim-token create`).
    #[arg(long, env = "IDBRIDGE_DEV_IDP_SCIM_TOKEN", hide_env_values = true)]
    pub token: String,
    /// How many users.
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    /// How many groups.
    #[arg(long, default_value_t = 3)]
    pub groups: usize,
    /// The users' email domain.
    #[arg(long, default_value = "example.com")]
    pub domain: String,
}

/// Whether the global flag `id` was typed on this process's command line (not
/// taken from its environment variable or default).
pub fn given_on_command_line(id: &str) -> bool {
    use clap::CommandFactory;
    use clap::parser::ValueSource;
    let Ok(matches) = Cli::command().try_get_matches_from(std::env::args_os()) else {
        return false;
    };
    let mut current = Some(&matches);
    while let Some(m) = current {
        if m.try_get_raw(id).ok().flatten().is_some()
            && m.value_source(id) == Some(ValueSource::CommandLine)
        {
            return true;
        }
        current = m.subcommand().map(|(_, sub)| sub);
    }
    false
}
