//! A real, OpenID Certified OpenID Provider on loopback: panva's `oidc-provider`, run
//! by Node.js from `tests/oidc-op/server.mjs` (see that file's header for what it does).
//!
//! Where the scripted IdP in `oidc_idp` lets a test shape every byte, this one
//! shows that idbridge interoperates with an independent, certified implementation:
//! discovery, JWKS, the authorization code flow with PKCE S256 (required), `state`,
//! `nonce`, RFC 9207 `iss`, and the token and userinfo endpoints.
//!
//! Sign-in needs no form: the authorization endpoint redirects (303s on the OP's own
//! host, carrying its cookies) until it reaches the client's `redirect_uri` with `code`,
//! `state` and `iss`, signed in as the account named by `login_hint` when it is one of
//! `accounts`, else the first account. A cookie jar that already holds a session stays
//! signed in as that account: use a fresh one per user.
//!
//! Scopes: `openid` (sub = the account id), `email` (email, email_verified), `profile`
//! (the standard profile claims, and every account claim not listed anywhere else),
//! `groups` (groups). Granted claims are both in the ID token and from userinfo.
//!
//! Node's packages come from `tests/oidc-op/package-lock.json`; `scripts/test` installs
//! them, and [`OidcOp::start`] does too (once, under a lock file) when they are missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;

/// How long the OP may take to print its issuer.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `npm ci` may take, and after how long another process's install lock is
/// taken for abandoned.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// A client registered at the OP (confidential, `client_secret_basic`, ID tokens
/// signed RS256). For other client metadata, use [`OidcOp::start_with_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
}

impl OpClient {
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
        }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris,
        })
    }
}

/// A running OP. Dropping it kills the process (which also exits by itself when this
/// test process goes away, as its stdin then closes).
pub struct OidcOp {
    /// `http://127.0.0.1:PORT`, no trailing slash: discovery is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    _child: Child,
    _stdin: ChildStdin,
    log: Arc<Mutex<String>>,
}

impl OidcOp {
    /// Spawns `node tests/oidc-op/server.mjs` with these clients; `accounts` is a JSON
    /// object of account id -> claims (`email`, `email_verified`, `name`, `given_name`,
    /// `family_name`, `groups`, and any other claims).
    pub async fn start(clients: &[OpClient], accounts: serde_json::Value) -> OidcOp {
        let clients: Vec<serde_json::Value> = clients.iter().map(OpClient::to_json).collect();
        Self::start_with_config(serde_json::json!({
            "clients": clients,
            "accounts": accounts,
        }))
        .await
    }

    /// Spawns the OP with a whole `OP_CONFIG` document: `{"clients": [client metadata
    /// as oidc-provider takes it, e.g. with "token_endpoint_auth_method" or
    /// "id_token_signed_response_alg": "ES256"], "accounts": {...}}`.
    pub async fn start_with_config(config: serde_json::Value) -> OidcOp {
        let dir = op_dir();
        ensure_installed(&dir).await;

        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("OP_PORT", "0")
            .env("OP_CONFIG", config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `node` for the test OpenID Provider in {}: {e} \
                     (Node.js 20 or later must be on PATH)",
                    dir.display()
                )
            });
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");

        let log = Arc::new(Mutex::new(String::new()));
        let stderr_task = forward(stderr, log.clone());

        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let read = tokio::time::timeout(START_TIMEOUT, stdout.read_line(&mut line)).await;
        let issuer = match read {
            Ok(Ok(n)) if n > 0 => serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v.get("issuer")?.as_str().map(str::to_owned)),
            _ => None,
        };
        let Some(issuer) = issuer else {
            let why = match read {
                Err(_) => format!("it printed no issuer within {START_TIMEOUT:?}"),
                Ok(Err(e)) => format!("its stdout could not be read: {e}"),
                Ok(Ok(0)) => "it exited before printing its issuer".to_owned(),
                Ok(Ok(_)) => format!("its first line is not {{\"issuer\":…}}: {line:?}"),
            };
            let _ = child.start_kill();
            let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), stderr_task).await;
            let stderr = log.lock().map(|s| s.clone()).unwrap_or_default();
            panic!(
                "the test OpenID Provider (node {}/server.mjs) did not start: {why}; \
                 exit: {status:?}\n--- its stderr ---\n{stderr}",
                dir.display()
            );
        };
        // Anything else it prints goes to the log too, so its pipes never fill up.
        drop(forward(stdout.into_inner(), log.clone()));

        OidcOp {
            issuer,
            _child: child,
            _stdin: stdin,
            log,
        }
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// What the OP has logged so far (its stderr): warnings, and every error it
    /// answered a request with.
    pub fn log(&self) -> String {
        self.log.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Copies the child's output, line by line, into `log` and to this process's stderr
/// (which the test harness shows for failing tests).
fn forward<R>(from: R, log: Arc<Mutex<String>>) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut lines = BufReader::new(from).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[oidc-op] {line}");
            if let Ok(mut log) = log.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    })
}

fn op_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-op");
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("the test OpenID Provider is not at {}: {e}", dir.display()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `npm ci` has run since `package-lock.json` last changed (the rule `scripts/test`
/// uses too).
fn installed(dir: &Path) -> bool {
    match (
        modified(&dir.join("node_modules/.package-lock.json")),
        modified(&dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed >= lock,
        _ => false,
    }
}

/// Runs `npm ci` in `dir` when its packages are missing or stale. Tests run as
/// separate processes under nextest, so a lock file (created exclusively) lets one of
/// them install while the others wait.
async fn ensure_installed(dir: &Path) {
    if installed(dir) {
        return;
    }
    let lock = std::env::temp_dir().join("idbridge-oidc-op-npm-ci.lock");
    let deadline = tokio::time::Instant::now() + INSTALL_TIMEOUT;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let abandoned = modified(&lock)
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > INSTALL_TIMEOUT);
                if abandoned {
                    let _ = std::fs::remove_file(&lock);
                    continue;
                }
                if tokio::time::Instant::now() > deadline {
                    panic!(
                        "waited {INSTALL_TIMEOUT:?} for another test's `npm ci` of the test \
                         OpenID Provider (lock {}); run scripts/test, or `npm ci --prefix {}`",
                        lock.display(),
                        dir.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("cannot create the install lock {}: {e}", lock.display()),
        }
    }
    // Holding the lock. Another process may have installed while this one waited.
    struct Unlock(PathBuf);
    impl Drop for Unlock {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _unlock = Unlock(lock);
    if installed(dir) {
        return;
    }
    eprintln!(
        "[oidc-op] installing its packages: npm ci in {}",
        dir.display()
    );
    let output = tokio::time::timeout(
        INSTALL_TIMEOUT,
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await;
    match output {
        Ok(Ok(out)) if out.status.success() => {}
        Ok(Ok(out)) => panic!(
            "`npm ci` in {} failed ({}); run scripts/test, which installs the test OpenID \
             Provider\n--- stdout ---\n{}\n--- stderr ---\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(Err(e)) => panic!(
            "cannot run `npm ci` in {}: {e}; install Node.js 20+ and npm, then run scripts/test",
            dir.display()
        ),
        Err(_) => panic!(
            "`npm ci` in {} took over {INSTALL_TIMEOUT:?}; run scripts/test",
            dir.display()
        ),
    }
}
