//! `loadtest`: starts the real `idbridge serve` (release build) on a fresh database,
//! drives it over loopback HTTP with concurrent clients, and prints a Markdown table
//! of throughput and latency per scenario. The figures in docs/benchmarks.md come
//! from `scripts/bench`, which runs this.
//!
//! Scenarios:
//! - `tenant-create`: `POST /api/v1/tenants` with unique slugs (a write per request).
//! - `token-check`: `GET /scim/v2/{slug}/ServiceProviderConfig` with a SCIM token,
//!   among `--tokens` other tokens in the database: the authentication every SCIM
//!   request pays (digest, indexed lookup, tenant check).

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use idbridge_testkit::TestDb;
use serde_json::{Value, json};

const ADMIN_KEY: &str = "loadtest-admin-key";

#[derive(Parser)]
struct Args {
    /// The idbridge binary to drive.
    #[arg(long, default_value = "target/release/idbridge")]
    bin: PathBuf,
    /// `sqlite` (a fresh file) or `postgres` (a fresh database through
    /// IDBRIDGE_TEST_DATABASE_URL).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds per scenario (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// SCIM tokens to put in the database before the token-check scenario.
    #[arg(long, default_value_t = 10_000)]
    tokens: usize,
}

struct Outcome {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Outcome {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = match args.backend.as_str() {
        "sqlite" => TestDb::sqlite().await,
        "postgres" => TestDb::postgres().await,
        other => bail!("unknown backend {other}"),
    };
    let dir = tempfile::tempdir()?;
    let addr_file = dir.path().join("addr");
    let mut server = tokio::process::Command::new(&args.bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-api-key",
            ADMIN_KEY,
        ])
        .args(["--database-url", db.url(), "--log", "warn"])
        .args(["--database-max-connections", "16"])
        .arg("--write-addr-to")
        .arg(&addr_file)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", args.bin.display()))?;
    let base = wait_for_addr(&addr_file).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    let tenant_create =
        {
            let counter = Arc::new(AtomicUsize::new(0));
            let base = base.clone();
            run(
                &args,
                move |http: reqwest::Client| {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let url = format!("{base}/api/v1/tenants");
                    async move {
                        let response = http
                    .post(&url)
                    .bearer_auth(ADMIN_KEY)
                    .json(&json!({"slug": format!("tenant-{n}"), "name": format!("Tenant {n}")}))
                    .send()
                    .await?;
                        Ok(response.status() == reqwest::StatusCode::CREATED)
                    }
                },
                &http,
            )
            .await
        };

    // One tenant to check against, and many other tokens in the table, so the
    // lookup is measured against a realistically sized index.
    let created: Value = http
        .post(format!("{base}/api/v1/tenants"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"slug": "bench", "name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(
        created["slug"] == "bench",
        "could not create the bench tenant: {created}"
    );
    let token = issue_token(&http, &base).await?;
    let fill = futures::stream::iter(0..args.tokens.saturating_sub(1))
        .map(|_| issue_token(&http, &base))
        .buffer_unordered(args.concurrency);
    use futures::StreamExt;
    fill.for_each(|r| async move {
        if let Err(err) = r {
            eprintln!("filling tokens: {err}");
        }
    })
    .await;

    let check_url = format!("{base}/scim/v2/bench/ServiceProviderConfig");
    let token_check = run(
        &args,
        move |http: reqwest::Client| {
            let url = check_url.clone();
            let token = token.clone();
            async move {
                let response = http.get(&url).bearer_auth(&token).send().await?;
                Ok(response.status() == reqwest::StatusCode::OK)
            }
        },
        &http,
    )
    .await;

    println!(
        "| backend | scenario | concurrency | requests | errors | req/s | p50 | p99 |\n|---|---|---|---|---|---|---|---|"
    );
    for (name, outcome) in [
        ("tenant-create", &tenant_create),
        ("token-check", &token_check),
    ] {
        println!(
            "| {} | {name} | {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms |",
            args.backend,
            args.concurrency,
            outcome.requests,
            outcome.errors,
            outcome.requests as f64 / outcome.elapsed.as_secs_f64(),
            outcome.percentile(0.50).as_secs_f64() * 1000.0,
            outcome.percentile(0.99).as_secs_f64() * 1000.0,
        );
    }
    server.start_kill()?;
    let _ = server.wait().await;
    Ok(())
}

async fn issue_token(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let created: Value = http
        .post(format!("{base}/api/v1/tenants/bench/scim-tokens"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await?
        .json()
        .await?;
    created["token"]
        .as_str()
        .map(str::to_owned)
        .context("no token in the answer")
}

async fn wait_for_addr(path: &std::path::Path) -> anyhow::Result<String> {
    for _ in 0..600 {
        if let Ok(addr) = std::fs::read_to_string(path)
            && !addr.is_empty()
        {
            return Ok(format!("http://{addr}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("idbridge did not start within 30 s")
}

/// Runs `request` from `--concurrency` clients in a loop: one second of warm-up, then
/// `--seconds` measured.
async fn run<F, Fut>(args: &Args, request: F, http: &reqwest::Client) -> Outcome
where
    F: Fn(reqwest::Client) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<bool>> + Send,
{
    let warm_up = Instant::now() + Duration::from_secs(1);
    let end = warm_up + Duration::from_secs(args.seconds);
    let workers = (0..args.concurrency).map(|_| {
        let request = request.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let ok = matches!(request(http.clone()).await, Ok(true));
                if started >= warm_up {
                    latencies.push(started.elapsed());
                    if !ok {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        })
    });
    let mut outcome = Outcome {
        requests: 0,
        errors: 0,
        elapsed: Duration::from_secs(args.seconds),
        latencies: Vec::new(),
    };
    for worker in futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
    {
        outcome.requests += worker.0.len();
        outcome.errors += worker.1;
        outcome.latencies.extend(worker.0);
    }
    outcome.latencies.sort_unstable();
    outcome
}
