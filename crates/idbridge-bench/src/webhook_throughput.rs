//! `webhook-throughput`: how fast one `idbridge serve` process delivers a backlog of
//! feed events to a receiver that answers at once, and how late a live event arrives.
//!
//!     webhook-throughput --idbridge target/release/idbridge \
//!         --database-url sqlite:///tmp/wh.db --tenants 100 --events 10000
//!
//! 1. Starts a receiver on 127.0.0.1:0 that answers 204, checks every delivery's
//!    `Idbridge-Signature` (as a real receiver would: the HMAC is part of the cost
//!    on the receiving side, not idbridge's) and records what arrived when.
//! 2. Seeds the (empty) database through the store: the tenants, then one endpoint
//!    for every tenant pointing at the receiver (a new endpoint starts at the end of
//!    each feed, so it comes before the events), then the backlog, spread
//!    round-robin over the tenants.
//! 3. Starts the server and measures from the first delivery to the last backlog
//!    event: events per second, the longest pause between two deliveries, and the
//!    server's and the machine's CPU over that span.
//! 4. Writes `--live-events` more, one at a time, and measures each one's lag: from
//!    the write's commit (as this process saw it) to its arrival at the receiver.
//! 5. Checks that every tenant's events arrived exactly once and in `seq` order.
//!    Delivery is at least once, but nothing crashes here, so a duplicate is a bug.
//!
//! Prints one markdown table row on stdout, details on stderr; exits non-zero when
//! an event is missing, duplicated, out of order or badly signed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use idbridge_core::TenantSlug;
use idbridge_core::roles::RolePolicy;
use idbridge_core::webhook::{SIGNATURE_HEADER, verify_signature};
use idbridge_store::webhook::WebhookEndpoint;
use idbridge_store::{
    DatabaseUrl, DirectoryUser, NewEvent, PoolSettings, Store, Tenant, UserSource, WriteContext,
};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// The `idbridge` binary to start (the release build).
    #[arg(long)]
    idbridge: PathBuf,
    /// An empty database (SQLite file or PostgreSQL database).
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 1)]
    tenants: usize,
    /// Backlog events written before the server starts.
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Events each seeding write appends in its one transaction (as a group
    /// membership change does). Delivery reads them from the feed one by one either
    /// way; this only keeps seeding on PostgreSQL short, which matters because the
    /// server's frequent polls only look at events of the last two minutes.
    #[arg(long, default_value_t = 10)]
    events_per_write: usize,
    /// Events written one at a time after the backlog is delivered, for the lag.
    #[arg(long, default_value_t = 200)]
    live_events: usize,
    /// Pause between two live writes.
    #[arg(long, default_value_t = 25)]
    live_interval_ms: u64,
    /// Give up when nothing arrives for this long (longer than the server's 30 s
    /// full check, so a pair only that check finds still shows as a long pause).
    #[arg(long, default_value_t = 75)]
    stall_secs: u64,
    /// Wait this long between seeding and starting the server: with more than 120,
    /// the backlog is older than the window the server's frequent polls look at (a
    /// backlog left by an outage), so only its full check every 30 s finds it.
    #[arg(long, default_value_t = 0)]
    age_secs: u64,
    /// First column of the row; default from the URL's scheme.
    #[arg(long)]
    label: Option<String>,
}

/// One delivery as the receiver saw it.
struct Arrival {
    tenant: String,
    seq: i64,
    event_id: Uuid,
    resource_id: Uuid,
    attempt: u32,
    at: Instant,
}

struct Receiver {
    secret: String,
    arrivals: Mutex<Vec<Arrival>>,
    /// Deliveries whose signature or body did not check out.
    bad: Mutex<Vec<String>>,
}

impl Receiver {
    fn count(&self) -> usize {
        self.arrivals.lock().map_or(0, |a| a.len())
    }

    fn last_at(&self) -> Option<Instant> {
        self.arrivals
            .lock()
            .ok()
            .and_then(|a| a.last().map(|x| x.at))
    }
}

/// Answers 204 to everything: a refused delivery would be retried 10 s later and
/// the run would measure the backoff. What failed the checks is counted instead.
async fn hook(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let checked = verify_signature(
        signature,
        receiver.secret.as_bytes(),
        &body,
        now,
        time::Duration::minutes(5),
    )
    .map_err(|e| e.to_string())
    .and_then(|()| parse(&body, &headers, at));
    match checked {
        Ok(arrival) => {
            if let Ok(mut arrivals) = receiver.arrivals.lock() {
                arrivals.push(arrival);
            }
        }
        Err(why) => {
            if let Ok(mut bad) = receiver.bad.lock() {
                bad.push(why);
            }
        }
    }
    StatusCode::NO_CONTENT
}

fn parse(body: &[u8], headers: &HeaderMap, at: Instant) -> Result<Arrival, String> {
    let event: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let uuid = |field: &str| {
        event[field]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| format!("no {field} in {event}"))
    };
    let event_id = uuid("id")?;
    if headers
        .get(idbridge_core::webhook::EVENT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        != Some(event_id.to_string().as_str())
    {
        return Err(format!(
            "event id header does not match the body's {event_id}"
        ));
    }
    Ok(Arrival {
        tenant: event["tenant"].as_str().ok_or("no tenant")?.to_owned(),
        seq: event["seq"].as_i64().ok_or("no seq")?,
        event_id,
        resource_id: uuid("resource_id")?,
        attempt: headers
            .get(idbridge_core::webhook::ATTEMPT_HEADER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .ok_or("no attempt header")?,
        at,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.tenants > 0 && args.events > 0,
        "--tenants and --events must be > 0"
    );
    let url = DatabaseUrl::parse(&args.database_url).context("--database-url")?;
    let label = args.label.clone().unwrap_or_else(|| {
        if args.database_url.starts_with("postgres") {
            "PostgreSQL".into()
        } else {
            "SQLite".into()
        }
    });

    let receiver = Arc::new(Receiver {
        secret: format!("idb_whsec_bench{}", Uuid::new_v4().simple()),
        arrivals: Mutex::new(Vec::with_capacity(args.events + args.live_events)),
        bad: Mutex::new(Vec::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Seed.
    let store = idbridge_store::connect(&url, &PoolSettings::default())?;
    store.migrate().await?;
    let now = OffsetDateTime::now_utc();
    let mut tenants = Vec::with_capacity(args.tenants);
    for n in 0..args.tenants {
        let tenant = Tenant {
            id: Uuid::now_v7(),
            slug: TenantSlug::parse(&format!("wh{n}"))?,
            name: format!("Webhook tenant {n}"),
            sso_required: false,
            jit_enabled: true,
            require_verified_domains: false,
            invite_new_users: false,
            default_role: None,
            role_policy: RolePolicy::Highest,
            created_at: now,
            updated_at: now,
        };
        store.create_tenant(&tenant, None).await?;
        tenants.push(tenant);
    }
    store
        .create_webhook(
            &WebhookEndpoint {
                id: Uuid::now_v7(),
                url: hook_url.clone(),
                description: "webhook-throughput".into(),
                event_types: None,
                tenant_id: None,
                secret: receiver.secret.clone(),
                previous_secret: None,
                previous_secret_until: None,
                enabled: true,
                created_at: now,
                updated_at: now,
            },
            None,
        )
        .await?;
    let seeding = Instant::now();
    // Events written per tenant slug: each tenant's feed must arrive as 1..=n.
    let mut written: HashMap<String, i64> = HashMap::new();
    let mut left = args.events;
    let mut write = 0usize;
    while left > 0 {
        let batch = left.min(args.events_per_write.max(1));
        let tenant = &tenants[write % tenants.len()];
        write_user(store.as_ref(), tenant, batch).await?;
        *written.entry(tenant.slug.as_str().to_owned()).or_default() += batch as i64;
        left -= batch;
        write += 1;
    }
    eprintln!(
        "seeded {} tenants and {} events in {:.1} s",
        args.tenants,
        args.events,
        seeding.elapsed().as_secs_f64()
    );

    tokio::time::sleep(Duration::from_secs(args.age_secs)).await;

    // Serve.
    let work = tempfile::tempdir()?;
    let addr_file = work.path().join("addr");
    let log_file = work.path().join("server.log");
    let spawned = Instant::now();
    let mut server = tokio::process::Command::new(&args.idbridge)
        .arg("serve")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "http://bench.local",
        ])
        .args(["--database-url", &args.database_url])
        .args(["--log", "error", "--rate-limit-per-minute", "0"])
        .arg("--allow-private-urls")
        .arg("--write-addr-to")
        .arg(&addr_file)
        .stdout(std::fs::File::create(&log_file)?)
        .stderr(std::fs::File::create(work.path().join("server.err"))?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", args.idbridge.display()))?;
    let pid = server.id().context("server pid")?;
    while !addr_file.exists() {
        if spawned.elapsed() > Duration::from_secs(30) {
            bail!("the server did not start listening within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listening = spawned.elapsed();

    // The backlog.
    let stall = Duration::from_secs(args.stall_secs);
    let mut cpu_at_first = None;
    loop {
        let count = receiver.count();
        if count > 0 && cpu_at_first.is_none() {
            cpu_at_first = Some((process_cpu(pid)?, machine_cpu()?));
        }
        if count >= args.events {
            break;
        }
        let quiet_since = receiver.last_at().unwrap_or(spawned);
        if quiet_since.elapsed() > stall {
            eprintln!(
                "backlog stalled: {count} of {} after {stall:?} without a delivery",
                args.events
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cpu_at_last = (process_cpu(pid)?, machine_cpu()?);
    let backlog_done = Instant::now();

    // Live events, one at a time, keyed by the user id the event names.
    let mut committed: HashMap<Uuid, Instant> = HashMap::new();
    for n in 0..args.live_events {
        let tenant = &tenants[n % tenants.len()];
        let id = write_user(store.as_ref(), tenant, 1).await?;
        committed.insert(id, Instant::now());
        *written.entry(tenant.slug.as_str().to_owned()).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(args.live_interval_ms)).await;
    }
    let expected = args.events + args.live_events;
    let live_from = Instant::now();
    while receiver.count() < expected
        && receiver
            .last_at()
            .unwrap_or(live_from)
            .max(live_from)
            .elapsed()
            < stall
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Anything still in flight (a duplicate, say) gets a moment to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_default();
    server.start_kill()?;
    let _ = server.wait().await;
    store.close().await;

    // Report.
    let arrivals = std::mem::take(
        &mut *receiver
            .arrivals
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?,
    );
    let bad = std::mem::take(
        &mut *receiver
            .bad
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?,
    );
    let backlog: Vec<&Arrival> = arrivals.iter().filter(|a| a.at <= backlog_done).collect();
    let (first, last) = match (backlog.first(), backlog.get(args.events.saturating_sub(1))) {
        (Some(first), Some(last)) => (first.at, last.at),
        _ => bail!(
            "only {} of {} backlog events arrived; server log in {}",
            backlog.len(),
            args.events,
            show_log(&log_file, work.path())
        ),
    };
    let span = last.duration_since(first).as_secs_f64();
    let rate = (args.events as f64 - 1.0) / span.max(1e-9);
    let max_gap = backlog
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .max()
        .unwrap_or_default();
    let ((p0, m0), (p1, m1)) = (cpu_at_first.unwrap_or(cpu_at_last), cpu_at_last);
    let server_cpu = (p1 - p0) / span.max(1e-9) * 100.0;
    let machine_busy = if m1.1 > m0.1 {
        (m1.0 - m0.0) / (m1.1 - m0.1) * 100.0
    } else {
        0.0
    };

    let mut lags: Vec<Duration> = arrivals
        .iter()
        .filter_map(|a| {
            committed
                .get(&a.resource_id)
                .map(|c| a.at.saturating_duration_since(*c))
        })
        .collect();
    lags.sort();

    let check = check_order(&arrivals, &written);
    let retried = arrivals.iter().filter(|a| a.attempt > 1).count();
    eprintln!(
        "server listening after {:.2} s; first delivery {:.2} s after spawn; backlog {} events in {span:.2} s = {rate:.0}/s; longest pause {:.0} ms; server CPU {server_cpu:.0} % of one core, machine {machine_busy:.0} % busy (2 cores = 100 %); server peak RSS {rss}",
        listening.as_secs_f64(),
        first.duration_since(spawned).as_secs_f64(),
        args.events,
        max_gap.as_secs_f64() * 1000.0,
    );
    eprintln!(
        "live: {} of {} arrived; lag p50 {} p99 {} max {}; retried deliveries {retried}; {}",
        lags.len(),
        args.live_events,
        ms(percentile(&lags, 50)),
        ms(percentile(&lags, 99)),
        ms(lags.last().copied()),
        check.summary()
    );
    for why in bad.iter().take(5) {
        eprintln!("bad delivery: {why}");
    }
    println!(
        "| {label} | {} | {} | {rate:.0} | {span:.1} s | {:.0} ms | {} | {} | {server_cpu:.0} % / {machine_busy:.0} % | {} dup, {} out of order, {} missing, {} bad sig |",
        args.tenants,
        args.events,
        max_gap.as_secs_f64() * 1000.0,
        ms(percentile(&lags, 50)),
        ms(percentile(&lags, 99)),
        check.duplicates,
        check.out_of_order,
        check.missing,
        bad.len()
    );
    if check.duplicates + check.out_of_order + bad.len() > 0
        || check.missing > 0
        || lags.len() < args.live_events
    {
        bail!(
            "delivery was not exactly once and in order; server log: {}",
            show_log(&log_file, work.path())
        );
    }
    Ok(())
}

/// Creates one user in `tenant` whose write appends `events` `user.created` events
/// (ids made by the store); returns the user's id, which the events name.
async fn write_user(store: &dyn Store, tenant: &Tenant, events: usize) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let now = OffsetDateTime::now_utc();
    let user_name = format!("{}@{}.example.com", id.simple(), tenant.slug.as_str());
    let mut document = serde_json::Map::new();
    document.insert("userName".into(), user_name.clone().into());
    document.insert("displayName".into(), "Bench User".into());
    document.insert("active".into(), true.into());
    document.insert(
        "emails".into(),
        serde_json::json!([{"value": user_name, "primary": true, "type": "work"}]),
    );
    let user = DirectoryUser {
        id,
        tenant_id: tenant.id,
        user_name,
        external_id: None,
        active: true,
        document: document.clone(),
        source: UserSource::Scim,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let event = NewEvent {
        kind: idbridge_core::EventKind::UserCreated,
        resource_type: idbridge_core::EventResource::User,
        resource_id: id,
        data: serde_json::Value::Object(document),
    };
    let ctx = WriteContext {
        now,
        events: vec![event; events],
        log: None,
        audit: None,
        mail: None,
    };
    store.create_user(&user, &ctx).await?;
    Ok(id)
}

#[derive(Default)]
struct OrderCheck {
    duplicates: usize,
    out_of_order: usize,
    missing: i64,
    first_problem: Option<String>,
}

impl OrderCheck {
    fn summary(&self) -> String {
        match &self.first_problem {
            None => "every tenant's feed arrived once, in seq order".into(),
            Some(p) => format!("first problem: {p}"),
        }
    }

    fn problem(&mut self, what: String) {
        self.first_problem.get_or_insert(what);
    }
}

/// Each tenant's feed must arrive as seq 1, 2, …, n (its feed was empty when the
/// endpoint was made), each event once.
fn check_order(arrivals: &[Arrival], written: &HashMap<String, i64>) -> OrderCheck {
    let mut check = OrderCheck::default();
    let mut seen = HashSet::new();
    let mut next: HashMap<&str, i64> = HashMap::new();
    for a in arrivals {
        if !seen.insert(a.event_id) {
            check.duplicates += 1;
            check.problem(format!(
                "{} seq {} arrived again (attempt {})",
                a.tenant, a.seq, a.attempt
            ));
            continue;
        }
        let expected = next.entry(a.tenant.as_str()).or_insert(1);
        if a.seq != *expected {
            check.out_of_order += 1;
            check.problem(format!(
                "{} seq {} arrived when {} was due",
                a.tenant, a.seq, expected
            ));
        }
        *expected = (*expected).max(a.seq + 1);
    }
    for (tenant, n) in written {
        let got = next.get(tenant.as_str()).map_or(0, |next| next - 1);
        if got < *n {
            check.missing += n - got;
            check.problem(format!("{tenant}: {n} written, up to seq {got} arrived"));
        }
    }
    check
}

fn percentile(sorted: &[Duration], p: usize) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    sorted.get((sorted.len() - 1) * p / 100).copied()
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "–".into(),
        |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0),
    )
}

/// CPU seconds the process has used (user + system), from /proc.
fn process_cpu(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on every Linux this runs on.
    Ok((ticks(11) + ticks(12)) / 100.0)
}

/// The machine's (busy, total) CPU ticks over all cores, from /proc/stat.
fn machine_cpu() -> anyhow::Result<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: f64 = ticks.iter().take(8).sum();
    // idle and iowait are the 4th and 5th.
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    Ok((total - idle, total))
}

/// Keeps the server's logs past the temporary directory's removal, for a report.
fn show_log(log: &std::path::Path, dir: &std::path::Path) -> String {
    let kept = std::env::temp_dir().join(format!("webhook-throughput-{}.log", std::process::id()));
    let mut text = std::fs::read_to_string(log).unwrap_or_default();
    text.push_str(&std::fs::read_to_string(dir.join("server.err")).unwrap_or_default());
    let _ = std::fs::write(&kept, text);
    kept.display().to_string()
}
