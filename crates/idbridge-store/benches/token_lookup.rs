//! The lookup every SCIM request pays: a SCIM token's digest, found through the
//! unique index among many tokens, with the owning tenant's slug. Run on SQLite, and
//! on PostgreSQL too when IDBRIDGE_TEST_DATABASE_URL is set.
//!
//!     cargo bench -p idbridge-store --bench token_lookup

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use idbridge_core::TenantSlug;
use idbridge_core::secret::ScimToken;
use idbridge_store::{DatabaseUrl, PoolSettings, ScimTokenRecord, Store, Tenant};
use idbridge_testkit::{PG_URL_VAR, TestDb};
use time::OffsetDateTime;
use uuid::Uuid;

const TOKENS: usize = 10_000;

async fn seeded(db: &TestDb) -> (Arc<dyn Store>, ScimToken) {
    let url = DatabaseUrl::parse(db.url()).expect("url");
    let store = idbridge_store::connect(&url, &PoolSettings::default()).expect("connect");
    store.migrate().await.expect("migrate");
    let now = OffsetDateTime::now_utc();
    let tenant = Tenant {
        id: Uuid::now_v7(),
        slug: TenantSlug::parse("bench").expect("slug"),
        name: "Bench".into(),
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
    let mut last = None;
    for _ in 0..TOKENS {
        let token = ScimToken::generate();
        let record = ScimTokenRecord {
            id: Uuid::now_v7(),
            tenant_id: tenant.id,
            description: None,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        store
            .create_scim_token(&record, &token.hash(), None)
            .await
            .expect("token");
        last = Some(token);
    }
    (store, last.expect("at least one token"))
}

fn token_lookup(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut backends = vec![runtime.block_on(TestDb::sqlite())];
    if std::env::var(PG_URL_VAR).is_ok() {
        backends.push(runtime.block_on(TestDb::postgres()));
    }
    let mut group = c.benchmark_group("active_scim_token");
    for db in &backends {
        let (store, token) = runtime.block_on(seeded(db));
        let hit = token.hash();
        let miss = ScimToken::generate().hash();
        group.bench_function(BenchmarkId::new("hit", db.backend()), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(store.active_scim_token(&hit).await.expect("lookup")) })
        });
        group.bench_function(BenchmarkId::new("miss", db.backend()), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(store.active_scim_token(&miss).await.expect("lookup")) })
        });
        runtime.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, token_lookup);
criterion_main!(benches);
