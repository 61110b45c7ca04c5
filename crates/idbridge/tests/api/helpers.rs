//! `TestApp`: the real service on a loopback port over a fresh database, spoken to
//! over real HTTP. `ServerProcess`: the real `idbridge` binary, for what only a
//! separate process shows (logs, signals, several nodes on one database).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use idbridge_app::{App, AppConfig, PublicUrl};
use idbridge_core::ManualClock;
use idbridge_core::secret::BootstrapAdminKey;
use idbridge_server::{AppState, RateLimitQuota, ScimBodyLimit, ServerConfig, TrustedProxies};
use idbridge_store::{DatabaseUrl, PoolSettings, Store};
use idbridge_testkit::TestDb;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use time::macros::datetime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_KEY: &str = "test-bootstrap-admin-key";
/// `--secret-key` of the test servers (32 bytes of 0x2a, base64).
pub const SECRET_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    /// Dropping the sender starts the server's graceful shutdown.
    _shutdown: oneshot::Sender<()>,
    _server: JoinHandle<std::io::Result<()>>,
    /// Declared last: dropped after the server has been told to stop.
    _db: TestDb,
}

pub async fn open_store(db: &TestDb) -> Arc<dyn Store> {
    let url = DatabaseUrl::parse(db.url()).expect("test database URL");
    let store = idbridge_store::connect(&url, &PoolSettings::default()).expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// Settings a test may change; the rest are as `idbridge serve` starts.
pub struct TestOptions {
    pub allow_private_urls: bool,
    pub dns_resolver: Option<std::net::SocketAddr>,
    /// The sign-in routes' per-client limit; the production default unless a test
    /// is about the limit.
    pub rate_limit: Option<RateLimitQuota>,
    pub trusted_proxies: TrustedProxies,
    pub scim_body_limit: ScimBodyLimit,
    /// `--secret-key`: [`SECRET_KEY`] unless a test is about its absence.
    pub secret_key: Option<&'static str>,
    /// `--smtp-url` (and `--invite-url`): invitations are queued and can be sent.
    pub smtp_url: Option<String>,
    pub invite_url: Option<&'static str>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            allow_private_urls: false,
            dns_resolver: None,
            rate_limit: RateLimitQuota::new(
                RateLimitQuota::DEFAULT_PER_MINUTE,
                RateLimitQuota::DEFAULT_BURST,
            ),
            trusted_proxies: TrustedProxies::default(),
            scim_body_limit: ScimBodyLimit::default(),
            secret_key: Some(SECRET_KEY),
            smtp_url: None,
            invite_url: None,
        }
    }
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, TestOptions::default()).await
    }

    /// With `--allow-private-urls`: for tests whose metadata server is on loopback.
    pub async fn spawn_allowing_private_urls(db: TestDb) -> Self {
        let options = TestOptions {
            allow_private_urls: true,
            ..TestOptions::default()
        };
        Self::spawn_with(db, options).await
    }

    /// With `--dns-resolver <addr>`: domain verification asks the test's DNS server.
    pub async fn spawn_with_dns_resolver(db: TestDb, dns_resolver: std::net::SocketAddr) -> Self {
        let options = TestOptions {
            dns_resolver: Some(dns_resolver),
            ..TestOptions::default()
        };
        Self::spawn_with(db, options).await
    }

    pub async fn spawn_with(db: TestDb, options: TestOptions) -> Self {
        // Server-side warnings and errors show up in a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("warn")
            .try_init();
        let store = open_store(&db).await;
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-01 09:00:00 UTC)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let app = App::new(
            Arc::clone(&store),
            clock.clone(),
            AppConfig {
                public_url: PublicUrl::parse(&base).expect("public url"),
                allow_private_urls: options.allow_private_urls,
                dns_resolver: options.dns_resolver,
                retention: idbridge_app::Retention::default(),
                secret_keys: options.secret_key.map(|k| {
                    Arc::new(idbridge_core::sealed::Keyring::parse(k).expect("test secret key"))
                }),
            },
        );
        let app = match &options.smtp_url {
            Some(url) => {
                let settings = idbridge_app::mail::MailSettings::parse(
                    url,
                    None,
                    options.invite_url,
                    &app.config.public_url,
                )
                .expect("mail settings");
                let mailer = idbridge_app::mail::Mailer::new(
                    settings,
                    Arc::new(idbridge_server::MailTemplateSet),
                )
                .expect("mailer");
                app.with_mailer(mailer)
            }
            None => app,
        };
        let config = ServerConfig {
            bootstrap_admin_key: Some(BootstrapAdminKey::new(&SecretString::from(ADMIN_KEY))),
            rate_limit: options.rate_limit,
            trusted_proxies: options.trusted_proxies,
            scim_body_limit: options.scim_body_limit,
        };
        let state = AppState::new(app, config);
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(idbridge_server::serve(
            listener,
            state.clone(),
            async move {
                let _ = rx.await;
            },
            Duration::from_secs(5),
        ));
        Self {
            base,
            http: reqwest::Client::new(),
            store,
            clock,
            state,
            _shutdown: tx,
            _server: server,
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client that does not follow redirects, as a test needs to see where a
    /// browser would be sent.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// A request with the bootstrap admin key.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_KEY)
    }

    /// `GET path` with the admin key, its JSON body.
    pub async fn admin_get(&self, path: &str) -> Value {
        self.admin(Method::GET, path)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }

    pub async fn create_tenant(&self, slug: &str) -> Value {
        let response = self
            .admin(Method::POST, "/api/v1/tenants")
            .json(&json!({"slug": slug, "name": format!("{slug} Inc")}))
            .send()
            .await
            .expect("send");
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "creating tenant {slug}"
        );
        response.json().await.expect("json")
    }

    /// Issues a SCIM token for `slug`; returns (id, token).
    pub async fn create_scim_token(&self, slug: &str) -> (String, String) {
        let response = self
            .admin(Method::POST, &format!("/api/v1/tenants/{slug}/scim-tokens"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        (
            body["id"].as_str().expect("id").into(),
            body["token"].as_str().expect("token").into(),
        )
    }

    pub async fn scim_get(&self, slug: &str, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(&format!("/scim/v2/{slug}{path}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("send")
    }

    /// A SCIM request with a token; `body` is sent as application/scim+json.
    pub async fn scim(
        &self,
        method: Method,
        slug: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .http
            .request(method, self.url(&format!("/scim/v2/{slug}{path}")))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        request.send().await.expect("send")
    }

    /// A tenant with a SCIM token: (token, SCIM client for it).
    pub async fn scim_tenant(&self, slug: &str) -> ScimClient<'_> {
        self.create_tenant(slug).await;
        let (_, token) = self.create_scim_token(slug).await;
        ScimClient {
            app: self,
            slug: slug.to_owned(),
            token,
        }
    }

    pub async fn tenant_count(&self) -> usize {
        let body: Value = self.admin_get("/api/v1/tenants?limit=200").await;
        body["data"].as_array().expect("data").len()
    }
}

/// Reads an error body and checks its shape: `{"error": code, "message": non-empty}`.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(
        response.status(),
        status,
        "status for expected error {code}"
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// The real `idbridge` binary, serving.
pub struct ServerProcess {
    pub base: String,
    child: tokio::process::Child,
    pub log_path: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn idbridge_bin() -> &'static str {
    env!("CARGO_BIN_EXE_idbridge")
}

impl ServerProcess {
    /// Starts `idbridge serve` on a free loopback port, logging JSON at `log_filter`.
    pub async fn start(database_url: Option<&str>, extra: &[&str], log_filter: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, database_url, extra, log_filter).await
    }

    pub async fn start_in(
        dir: tempfile::TempDir,
        database_url: Option<&str>,
        extra: &[&str],
        log_filter: &str,
    ) -> Self {
        let addr_file = dir.path().join("addr");
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut command = tokio::process::Command::new(idbridge_bin());
        command
            .current_dir(dir.path())
            .env_clear()
            .env("IDBRIDGE_LOG", log_filter)
            .env("IDBRIDGE_LOG_FORMAT", "json")
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--admin-api-key", ADMIN_KEY])
            .arg("--write-addr-to")
            .arg(&addr_file)
            .args(extra)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let child = command.spawn().expect("spawn idbridge");
        let addr = wait_for_file(&addr_file, &log_path).await;
        let base = format!("http://{addr}");
        Self {
            base,
            child,
            log_path,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub fn pid(&self) -> i32 {
        self.child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .expect("running")
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn terminate(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid()),
            nix::sys::signal::SIGTERM,
        )
        .expect("SIGTERM");
    }

    /// Waits for the process to exit; returns its exit code.
    pub async fn wait(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("idbridge did not exit within 30 s")
            .expect("wait");
        status.code()
    }
}

async fn wait_for_file(path: &Path, log_path: &Path) -> String {
    for _ in 0..600 {
        if let Ok(content) = std::fs::read_to_string(path)
            && !content.is_empty()
        {
            return content;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "idbridge did not start within 30 s; its log:\n{}",
        std::fs::read_to_string(log_path).unwrap_or_default()
    );
}

/// Runs an operator command of the binary; returns (exit code, stdout, stderr).
pub async fn run_cli(database_url: &str, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(idbridge_bin())
        .env_clear()
        .args(args)
        .args([
            "--database-url",
            database_url,
            "--public-url",
            "https://id.example.com",
        ])
        .output()
        .await
        .expect("run idbridge");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// SCIM requests for one tenant with its token.
pub struct ScimClient<'a> {
    pub app: &'a TestApp,
    pub slug: String,
    pub token: String,
}

impl ScimClient<'_> {
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.app
            .scim(method, &self.slug, path, &self.token, body)
            .await
    }

    /// Sends and expects `status`; returns the JSON body (Null for an empty one).
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let response = self.send(method.clone(), path, body).await;
        let got = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(got, status, "{method} {path} answered {got}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        }
    }

    pub async fn get(&self, path: &str) -> Value {
        self.expect(Method::GET, path, None, StatusCode::OK).await
    }

    pub async fn create_user(&self, user_name: &str) -> Value {
        self.expect(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "active": true,
                "emails": [{"value": user_name, "type": "work", "primary": true}],
            })),
            StatusCode::CREATED,
        )
        .await
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> Value {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        self.expect(
            Method::POST,
            "/Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": members,
            })),
            StatusCode::CREATED,
        )
        .await
    }

    /// The tenant's events through the admin API.
    pub async fn events(&self) -> Vec<Value> {
        let body: Value = self
            .app
            .admin(
                Method::GET,
                &format!("/api/v1/tenants/{}/events?limit=1000", self.slug),
            )
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    pub async fn event_types(&self) -> Vec<String> {
        self.events()
            .await
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Percent-encodes a query value.
pub fn q(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
