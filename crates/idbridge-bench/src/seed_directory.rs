//! `seed-directory`: fills one tenant's directory with N SCIM users, through the
//! store's own write path (one transaction per user, events and log lines included,
//! as a real provisioning run would leave them), so the SCIM load test can measure
//! lookups at 10 k, 100 k and 1 M users.
//!
//!     seed-directory --database-url sqlite:///tmp/bench.db --users 1000000 --out /tmp/bench
//!
//! Writes `<out>/token` (a SCIM token for the tenant `bench`) and `<out>/ids` (the ids
//! of up to 10,000 seeded users, for PATCH requests).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use clap::Parser;
use idbridge_core::TenantSlug;
use idbridge_core::roles::RolePolicy;
use idbridge_core::secret::ScimToken;
use idbridge_store::{
    DatabaseUrl, DirectoryUser, NewEvent, PoolSettings, ProvisioningRecord, ScimTokenRecord, Store,
    Tenant, UserSource, WriteContext,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    database_url: String,
    #[arg(long)]
    users: usize,
    #[arg(long)]
    out: PathBuf,
    /// Concurrent writers (PostgreSQL benefits; SQLite has one writer anyway).
    #[arg(long, default_value_t = 8)]
    writers: usize,
}

fn user(tenant_id: Uuid, i: usize, now: OffsetDateTime) -> DirectoryUser {
    let user_name = format!("user{i}@bench.example.com");
    let document = json!({
        "userName": user_name,
        "externalId": format!("ext-{i}"),
        "active": true,
        "displayName": format!("Bench User {i}"),
        "name": {"givenName": "Bench", "familyName": format!("User{i}")},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": format!("dept-{}", i % 50)},
    });
    let Value::Object(document) = document else {
        unreachable!("a JSON object literal")
    };
    DirectoryUser {
        id: Uuid::now_v7(),
        tenant_id,
        user_name,
        external_id: Some(format!("ext-{i}")),
        active: true,
        document,
        source: UserSource::Scim,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let url = DatabaseUrl::parse(&args.database_url).context("--database-url")?;
    let store: Arc<dyn Store> = idbridge_store::connect(
        &url,
        &PoolSettings {
            max_connections: args.writers as u32 + 2,
            ..PoolSettings::default()
        },
    )?;
    store.migrate().await?;
    let now = OffsetDateTime::now_utc();
    let tenant = Tenant {
        id: Uuid::now_v7(),
        slug: TenantSlug::parse("bench")?,
        name: "Bench".into(),
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
    let token = ScimToken::generate();
    let record = ScimTokenRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        description: Some("bench".into()),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    store
        .create_scim_token(&record, &token.hash(), None)
        .await?;
    std::fs::write(args.out.join("token"), token.expose_secret())?;

    let next = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.writers {
        let (store, next, tenant_id, total, token_id) = (
            Arc::clone(&store),
            Arc::clone(&next),
            tenant.id,
            args.users,
            record.id,
        );
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(ids);
                }
                let now = OffsetDateTime::now_utc();
                let u = user(tenant_id, i, now);
                let ctx = WriteContext {
                    now,
                    events: vec![NewEvent {
                        kind: idbridge_core::EventKind::UserCreated,
                        resource_type: idbridge_core::EventResource::User,
                        resource_id: u.id,
                        data: json!({"user": {"id": u.id, "userName": u.user_name}}),
                    }],
                    log: Some(ProvisioningRecord {
                        id: Uuid::now_v7(),
                        tenant_id,
                        occurred_at: now,
                        method: "POST".into(),
                        path: "/scim/v2/bench/Users".into(),
                        status: 201,
                        resource_type: Some("User".into()),
                        resource_id: Some(u.id),
                        reason: None,
                        request_id: None,
                        token_id: Some(token_id),
                    }),
                    audit: None,
                    mail: None,
                };
                store.create_user(&u, &ctx).await?;
                if ids.len() < 10_000 / 8 + 1 {
                    ids.push(u.id);
                }
                if i % 100_000 == 0 && i > 0 {
                    eprintln!("{i} users in {:.0?}", started.elapsed());
                }
            }
        }));
    }
    let mut ids = Vec::new();
    for writer in writers {
        ids.extend(writer.await??);
    }
    ids.truncate(10_000);
    let text: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    std::fs::write(args.out.join("ids"), text.join("\n"))?;
    eprintln!("seeded {} users in {:.1?}", args.users, started.elapsed());
    store.close().await;
    Ok(())
}
