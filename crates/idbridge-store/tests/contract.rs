//! The storage contract: every behaviour the rest of idbridge relies on, checked on
//! SQLite and on PostgreSQL with the same test bodies.

use std::sync::Arc;

use idbridge_core::audit::{ActorKind, AuditAction};
use idbridge_core::secret::{AdminApiKey, ClientSecret, ScimToken};
use idbridge_core::{RedirectUri, TenantSlug};
use idbridge_store::{
    Actor, AdminKeyRecord, AuditFilter, AuditRecord, ConnectionKind, DatabaseUrl,
    DomainCheckOutcome, DomainCounts, OidcClient, PageRequest, PoolSettings, ProvisioningFilter,
    ProvisioningRecord, SamlConnection, SamlRequestState, ScimTokenRecord, SignInEvent,
    SignInFilter, Store, StoreError, Tenant, TenantDomain, TenantUpdate, UserSource,
};
use idbridge_testkit::{TestDb, both_backends};
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-11-01 09:30:00.123456 UTC);

async fn open(db: &TestDb) -> Arc<dyn Store> {
    let url = DatabaseUrl::parse(db.url()).expect("test URL");
    let store = idbridge_store::connect(&url, &PoolSettings::default()).expect("connect");
    store.migrate().await.expect("migrate");
    store
}

fn slug(s: &str) -> TenantSlug {
    TenantSlug::parse(s).expect("valid slug")
}

fn tenant(s: &str) -> Tenant {
    Tenant {
        id: Uuid::now_v7(),
        slug: slug(s),
        name: format!("{s} Inc"),
        sso_required: false,
        jit_enabled: true,
        require_verified_domains: false,
        invite_new_users: false,
        default_role: None,
        role_policy: idbridge_core::roles::RolePolicy::Highest,
        created_at: T0,
        updated_at: T0,
    }
}

fn scim_token_record(tenant_id: Uuid) -> ScimTokenRecord {
    ScimTokenRecord {
        id: Uuid::now_v7(),
        tenant_id,
        description: Some("Entra provisioning".into()),
        created_at: T0,
        last_used_at: None,
        revoked_at: None,
    }
}

fn claim(tenant_id: Uuid, domain: &str) -> TenantDomain {
    TenantDomain {
        id: Uuid::now_v7(),
        tenant_id,
        domain: domain.into(),
        verification_token: format!("token-{}", Uuid::now_v7().simple()),
        verified: false,
        verified_at: None,
        checked_at: None,
        verification_error: None,
        created_at: T0,
    }
}

fn audit_record(tenant: &Tenant, action: AuditAction, at: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        id: Uuid::now_v7(),
        at,
        actor: Actor {
            kind: ActorKind::AdminKey,
            id: Some("bootstrap".into()),
        },
        action,
        tenant_id: Some(tenant.id),
        tenant_slug: Some(tenant.slug.to_string()),
        target: None,
        ip: Some("192.0.2.7".into()),
        changes: serde_json::json!({"name": tenant.name}),
    }
}

/// Runs one statement on the test database directly, as an intruder with SQL would.
async fn raw_execute(db: &TestDb, sql: &str) -> Result<u64, sqlx::Error> {
    if db.backend() == "sqlite" {
        let pool = sqlx::SqlitePool::connect(db.url()).await?;
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await?
            .rows_affected())
    } else {
        let pool = sqlx::PgPool::connect(db.url()).await?;
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await?
            .rows_affected())
    }
}

both_backends! {
    async fn a_document_holding_nul_is_not_stored(db: TestDb) {
        // PostgreSQL's JSON functions cannot read U+0000 back as text: one stored
        // document holding it would fail every filter that reads into documents.
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let (mut user, ctx) = directory_user(acme.id, "ada@example.com");
        user.document.insert("title".into(), serde_json::json!("Count\u{0}ess"));
        store.create_user(&user, &ctx).await.expect_err("refused");
        let (mut named, ctx) = directory_user(acme.id, "grace@example.com");
        named.document.insert("x\u{0}".into(), serde_json::json!(1));
        store.create_user(&named, &ctx).await.expect_err("refused");
        let everyone = idbridge_scim::query::list_request(
            idbridge_scim::schema::ResourceType::User, None, None, None, None, None,
        )
        .expect("request");
        let listed = store.list_users(acme.id, &everyone).await.expect("users");
        assert_eq!((listed.total, listed.items.len()), (0, 0));
        assert!(store.list_events(acme.id, 0, 10).await.expect("events").is_empty());
    }

    async fn audit_records_are_written_with_their_change_and_never_updated(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        let created = audit_record(&acme, AuditAction::TenantCreated, T0);
        store.create_tenant(&acme, Some(&created)).await.expect("create");
        // A change that fails leaves no record.
        let again = tenant("acme");
        let refused = audit_record(&again, AuditAction::TenantCreated, T0);
        assert!(store.create_tenant(&again, Some(&refused)).await.is_err());
        let update = TenantUpdate { name: Some("Acme Corp".into()), ..TenantUpdate::default() };
        let updated = audit_record(&acme, AuditAction::TenantUpdated, T0 + time::Duration::days(40));
        store.update_tenant(&slug("acme"), &update, T0, Some(&updated)).await.expect("update");
        let deleted = audit_record(&acme, AuditAction::TenantDeleted, T0 + time::Duration::days(41));
        store.delete_tenant(&slug("acme"), Some(&deleted)).await.expect("delete");
        // Deleting a tenant that is gone records nothing.
        let twice = audit_record(&acme, AuditAction::TenantDeleted, T0 + time::Duration::days(42));
        assert!(store.delete_tenant(&slug("acme"), Some(&twice)).await.is_err());

        let page = store.list_audit(&AuditFilter::default(), PageRequest::first(10)).await.expect("list");
        assert_eq!(page.items, vec![deleted.clone(), updated.clone(), created.clone()], "newest first, exactly as written");
        let filter = AuditFilter { action: Some(AuditAction::TenantUpdated), ..AuditFilter::default() };
        assert_eq!(store.list_audit(&filter, PageRequest::first(10)).await.expect("list").items, vec![updated.clone()]);

        let err = raw_execute(&db, "UPDATE audit_log SET actor_id = 'someone-else'").await.expect_err("append-only");
        assert!(err.to_string().contains("append-only"), "{err}");

        // The retention sweep removes what is older than its cut-off, and only that.
        assert_eq!(store.sweep_audit(T0 + time::Duration::days(30)).await.expect("sweep"), 1);
        let left = store.list_audit(&AuditFilter::default(), PageRequest::first(10)).await.expect("list");
        assert_eq!(left.items, vec![deleted, updated]);
    }

    async fn a_domain_is_verified_by_one_tenant_at_most(db: TestDb) {
        let store = open(&db).await;
        let (a, b) = (tenant("acme"), tenant("globex"));
        store.create_tenant(&a, None).await.expect("a");
        store.create_tenant(&b, None).await.expect("b");
        let (first, created) = store.add_domain(&claim(a.id, "acme.test"), None).await.expect("claim");
        assert!(created);
        // Claiming again keeps the first token.
        let (again, created) = store.add_domain(&claim(a.id, "acme.test"), None).await.expect("again");
        assert!(!created);
        assert_eq!(again, first);
        // Pending claims by several tenants are fine.
        store.add_domain(&claim(b.id, "acme.test"), None).await.expect("b pending");
        assert_eq!(store.tenant_for_verified_domain("acme.test").await.expect("lookup"), None);

        let verified = store
            .record_domain_check(a.id, "acme.test", DomainCheckOutcome::Verified, T0, None)
            .await
            .expect("verify");
        assert!(verified.verified);
        assert_eq!(verified.verified_at, Some(T0));
        assert_eq!(
            store.tenant_for_verified_domain("acme.test").await.expect("lookup").map(|t| t.id),
            Some(a.id)
        );
        let refused = store
            .record_domain_check(b.id, "acme.test", DomainCheckOutcome::Verified, T0, None)
            .await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        let b_claim = store.tenant_domain(b.id, "acme.test").await.expect("read").expect("claim");
        assert!(!b_claim.verified);
        assert_eq!(b_claim.verification_error.as_deref(), Some("claimed_by_another_tenant"));
        // Once another tenant holds it verified, nobody else may claim it, not even
        // a tenant with a pending claim.
        let c = tenant("initech");
        store.create_tenant(&c, None).await.expect("c");
        for other in [b.id, c.id] {
            assert!(matches!(
                store.add_domain(&claim(other, "acme.test"), None).await,
                Err(StoreError::Conflict(_))
            ));
        }
        assert_eq!(
            store.domain_counts(a.id).await.expect("counts"),
            DomainCounts { total: 1, verified: 1 }
        );
        assert_eq!(
            store.domain_counts(b.id).await.expect("counts"),
            DomainCounts { total: 1, verified: 0 }
        );
        let events = store.list_events(a.id, 0, 10).await.expect("events");
        assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["domain.verified"]);
    }

    async fn a_transient_failure_keeps_a_domain_verified_and_an_absence_does_not(db: TestDb) {
        let store = open(&db).await;
        let a = tenant("acme");
        store.create_tenant(&a, None).await.expect("a");
        store.add_domain(&claim(a.id, "acme.test"), None).await.expect("claim");
        store
            .record_domain_check(a.id, "acme.test", DomainCheckOutcome::Verified, T0, None)
            .await
            .expect("verify");
        let day = time::Duration::days(1);
        let due = store.domains_to_recheck(T0 + day, 10).await.expect("due");
        assert_eq!(due.len(), 1);
        assert!(store.domains_to_recheck(T0, 10).await.expect("none due").is_empty());

        let kept = store
            .record_domain_check(
                a.id,
                "acme.test",
                DomainCheckOutcome::Failed { reason: "dns_timeout", unverify: false },
                T0 + day,
                None,
            )
            .await
            .expect("timeout");
        assert!(kept.verified);
        assert_eq!(kept.verified_at, Some(T0));
        assert_eq!(kept.verification_error.as_deref(), Some("dns_timeout"));
        assert!(store.domains_to_recheck(T0 + day, 10).await.expect("rechecked").is_empty());

        let lost = store
            .record_domain_check(
                a.id,
                "acme.test",
                DomainCheckOutcome::Failed { reason: "txt_record_missing", unverify: true },
                T0 + day + day,
                None,
            )
            .await
            .expect("missing");
        assert!(!lost.verified);
        assert_eq!(lost.verified_at, None);
        assert_eq!(store.tenant_for_verified_domain("acme.test").await.expect("lookup"), None);
        let events = store.list_events(a.id, 0, 10).await.expect("events");
        assert_eq!(
            events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["domain.verified", "domain.unverified"]
        );
        assert_eq!(events[1].data["domain"]["reason"], "txt_record_missing");

        store.delete_domain(a.id, "acme.test", T0, None).await.expect("delete");
        assert!(matches!(
            store.delete_domain(a.id, "acme.test", T0, None).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.list_domains(a.id, PageRequest::first(10)).await.expect("list").items.is_empty());
    }

    async fn migrations_are_idempotent(db: TestDb) {
        let store = open(&db).await;
        store.migrate().await.expect("second migrate is a no-op");
        store.ping().await.expect("ping");
    }

    async fn tenant_round_trips_exactly(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("create");
        assert_eq!(store.tenant_by_slug(&slug("acme")).await.expect("get"), Some(acme));
        assert_eq!(store.tenant_by_slug(&slug("other")).await.expect("get"), None);
    }

    async fn duplicate_slug_is_a_conflict_and_writes_nothing(db: TestDb) {
        let store = open(&db).await;
        store.create_tenant(&tenant("acme"), None).await.expect("create");
        let mut again = tenant("acme");
        again.name = "Impostor".into();
        let err = store.create_tenant(&again, None).await.expect_err("duplicate");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let kept = store.tenant_by_slug(&slug("acme")).await.expect("get").expect("exists");
        assert_eq!(kept.name, "acme Inc");
    }

    async fn tenant_update_changes_only_given_fields(db: TestDb) {
        let store = open(&db).await;
        store.create_tenant(&tenant("acme"), None).await.expect("create");
        let later = T0 + time::Duration::minutes(5);
        let update = TenantUpdate {
            sso_required: Some(true),
            default_role: Some(Some("member".into())),
            ..TenantUpdate::default()
        };
        let updated = store.update_tenant(&slug("acme"), &update, later, None).await.expect("update");
        assert!(updated.sso_required);
        assert!(updated.jit_enabled);
        assert_eq!(updated.name, "acme Inc");
        assert_eq!(updated.default_role.as_deref(), Some("member"));
        assert_eq!(updated.updated_at, later);
        assert_eq!(updated.created_at, T0);

        let clear = TenantUpdate { default_role: Some(None), ..TenantUpdate::default() };
        let cleared = store.update_tenant(&slug("acme"), &clear, later, None).await.expect("update");
        assert_eq!(cleared.default_role, None);
        assert!(cleared.sso_required);

        let missing = store.update_tenant(&slug("nope"), &clear, later, None).await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
    }

    async fn tenants_page_in_creation_order(db: TestDb) {
        let store = open(&db).await;
        let mut created = Vec::new();
        for i in 0..7 {
            let t = tenant(&format!("t{i}"));
            store.create_tenant(&t, None).await.expect("create");
            created.push(t.slug);
        }
        let mut seen = Vec::new();
        let mut page = PageRequest::first(3);
        loop {
            let got = store.list_tenants(page).await.expect("list");
            assert!(got.items.len() <= 3);
            seen.extend(got.items.into_iter().map(|t| t.slug));
            match got.next_after {
                Some(after) => page = PageRequest { limit: 3, after: Some(after) },
                None => break,
            }
        }
        assert_eq!(seen, created);
    }

    async fn exact_page_has_no_next_cursor(db: TestDb) {
        let store = open(&db).await;
        for i in 0..4 {
            store.create_tenant(&tenant(&format!("t{i}")), None).await.expect("create");
        }
        let got = store.list_tenants(PageRequest::first(4)).await.expect("list");
        assert_eq!(got.items.len(), 4);
        assert_eq!(got.next_after, None);
    }

    async fn deleting_a_tenant_removes_its_tokens(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("create");
        let token = ScimToken::generate();
        store.create_scim_token(&scim_token_record(acme.id), &token.hash(), None).await.expect("token");
        store.delete_tenant(&slug("acme"), None).await.expect("delete");
        assert_eq!(store.active_scim_token(&token.hash()).await.expect("lookup"), None);
        assert!(matches!(store.delete_tenant(&slug("acme"), None).await, Err(StoreError::NotFound)));
        // The slug is free again.
        store.create_tenant(&tenant("acme"), None).await.expect("re-create");
    }

    async fn scim_token_is_found_by_hash_until_revoked(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("create");
        let token = ScimToken::generate();
        let record = scim_token_record(acme.id);
        store.create_scim_token(&record, &token.hash(), None).await.expect("token");

        let found = store.active_scim_token(&token.hash()).await.expect("lookup").expect("active");
        assert_eq!(found.token_id, record.id);
        assert_eq!(found.tenant_id, acme.id);
        assert_eq!(found.tenant_slug, slug("acme"));
        assert_eq!(found.last_used_at, None);
        assert_eq!(store.count_active_scim_tokens(acme.id).await.expect("count"), 1);

        let other = ScimToken::generate();
        assert_eq!(store.active_scim_token(&other.hash()).await.expect("lookup"), None);

        let used = T0 + time::Duration::seconds(30);
        store.touch_scim_token(record.id, used).await.expect("touch");
        let found = store.active_scim_token(&token.hash()).await.expect("lookup").expect("active");
        assert_eq!(found.last_used_at, Some(used));

        let revoked = T0 + time::Duration::minutes(1);
        store.revoke_scim_token(acme.id, record.id, revoked, None).await.expect("revoke");
        assert_eq!(store.active_scim_token(&token.hash()).await.expect("lookup"), None);
        assert_eq!(store.count_active_scim_tokens(acme.id).await.expect("count"), 0);

        // A second revoke keeps the first time.
        store.revoke_scim_token(acme.id, record.id, revoked + time::Duration::hours(1), None).await.expect("again");
        let listed = store.list_scim_tokens(acme.id, PageRequest::first(10)).await.expect("list");
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].revoked_at, Some(revoked));
        assert_eq!(listed.items[0].last_used_at, Some(used));
    }

    async fn a_tenant_cannot_revoke_another_tenants_token(db: TestDb) {
        let store = open(&db).await;
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        store.create_tenant(&acme, None).await.expect("create");
        store.create_tenant(&globex, None).await.expect("create");
        let token = ScimToken::generate();
        let record = scim_token_record(acme.id);
        store.create_scim_token(&record, &token.hash(), None).await.expect("token");
        let err = store.revoke_scim_token(globex.id, record.id, T0, None).await;
        assert!(matches!(err, Err(StoreError::NotFound)));
        assert!(store.active_scim_token(&token.hash()).await.expect("lookup").is_some());
        let listed = store.list_scim_tokens(globex.id, PageRequest::first(10)).await.expect("list");
        assert!(listed.items.is_empty());
    }

    async fn scim_token_for_missing_tenant_is_refused(db: TestDb) {
        let store = open(&db).await;
        let token = ScimToken::generate();
        let result = store.create_scim_token(&scim_token_record(Uuid::now_v7()), &token.hash(), None).await;
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
        assert_eq!(store.active_scim_token(&token.hash()).await.expect("lookup"), None);
    }

    async fn clients_round_trip_and_keep_only_a_secret_hash(db: TestDb) {
        let store = open(&db).await;
        let secret = ClientSecret::generate();
        let client = OidcClient {
            id: Uuid::now_v7(),
            name: "app".into(),
            redirect_uris: vec![
                RedirectUri::parse("https://app.example.com/cb").expect("uri"),
                RedirectUri::parse("http://127.0.0.1:9/cb").expect("uri"),
            ],
            is_public: false,
            id_token_alg: "RS256".into(),
            created_at: T0,
        };
        store.create_client(&client, Some(&secret.hash()), None).await.expect("create");
        assert_eq!(store.client_by_id(client.id).await.expect("get"), Some(client.clone()));
        assert_eq!(store.client_secret_hash(client.id).await.expect("hash"), Some(secret.hash()));

        let public = OidcClient { id: Uuid::now_v7(), is_public: true, ..client.clone() };
        store.create_client(&public, None, None).await.expect("public");
        assert_eq!(store.client_secret_hash(public.id).await.expect("hash"), None);

        // A confidential client without a secret breaks a table rule.
        let broken = OidcClient { id: Uuid::now_v7(), ..client.clone() };
        assert!(store.create_client(&broken, None, None).await.is_err());

        let listed = store.list_clients(PageRequest::first(10)).await.expect("list");
        assert_eq!(listed.items, vec![client.clone(), public.clone()]);

        store.delete_client(client.id, None).await.expect("delete");
        assert_eq!(store.client_by_id(client.id).await.expect("get"), None);
        assert!(matches!(store.delete_client(client.id, None).await, Err(StoreError::NotFound)));
    }

    async fn admin_keys_authenticate_until_revoked(db: TestDb) {
        let store = open(&db).await;
        let key = AdminApiKey::generate();
        let record = AdminKeyRecord {
            id: Uuid::now_v7(),
            name: "ops laptop".into(),
            created_at: T0,
            last_used_at: None,
            revoked_at: None,
        };
        store.create_admin_key(&record, &key.hash(), None).await.expect("create");
        assert_eq!(store.active_admin_key(&key.hash()).await.expect("lookup"), Some(record.clone()));
        store.touch_admin_key(record.id, T0).await.expect("touch");
        store.revoke_admin_key(record.id, T0, None).await.expect("revoke");
        assert_eq!(store.active_admin_key(&key.hash()).await.expect("lookup"), None);
        let listed = store.list_admin_keys(PageRequest::first(10)).await.expect("list");
        assert_eq!(listed.items[0].revoked_at, Some(T0));
        assert_eq!(listed.items[0].last_used_at, Some(T0));
        assert!(matches!(store.revoke_admin_key(Uuid::now_v7(), T0, None).await, Err(StoreError::NotFound)));
    }

    async fn two_stores_on_one_database_see_each_others_writes(db: TestDb) {
        let first = open(&db).await;
        let second = open(&db).await;
        let acme = tenant("acme");
        first.create_tenant(&acme, None).await.expect("create");
        assert_eq!(second.tenant_by_slug(&slug("acme")).await.expect("get"), Some(acme.clone()));
        let token = ScimToken::generate();
        let record = scim_token_record(acme.id);
        second.create_scim_token(&record, &token.hash(), None).await.expect("token");
        first.revoke_scim_token(acme.id, record.id, T0, None).await.expect("revoke");
        assert_eq!(second.active_scim_token(&token.hash()).await.expect("lookup"), None);
    }

    async fn concurrent_migrations_apply_once(db: TestDb) {
        let url = DatabaseUrl::parse(db.url()).expect("url");
        let mut stores = Vec::new();
        for _ in 0..4 {
            stores.push(idbridge_store::connect(&url, &PoolSettings::default()).expect("connect"));
        }
        let results = futures::future::join_all(stores.iter().map(|s| s.migrate())).await;
        if db.backend() == "postgres" {
            for r in &results {
                assert!(r.is_ok(), "{r:?}");
            }
        } else {
            // SQLite is single-node: at least one migration run must succeed.
            assert!(results.iter().any(|r| r.is_ok()));
        }
        stores[0].migrate().await.expect("migrated");
        stores[0].create_tenant(&tenant("acme"), None).await.expect("usable");
    }

    async fn saml_connections_upsert_and_keep_created_at(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        assert_eq!(store.saml_connection(acme.id).await.expect("get"), None);
        let mut connection = saml_connection(acme.id);
        store.put_saml_connection(&connection, None).await.expect("put");
        assert_eq!(store.saml_connection(acme.id).await.expect("get"), Some(connection.clone()));
        let later = T0 + time::Duration::hours(1);
        connection.idp_certificates.push("MIIB".into());
        connection.want_response_signed = true;
        connection.metadata_fetched_at = Some(later);
        store
            .put_saml_connection(&SamlConnection { created_at: later, updated_at: later, ..connection.clone() }, None)
            .await
            .expect("replace");
        let stored = store.saml_connection(acme.id).await.expect("get").expect("present");
        assert_eq!(stored.created_at, T0);
        assert_eq!(stored, SamlConnection { updated_at: later, ..connection });
    }

    async fn the_acs_reads_a_tenant_and_its_connection_at_once(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let slug = |s: &str| TenantSlug::parse(s).expect("slug");
        assert_eq!(store.tenant_with_saml_connection(&slug("nobody")).await.expect("read"), None);
        assert_eq!(
            store.tenant_with_saml_connection(&slug("acme")).await.expect("read"),
            Some((acme.clone(), None))
        );
        // Every column, with the timestamps both tables have told apart.
        let later = T0 + time::Duration::hours(2);
        let connection = SamlConnection {
            idp_sso_post_url: Some("https://idp.example.com/post".into()),
            metadata_url: Some("https://idp.example.com/metadata".into()),
            metadata_fetched_at: Some(later),
            metadata_checked_at: Some(later),
            metadata_error: Some("timed out".into()),
            want_response_signed: true,
            sign_authn_requests: true,
            allow_idp_initiated: false,
            default_redirect_uri: Some("https://app.example.com/cb".into()),
            email_attributes: Some(vec!["mail".into()]),
            clock_skew_seconds: 60,
            updated_at: later,
            ..saml_connection(acme.id)
        };
        store.put_saml_connection(&connection, None).await.expect("put");
        assert_eq!(
            store.tenant_with_saml_connection(&slug("acme")).await.expect("read"),
            Some((acme, Some(connection)))
        );
    }

    async fn saml_connection_needs_a_signature_requirement_and_a_tenant(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let unsigned = SamlConnection {
            want_assertions_signed: false,
            want_response_signed: false,
            sign_authn_requests: false,
            ..saml_connection(acme.id)
        };
        assert!(store.put_saml_connection(&unsigned, None).await.is_err());
        assert!(matches!(
            store.put_saml_connection(&saml_connection(Uuid::now_v7()), None).await,
            Err(StoreError::NotFound)
        ));
    }

    async fn saml_requests_are_taken_once_and_only_before_expiry(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        let other = tenant("other");
        store.create_tenant(&acme, None).await.expect("tenant");
        store.create_tenant(&other, None).await.expect("tenant");
        let request = saml_request(acme.id, "_a1");
        store.create_saml_request(&request).await.expect("create");
        // Another tenant's ACS cannot consume it.
        assert_eq!(store.take_saml_request(other.id, "_a1", T0).await.expect("take"), None);
        let (a, b) = futures::join!(
            store.take_saml_request(acme.id, "_a1", T0),
            store.take_saml_request(acme.id, "_a1", T0)
        );
        let taken: Vec<_> = [a.expect("a"), b.expect("b")].into_iter().flatten().collect();
        assert_eq!(taken, vec![request]);
        // Expired: not returned, and gone.
        let expiring = saml_request(acme.id, "_a2");
        store.create_saml_request(&expiring).await.expect("create");
        let after = expiring.expires_at + time::Duration::seconds(1);
        assert_eq!(store.take_saml_request(acme.id, "_a2", after).await.expect("take"), None);
        assert_eq!(store.take_saml_request(acme.id, "_a2", T0).await.expect("take"), None);
        // The periodic sweep removes expired requests.
        store.create_saml_request(&saml_request(acme.id, "_a3")).await.expect("create");
        assert_eq!(store.sweep_expired(after).await.expect("sweep"), 1);
        assert_eq!(store.take_saml_request(acme.id, "_a3", T0).await.expect("take"), None);
    }

    async fn an_assertion_is_accepted_once_per_tenant_until_it_expires(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        let other = tenant("other");
        store.create_tenant(&acme, None).await.expect("tenant");
        store.create_tenant(&other, None).await.expect("tenant");
        let until = T0 + time::Duration::minutes(5);
        assert!(store.remember_assertion(acme.id, "_a1", until, T0).await.expect("first"));
        assert!(!store.remember_assertion(acme.id, "_a1", until, T0).await.expect("replay"));
        // Another tenant's namespace of assertion ids is its own.
        assert!(store.remember_assertion(other.id, "_a1", until, T0).await.expect("other"));
        // Two processes racing: exactly one wins.
        let (a, b) = futures::join!(
            store.remember_assertion(acme.id, "_a2", until, T0),
            store.remember_assertion(acme.id, "_a2", until, T0)
        );
        assert_eq!([a.expect("a"), b.expect("b")].iter().filter(|won| **won).count(), 1);
        // Past its expiry the record no longer blocks (the assertion itself is expired
        // by then), swept or not.
        let later = until + time::Duration::seconds(1);
        assert!(store.remember_assertion(acme.id, "_a1", later + time::Duration::minutes(5), later).await.expect("after expiry"));
        assert!(!store.remember_assertion(acme.id, "_a1", later + time::Duration::minutes(5), later).await.expect("live again"));
        assert_eq!(store.sweep_expired(later + time::Duration::hours(1)).await.expect("sweep"), 3);
    }

    async fn sign_ins_are_listed_newest_first_per_tenant(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        let other = tenant("other");
        store.create_tenant(&acme, None).await.expect("tenant");
        store.create_tenant(&other, None).await.expect("tenant");
        let event = |tenant_id: Uuid, reason: Option<&str>| SignInEvent {
            id: Uuid::now_v7(),
            tenant_id,
            occurred_at: T0,
            success: reason.is_none(),
            reason: reason.map(str::to_owned),
            detail: reason.map(|r| format!("because {r}")),
            email: Some("ada@example.com".into()),
            user_id: None,
            test: false,
            request_id: Some("req-1".into()),
            connection_id: None,
        };
        let first = event(acme.id, Some("audience_mismatch"));
        let second = event(acme.id, None);
        let third = event(acme.id, Some("expired"));
        for e in [&first, &second, &third, &event(other.id, None)] {
            store.record_sign_in(e, None).await.expect("record");
        }
        let page = store.list_sign_ins(acme.id, PageRequest::first(2)).await.expect("list");
        assert_eq!(page.items, vec![third.clone(), second.clone()]);
        let rest = store
            .list_sign_ins(acme.id, PageRequest { limit: 2, after: page.next_after })
            .await
            .expect("list");
        assert_eq!(rest.items, vec![first]);
        assert_eq!(rest.next_after, None);
    }
}

fn saml_connection(tenant_id: Uuid) -> SamlConnection {
    SamlConnection {
        connection_id: tenant_id,
        tenant_id,
        idp_entity_id: "https://sts.windows.net/t/".into(),
        idp_sso_redirect_url: Some("https://login.microsoftonline.com/t/saml2".into()),
        idp_sso_post_url: None,
        idp_certificates: vec!["MIIC".into()],
        metadata_xml: "<EntityDescriptor/>".into(),
        metadata_url: None,
        metadata_fetched_at: None,
        metadata_checked_at: None,
        metadata_error: None,
        want_assertions_signed: true,
        want_response_signed: false,
        sign_authn_requests: false,
        allow_idp_initiated: true,
        default_redirect_uri: Some("https://app.example.com/cb".into()),
        default_client_id: None,
        email_attributes: Some(vec!["mail".into(), "email".into()]),
        clock_skew_seconds: 180,
        created_at: T0,
        updated_at: T0,
    }
}

fn saml_request(tenant_id: Uuid, id: &str) -> SamlRequestState {
    SamlRequestState {
        id: id.into(),
        tenant_id,
        relay_state: format!("rs{id}"),
        redirect_uri: None,
        test: false,
        oidc: None,
        connection_id: None,
        created_at: T0,
        expires_at: T0 + time::Duration::minutes(10),
    }
}

mod oidc {
    use super::*;
    use idbridge_core::secret::{AccessToken, AuthorizationCode};
    use idbridge_store::{
        AuthorizationCodeRecord, DirectoryUser, Redemption, StoredSigningKey, UserSource,
        WriteContext,
    };

    fn key(kid: &str, alg: &str, at: OffsetDateTime) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            algorithm: alg.into(),
            private_key: vec![1, 2, 3],
            created_at: at,
            retired_at: None,
        }
    }

    /// A tenant, a client and a user, and a code for them.
    async fn code_fixture(store: &dyn Store) -> (AuthorizationCode, AuthorizationCodeRecord) {
        let t = tenant("acme");
        store.create_tenant(&t, None).await.expect("tenant");
        let client = OidcClient {
            id: Uuid::now_v7(),
            name: "app".into(),
            redirect_uris: vec![RedirectUri::parse("https://app.example.com/cb").expect("uri")],
            is_public: false,
            id_token_alg: "RS256".into(),
            created_at: T0,
        };
        store
            .create_client(&client, Some(&ClientSecret::generate().hash()), None)
            .await
            .expect("client");
        let user = DirectoryUser {
            id: Uuid::now_v7(),
            tenant_id: t.id,
            user_name: "ann@example.com".into(),
            external_id: None,
            active: true,
            document: serde_json::Map::new(),
            source: UserSource::Jit,
            created_at: T0,
            updated_at: T0,
            version: 1,
        };
        let ctx = WriteContext {
            now: T0,
            events: Vec::new(),
            log: None,
            audit: None,
            mail: None,
        };
        store.create_user(&user, &ctx).await.expect("user");
        let record = AuthorizationCodeRecord {
            client_id: client.id,
            redirect_uri: "https://app.example.com/cb".into(),
            tenant_id: t.id,
            user_id: user.id,
            nonce: Some("n".into()),
            code_challenge: None,
            scope: "openid email".into(),
            auth_time: T0,
            created_at: T0,
            expires_at: T0 + time::Duration::seconds(60),
            connection_id: Some(Uuid::now_v7()),
        };
        let code = AuthorizationCode::generate();
        let sign_in = SignInEvent {
            id: Uuid::now_v7(),
            tenant_id: t.id,
            occurred_at: T0,
            success: true,
            reason: None,
            detail: None,
            email: Some("ann@example.com".into()),
            user_id: Some(user.id),
            test: false,
            request_id: None,
            connection_id: record.connection_id,
        };
        store
            .record_sign_in(&sign_in, Some((&code.hash(), &record)))
            .await
            .expect("code");
        (code, record)
    }

    both_backends! {
        async fn a_sign_in_is_written_whole_with_its_code_and_feed_event(db: TestDb) {
            let store = open(&db).await;
            let (code, record) = code_fixture(store.as_ref()).await;
            let tenant_id = record.tenant_id;
            // The fixture's code, as written: every column back.
            assert_eq!(store.authorization_code(&code.hash()).await.expect("get"), Some(record.clone()));
            // A refused sign-in with every optional field set, and no code.
            let refused = SignInEvent {
                id: Uuid::now_v7(),
                tenant_id,
                occurred_at: T0 + time::Duration::seconds(5),
                success: false,
                reason: Some("audience_mismatch".into()),
                detail: Some("The audience was https://other.example.com.".into()),
                email: Some("bob@example.com".into()),
                user_id: Some(record.user_id),
                test: true,
                request_id: Some("req-7".into()),
                connection_id: Some(Uuid::now_v7()),
            };
            store.record_sign_in(&refused, None).await.expect("record");
            let page = store.list_sign_ins(tenant_id, PageRequest::first(10)).await.expect("list");
            assert_eq!(page.items.len(), 2);
            assert_eq!(page.items[0], refused);
            assert!(page.items[1].success);
            assert_eq!(page.items[1].connection_id, record.connection_id);
            let events = store.list_events(tenant_id, 0, 10).await.expect("events");
            let kinds: Vec<(i64, &str, &str)> =
                events.iter().map(|e| (e.seq, e.kind.as_str(), e.resource_type.as_str())).collect();
            assert_eq!(
                kinds,
                vec![(1, "sign_in.succeeded", "User"), (2, "sign_in.failed", "User")]
            );
            let last = &events[1];
            assert_eq!((last.tenant_id, last.resource_id, last.occurred_at), (tenant_id, record.user_id, refused.occurred_at));
            assert_eq!(last.data["sign_in"]["reason"], "audience_mismatch");
            assert_eq!(last.data["sign_in"]["request_id"], "req-7");
            assert_eq!(last.data["sign_in"]["test"], true);
            // A sign-in for a tenant that is gone writes nothing.
            let orphan = SignInEvent { id: Uuid::now_v7(), tenant_id: Uuid::now_v7(), ..refused.clone() };
            assert!(store.record_sign_in(&orphan, None).await.is_err());
            assert_eq!(store.list_sign_ins(orphan.tenant_id, PageRequest::first(10)).await.expect("list").items, vec![]);
        }

        async fn a_sign_in_quoting_a_nul_is_written_with_u_fffd(db: TestDb) {
            // A refusal quotes what the sender said; U+0000 in it must not stop the
            // line being written (PostgreSQL stores no NUL in text).
            let store = open(&db).await;
            let (_, record) = code_fixture(store.as_ref()).await;
            let refused = SignInEvent {
                id: Uuid::now_v7(),
                tenant_id: record.tenant_id,
                occurred_at: T0 + time::Duration::seconds(5),
                success: false,
                reason: Some("token_refused\u{0}".into()),
                detail: Some("The provider said: a\u{0}b".into()),
                email: Some("bob\u{0}@example.com".into()),
                user_id: None,
                test: false,
                request_id: Some("\u{0}".into()),
                connection_id: None,
            };
            store.record_sign_in(&refused, None).await.expect("record");
            let page = store.list_sign_ins(record.tenant_id, PageRequest::first(10)).await.expect("list");
            let written = &page.items[0];
            assert_eq!(written.id, refused.id);
            assert_eq!(written.reason.as_deref(), Some("token_refused\u{FFFD}"));
            assert_eq!(written.detail.as_deref(), Some("The provider said: a\u{FFFD}b"));
            assert_eq!(written.email.as_deref(), Some("bob\u{FFFD}@example.com"));
            assert_eq!(written.request_id.as_deref(), Some("\u{FFFD}"));
            let events = store.list_events(record.tenant_id, 0, 10).await.expect("events");
            assert_eq!(events.last().expect("event").data["sign_in"]["email"], "bob\u{FFFD}@example.com");
        }

        async fn concurrent_sign_ins_are_all_recorded_and_a_bad_one_fails_alone(db: TestDb) {
            // On SQLite these share transactions (group commit); a record that cannot
            // be written must fail alone and take none of the others with it.
            let store = open(&db).await;
            let acme = tenant("acme");
            store.create_tenant(&acme, None).await.expect("tenant");
            let sign_in = |tenant_id: Uuid, n: usize| SignInEvent {
                id: Uuid::now_v7(),
                tenant_id,
                occurred_at: T0,
                success: false,
                reason: Some("expired".into()),
                detail: None,
                email: Some(format!("user{n}@example.com")),
                user_id: None,
                test: false,
                request_id: None,
                connection_id: None,
            };
            let mut records: Vec<SignInEvent> = (0..200).map(|n| sign_in(acme.id, n)).collect();
            // A tenant that does not exist, in the middle of the crowd.
            records.insert(100, sign_in(Uuid::now_v7(), 999));
            let outcomes = futures::future::join_all(
                records.iter().map(|r| store.record_sign_in(r, None)),
            )
            .await;
            for (record, outcome) in records.iter().zip(&outcomes) {
                assert_eq!(outcome.is_ok(), record.tenant_id == acme.id, "{:?}", record.email);
            }
            let events = store.list_events(acme.id, 0, 500).await.expect("events");
            let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, (1..=200).collect::<Vec<i64>>());
            let mut logged = Vec::new();
            let mut page = PageRequest::first(100);
            loop {
                let listed = store.list_sign_ins(acme.id, page).await.expect("list");
                logged.extend(listed.items);
                match listed.next_after {
                    Some(after) => page = PageRequest { limit: 100, after: Some(after) },
                    None => break,
                }
            }
            assert_eq!(logged.len(), 200);
        }

        async fn sign_ins_written_together_keep_every_field_and_each_feed_gapless(db: TestDb) {
            // A crowd of sign-ins for two tenants, half with codes: whether they
            // share a transaction (and, on PostgreSQL, one statement) or not, every
            // code reads back whole and each tenant's feed is numbered 1, 2, 3, …
            let store = open(&db).await;
            let (_, record) = code_fixture(store.as_ref()).await;
            let other = tenant("other");
            store.create_tenant(&other, None).await.expect("tenant");
            let sign_in = |tenant_id: Uuid, n: usize| SignInEvent {
                id: Uuid::now_v7(),
                tenant_id,
                occurred_at: T0 + time::Duration::seconds(n as i64),
                success: tenant_id == record.tenant_id,
                reason: (tenant_id != record.tenant_id).then(|| "expired".to_owned()),
                detail: None,
                email: Some(format!("user{n}@example.com")),
                user_id: (tenant_id == record.tenant_id).then_some(record.user_id),
                test: n.is_multiple_of(3),
                request_id: Some(format!("req-{n}")),
                connection_id: None,
            };
            let crowd: Vec<(SignInEvent, Option<(AuthorizationCode, AuthorizationCodeRecord)>)> = (0..60)
                .map(|n: usize| {
                    if n.is_multiple_of(2) {
                        let code = AuthorizationCode::generate();
                        let mut issued = record.clone();
                        issued.nonce = n.is_multiple_of(4).then(|| format!("nonce-{n}"));
                        issued.code_challenge = Some(format!("challenge-{n}"));
                        (sign_in(record.tenant_id, n), Some((code, issued)))
                    } else {
                        (sign_in(other.id, n), None)
                    }
                })
                .collect();
            let hashes: Vec<Option<_>> = crowd.iter().map(|(_, c)| c.as_ref().map(|(code, _)| code.hash())).collect();
            let outcomes = futures::future::join_all(crowd.iter().zip(&hashes).map(|((e, c), hash)| {
                store.record_sign_in(e, hash.as_ref().zip(c.as_ref().map(|(_, r)| r)))
            }))
            .await;
            assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
            for ((_, c), hash) in crowd.iter().zip(&hashes) {
                if let (Some((_, issued)), Some(hash)) = (c, hash) {
                    assert_eq!(store.authorization_code(hash).await.expect("get").as_ref(), Some(issued));
                }
            }
            // The fixture wrote the first event of the code's tenant.
            for (tenant_id, count) in [(record.tenant_id, 31), (other.id, 30)] {
                let events = store.list_events(tenant_id, 0, 100).await.expect("events");
                let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
                assert_eq!(seqs, (1..=count).collect::<Vec<i64>>());
            }
            let logged = store.list_sign_ins(other.id, PageRequest::first(100)).await.expect("list");
            let mut expected: Vec<SignInEvent> =
                crowd.iter().map(|(e, _)| e.clone()).filter(|e| e.tenant_id == other.id).collect();
            expected.reverse();
            let mut got = logged.items;
            got.sort_by_key(|e| std::cmp::Reverse(e.id));
            assert_eq!(got, expected);
        }

        async fn a_crowd_of_replays_accepts_each_assertion_once(db: TestDb) {
            // Many submissions of a few assertions at once, mixed with sign-in
            // records: each assertion is new exactly once, whichever transaction
            // (group commit) each submission lands in.
            let store = open(&db).await;
            let acme = tenant("acme");
            store.create_tenant(&acme, None).await.expect("tenant");
            let until = T0 + time::Duration::minutes(5);
            let ids: Vec<String> = (0..120).map(|n| format!("_a{}", n % 12)).collect();
            let remembers = futures::future::join_all(
                ids.iter().map(|id| store.remember_assertion(acme.id, id, until, T0)),
            );
            let record = SignInEvent {
                id: Uuid::now_v7(),
                tenant_id: acme.id,
                occurred_at: T0,
                success: false,
                reason: Some("replayed".into()),
                detail: None,
                email: None,
                user_id: None,
                test: false,
                request_id: None,
                connection_id: None,
            };
            let (fresh, recorded) = futures::join!(remembers, store.record_sign_in(&record, None));
            recorded.expect("record");
            for n in 0..12 {
                let wins = ids
                    .iter()
                    .zip(&fresh)
                    .filter(|(id, outcome)| **id == format!("_a{n}") && *outcome.as_ref().expect("remember"))
                    .count();
                assert_eq!(wins, 1, "_a{n}");
            }
        }

        async fn one_active_signing_key_per_algorithm(db: TestDb) {
            let store = open(&db).await;
            assert!(store.add_signing_key(&key("r1", "RS256", T0), false, None).await.expect("add"));
            // A second process's first key loses: still one active RS256 key.
            assert!(!store.add_signing_key(&key("r2", "RS256", T0), false, None).await.expect("add"));
            assert!(store.add_signing_key(&key("e1", "ES256", T0), false, None).await.expect("add"));
            let later = T0 + time::Duration::hours(1);
            assert!(store.add_signing_key(&key("r3", "RS256", later), true, None).await.expect("rotate"));
            let keys = store.signing_keys().await.expect("keys");
            let kids: Vec<(&str, bool)> =
                keys.iter().map(|k| (k.kid.as_str(), k.retired_at.is_none())).collect();
            assert_eq!(kids, vec![("e1", true), ("r1", false), ("r3", true)]);
            assert_eq!(keys[1].retired_at, Some(later));
            assert_eq!(keys[0].private_key, vec![1, 2, 3]);
            // Retired keys go once they are old enough; active ones never.
            let removed = store
                .sweep_oidc(later, later + time::Duration::seconds(1))
                .await
                .expect("sweep");
            assert_eq!(removed, 1);
            assert_eq!(store.signing_keys().await.expect("keys").len(), 2);
        }

        async fn a_code_is_exchanged_once_and_reuse_revokes_its_token(db: TestDb) {
            let store = open(&db).await;
            let (code, record) = code_fixture(store.as_ref()).await;
            assert_eq!(store.authorization_code(&code.hash()).await.expect("get"), Some(record.clone()));
            let token = AccessToken::generate();
            let pass = |_: &AuthorizationCodeRecord| Ok(());
            let first = store
                .redeem_authorization_code(&code.hash(), &pass, &token.hash(), T0 + time::Duration::minutes(15), T0)
                .await
                .expect("redeem");
            assert_eq!(first, Redemption::Issued(record.clone()));
            let stored = store.access_token(&token.hash()).await.expect("token").expect("stored");
            assert_eq!(stored.revoked_at, None);
            // The token is the code's: its client, tenant, user and scope.
            assert_eq!(
                (stored.client_id, stored.tenant_id, stored.user_id, stored.scope.as_str()),
                (record.client_id, record.tenant_id, record.user_id, "openid email")
            );
            assert_eq!(stored.expires_at, T0 + time::Duration::minutes(15));

            let second_token = AccessToken::generate();
            let again = store
                .redeem_authorization_code(&code.hash(), &pass, &second_token.hash(), T0 + time::Duration::minutes(15), T0)
                .await
                .expect("redeem");
            assert_eq!(again, Redemption::Reused);
            assert!(store.access_token(&second_token.hash()).await.expect("token").is_none());
            let revoked = store.access_token(&token.hash()).await.expect("token").expect("kept");
            assert_eq!(revoked.revoked_at, Some(T0));

            let unknown = store
                .redeem_authorization_code(&AuthorizationCode::generate().hash(), &pass, &second_token.hash(), T0 + time::Duration::minutes(15), T0)
                .await
                .expect("redeem");
            assert_eq!(unknown, Redemption::Unknown);
        }

        async fn a_refused_code_is_used_up(db: TestDb) {
            let store = open(&db).await;
            let (code, _) = code_fixture(store.as_ref()).await;
            let token = AccessToken::generate();
            let refuse = |_: &AuthorizationCodeRecord| Err("code_wrong_client");
            let refused = store
                .redeem_authorization_code(&code.hash(), &refuse, &token.hash(), T0 + time::Duration::minutes(15), T0)
                .await
                .expect("redeem");
            assert_eq!(refused, Redemption::Refused("code_wrong_client"));
            assert!(store.access_token(&token.hash()).await.expect("token").is_none());
            // The rightful client comes too late: one try per code.
            let pass = |_: &AuthorizationCodeRecord| Ok(());
            let later = store
                .redeem_authorization_code(&code.hash(), &pass, &token.hash(), T0 + time::Duration::minutes(15), T0)
                .await
                .expect("redeem");
            assert_eq!(later, Redemption::Reused);
        }

        async fn concurrent_exchanges_of_one_code_issue_one_token(db: TestDb) {
            let store = open(&db).await;
            let (code, _) = code_fixture(store.as_ref()).await;
            let attempts = (0..8).map(|_| {
                let store = Arc::clone(&store);
                let hash = code.hash();
                async move {
                    let token = AccessToken::generate();
                    let pass = |_: &AuthorizationCodeRecord| Ok(());
                    store
                        .redeem_authorization_code(&hash, &pass, &token.hash(), T0 + time::Duration::minutes(15), T0)
                        .await
                        .expect("redeem")
                }
            });
            let outcomes = futures::future::join_all(attempts).await;
            let issued = outcomes.iter().filter(|o| matches!(o, Redemption::Issued(_))).count();
            assert_eq!(issued, 1, "{outcomes:?}");
            assert!(outcomes.iter().all(|o| matches!(o, Redemption::Issued(_) | Redemption::Reused)));
        }
    }
}

both_backends! {
    async fn one_active_sp_key_per_tenant(db: TestDb) {
        let store = open(&db).await;
        let t = tenant("acme");
        store.create_tenant(&t, None).await.expect("tenant");
        let key = |n: u8| idbridge_store::SpKeyRecord {
            id: Uuid::now_v7(),
            tenant_id: t.id,
            private_key: vec![n; 4],
            certificate: vec![n; 8],
            created_at: T0,
            not_after: T0 + time::Duration::days(3650),
            retired_at: None,
        };
        let first = key(1);
        assert!(store.add_sp_key(&first).await.expect("add"));
        // A second process's first key loses to the one already there.
        assert!(!store.add_sp_key(&key(2)).await.expect("add"));
        assert_eq!(store.sp_keys(t.id).await.expect("keys"), vec![first]);
        assert!(!format!("{:?}", key(3)).contains("private_key"));
    }
}

mod webhooks {
    use super::*;
    use idbridge_store::webhook::{
        AttemptOutcome, ClaimScope, ReplayFrom, WebhookAttempt, WebhookChanges, WebhookEndpoint,
        WebhookFailure,
    };
    use idbridge_store::{DirectoryUser, NewEvent, UserSource, WriteContext};
    use time::Duration;

    fn endpoint(tenant_id: Option<Uuid>, at: OffsetDateTime) -> WebhookEndpoint {
        WebhookEndpoint {
            id: Uuid::now_v7(),
            url: "https://hooks.example.com/x".into(),
            description: String::new(),
            event_types: None,
            tenant_id,
            secret: "idb_whsec_x".into(),
            previous_secret: None,
            previous_secret_until: None,
            enabled: true,
            created_at: at,
            updated_at: at,
        }
    }

    /// Appends one `user.created` event to the tenant's feed.
    async fn event(store: &dyn Store, tenant_id: Uuid) {
        let id = Uuid::now_v7();
        let user = DirectoryUser {
            id,
            tenant_id,
            user_name: format!("{id}@example.com"),
            external_id: None,
            active: true,
            document: serde_json::Map::new(),
            source: UserSource::Scim,
            created_at: T0,
            updated_at: T0,
            version: 1,
        };
        let ctx = WriteContext {
            now: T0,
            events: vec![NewEvent {
                kind: idbridge_core::EventKind::UserCreated,
                resource_type: idbridge_core::EventResource::User,
                resource_id: id,
                data: serde_json::json!({}),
            }],
            log: None,
            audit: None,
            mail: None,
        };
        store.create_user(&user, &ctx).await.expect("user");
    }

    fn attempt(e: &WebhookEndpoint, tenant_id: Uuid, seq: i64) -> WebhookAttempt {
        WebhookAttempt {
            id: Uuid::now_v7(),
            endpoint_id: e.id,
            tenant_id,
            event_id: Uuid::now_v7(),
            seq,
            attempt: 1,
            attempted_at: T0,
            duration_ms: 3,
            status_code: Some(204),
            error: None,
            outcome: AttemptOutcome::Delivered,
        }
    }

    both_backends! {
        async fn a_new_endpoint_starts_at_the_end_of_each_feed(db: TestDb) {
            let store = open(&db).await;
            let acme = tenant("acme");
            store.create_tenant(&acme, None).await.expect("tenant");
            event(store.as_ref(), acme.id).await;
            let e = endpoint(None, T0);
            store.create_webhook(&e, None).await.expect("webhook");
            let lease = T0 + Duration::seconds(60);
            assert!(store.claim_webhook_work(T0, Uuid::new_v4(), lease, 10, ClaimScope::Everything).await.expect("claim").is_empty());
            event(store.as_ref(), acme.id).await;
            let claims = store.claim_webhook_work(T0, Uuid::new_v4(), lease, 10, ClaimScope::Everything).await.expect("claim");
            assert_eq!(claims.len(), 1);
            assert_eq!(claims[0].delivered_seq, 1);
            // A tenant created later has no cursor yet: from its first event.
            let globex = tenant("globex");
            store.create_tenant(&globex, None).await.expect("tenant");
            event(store.as_ref(), globex.id).await;
            let claims = store.claim_webhook_work(T0, Uuid::new_v4(), lease, 10, ClaimScope::Everything).await.expect("claim");
            assert_eq!(claims.len(), 1, "acme is still leased; globex is new");
            assert_eq!((claims[0].tenant_id, claims[0].delivered_seq), (globex.id, 0));
        }

        async fn concurrent_claims_never_share_a_pair(db: TestDb) {
            let store = open(&db).await;
            let mut tenants = Vec::new();
            for n in 0..12 {
                let t = tenant(&format!("t{n}"));
                store.create_tenant(&t, None).await.expect("tenant");
                tenants.push(t);
            }
            for e in 0..2 {
                store.create_webhook(&endpoint(None, T0 - Duration::seconds(e)), None).await.expect("webhook");
            }
            for t in &tenants {
                event(store.as_ref(), t.id).await;
            }
            let lease = T0 + Duration::seconds(60);
            let claimers = (0..6).map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store.claim_webhook_work(T0, Uuid::new_v4(), lease, 5, ClaimScope::Everything).await.expect("claim")
                })
            });
            let mut pairs = Vec::new();
            for claimer in claimers {
                for c in claimer.await.expect("join") {
                    pairs.push((c.endpoint_id, c.tenant_id));
                }
            }
            // Claimers racing for the same due pairs may each get fewer than asked;
            // the next rounds take the rest.
            loop {
                let more = store.claim_webhook_work(T0, Uuid::new_v4(), lease, 5, ClaimScope::Everything).await.expect("claim");
                if more.is_empty() {
                    break;
                }
                pairs.extend(more.iter().map(|c| (c.endpoint_id, c.tenant_id)));
            }
            let total = pairs.len();
            pairs.sort();
            pairs.dedup();
            assert_eq!(pairs.len(), total, "no pair claimed twice");
            assert_eq!(total, 24, "every pair claimed once");
        }

        async fn a_recent_claim_sees_new_events_and_due_retries_only(db: TestDb) {
            let store = open(&db).await;
            let acme = tenant("acme");
            store.create_tenant(&acme, None).await.expect("tenant");
            let e = endpoint(None, T0 - Duration::hours(1));
            store.create_webhook(&e, None).await.expect("webhook");
            let lease = |at: OffsetDateTime| at + Duration::seconds(60);
            // Feed event ids are UUIDv7s of the system clock: a floor just before
            // an event lets the recent scope see it, one after it hides it.
            let floor = || {
                let millis = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after 1970")
                    .as_millis();
                uuid::Builder::from_unix_timestamp_millis(u64::try_from(millis).expect("ms"), &[0; 10]).into_uuid()
            };
            let recent = |events_after, due_after| ClaimScope::Recent { events_after, due_after };

            let before = floor();
            std::thread::sleep(std::time::Duration::from_millis(2));
            event(store.as_ref(), acme.id).await;
            std::thread::sleep(std::time::Duration::from_millis(2));
            let after = floor();
            // Nothing recent: the recent scope claims nothing; only a full look
            // finds the event.
            assert!(store.claim_webhook_work(T0, Uuid::new_v4(), lease(T0), 10, recent(after, T0)).await.expect("claim").is_empty());
            // The event is recent: claimed.
            let claim = store.claim_webhook_work(T0, Uuid::new_v4(), lease(T0), 10, recent(before, T0)).await.expect("claim").remove(0);
            assert_eq!((claim.tenant_id, claim.delivered_seq), (acme.id, 0));

            // A retry that came due lately is found by its cursor alone.
            let failure = WebhookFailure {
                delivered_seq: 0,
                failing_seq: 1,
                failures: 1,
                first_failed_at: T0,
                next_attempt_at: Some(T0 + Duration::seconds(10)),
                error: "HTTP 503".into(),
            };
            let mut failed = attempt(&e, acme.id, 1);
            failed.outcome = AttemptOutcome::Failed;
            assert!(store.record_webhook_failure(&claim, &failure, &failed).await.expect("failure"));
            let at = T0 + Duration::seconds(10);
            assert!(store.claim_webhook_work(at, Uuid::new_v4(), lease(at), 10, recent(after, at)).await.expect("claim").is_empty(), "due before the window");
            let retry = store.claim_webhook_work(at, Uuid::new_v4(), lease(at), 10, recent(after, at - Duration::seconds(1))).await.expect("claim");
            assert_eq!(retry.len(), 1);
            store.release_webhook_claim(&retry[0], None).await.expect("release");
            // A worker that stopped at its batch limit gives the pair back due now:
            // recent polls find it, however old the events left are.
            let at = T0 + Duration::seconds(15);
            assert!(store.claim_webhook_work(at, Uuid::new_v4(), lease(at), 10, recent(after, at - Duration::seconds(1))).await.expect("claim").is_empty());
            let batch = store.claim_webhook_work(at, Uuid::new_v4(), lease(at), 10, ClaimScope::Everything).await.expect("claim").remove(0);
            store.release_webhook_claim(&batch, Some(at)).await.expect("release");
            let again = store.claim_webhook_work(at, Uuid::new_v4(), lease(at), 10, recent(after, at - Duration::seconds(1))).await.expect("claim");
            assert_eq!(again.len(), 1, "due again at once");
            store.release_webhook_claim(&again[0], None).await.expect("release");

            // An endpoint enabled again is not a recent event: the full look finds
            // what it missed.
            let at = T0 + Duration::seconds(20);
            let changes = WebhookChanges { enabled: Some(true), ..WebhookChanges::default() };
            store.update_webhook(e.id, &changes, at, None).await.expect("update").expect("endpoint");
            assert!(store.claim_webhook_work(at, Uuid::new_v4(), lease(at), 10, recent(after, at - Duration::seconds(5))).await.expect("claim").is_empty());

            // And the full look always finds what is due.
            let everything = store.claim_webhook_work(at, Uuid::new_v4(), lease(at), 10, ClaimScope::Everything).await.expect("claim");
            assert_eq!(everything.len(), 1);
        }

        async fn only_the_lease_holder_records_and_a_lapsed_lease_is_reclaimed(db: TestDb) {
            let store = open(&db).await;
            let acme = tenant("acme");
            store.create_tenant(&acme, None).await.expect("tenant");
            let e = endpoint(None, T0);
            store.create_webhook(&e, None).await.expect("webhook");
            event(store.as_ref(), acme.id).await;
            event(store.as_ref(), acme.id).await;
            let first = store.claim_webhook_work(T0, Uuid::new_v4(), T0 + Duration::seconds(60), 10, ClaimScope::Everything).await.expect("claim").remove(0);
            // Not claimable while leased; claimable once the lease lapsed.
            assert!(store.claim_webhook_work(T0 + Duration::seconds(59), Uuid::new_v4(), T0 + Duration::seconds(120), 10, ClaimScope::Everything).await.expect("claim").is_empty());
            let later = T0 + Duration::seconds(61);
            let second = store.claim_webhook_work(later, Uuid::new_v4(), later + Duration::seconds(60), 10, ClaimScope::Everything).await.expect("claim").remove(0);
            // The first holder lost it: its progress is refused.
            assert!(!store.record_webhook_progress(&first, 1, Some(&attempt(&e, acme.id, 1)), later).await.expect("progress"));
            assert!(store.record_webhook_progress(&second, 1, Some(&attempt(&e, acme.id, 1)), later + Duration::seconds(60)).await.expect("progress"));
            let attempts = store.webhook_attempts(e.id, None, PageRequest::first(10)).await.expect("attempts");
            assert_eq!(attempts.items.len(), 1, "the refused progress wrote no attempt");

            // A failure releases the lease and schedules the next attempt.
            let failure = WebhookFailure {
                delivered_seq: 1,
                failing_seq: 2,
                failures: 1,
                first_failed_at: later,
                next_attempt_at: Some(later + Duration::seconds(10)),
                error: "HTTP 500".into(),
            };
            let mut failed = attempt(&e, acme.id, 2);
            failed.outcome = AttemptOutcome::Failed;
            let trouble = |retrying, dead| idbridge_store::webhook::WebhookTrouble { retrying, dead };
            assert_eq!(store.webhook_trouble(e.id).await.expect("trouble"), trouble(0, 0));
            assert!(store.record_webhook_failure(&second, &failure, &failed).await.expect("failure"));
            assert_eq!(store.webhook_trouble(e.id).await.expect("trouble"), trouble(1, 0));
            assert!(store.claim_webhook_work(later + Duration::seconds(9), Uuid::new_v4(), later + Duration::seconds(70), 10, ClaimScope::Everything).await.expect("claim").is_empty());
            let third = store.claim_webhook_work(later + Duration::seconds(10), Uuid::new_v4(), later + Duration::seconds(70), 10, ClaimScope::Everything).await.expect("claim").remove(0);
            assert_eq!((third.delivered_seq, third.failures, third.first_failed_at), (1, 1, Some(later)));

            // Dead: never claimed, until replayed.
            let dead = WebhookFailure { next_attempt_at: None, failures: 2, ..failure };
            failed.id = Uuid::now_v7();
            failed.outcome = AttemptOutcome::Dead;
            assert!(store.record_webhook_failure(&third, &dead, &failed).await.expect("failure"));
            let much_later = later + Duration::days(3);
            assert!(store.claim_webhook_work(much_later, Uuid::new_v4(), much_later, 10, ClaimScope::Everything).await.expect("claim").is_empty());
            let cursors = store.webhook_cursors(e.id, PageRequest::first(10)).await.expect("cursors");
            assert!(cursors.items[0].dead);
            assert_eq!(store.webhook_trouble(e.id).await.expect("trouble"), trouble(0, 1));
            assert_eq!(cursors.items[0].failing_seq, Some(2));
            assert_eq!(cursors.items[0].latest_seq, 2);
            assert_eq!(store.replay_webhook(e.id, None, ReplayFrom::FailedEvent, much_later, None).await.expect("replay"), 1);
            let resumed = store.claim_webhook_work(much_later, Uuid::new_v4(), much_later + Duration::seconds(60), 10, ClaimScope::Everything).await.expect("claim");
            assert_eq!((resumed[0].delivered_seq, resumed[0].failures), (1, 0));
            assert_eq!(store.webhook_trouble(e.id).await.expect("trouble"), trouble(0, 0));

            // Deleting the endpoint removes its cursors and attempts.
            assert!(store.delete_webhook(e.id, None).await.expect("delete"));
            assert!(store.webhook_attempts(e.id, None, PageRequest::first(10)).await.expect("attempts").items.is_empty());
        }
    }
}

mod setup_links {
    use super::*;
    use idbridge_core::secret::SetupLinkToken;
    use idbridge_store::SetupLinkRecord;
    use time::Duration;

    both_backends! {
        async fn a_setup_link_works_until_it_expires_or_is_revoked(db: TestDb) {
            let store = open(&db).await;
            let acme = tenant("acme");
            store.create_tenant(&acme, None).await.expect("tenant");
            let token = SetupLinkToken::generate();
            let link = SetupLinkRecord {
                id: Uuid::now_v7(),
                tenant_id: acme.id,
                provider: "entra".into(),
                note: None,
                created_at: T0,
                expires_at: T0 + Duration::hours(1),
                last_used_at: None,
                revoked_at: None,
                return_url: Some("https://app.test/done".into()),
                support_email: None,
                support_url: Some("https://app.test/help".into()),
            };
            store.create_setup_link(&link, &token.hash(), None).await.expect("link");
            let (found, owner) = store.usable_setup_link(&token.hash(), T0).await.expect("lookup").expect("usable");
            assert_eq!((found.id, owner.id), (link.id, acme.id));
            assert_eq!(found, link, "the overrides read back");
            assert!(store.usable_setup_link(&SetupLinkToken::generate().hash(), T0).await.expect("lookup").is_none());
            assert!(store.usable_setup_link(&token.hash(), T0 + Duration::hours(1)).await.expect("lookup").is_none(), "expired");
            store.revoke_setup_link(acme.id, link.id, T0, None).await.expect("revoke");
            assert!(store.usable_setup_link(&token.hash(), T0).await.expect("lookup").is_none(), "revoked");
            let other = tenant("globex");
            store.create_tenant(&other, None).await.expect("tenant");
            assert!(matches!(store.revoke_setup_link(other.id, link.id, T0, None).await, Err(StoreError::NotFound)));
        }
    }
}

mod branding {
    use super::*;
    use idbridge_store::{Branding, BrandingRecord, Logo, LogoMeta};

    both_backends! {
        async fn branding_is_one_row_with_its_logo_apart(db: TestDb) {
            let store = open(&db).await;
            assert_eq!(store.branding().await.expect("read"), BrandingRecord::default());
            assert!(store.branding_logo().await.expect("read").is_none());
            let settings = Branding {
                app_name: Some("Ledger".into()),
                accent_color: Some("#aa3300".into()),
                support_email: Some("help@ledger.test".into()),
                support_url: None,
                return_url: Some("https://ledger.test/".into()),
            };
            store.set_branding(&settings, T0, None).await.expect("set");
            let logo = Logo {
                meta: LogoMeta { content_type: "image/png".into(), hash: "0123abcd".into() },
                bytes: vec![0x89, b'P', b'N', b'G', 0, 1, 2],
            };
            store.set_branding_logo(Some(&logo), T0, None).await.expect("logo");
            let read = store.branding().await.expect("read");
            assert_eq!(read.settings, settings);
            assert_eq!(read.logo, Some(logo.meta.clone()));
            assert_eq!(store.branding_logo().await.expect("read"), Some(logo));
            // Settings leave the logo alone; removing the logo leaves the settings.
            store.set_branding(&Branding::default(), T0, None).await.expect("clear");
            assert!(store.branding().await.expect("read").logo.is_some());
            store.set_branding_logo(None, T0, None).await.expect("remove");
            let read = store.branding().await.expect("read");
            assert_eq!((read.settings, read.logo), (Branding::default(), None));
            assert!(store.branding_logo().await.expect("read").is_none());
        }
    }
}

fn operator(email: &str) -> idbridge_store::Operator {
    idbridge_store::Operator {
        id: Uuid::now_v7(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        created_at: T0,
        disabled_at: None,
    }
}

fn console_session(operator_id: Uuid, at: OffsetDateTime) -> idbridge_store::ConsoleSession {
    idbridge_store::ConsoleSession {
        id: Uuid::now_v7(),
        operator_id,
        created_at: at,
        expires_at: at + time::Duration::hours(12),
        last_seen_at: at,
    }
}

both_backends! {
    async fn operator_emails_are_unique_and_the_hash_is_never_printed(db: TestDb) {
        let store = open(&db).await;
        let ops = operator("ops@example.com");
        store.create_operator(&ops, None).await.expect("create");
        assert_eq!(
            store.operator_by_email("ops@example.com").await.expect("read"),
            Some(ops.clone())
        );
        assert_eq!(store.operator_by_email("nobody@example.com").await.expect("read"), None);
        assert!(matches!(
            store.create_operator(&operator("ops@example.com"), None).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(!format!("{ops:?}").contains("argon2"));
    }

    async fn a_console_session_ends_at_its_idle_or_absolute_limit_or_sign_out(db: TestDb) {
        let store = open(&db).await;
        let ops = operator("ops@example.com");
        store.create_operator(&ops, None).await.expect("operator");
        let token = idbridge_core::secret::SecretHash::of("idb_sess_one");
        let session = console_session(ops.id, T0);
        store.create_console_session(&session, &token).await.expect("session");
        let idle = time::Duration::minutes(30);
        let at = |t: OffsetDateTime| (t, t - idle);

        let (now, idle_since) = at(T0 + time::Duration::minutes(10));
        let found = store
            .active_console_session(&token, now, idle_since)
            .await
            .expect("read")
            .expect("active");
        assert_eq!(found.session, session);
        assert_eq!(found.operator_email, "ops@example.com");
        // Another token finds nothing.
        let other = idbridge_core::secret::SecretHash::of("idb_sess_two");
        assert!(store.active_console_session(&other, now, idle_since).await.expect("read").is_none());

        // Idle past the limit: gone; a touch keeps it alive.
        let (later, later_idle) = at(T0 + time::Duration::minutes(31));
        assert!(store.active_console_session(&token, later, later_idle).await.expect("read").is_none());
        store.touch_console_session(session.id, T0 + time::Duration::minutes(20)).await.expect("touch");
        assert!(store.active_console_session(&token, later, later_idle).await.expect("read").is_some());

        // Past the absolute end, however recent the last request.
        let end = T0 + time::Duration::hours(12);
        store.touch_console_session(session.id, end - time::Duration::minutes(1)).await.expect("touch");
        let (after_end, after_end_idle) = at(end);
        assert!(store.active_console_session(&token, after_end, after_end_idle).await.expect("read").is_none());
        assert_eq!(
            store.delete_ended_console_sessions(after_end, after_end_idle).await.expect("sweep"),
            1
        );

        // Sign-out ends a session at once; doing it twice is fine.
        let fresh = console_session(ops.id, T0);
        store.create_console_session(&fresh, &other).await.expect("session");
        store.delete_console_session(&other).await.expect("sign out");
        store.delete_console_session(&other).await.expect("again");
        assert!(store.active_console_session(&other, now, idle_since).await.expect("read").is_none());
    }

    async fn a_secret_shown_once_is_taken_once_and_not_after_it_expires(db: TestDb) {
        let store = open(&db).await;
        let minute = time::Duration::minutes(1);
        let (first, second, old) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        store.keep_shown_once(old, b"old", T0 + minute, T0).await.expect("keep");
        store.keep_shown_once(first, b"sealed one", T0 + 10 * minute, T0).await.expect("keep");
        // Taken once: the second taker gets nothing.
        assert_eq!(
            store.take_shown_once(first, T0 + minute).await.expect("take").as_deref(),
            Some(&b"sealed one"[..])
        );
        assert_eq!(store.take_shown_once(first, T0 + minute).await.expect("again"), None);
        // A look leaves it in place, until it expires.
        let looked = Uuid::now_v7();
        store.keep_shown_once(looked, b"looked at", T0 + 3 * minute, T0).await.expect("keep");
        assert_eq!(store.peek_shown_once(looked, T0 + minute).await.expect("peek").as_deref(), Some(&b"looked at"[..]));
        assert_eq!(store.peek_shown_once(looked, T0 + 3 * minute).await.expect("late"), None);
        assert_eq!(store.take_shown_once(looked, T0 + minute).await.expect("take").as_deref(), Some(&b"looked at"[..]));
        // Housekeeping sweeps one never taken once it has expired.
        let abandoned = Uuid::now_v7();
        store.keep_shown_once(abandoned, b"abandoned", T0 + minute, T0).await.expect("keep");
        store.sweep_expired(T0 + 2 * minute).await.expect("sweep");
        assert_eq!(store.peek_shown_once(abandoned, T0).await.expect("peek"), None);
        // Past its end it is not given out, even if nobody swept it yet.
        store.keep_shown_once(second, b"two", T0 + 2 * minute, T0).await.expect("keep");
        assert_eq!(store.take_shown_once(second, T0 + 2 * minute).await.expect("late"), None);
        // Keeping another sweeps what has expired.
        store.keep_shown_once(Uuid::now_v7(), b"x", T0 + 20 * minute, T0 + 5 * minute).await.expect("keep");
        assert_eq!(store.take_shown_once(old, T0).await.expect("swept"), None);
    }

    async fn tenant_search_matches_slug_or_name_and_treats_wildcards_literally(db: TestDb) {
        let store = open(&db).await;
        let mut acme = tenant("acme");
        acme.name = "Acme 100% Inc".into();
        store.create_tenant(&acme, None).await.expect("acme");
        store.create_tenant(&tenant("globex"), None).await.expect("globex");
        store.create_tenant(&tenant("initech"), None).await.expect("initech");
        let slugs = |page: idbridge_store::Page<Tenant>| {
            page.items.into_iter().map(|t| t.slug.to_string()).collect::<Vec<_>>()
        };
        let all = PageRequest::first(50);
        assert_eq!(slugs(store.search_tenants("GLOB", all).await.expect("q")), ["globex"]);
        assert_eq!(slugs(store.search_tenants("100%", all).await.expect("q")), ["acme"]);
        assert_eq!(slugs(store.search_tenants("%", all).await.expect("q")), ["acme"]);
        assert!(slugs(store.search_tenants("_", all).await.expect("q")).is_empty());
        assert_eq!(slugs(store.search_tenants(" inc", all).await.expect("q")).len(), 3);
        let first = store.search_tenants("inc", PageRequest::first(2)).await.expect("q");
        let next = first.next_after.expect("more");
        let second = store
            .search_tenants("inc", PageRequest { limit: 2, after: Some(next) })
            .await
            .expect("q");
        assert_eq!(slugs(first), ["acme", "globex"]);
        assert_eq!(slugs(second), ["initech"]);
    }
}

both_backends! {
    async fn log_filters_narrow_each_log_and_page_within_the_filter(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        let other = tenant("other");
        store.create_tenant(&acme, None).await.expect("tenant");
        store.create_tenant(&other, None).await.expect("tenant");
        let sign_in = |tenant_id: Uuid, reason: Option<&str>, email: &str| SignInEvent {
            id: Uuid::now_v7(),
            tenant_id,
            occurred_at: T0,
            success: reason.is_none(),
            reason: reason.map(str::to_owned),
            detail: None,
            email: Some(email.to_owned()),
            user_id: None,
            test: false,
            request_id: None,
            connection_id: None,
        };
        let events = [
            sign_in(acme.id, Some("expired"), "Ada@Example.com"),
            sign_in(acme.id, None, "ada@example.com"),
            sign_in(acme.id, Some("audience_mismatch"), "bob@example.com"),
            sign_in(acme.id, Some("expired"), "bob@example.com"),
            sign_in(acme.id, Some("expired"), "ada@example.com"),
            sign_in(other.id, Some("expired"), "ada@example.com"),
        ];
        for e in &events {
            store.record_sign_in(e, None).await.expect("record");
        }
        let ids = |items: Vec<SignInEvent>| items.into_iter().map(|e| e.id).collect::<Vec<_>>();
        let list = |filter: SignInFilter, page: PageRequest| {
            let store = Arc::clone(&store);
            async move { store.list_sign_ins_filtered(acme.id, &filter, page).await.expect("list") }
        };
        let refused = SignInFilter { success: Some(false), ..SignInFilter::default() };
        assert_eq!(ids(list(refused, PageRequest::first(50)).await.items),
                   vec![events[4].id, events[3].id, events[2].id, events[0].id]);
        let succeeded = SignInFilter { success: Some(true), ..SignInFilter::default() };
        assert_eq!(ids(list(succeeded, PageRequest::first(50)).await.items), vec![events[1].id]);
        // Case-insensitive email, and filters combine.
        let ada = SignInFilter { email: Some("ADA@example.COM".into()), ..SignInFilter::default() };
        assert_eq!(ids(list(ada, PageRequest::first(50)).await.items),
                   vec![events[4].id, events[1].id, events[0].id]);
        let ada_expired = SignInFilter {
            success: Some(false),
            reason: Some("expired".into()),
            email: Some("ada@example.com".into()),
        };
        assert_eq!(ids(list(ada_expired, PageRequest::first(50)).await.items),
                   vec![events[4].id, events[0].id]);
        // Pages of a filtered list stay within the filter.
        let expired = SignInFilter { reason: Some("expired".into()), ..SignInFilter::default() };
        let first = list(expired.clone(), PageRequest::first(2)).await;
        assert_eq!(ids(first.items), vec![events[4].id, events[3].id]);
        let rest = list(expired, PageRequest { limit: 2, after: first.next_after }).await;
        assert_eq!(ids(rest.items), vec![events[0].id]);
        assert_eq!(rest.next_after, None);

        let record = |tenant_id: Uuid, method: &str, status: u16| ProvisioningRecord {
            id: Uuid::now_v7(),
            tenant_id,
            occurred_at: T0,
            method: method.to_owned(),
            path: "/scim/v2/acme/Users".to_owned(),
            status,
            resource_type: Some("User".to_owned()),
            resource_id: None,
            reason: (status >= 400).then(|| "invalidValue".to_owned()),
            request_id: None,
            token_id: None,
        };
        let records = [
            record(acme.id, "POST", 201),
            record(acme.id, "POST", 409),
            record(acme.id, "PATCH", 200),
            record(acme.id, "DELETE", 404),
            record(acme.id, "POST", 201),
            record(other.id, "POST", 409),
        ];
        for r in &records {
            store.record_provisioning(r).await.expect("record");
        }
        let ids = |items: Vec<ProvisioningRecord>| items.into_iter().map(|r| r.id).collect::<Vec<_>>();
        let list = |filter: ProvisioningFilter, page: PageRequest| {
            let store = Arc::clone(&store);
            async move { store.list_provisioning_filtered(acme.id, &filter, page).await.expect("list") }
        };
        assert_eq!(list(ProvisioningFilter::default(), PageRequest::first(50)).await.items.len(), 5);
        assert_eq!(store.list_provisioning(acme.id, PageRequest::first(50)).await.expect("list").items.len(), 5);
        let failed = ProvisioningFilter { success: Some(false), ..ProvisioningFilter::default() };
        assert_eq!(ids(list(failed, PageRequest::first(50)).await.items), vec![records[3].id, records[1].id]);
        let posts = ProvisioningFilter { method: Some("POST".into()), ..ProvisioningFilter::default() };
        let first = list(posts.clone(), PageRequest::first(2)).await;
        assert_eq!(ids(first.items), vec![records[4].id, records[1].id]);
        let rest = list(posts, PageRequest { limit: 2, after: first.next_after }).await;
        assert_eq!(ids(rest.items), vec![records[0].id]);
        let good_posts = ProvisioningFilter { method: Some("POST".into()), success: Some(true) };
        assert_eq!(ids(list(good_posts, PageRequest::first(50)).await.items), vec![records[4].id, records[0].id]);
    }
}

/// A database that cannot be reached fails a crowd of sign-in writes promptly: a
/// group-committed batch that failed for the database's sake (not one write's) is
/// not redone write by write, each waiting out the pool's timeout again. Needs no
/// server: nothing listens on port 1.
#[tokio::test]
async fn a_dead_database_fails_a_crowd_of_sign_ins_at_once() {
    let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/none").expect("url");
    let timeout = std::time::Duration::from_millis(400);
    let settings = PoolSettings {
        max_connections: 4,
        acquire_timeout: timeout,
    };
    let store = idbridge_store::connect(&url, &settings).expect("lazy pool");
    let tenant_id = Uuid::now_v7();
    let records: Vec<SignInEvent> = (0..20)
        .map(|n| SignInEvent {
            id: Uuid::now_v7(),
            tenant_id,
            occurred_at: T0,
            success: false,
            reason: Some("expired".into()),
            detail: None,
            email: Some(format!("user{n}@example.com")),
            user_id: None,
            test: false,
            request_id: None,
            connection_id: None,
        })
        .collect();
    let assertion_ids: Vec<String> = (0..20).map(|n| format!("_a{n}")).collect();
    let started = std::time::Instant::now();
    let (recorded, remembered) = futures::join!(
        futures::future::join_all(records.iter().map(|r| store.record_sign_in(r, None))),
        futures::future::join_all(
            assertion_ids
                .iter()
                .map(|id| store.remember_assertion(tenant_id, id, T0, T0))
        ),
    );
    let elapsed = started.elapsed();
    for outcome in recorded {
        let err = outcome.expect_err("no database");
        assert!(err.is_unavailable(), "{err}");
    }
    for outcome in remembered {
        let err = outcome.expect_err("no database");
        assert!(err.is_unavailable(), "{err}");
    }
    // A few timeouts at most (a first batch of one, then the rest), never one per
    // write.
    assert!(elapsed < timeout * 6, "took {elapsed:?}");
}

/// Runs SQL on the test database directly, for what the store's interface cannot do
/// (put the schema back as it was before a migration).
async fn raw_sql(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db.backend() {
        "sqlite" => {
            let mut conn = sqlx::SqliteConnection::connect(db.url())
                .await
                .expect("connect");
            sqlx::raw_sql(sql).execute(&mut conn).await.expect("sql");
        }
        _ => {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect");
            sqlx::raw_sql(sql).execute(&mut conn).await.expect("sql");
        }
    }
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db.backend() {
        "sqlite" => {
            let mut conn = sqlx::SqliteConnection::connect(db.url())
                .await
                .expect("connect");
            sqlx::query_scalar(sql)
                .fetch_one(&mut conn)
                .await
                .expect("count")
        }
        _ => {
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect");
            sqlx::query_scalar(sql)
                .fetch_one(&mut conn)
                .await
                .expect("count")
        }
    }
}

fn group(tenant_id: Uuid, name: &str, at: OffsetDateTime) -> idbridge_store::DirectoryGroup {
    idbridge_store::DirectoryGroup {
        id: Uuid::now_v7(),
        tenant_id,
        display_name: name.into(),
        external_id: None,
        document: serde_json::json!({"displayName": name})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

fn quiet(now: OffsetDateTime) -> idbridge_store::WriteContext {
    idbridge_store::WriteContext {
        now,
        events: Vec::new(),
        log: None,
        audit: None,
        mail: None,
    }
}

fn renamed(g: &idbridge_store::DirectoryGroup, name: &str) -> idbridge_store::DirectoryGroup {
    let mut next = g.clone();
    next.display_name = name.into();
    next.document.insert("displayName".into(), name.into());
    next.version = g.version + 1;
    next
}

both_backends! {
    async fn group_names_are_unique_and_older_duplicates_keep_working(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let eng = group(acme.id, "Eng", T0);
        let other = group(acme.id, "Other", T0 + time::Duration::minutes(1));
        store.create_group(&eng, &[], &quiet(T0)).await.expect("eng");
        store.create_group(&other, &[], &quiet(T0)).await.expect("other");

        // The database as it was before group names were unique, holding two groups
        // of one name (differing in case), then migration 0024 applied to it.
        raw_sql(&db, "DROP INDEX directory_groups_name_key_idx").await;
        raw_sql(&db, "ALTER TABLE directory_groups DROP COLUMN name_key").await;
        raw_sql(&db, "UPDATE directory_groups SET display_name = 'ENG', display_name_lower = 'eng' \
                      WHERE display_name = 'Other'").await;
        let migration = match db.backend() {
            "sqlite" => include_str!("../migrations/sqlite/0024_group_name_unique.sql"),
            _ => include_str!("../migrations/postgres/0024_group_name_unique.sql"),
        };
        raw_sql(&db, migration).await;
        assert_eq!(count(&db, "SELECT count(*) FROM directory_groups WHERE name_key = 'eng'").await, 1);
        assert_eq!(count(&db, "SELECT count(*) FROM directory_groups WHERE name_key IS NULL").await, 1);

        // The younger duplicate is not lost and can still be written, name unchanged.
        let dup = store.group_by_id(acme.id, other.id).await.expect("read").expect("kept");
        assert_eq!(dup.display_name, "ENG");
        let mut touched = renamed(&dup, "ENG");
        touched.external_id = Some("x1".into());
        store.update_group(&touched, dup.version, &[], &quiet(T0)).await.expect("still writable");
        // A new group of that name is refused; so is renaming into a taken name.
        let err = store.create_group(&group(acme.id, "eng", T0), &[], &quiet(T0)).await.expect_err("taken");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        let sales = group(acme.id, "Sales", T0);
        store.create_group(&sales, &[], &quiet(T0)).await.expect("sales");
        let err = store.update_group(&renamed(&sales, "Eng"), 1, &[], &quiet(T0)).await.expect_err("taken");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        // Renamed, the duplicate takes its new name's key; the old name is still Eng's.
        store.update_group(&renamed(&touched, "Platform"), touched.version, &[], &quiet(T0)).await.expect("renamed");
        let err = store.create_group(&group(acme.id, "PLATFORM", T0), &[], &quiet(T0)).await.expect_err("taken");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(count(&db, "SELECT count(*) FROM directory_groups WHERE name_key IS NULL").await, 0);
    }

    async fn member_changes_reach_only_a_group_of_the_tenant_that_exists(db: TestDb) {
        let store = open(&db).await;
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        store.create_tenant(&acme, None).await.expect("acme");
        store.create_tenant(&globex, None).await.expect("globex");
        let eng = group(acme.id, "Eng", T0);
        store.create_group(&eng, &[], &quiet(T0)).await.expect("eng");
        // The group named under another tenant: nothing to change there.
        let mut elsewhere = eng.clone();
        elsewhere.tenant_id = globex.id;
        let err = store.change_group_members(&elsewhere, &[idbridge_store::MemberChange::RemoveAll], &quiet(T0))
            .await.expect_err("not globex's");
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        // A group deleted meanwhile.
        let gone = group(acme.id, "Gone", T0);
        let err = store.change_group_members(&gone, &[idbridge_store::MemberChange::RemoveAll], &quiet(T0))
            .await.expect_err("no such group");
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        // The group itself: its version moves on, its document stays.
        let version = store.change_group_members(&eng, &[], &quiet(T0)).await.expect("changed");
        assert_eq!(version, eng.version + 1);
        let stored = store.group_by_id(acme.id, eng.id).await.expect("read").expect("there");
        assert_eq!((stored.version, stored.document), (version, eng.document.clone()));
    }
}

/// Applies the embedded migrations up to `last` only: the database as an older
/// idbridge left it.
async fn migrate_up_to(db: &TestDb, last: i64) {
    use sqlx::Connection;
    let keep = |m: &sqlx::migrate::Migrator| -> sqlx::migrate::Migrator {
        let mut m = sqlx::migrate::Migrator {
            migrations: m.migrations.clone(),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        m.migrations = std::borrow::Cow::Owned(
            m.migrations
                .iter()
                .filter(|x| x.version <= last)
                .cloned()
                .collect(),
        );
        m
    };
    match db.backend() {
        "sqlite" => {
            let migrator = keep(&sqlx::migrate!("./migrations/sqlite"));
            let options: sqlx::sqlite::SqliteConnectOptions = db.url().parse().expect("sqlite URL");
            let mut conn = sqlx::SqliteConnection::connect_with(&options.create_if_missing(true))
                .await
                .expect("connect");
            migrator.run(&mut conn).await.expect("older migrations");
        }
        _ => {
            let migrator = keep(&sqlx::migrate!("./migrations/postgres"));
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect");
            migrator.run(&mut conn).await.expect("older migrations");
        }
    }
}

both_backends! {
    async fn connections_are_made_from_what_an_older_idbridge_stored(db: TestDb) {
        // Before connections (migration 24): a tenant, its SAML connection, and an
        // AuthnRequest in flight.
        migrate_up_to(&db, 24).await;
        let id = Uuid::now_v7();
        let hex: String = id.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let sql = match db.backend() {
            "sqlite" => format!(
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) \
                 VALUES (X'{hex}', 'acme', 'Acme', 1, 1); \
                 INSERT INTO saml_connections (tenant_id, idp_entity_id, idp_sso_redirect_url, \
                 idp_certificates, metadata_xml, metadata_url, want_assertions_signed, \
                 want_response_signed, allow_idp_initiated, clock_skew_seconds, created_at, \
                 updated_at, email_attributes) VALUES (X'{hex}', 'https://sts.windows.net/t/', \
                 'https://idp.example/sso', '[\"MIIC\"]', '<x/>', 'https://idp.example/md', 1, 0, 1, \
                 180, 1, 2, '[\"mail\"]'); \
                 INSERT INTO saml_requests (id, tenant_id, relay_state, test, created_at, expires_at) \
                 VALUES ('_r1', X'{hex}', 'rs', 0, 1, 4102444800000000);"
            ),
            _ => format!(
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) \
                 VALUES ('{id}', 'acme', 'Acme', now(), now()); \
                 INSERT INTO saml_connections (tenant_id, idp_entity_id, idp_sso_redirect_url, \
                 idp_certificates, metadata_xml, metadata_url, want_assertions_signed, \
                 want_response_signed, allow_idp_initiated, clock_skew_seconds, created_at, \
                 updated_at, email_attributes) VALUES ('{id}', 'https://sts.windows.net/t/', \
                 'https://idp.example/sso', '[\"MIIC\"]', '<x/>', 'https://idp.example/md', true, \
                 false, true, 180, now(), now(), '[\"mail\"]'); \
                 INSERT INTO saml_requests (id, tenant_id, relay_state, test, created_at, expires_at) \
                 VALUES ('_r1', '{id}', 'rs', false, now(), '2100-01-01T00:00:00Z');"
            ),
        };
        raw_sql(&db, &sql).await;

        // This idbridge starts: the rest of the migrations.
        let store = open(&db).await;
        let all = store.connections(id).await.expect("connections");
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].id, all[0].kind, all[0].name.as_str()), (id, ConnectionKind::Saml, "SAML"));
        assert!(!all[0].is_default && all[0].domains.is_empty());
        let saml = store.saml_connection(id).await.expect("read").expect("kept");
        assert_eq!(saml.connection_id, id);
        assert_eq!(saml.idp_entity_id, "https://sts.windows.net/t/");
        assert_eq!(saml.idp_sso_redirect_url.as_deref(), Some("https://idp.example/sso"));
        assert_eq!(saml.metadata_url.as_deref(), Some("https://idp.example/md"));
        assert_eq!(saml.idp_certificates, vec!["MIIC".to_owned()]);
        assert_eq!(saml.email_attributes, Some(vec!["mail".to_owned()]));
        assert_eq!(store.saml_connection_by_id(id, id).await.expect("read"), Some(saml));
        let request = store.take_saml_request(id, "_r1", T0).await.expect("take").expect("kept");
        assert_eq!((request.relay_state.as_str(), request.connection_id), ("rs", None));
    }
}

both_backends! {
    async fn users_made_by_an_older_idbridge_keep_their_emails_when_manual_users_arrive(db: TestDb) {
        // Before manual users (migration 28): a SCIM user with an email, which
        // references the user row (ON DELETE CASCADE) through the table rebuild.
        migrate_up_to(&db, 28).await;
        let (tenant_id, user_id) = (Uuid::now_v7(), Uuid::now_v7());
        let hex = |id: Uuid| -> String { id.as_bytes().iter().map(|b| format!("{b:02x}")).collect() };
        let (t, u) = (hex(tenant_id), hex(user_id));
        let doc = r#"{"userName":"ada@acme.example","emails":[{"value":"Ada.L@acme.example"}]}"#;
        let sql = match db.backend() {
            "sqlite" => format!(
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES (X'{t}', 'acme', 'Acme', 1, 1); \
                 INSERT INTO directory_users (id, tenant_id, user_name, user_name_lower, active, document, source, \
                 created_at, updated_at, version) VALUES (X'{u}', X'{t}', 'ada@acme.example', 'ada@acme.example', 1, \
                 '{doc}', 'scim', 1, 1, 1); \
                 INSERT INTO directory_user_emails (user_id, position, tenant_id, value_lower, is_primary) \
                 VALUES (X'{u}', 0, X'{t}', 'ada.l@acme.example', 0);"
            ),
            _ => format!(
                "INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES ('{tenant_id}', 'acme', 'Acme', now(), now()); \
                 INSERT INTO directory_users (id, tenant_id, user_name, user_name_lower, active, document, source, \
                 created_at, updated_at, version) VALUES ('{user_id}', '{tenant_id}', 'ada@acme.example', \
                 'ada@acme.example', true, '{doc}', 'scim', now(), now(), 1); \
                 INSERT INTO directory_user_emails (user_id, position, tenant_id, value_lower, is_primary) \
                 VALUES ('{user_id}', 0, '{tenant_id}', 'ada.l@acme.example', false);"
            ),
        };
        raw_sql(&db, &sql).await;

        let store = open(&db).await;
        let by_email = store.user_for_sign_in(tenant_id, "ada.l@acme.example").await.expect("read").expect("email kept");
        assert_eq!((by_email.id, by_email.source), (user_id, UserSource::Scim));
        // The new source is accepted, and the rebuilt table still cascades.
        let mut manual = by_email.clone();
        manual.id = Uuid::now_v7();
        manual.user_name = "grace@acme.example".into();
        manual.source = UserSource::Manual;
        manual.document.insert("userName".into(), "grace@acme.example".into());
        manual.document.insert("emails".into(), serde_json::json!([{"value": "grace@acme.example"}]));
        store.create_user(&manual, &quiet(T0)).await.expect("manual user");
        let stored = store.user_by_id(tenant_id, manual.id).await.expect("read").expect("there");
        assert_eq!(stored.source, UserSource::Manual);
        store.delete_user(tenant_id, user_id, None, &quiet(T0)).await.expect("delete");
        assert_eq!(store.user_for_sign_in(tenant_id, "ada.l@acme.example").await.expect("read"), None);
    }
}

/// acme with ada@example.com (in group "eng") and grace@example.com, and globex
/// with its own ada@example.com: the lookups' tests ask one tenant for a name the
/// other holds too.
struct TwoTenants {
    acme: Tenant,
    globex: Tenant,
    ada: idbridge_store::DirectoryUser,
    namesake: idbridge_store::DirectoryUser,
    eng: idbridge_store::DirectoryGroup,
}

impl TwoTenants {
    async fn create(store: &Arc<dyn Store>) -> Self {
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        store.create_tenant(&acme, None).await.expect("acme");
        store.create_tenant(&globex, None).await.expect("globex");
        let (ada, ctx) = directory_user(acme.id, "ada@example.com");
        store.create_user(&ada, &ctx).await.expect("ada");
        let (grace, ctx) = directory_user(acme.id, "grace@example.com");
        store.create_user(&grace, &ctx).await.expect("grace");
        let (namesake, ctx) = directory_user(globex.id, "ada@example.com");
        store
            .create_user(&namesake, &ctx)
            .await
            .expect("globex's ada");
        let eng = group(acme.id, "eng", T0);
        let member = idbridge_store::MemberRef {
            value: ada.id.to_string(),
            kind: None,
        };
        store
            .create_group(&eng, std::slice::from_ref(&member), &quiet(T0))
            .await
            .expect("group");
        Self {
            acme,
            globex,
            ada,
            namesake,
            eng,
        }
    }
}

/// A user of the tenant, at version 1, with one `user.created` event to raise.
fn directory_user(
    tenant_id: Uuid,
    name: &str,
) -> (idbridge_store::DirectoryUser, idbridge_store::WriteContext) {
    let id = Uuid::now_v7();
    let user = idbridge_store::DirectoryUser {
        id,
        tenant_id,
        user_name: name.into(),
        external_id: None,
        active: true,
        document:
            serde_json::json!({"userName": name, "emails": [{"value": name, "primary": true}]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        source: UserSource::Scim,
        created_at: T0,
        updated_at: T0,
        version: 1,
    };
    let ctx = idbridge_store::WriteContext {
        events: vec![idbridge_store::NewEvent {
            kind: idbridge_core::EventKind::UserCreated,
            resource_type: idbridge_core::EventResource::User,
            resource_id: id,
            data: serde_json::json!({}),
        }],
        ..quiet(T0)
    };
    (user, ctx)
}

both_backends! {
    async fn a_crowd_of_directory_writes_is_committed_together_and_each_refusal_reaches_its_own_caller(db: TestDb) {
        // Users and groups are written through a group commit: the writes of a crowd
        // share transactions. Each must be answered as if it had been written alone:
        // a write refused before it wrote anything (a version that moved, a row that
        // is gone) and one that failed half-way (a name already taken, a member that
        // is no user) reach their own callers only, and the feed stays gapless.
        use idbridge_store::{MemberChange, MemberRef};
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let (ada, ada_ctx) = directory_user(acme.id, "ada@acme.example");
        store.create_user(&ada, &ada_ctx).await.expect("ada");
        let eng = group(acme.id, "Eng", T0);
        store.create_group(&eng, &[], &quiet(T0)).await.expect("eng");

        // Each with its provisioning log line, every field set (odd ones with a
        // reason): the backends write it with the events, in one statement or message.
        let log_line = |n: usize, resource_id: Uuid| ProvisioningRecord {
            id: Uuid::now_v7(),
            tenant_id: acme.id,
            occurred_at: T0 + time::Duration::microseconds(n as i64),
            method: "POST".into(),
            path: format!("/scim/v2/acme/Users/{n}"),
            status: 201,
            resource_type: Some("User".into()),
            resource_id: Some(resource_id),
            reason: (n % 2 == 1).then(|| format!("reason {n}")),
            request_id: Some(format!("req-{n}")),
            token_id: Some(Uuid::now_v7()),
        };
        // A second tenant's writes among them, and each write at its own time: a
        // batch ends with one statement for its log lines and one feed append per
        // tenant, which must keep each event's tenant, order and time.
        let globex = tenant("globex");
        store.create_tenant(&globex, None).await.expect("tenant");
        let crowd: Vec<_> = (0..150)
            .map(|n| {
                let tenant_id = if n % 3 == 2 { globex.id } else { acme.id };
                let (user, mut ctx) = directory_user(tenant_id, &format!("user{n}@acme.example"));
                let mut line = log_line(n, user.id);
                line.tenant_id = tenant_id;
                ctx.log = Some(line);
                ctx.now = T0 + time::Duration::seconds(n as i64);
                (user, ctx)
            })
            .collect();
        let taken = directory_user(acme.id, "ADA@acme.example");
        let mut renamed_ada = ada.clone();
        renamed_ada.document.insert("title".into(), "Engineer".into());
        renamed_ada.version = 2;
        let mut stale = ada.clone();
        stale.version = 9;
        let (ghost, _) = directory_user(acme.id, "ghost@acme.example");
        let mut ghost_next = ghost.clone();
        ghost_next.version = 2;
        let ada_ref = MemberRef { value: ada.id.to_string(), kind: None };
        let nobody = MemberRef { value: Uuid::now_v7().to_string(), kind: None };

        let created = futures::future::join_all(crowd.iter().map(|(u, ctx)| store.create_user(u, ctx)));
        let q = quiet(T0);
        // Two events and a log line: the path that writes several events.
        let (_, event_ctx) = directory_user(acme.id, "unused@acme.example");
        let two_events = idbridge_store::WriteContext {
            events: vec![event_ctx.events[0].clone(), event_ctx.events[0].clone()],
            log: Some(log_line(999, ada.id)),
            ..quiet(T0)
        };
        let add_ada = [MemberChange::Add(vec![ada_ref])];
        let add_nobody = [MemberChange::Add(vec![nobody])];
        let no_group = Uuid::now_v7();
        let refusals = async {
            futures::join!(
                store.create_user(&taken.0, &taken.1),
                store.update_user(&renamed_ada, 1, false, &two_events),
                store.update_user(&stale, 8, false, &q),
                store.update_user(&ghost_next, 1, false, &q),
                store.delete_user(acme.id, ghost.id, None, &q),
                store.change_group_members(&eng, &add_ada, &q),
                store.change_group_members(&eng, &add_nobody, &q),
                store.delete_group(acme.id, no_group, None, &q),
            )
        };
        let (created, (taken_out, renamed_out, stale_out, ghost_out, ghost_delete, add_ada, add_nobody, no_group)) =
            futures::join!(created, refusals);

        for outcome in &created {
            outcome.as_ref().expect("created");
        }
        assert!(matches!(taken_out, Err(StoreError::Conflict(_))), "{taken_out:?}");
        renamed_out.expect("ada renamed");
        // Against version 1 or 2, whichever the crowd ran first: never 8.
        assert!(matches!(stale_out, Err(StoreError::VersionMismatch)), "{stale_out:?}");
        assert!(matches!(ghost_out, Err(StoreError::NotFound)), "{ghost_out:?}");
        assert!(matches!(ghost_delete, Err(StoreError::NotFound)), "{ghost_delete:?}");
        assert_eq!(add_ada.expect("ada added"), eng.version + 1);
        assert!(matches!(add_nobody, Err(StoreError::InvalidReference(_))), "{add_nobody:?}");
        assert!(matches!(no_group, Err(StoreError::NotFound)), "{no_group:?}");

        // Every acknowledged write is there, and nothing of a refused one.
        let stored = store.user_by_id(acme.id, ada.id).await.expect("read").expect("ada");
        assert_eq!((stored.version, &stored.document["title"]), (2, &serde_json::json!("Engineer")));
        for (user, _) in &crowd {
            assert!(store.user_by_id(user.tenant_id, user.id).await.expect("read").is_some());
        }
        assert!(store.user_by_id(acme.id, taken.0.id).await.expect("read").is_none());
        let members = store.group_members(acme.id, &[eng.id]).await.expect("members");
        assert_eq!(members.iter().map(|(_, m)| m.id).collect::<Vec<_>>(), vec![ada.id]);
        let events = store.list_events(acme.id, 0, 500).await.expect("events");
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        // Ada's creation, the crowd's 100, Ada's two, and Ada's membership.
        assert_eq!(seqs, (1..=104).collect::<Vec<i64>>());
        let globex_events = store.list_events(globex.id, 0, 500).await.expect("events");
        assert_eq!(
            globex_events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=50).collect::<Vec<i64>>()
        );
        // Each user's creation is in its own tenant's feed, at its own write's time.
        let when: std::collections::HashMap<Uuid, (Uuid, time::OffsetDateTime)> =
            crowd.iter().map(|(u, ctx)| (u.id, (u.tenant_id, ctx.now))).collect();
        for event in events.iter().chain(&globex_events) {
            if let Some(&(tenant_id, at)) = when.get(&event.resource_id) {
                assert_eq!((event.tenant_id, event.occurred_at), (tenant_id, at), "{event:?}");
            }
        }
        assert_eq!(
            globex_events.iter().filter(|e| when.contains_key(&e.resource_id)).count(),
            50
        );
        // The maintained counts moved by each tenant's own creations.
        let everyone = idbridge_scim::query::list_request(
            idbridge_scim::schema::ResourceType::User, None, None, None, None, Some("0"),
        )
        .expect("request");
        assert_eq!(store.list_users(acme.id, &everyone).await.expect("acme").total, 101);
        assert_eq!(store.list_users(globex.id, &everyone).await.expect("globex").total, 50);
        let mut logged = store.list_provisioning(acme.id, PageRequest::first(500)).await.expect("log").items;
        logged.extend(store.list_provisioning(globex.id, PageRequest::first(500)).await.expect("log").items);
        let mut expected: Vec<ProvisioningRecord> = crowd.iter().filter_map(|(_, ctx)| ctx.log.clone()).collect();
        expected.extend(two_events.log.clone());
        logged.sort_by_key(|r| r.id);
        expected.sort_by_key(|r| r.id);
        assert_eq!(logged, expected);
        assert_eq!(count(&db, "SELECT count(*) FROM directory_users").await, 151);
    }
}

both_backends! {
    async fn stored_users_come_as_their_documents_compact_text(db: TestDb) {
        // A SCIM list writes documents out as stored text (`list_stored_users`):
        // the same members as the parsed user, without PostgreSQL's spacing. The
        // store hands the text over unparsed; what writes it out parses it once and
        // refuses anything but an object (`render::UserResource::stored`).
        use idbridge_scim::query::list_request;
        use idbridge_scim::schema::ResourceType;
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let (mut ada, ctx) = directory_user(acme.id, "ada@acme.example");
        ada.document.insert(
            "name".into(),
            serde_json::json!({"givenName": "Ada", "familyName": "King, \"Lovelace\": x"}),
        );
        store.create_user(&ada, &ctx).await.expect("ada");
        let request = list_request(ResourceType::User, None, None, None, None, None).expect("request");
        for with_groups in [false, true] {
            let (listing, groups) =
                store.list_stored_users(acme.id, &request, with_groups).await.expect("list");
            assert_eq!(groups.is_some(), with_groups);
            let [user] = listing.items.as_slice() else { panic!("one user: {listing:?}") };
            let text = user.document.as_str();
            assert_eq!(idbridge_scim::stored::compact(text), text);
            let document: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).expect("object");
            assert_eq!(document, ada.document);
            assert_eq!((user.id, user.version), (ada.id, ada.version));
        }
        assert_eq!(count(&db, "UPDATE directory_users SET document = '[1]' RETURNING CAST(1 AS BIGINT)").await, 1);
        let (listing, _) = store.list_stored_users(acme.id, &request, false).await.expect("list");
        assert_eq!(listing.items[0].document, "[1]");
    }
}

both_backends! {
    async fn a_list_reads_its_tenants_count_with_the_page(db: TestDb) {
        // An unfiltered page that comes back full reads its totalResults, the
        // tenant's maintained count, in its own statement (`scim_sql::project`, or
        // `page_in_order_query` for a first page and a walk's next):
        // the tenant's own count, for users (each way a list reads them) and
        // groups, on a first page, a walk's next page and a page past the end.
        use idbridge_scim::query::list_request;
        use idbridge_scim::schema::ResourceType;
        use idbridge_store::MemberRef;
        let store = open(&db).await;
        let (acme, globex) = (tenant("acme"), tenant("globex"));
        store.create_tenant(&acme, None).await.expect("acme");
        store.create_tenant(&globex, None).await.expect("globex");
        let mut first = None;
        for i in 0..5 {
            let (user, ctx) = directory_user(acme.id, &format!("u{i}@acme.example"));
            store.create_user(&user, &ctx).await.expect("user");
            first.get_or_insert(user.id);
        }
        for i in 0..9 {
            let (user, ctx) = directory_user(globex.id, &format!("u{i}@globex.example"));
            store.create_user(&user, &ctx).await.expect("user");
        }
        let member = MemberRef { value: first.expect("a user").to_string(), kind: None };
        for name in ["eng", "ops", "sales"] {
            store.create_group(&group(acme.id, name, T0), std::slice::from_ref(&member), &quiet(T0)).await.expect("group");
        }
        store.create_group(&group(globex.id, "eng", T0), &[], &quiet(T0)).await.expect("group");
        let users = |start: &str, count: &str| {
            list_request(ResourceType::User, None, None, None, Some(start), Some(count)).expect("request")
        };
        for (start, count, len) in [("1", "2", 2), ("3", "2", 2), ("5", "2", 1), ("6", "2", 0), ("1", "5", 5)] {
            let request = users(start, count);
            let plain = store.list_users(acme.id, &request).await.expect("users");
            let (joined, groups) = store.list_users_with_groups(acme.id, &request).await.expect("with groups");
            let (stored, _) = store.list_stored_users(acme.id, &request, false).await.expect("stored");
            let (stored_joined, stored_groups) =
                store.list_stored_users(acme.id, &request, true).await.expect("stored, groups");
            for (total, items) in [
                (plain.total, plain.items.len()),
                (joined.total, joined.items.len()),
                (stored.total, stored.items.len()),
                (stored_joined.total, stored_joined.items.len()),
            ] {
                assert_eq!((total, items), (5, len), "startIndex={start}&count={count}");
            }
            let expected_groups = if start == "1" { 3 } else { 0 };
            assert_eq!(groups.len(), expected_groups);
            assert_eq!(stored_groups.map(|g| g.len()), Some(expected_groups));
            let ids: Vec<Uuid> = plain.items.iter().map(|u| u.id).collect();
            assert_eq!(ids, stored.items.iter().map(|u| u.id).collect::<Vec<_>>());
        }
        let groups = list_request(ResourceType::Group, None, None, None, Some("1"), Some("2")).expect("request");
        let listed = store.list_groups(acme.id, &groups).await.expect("groups");
        assert_eq!((listed.total, listed.items.len()), (3, 2));
        let listed = store.list_groups(globex.id, &groups).await.expect("groups");
        assert_eq!((listed.total, listed.items.len()), (1, 1));
    }
}

both_backends! {
    async fn a_lookup_by_a_unique_attribute_reads_the_one_row_whole(db: TestDb) {
        // `userName eq` and `id eq` match at most one row of a tenant, so their
        // first page is read unwrapped (`scim_sql::page_of_one_query`): the row with
        // its groups, case-insensitively for userName, never another tenant's row
        // of the same name, and pages past the first or of no rows still empty.
        use idbridge_scim::query::list_request;
        use idbridge_scim::schema::ResourceType;
        let store = open(&db).await;
        let TwoTenants { acme, globex, ada, namesake, eng } = TwoTenants::create(&store).await;
        let users = |filter: &str, start: &str, count: &str| {
            list_request(ResourceType::User, Some(filter), None, None, Some(start), Some(count)).expect("request")
        };
        let by_id = format!("id eq \"{}\"", ada.id);
        for filter in [r#"userName eq "ADA@example.com""#, by_id.as_str()] {
            let request = users(filter, "1", "100");
            let plain = store.list_users(acme.id, &request).await.expect("users");
            let (joined, groups) = store.list_users_with_groups(acme.id, &request).await.expect("with groups");
            let (stored, stored_groups) = store.list_stored_users(acme.id, &request, true).await.expect("stored");
            assert_eq!((plain.total, plain.items.len()), (1, 1), "{filter}");
            assert_eq!(plain.items[0].id, ada.id);
            assert_eq!(plain.items[0].document, ada.document);
            assert_eq!((joined.total, joined.items[0].id), (1, ada.id));
            assert_eq!((stored.total, stored.items[0].id, stored.items[0].version), (1, ada.id, ada.version));
            for groups in [Some(groups), stored_groups] {
                let groups = groups.expect("groups asked for");
                assert_eq!(groups.len(), 1, "{filter}");
                assert_eq!((groups[0].user_id, groups[0].group_id), (ada.id, eng.id));
            }
            let theirs = store.list_users(globex.id, &request).await.expect("globex");
            let expected = usize::from(filter.starts_with("userName"));
            assert_eq!(theirs.items.len(), expected, "{filter}: globex");
            assert!(theirs.items.iter().all(|u| u.id == namesake.id));
            let past = store.list_users(acme.id, &users(filter, "2", "100")).await.expect("past");
            assert_eq!((past.total, past.items.len()), (1, 0), "{filter}: startIndex=2");
            let none = store.list_users(acme.id, &users(filter, "1", "0")).await.expect("count=0");
            assert_eq!((none.total, none.items.len()), (1, 0), "{filter}: count=0");
        }
        // Nothing: a name no one has, an id that is no UUID, another tenant's id.
        let theirs = format!("id eq \"{}\"", namesake.id);
        for filter in [r#"userName eq "nobody@example.com""#, r#"id eq "not-a-uuid""#, theirs.as_str()] {
            let missing = users(filter, "1", "100");
            let (listing, groups) = store.list_stored_users(acme.id, &missing, true).await.expect("missing");
            assert_eq!((listing.total, listing.items.len(), groups.map(|g| g.len())), (0, 0, Some(0)), "{filter}");
        }
    }

    async fn a_list_as_a_token_reads_the_directory_only_for_the_tenant_the_token_opens(db: TestDb) {
        // `list_stored_users_as` checks the presented token with the list: in the
        // page's own statement for a one-row lookup, first for anything else. An
        // unknown or revoked token gets `None`; a token of another tenant than the
        // one named gets its token back and nothing read; the right token gets
        // exactly what `list_stored_users` answers.
        use idbridge_scim::query::list_request;
        use idbridge_scim::schema::ResourceType;
        let store = open(&db).await;
        let TwoTenants { acme, globex, ada, namesake, eng } = TwoTenants::create(&store).await;
        let (token, theirs, revoked) = (ScimToken::generate(), ScimToken::generate(), ScimToken::generate());
        let record = scim_token_record(acme.id);
        store.create_scim_token(&record, &token.hash(), None).await.expect("token");
        store.create_scim_token(&scim_token_record(globex.id), &theirs.hash(), None).await.expect("theirs");
        let gone = scim_token_record(acme.id);
        store.create_scim_token(&gone, &revoked.hash(), None).await.expect("revoked");
        store.revoke_scim_token(acme.id, gone.id, T0, None).await.expect("revoke");
        let users = |filter: Option<&str>, start: &str, count: &str| {
            list_request(ResourceType::User, filter, None, None, Some(start), Some(count)).expect("request")
        };
        let by_id = format!("id eq \"{}\"", ada.id);
        let requests = [
            users(Some(r#"userName eq "ADA@example.com""#), "1", "100"),
            users(Some(&by_id), "1", "100"),
            users(Some(r#"userName eq "nobody@example.com""#), "1", "100"),
            users(Some(r#"id eq "not-a-uuid""#), "1", "100"),
            // Not one row at most: the token is read first.
            users(Some(r#"userName eq "ADA@example.com""#), "2", "100"),
            users(Some(r#"userName sw "a""#), "1", "100"),
            users(None, "1", "1"),
            users(None, "1", "100"),
        ];
        for (n, request) in requests.iter().enumerate() {
            for with_groups in [false, true] {
                let what = format!("request {n}, groups {with_groups}");
                let (listing, groups) = store.list_stored_users(acme.id, request, with_groups).await.expect("plain");
                let read = store
                    .list_stored_users_as(&token.hash(), "acme", request, with_groups)
                    .await
                    .expect("as the token")
                    .expect("the token opens acme");
                assert_eq!(read.token.token_id, record.id, "{what}");
                assert_eq!((read.token.tenant_id, read.token.tenant_slug.as_str()), (acme.id, "acme"));
                let (read_listing, read_groups) = read.page.expect("the page");
                assert_eq!(read_listing, listing, "{what}");
                assert_eq!(read_groups, groups, "{what}");
                for refused in [&revoked, &ScimToken::generate()] {
                    let none = store.list_stored_users_as(&refused.hash(), "acme", request, with_groups).await;
                    assert!(none.expect("refused token").is_none(), "{what}");
                }
                // globex's token named on acme's URL (and acme's on globex's):
                // the token comes back for the caller to refuse; no user is read.
                for (hash, slug, owner) in [(theirs.hash(), "acme", globex.id), (token.hash(), "globex", acme.id)] {
                    let read = store
                        .list_stored_users_as(&hash, slug, request, with_groups)
                        .await
                        .expect("another tenant's token")
                        .expect("the token is active");
                    assert_eq!(read.token.tenant_id, owner, "{what}");
                    let (listing, groups) = read.page.expect("an empty page");
                    assert_eq!((listing.total, listing.items.len()), (0, 0), "{what}: {slug}");
                    assert_eq!(groups.map(|g| g.len()), with_groups.then_some(0), "{what}: {slug}");
                }
            }
        }
        // A one-row lookup found the user with its groups.
        let found = store
            .list_stored_users_as(&token.hash(), "acme", &requests[0], true)
            .await
            .expect("lookup")
            .expect("opens");
        let (listing, groups) = found.page.expect("the page");
        assert_eq!((listing.total, listing.items[0].id), (1, ada.id));
        let groups = groups.expect("groups");
        assert_eq!((groups.len(), groups[0].group_id), (1, eng.id));
        // globex's own token on globex's URL finds globex's ada, not acme's.
        let theirs_found = store
            .list_stored_users_as(&theirs.hash(), "globex", &requests[0], false)
            .await
            .expect("lookup")
            .expect("opens globex");
        let (listing, _) = theirs_found.page.expect("the page");
        assert_eq!(listing.items.iter().map(|u| u.id).collect::<Vec<_>>(), vec![namesake.id]);
        // A filter the store cannot compile is told only to a token that opens
        // the tenant, as the list's own error; any other token is refused first.
        let bad = users(Some(r#"meta.lastModified gt "yesterday""#), "1", "100");
        let read = store.list_stored_users_as(&token.hash(), "acme", &bad, false).await.expect("token read");
        let read = read.expect("the token opens acme");
        assert!(matches!(read.page, Err(StoreError::InvalidQuery(_))), "{:?}", read.page);
        for refused in [&revoked, &ScimToken::generate()] {
            assert!(store.list_stored_users_as(&refused.hash(), "acme", &bad, false).await.expect("refused").is_none());
        }
    }
}

both_backends! {
    async fn a_write_raising_hundreds_of_events_appends_every_one_in_order(db: TestDb) {
        // A batch's events go to the feed many to a statement (SQLite: 128): a
        // group made with 1,400 members raises eleven statements' worth, and each
        // must be there once, in the order the write raised them, numbered on from
        // the creations before it.
        use idbridge_store::MemberRef;
        const MEMBERS: i64 = 1_400;
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let users: Vec<_> = (0..MEMBERS)
            .map(|n| directory_user(acme.id, &format!("m{n:04}@acme.example")))
            .collect();
        // At once: the group commit writes them in few batches.
        for created in futures::future::join_all(users.iter().map(|(u, ctx)| store.create_user(u, ctx))).await {
            created.expect("user");
        }
        let creations = store.list_events(acme.id, 0, 2 * MEMBERS as u32).await.expect("events");
        assert_eq!(creations.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=MEMBERS).collect::<Vec<i64>>());
        let eng = group(acme.id, "Eng", T0);
        let refs: Vec<MemberRef> =
            users.iter().map(|(u, _)| MemberRef { value: u.id.to_string(), kind: None }).collect();
        store.create_group(&eng, &refs, &quiet(T0)).await.expect("group");
        let events = store.list_events(acme.id, MEMBERS, 2 * MEMBERS as u32).await.expect("events");
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (MEMBERS + 1..=2 * MEMBERS).collect::<Vec<i64>>());
        let added: Vec<String> = events
            .iter()
            .map(|e| {
                assert_eq!((e.kind, e.resource_id), (idbridge_core::EventKind::GroupMemberAdded, eng.id));
                e.data["member_id"].as_str().expect("member").to_owned()
            })
            .collect();
        assert_eq!(added, refs.iter().map(|r| r.value.clone()).collect::<Vec<_>>());
        let other = tenant("globex");
        store.create_tenant(&other, None).await.expect("tenant");
        assert!(store.list_events(other.id, 0, 10).await.expect("events").is_empty());
    }

    async fn users_created_together_go_in_together_and_a_taken_name_fails_alone(db: TestDb) {
        // Creations that meet in a batch are written with one statement for their
        // rows and one for their addresses. Two of them take a name another one of
        // them holds (in other letter case): those two, and only those, are refused,
        // and every other user is there with both of its addresses.
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let crowd: Vec<_> = (0..60)
            .map(|n| {
                let name = match n {
                    20 | 40 => "User5@acme.example".to_owned(),
                    n => format!("user{n}@acme.example"),
                };
                let (mut user, ctx) = directory_user(acme.id, &name);
                user.document.insert(
                    "emails".into(),
                    serde_json::json!([
                        {"value": format!("work{n}@acme.example"), "type": "work", "primary": true},
                        {"value": format!("home{n}@example.org"), "type": "home"}
                    ]),
                );
                (user, ctx)
            })
            .collect();
        let outcomes = futures::future::join_all(crowd.iter().map(|(u, ctx)| store.create_user(u, ctx))).await;
        for (n, outcome) in outcomes.iter().enumerate() {
            match n {
                20 | 40 => assert!(matches!(outcome, Err(StoreError::Conflict(_))), "{n}: {outcome:?}"),
                _ => assert!(outcome.is_ok(), "{n}: {outcome:?}"),
            }
        }
        for (n, (user, _)) in crowd.iter().enumerate() {
            let stored = store.user_by_id(acme.id, user.id).await.expect("read");
            assert_eq!(stored.as_ref(), (n != 20 && n != 40).then_some(user), "{n}");
        }
        assert_eq!(count(&db, "SELECT count(*) FROM directory_user_emails").await, 116);
        assert_eq!(count(&db, "SELECT count(*) FROM directory_user_emails WHERE position = 1 AND type_lower = 'home' AND NOT is_primary").await, 58);
        let events = store.list_events(acme.id, 0, 100).await.expect("events");
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=58).collect::<Vec<i64>>());
    }

    async fn users_updated_together_each_get_the_answer_they_would_alone(db: TestDb) {
        // Updates that meet in a batch are written with one statement, each row
        // only if it is still at the version its writer read. Among thirty: a stale
        // version, a user that was never created, a second update of a user the
        // crowd already updates, another tenant's update naming one of these
        // users, and a change of addresses. Then a rename into a
        // name another user holds, among updates that are fine. Each gets what it
        // would get alone.
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let users: Vec<_> = (0..30).map(|n| directory_user(acme.id, &format!("u{n}@acme.example"))).collect();
        for (user, ctx) in &users {
            store.create_user(user, ctx).await.expect("user");
        }
        let next = |user: &idbridge_store::DirectoryUser, title: &str| {
            let mut next = user.clone();
            next.document.insert("title".into(), title.into());
            next.version = user.version + 1;
            next.updated_at = T0 + time::Duration::minutes(5);
            next
        };
        let mut crowd: Vec<(idbridge_store::DirectoryUser, i64, bool)> =
            users.iter().map(|(u, _)| (next(u, &format!("T{}", u.user_name)), 1, false)).collect();
        crowd[5].1 = 7;
        crowd[10].0.document.insert("emails".into(), serde_json::json!([{"value": "new10@acme.example", "primary": true}]));
        crowd[10].2 = true;
        crowd.insert(12, (next(&users[11].0, "second"), 1, false));
        let (ghost, _) = directory_user(acme.id, "ghost@acme.example");
        crowd.push((next(&ghost, "ghost"), 1, false));
        // Another tenant's write naming one of acme's users: not found there.
        let globex = tenant("globex");
        store.create_tenant(&globex, None).await.expect("tenant");
        let mut forged = next(&users[7].0, "forged");
        forged.tenant_id = globex.id;
        crowd.push((forged, 1, false));
        let q = quiet(T0);
        let outcomes = futures::future::join_all(
            crowd.iter().map(|(user, expected, emails)| store.update_user(user, *expected, *emails, &q)),
        )
        .await;
        for (n, outcome) in outcomes.iter().enumerate() {
            match n {
                5 | 12 => assert!(matches!(outcome, Err(StoreError::VersionMismatch)), "{n}: {outcome:?}"),
                31 | 32 => assert!(matches!(outcome, Err(StoreError::NotFound)), "{n}: {outcome:?}"),
                _ => assert!(outcome.is_ok(), "{n}: {outcome:?}"),
            }
        }
        for (n, (user, _)) in users.iter().enumerate() {
            let stored = store.user_by_id(acme.id, user.id).await.expect("read").expect("user");
            let at = if n > 11 { n + 1 } else { n };
            let expected = if n == 5 { user } else { &crowd[at].0 };
            assert_eq!(&stored, expected, "{n}");
        }
        assert_eq!(count(&db, "SELECT count(*) FROM directory_user_emails WHERE value_lower = 'new10@acme.example'").await, 1);
        assert_eq!(count(&db, "SELECT count(*) FROM directory_user_emails WHERE value_lower = 'u10@acme.example'").await, 0);
        assert_eq!(count(&db, "SELECT count(*) FROM directory_user_emails").await, 30);

        let (taker, fine) = (next(&crowd[2].0, "taker"), [next(&crowd[1].0, "x"), next(&crowd[3].0, "y")]);
        let mut taker = taker;
        taker.user_name = "U4@acme.example".into();
        let (before, taking, after) = futures::join!(
            store.update_user(&fine[0], 2, false, &q),
            store.update_user(&taker, 2, false, &q),
            store.update_user(&fine[1], 2, false, &q),
        );
        assert!(matches!(taking, Err(StoreError::Conflict(_))), "{taking:?}");
        assert!(before.is_ok() && after.is_ok(), "{before:?} {after:?}");
        assert_eq!(store.user_by_id(acme.id, users[2].0.id).await.expect("read").as_ref(), Some(&crowd[2].0));
        assert_eq!(store.user_by_id(acme.id, users[3].0.id).await.expect("read").as_ref(), Some(&fine[1]));
    }

    async fn an_event_for_a_tenant_that_is_gone_is_refused_and_writes_nothing(db: TestDb) {
        // The feed's append finds the tenant's row to number the events from; with
        // no row, the write is refused and its transaction (here, its audit record)
        // rolled back.
        let store = open(&db).await;
        let gone = tenant("gone");
        let event = idbridge_store::NewEvent {
            kind: idbridge_core::EventKind::UserCreated,
            resource_type: idbridge_core::EventResource::User,
            resource_id: Uuid::now_v7(),
            data: serde_json::json!({}),
        };
        let audit = audit_record(&gone, AuditAction::TenantUpdated, T0);
        let refused = store.append_tenant_event(gone.id, &event, T0, &audit).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
        let audits = store.list_audit(&AuditFilter::default(), PageRequest::first(10)).await.expect("audit");
        assert!(audits.items.is_empty(), "{audits:?}");
        assert!(store.list_events(gone.id, 0, 10).await.expect("events").is_empty());
    }
}

both_backends! {
    async fn users_read_with_their_groups_are_the_users_and_groups_read_apart(db: TestDb) {
        // A SCIM lookup reads the page and its users' groups in one statement
        // (`list_users_with_groups`). Whatever the page (first, a walk's next, one
        // counted from the end, filtered, sorted), it must be exactly what the
        // page and `groups_of_users` give when read apart.
        use idbridge_scim::query::list_request;
        use idbridge_scim::schema::ResourceType;
        use idbridge_store::{MemberChange, MemberRef};
        let store = open(&db).await;
        let acme = tenant("acme");
        store.create_tenant(&acme, None).await.expect("tenant");
        let mut users = Vec::new();
        for n in 0..30 {
            let (user, ctx) = directory_user(acme.id, &format!("u{n:02}@acme.example"));
            store.create_user(&user, &ctx).await.expect("user");
            users.push(user);
        }
        // Names whose byte order and a collation's differ.
        for (name, every) in [("Beta", 2), ("alpha", 3), ("Gamma", 5), ("Ünïcode", 7)] {
            let g = group(acme.id, name, T0);
            store.create_group(&g, &[], &quiet(T0)).await.expect("group");
            let members: Vec<MemberRef> = users
                .iter()
                .step_by(every)
                .map(|u| MemberRef { value: u.id.to_string(), kind: None })
                .collect();
            store.change_group_members(&g, &[MemberChange::Add(members)], &quiet(T0)).await.expect("members");
        }
        let pages = [
            (None, None, None, Some("1"), Some("10")),
            (None, None, None, Some("11"), Some("10")), // the walk's next page (anchored)
            (None, None, None, Some("25"), Some("10")), // counted from the end
            (Some("userName eq \"U06@acme.example\""), None, None, None, None),
            (Some("userName sw \"u1\""), Some("userName"), Some("descending"), Some("2"), Some("4")),
            (None, Some("userName"), Some("descending"), Some("3"), Some("7")),
            (Some("userName eq \"nobody@acme.example\""), None, None, None, None),
        ];
        for (filter, sort_by, sort_order, start, count) in pages {
            let request = list_request(ResourceType::User, filter, sort_by, sort_order, start, count).expect("request");
            let (together, groups) = store.list_users_with_groups(acme.id, &request).await.expect("together");
            let apart = store.list_users(acme.id, &request).await.expect("apart");
            assert_eq!(together, apart, "{filter:?} {sort_by:?} {start:?}");
            let ids: Vec<Uuid> = apart.items.iter().map(|u| u.id).collect();
            let mut groups_apart = store.groups_of_users(acme.id, &ids).await.expect("groups");
            let mut groups_together = groups.clone();
            let key = |g: &idbridge_store::UserGroup| (g.user_id, g.display_name.clone(), g.group_id);
            groups_apart.sort_by_key(key);
            groups_together.sort_by_key(key);
            assert_eq!(groups_together, groups_apart, "{filter:?} {sort_by:?} {start:?}");
            // Each user's groups by name, byte by byte.
            for user in &together.items {
                let names: Vec<&str> = groups.iter().filter(|g| g.user_id == user.id).map(|g| g.display_name.as_str()).collect();
                let mut sorted = names.clone();
                sorted.sort_unstable();
                assert_eq!(names, sorted);
            }
        }
        // One user with its groups (a SCIM GET or PATCH): the same as read apart.
        for user in users.iter().take(8) {
            let (read, groups) = store.user_with_groups(acme.id, user.id).await.expect("read").expect("there");
            assert_eq!(Some(&read), store.user_by_id(acme.id, user.id).await.expect("read").as_ref());
            assert_eq!(groups, store.groups_of_users(acme.id, &[user.id]).await.expect("groups"));
        }
        assert!(store.user_with_groups(acme.id, Uuid::now_v7()).await.expect("read").is_none());
        assert!(store.user_with_groups(Uuid::now_v7(), users[0].id).await.expect("read").is_none());
        // User 0 is in every group; user 1 in none.
        let request = list_request(ResourceType::User, None, None, None, Some("1"), Some("2")).expect("request");
        let (_, groups) = store.list_users_with_groups(acme.id, &request).await.expect("together");
        let names: Vec<&str> = groups.iter().filter(|g| g.user_id == users[0].id).map(|g| g.display_name.as_str()).collect();
        assert_eq!(names, ["Beta", "Gamma", "alpha", "Ünïcode"]);
        assert!(groups.iter().all(|g| g.user_id != users[1].id));
    }
}

both_backends! {
    async fn a_deadlock_between_two_transactions_is_a_transient_conflict(db: TestDb) {
        // Two processes' group-committed batches may take the same rows in different
        // orders; PostgreSQL then aborts one, and the group commit runs its writes
        // again, alone. SQLite has one writer, so no deadlock.
        if db.backend() == "sqlite" {
            return;
        }
        let pool = sqlx::PgPool::connect(db.url()).await.expect("pool");
        sqlx::query("CREATE TABLE deadlock_probe (id int PRIMARY KEY, n int NOT NULL)")
            .execute(&pool).await.expect("table");
        sqlx::query("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)")
            .execute(&pool).await.expect("rows");
        let mut a = pool.begin().await.expect("a");
        let mut b = pool.begin().await.expect("b");
        let bump = |id: i32| sqlx::query("UPDATE deadlock_probe SET n = n + 1 WHERE id = $1").bind(id);
        bump(1).execute(&mut *a).await.expect("a takes 1");
        bump(2).execute(&mut *b).await.expect("b takes 2");
        let (ra, rb) = futures::join!(bump(2).execute(&mut *a), bump(1).execute(&mut *b));
        let aborted = [ra.err(), rb.err()].into_iter().flatten().next().expect("one is aborted");
        assert!(StoreError::from(aborted).is_transient_conflict());
        assert!(!StoreError::NotFound.is_transient_conflict());
        assert!(!StoreError::Conflict("taken").is_transient_conflict());
    }
}
