//! A real SMTP server on loopback (aiosmtpd, run by `tests/smtp/server.py`) that
//! keeps every message it accepts, for the mail tests to read back.
//!
//! `scripts/test` installs aiosmtpd (pinned in `tests/smtp/requirements.txt`) into
//! a virtual environment and sets `IDBRIDGE_SMTP_TEST_PYTHON` to its interpreter.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

pub const PYTHON_VAR: &str = "IDBRIDGE_SMTP_TEST_PYTHON";

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    /// Listen here rather than on a port the system picks.
    pub port: Option<u16>,
    /// Answer every RCPT TO with 550.
    pub reject_recipients: bool,
    /// Require SMTP AUTH with this user name and password (over plain SMTP).
    pub auth: Option<(String, String)>,
}

/// A message the server accepted, as Python's MIME parser reads it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// Whether the client had authenticated.
    pub authenticated: bool,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    /// The top-level type (`multipart/alternative` for a plain and HTML message).
    pub content_type: String,
    /// The decoded text/plain part.
    pub text: Option<String>,
    /// The decoded text/html part.
    pub html: Option<String>,
    /// The message as received.
    pub raw: String,
}

impl ReceivedMail {
    fn from_json(value: &serde_json::Value) -> Self {
        let text = |key: &str| value[key].as_str().map(str::to_owned);
        let field = |key: &str| text(key).unwrap_or_default();
        Self {
            mail_from: field("mail_from"),
            rcpt_tos: value["rcpt_tos"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            authenticated: value["authenticated"].as_bool().unwrap_or(false),
            from: field("from"),
            to: field("to"),
            subject: field("subject"),
            message_id: field("message_id"),
            content_type: field("content_type"),
            text: text("text"),
            html: text("html"),
            raw: field("raw"),
        }
    }
}

/// The running server; stopped when dropped.
pub struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// A port free on 127.0.0.1 right now (for a server to be started later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

impl SmtpServer {
    pub async fn start() -> Self {
        Self::start_with(SmtpOptions::default()).await
    }

    pub async fn start_with(options: SmtpOptions) -> Self {
        let python = std::env::var(PYTHON_VAR).unwrap_or_else(|_| {
            panic!("{PYTHON_VAR} is not set: run scripts/test, which installs aiosmtpd and sets it")
        });
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/smtp/server.py");
        let dir = tempfile::Builder::new()
            .prefix("idbridge-smtp-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let mut command = Command::new(python);
        command.arg(&script).arg(dir.path());
        if let Some(port) = options.port {
            command.arg("--port").arg(port.to_string());
        }
        if options.reject_recipients {
            command.arg("--reject-rcpt");
        }
        if let Some((user, password)) = &options.auth {
            command.arg("--auth").arg(format!("{user}:{password}"));
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("the SMTP server did not start in 20 s"))
            .unwrap_or_else(|e| panic!("reading the SMTP server's output: {e}"))
            .unwrap_or_else(|| panic!("the SMTP server exited at start (is aiosmtpd installed?)"));
        let port = ready
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the SMTP server: {ready:?}"));
        Self { child, port, dir }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP, as a local relay.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order of arrival.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                let value: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
                ReceivedMail::from_json(&value)
            })
            .collect()
    }

    /// Stops the server (its port is free again once this returns).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
