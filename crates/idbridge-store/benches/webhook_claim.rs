//! What an idle webhook poll costs: every process asks once a second for due
//! (endpoint, tenant) pairs. The full look (every 30 s) joins endpoints with
//! tenants; the recent poll (the other seconds) starts from indexes. Measured with
//! 10,000 tenants, 2 endpoints, every cursor caught up (the usual state). Run on
//! SQLite, and on PostgreSQL too when IDBRIDGE_TEST_DATABASE_URL is set.
//!
//!     cargo bench -p idbridge-store --bench webhook_claim

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use idbridge_core::TenantSlug;
use idbridge_store::webhook::WebhookEndpoint;
use idbridge_store::{ClaimScope, DatabaseUrl, PoolSettings, Store, Tenant};
use idbridge_testkit::{PG_URL_VAR, TestDb};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const TENANTS: usize = 10_000;
const ENDPOINTS: usize = 2;

async fn seeded(db: &TestDb) -> Arc<dyn Store> {
    let url = DatabaseUrl::parse(db.url()).expect("url");
    let store = idbridge_store::connect(&url, &PoolSettings::default()).expect("connect");
    store.migrate().await.expect("migrate");
    // Set up an hour ago: nothing has happened lately, as on an idle system.
    let now = OffsetDateTime::now_utc() - Duration::hours(1);
    for n in 0..TENANTS {
        let tenant = Tenant {
            id: Uuid::now_v7(),
            slug: TenantSlug::parse(&format!("t{n}")).expect("slug"),
            name: format!("Tenant {n}"),
            sso_required: false,
            jit_enabled: true,
            require_verified_domains: false,
            invite_new_users: false,
            default_role: None,
            role_policy: idbridge_core::roles::RolePolicy::Highest,
            created_at: now,
            updated_at: now,
        };
        store.create_tenant(&tenant, None).await.expect("tenant");
    }
    for _ in 0..ENDPOINTS {
        let endpoint = WebhookEndpoint {
            id: Uuid::now_v7(),
            url: "https://hooks.example.com/x".into(),
            description: String::new(),
            event_types: None,
            tenant_id: None,
            secret: "idb_whsec_bench".into(),
            previous_secret: None,
            previous_secret_until: None,
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        store
            .create_webhook(&endpoint, None)
            .await
            .expect("webhook");
    }
    store
}

fn webhook_claim(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut backends = vec![runtime.block_on(TestDb::sqlite())];
    if std::env::var(PG_URL_VAR).is_ok() {
        backends.push(runtime.block_on(TestDb::postgres()));
    }
    let mut group = c.benchmark_group("claim_webhook_work");
    for db in &backends {
        let store = runtime.block_on(seeded(db));
        let now = OffsetDateTime::now_utc();
        // The full look every process takes every 30 s, and the recent one of every
        // other second (events and due times of the last two minutes: none here).
        let recent = ClaimScope::Recent {
            events_after: Uuid::now_v7(),
            due_after: now - Duration::minutes(2),
        };
        for (name, scope) in [
            ("full_check", ClaimScope::Everything),
            ("recent_poll", recent),
        ] {
            let id = BenchmarkId::new(format!("idle_10k_tenants_{name}"), db.backend());
            group.bench_function(id, |b| {
                b.to_async(&runtime).iter(|| async {
                    let claims = store
                        .claim_webhook_work(
                            now,
                            Uuid::new_v4(),
                            now + Duration::seconds(60),
                            16,
                            scope,
                        )
                        .await
                        .expect("claim");
                    assert!(claims.is_empty());
                    black_box(claims)
                })
            });
        }
        runtime.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, webhook_claim);
criterion_main!(benches);
