//! The mail outbox's storage contract (beside `contract.rs`, in its manner): on
//! SQLite and PostgreSQL with the same test bodies.

use std::collections::HashSet;
use std::sync::Arc;

use idbridge_core::TenantSlug;
use idbridge_store::{
    DatabaseUrl, MailKind, MailState, NewMail, PageRequest, PoolSettings, Store, Tenant,
};
use idbridge_testkit::{TestDb, both_backends};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const T0: OffsetDateTime = datetime!(2026-11-01 09:30:00.123456 UTC);
const LEASE: Duration = Duration::minutes(5);

async fn open(db: &TestDb) -> Arc<dyn Store> {
    let url = DatabaseUrl::parse(db.url()).expect("test URL");
    let store = idbridge_store::connect(&url, &PoolSettings::default()).expect("connect");
    store.migrate().await.expect("migrate");
    store
}

async fn tenant(store: &Arc<dyn Store>, slug: &str) -> Tenant {
    let tenant = Tenant {
        id: Uuid::now_v7(),
        slug: TenantSlug::parse(slug).expect("slug"),
        name: format!("{slug} Inc"),
        sso_required: false,
        jit_enabled: true,
        require_verified_domains: false,
        invite_new_users: true,
        default_role: None,
        role_policy: idbridge_core::roles::RolePolicy::Highest,
        created_at: T0,
        updated_at: T0,
    };
    store.create_tenant(&tenant, None).await.expect("tenant");
    tenant
}

/// An invitation queued at `at`.
fn invitation(tenant: &Tenant, email: &str, at: OffsetDateTime) -> NewMail {
    NewMail::invitation(tenant.id, Uuid::now_v7(), email, at)
}

both_backends! {
    async fn mail_is_claimed_under_a_lease_retried_and_marked(db: TestDb) {
        let store = open(&db).await;
        let acme = tenant(&store, "acme").await;
        let first = invitation(&acme, "ann@acme.test", T0);
        let second = invitation(&acme, "bo@acme.test", T0 + Duration::seconds(1));
        let third = invitation(&acme, "cy@acme.test", T0 + Duration::seconds(2));
        for mail in [&first, &second, &third] {
            assert!(store.enqueue_mail(mail).await.expect("enqueue"));
        }
        // The same invitation again, while one is pending: nothing more is queued.
        let again = NewMail { id: Uuid::now_v7(), ..first.clone() };
        assert!(!store.enqueue_mail(&again).await.expect("enqueue again"));

        // Nothing is due before it was queued.
        let early = store.claim_mail(T0 - Duration::seconds(1), Uuid::now_v7(), T0 + LEASE, 10).await.expect("claim");
        assert!(early.is_empty());

        // The longest due first, each counting an attempt.
        let now = T0 + Duration::seconds(5);
        let worker = Uuid::now_v7();
        let claimed = store.claim_mail(now, worker, now + LEASE, 2).await.expect("claim");
        let ids: Vec<Uuid> = claimed.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&first.id) && ids.contains(&second.id), "{ids:?}");
        let claimed_first = claimed.iter().find(|m| m.id == first.id).expect("first");
        assert_eq!(claimed_first.kind, MailKind::Invitation);
        assert_eq!(claimed_first.recipient, "ann@acme.test");
        assert_eq!(claimed_first.user_id, first.user_id);
        assert_eq!(claimed_first.state, MailState::Pending);
        assert_eq!(claimed_first.attempts, 1);
        assert_eq!(claimed_first.last_attempt_at, Some(now));
        assert_eq!(claimed_first.created_at, T0);

        // Leased rows are nobody else's; the third is still there.
        let other = Uuid::now_v7();
        let rest = store.claim_mail(now, other, now + LEASE, 10).await.expect("claim");
        assert_eq!(rest.iter().map(|m| m.id).collect::<Vec<_>>(), [third.id]);
        assert!(store.claim_mail(now, other, now + LEASE, 10).await.expect("claim").is_empty());

        // Only the lease's holder records a retry or gives up.
        let retry_at = now + Duration::minutes(1);
        assert!(!store.mark_mail_retry(second.id, other, retry_at, "421 try later").await.expect("retry"));
        assert!(!store.mark_mail_failed(second.id, other, "no").await.expect("failed"));
        assert!(store.mark_mail_retry(second.id, worker, retry_at, "421 try later").await.expect("retry"));
        // Sent is recorded whoever holds the lease: what went out must not go again.
        assert!(store.mark_mail_sent(first.id, now, "You have been invited").await.expect("sent"));
        assert!(!store.mark_mail_sent(first.id, now, "twice").await.expect("sent twice"));

        // The retry comes due at its time, and not before.
        let before = retry_at - Duration::seconds(1);
        assert!(store.claim_mail(before, worker, before + LEASE, 10).await.expect("claim").is_empty());
        let retried = store.claim_mail(retry_at, worker, retry_at + LEASE, 10).await.expect("claim");
        assert_eq!(retried.len(), 1);
        assert_eq!((retried[0].id, retried[0].attempts), (second.id, 2));
        assert_eq!(retried[0].last_error.as_deref(), Some("421 try later"));
        assert!(store.mark_mail_failed(second.id, worker, "gave up: 421 try later").await.expect("failed"));

        // A lease that runs out without a mark (a crashed worker) makes the row due again.
        let lapsed = now + LEASE;
        let reclaimed = store.claim_mail(lapsed, worker, lapsed + LEASE, 10).await.expect("claim");
        assert_eq!(reclaimed.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(), [(third.id, 2)]);
        assert!(store.mark_mail_cancelled(third.id, worker, "the user was deleted").await.expect("cancel"));
        assert!(store.claim_mail(lapsed + LEASE * 10, worker, lapsed + LEASE * 11, 10).await.expect("claim").is_empty());

        // The tenant's mail, newest first, with each one's state.
        let page = store.mail_for_tenant(acme.id, PageRequest::first(2)).await.expect("list");
        assert_eq!(page.items.iter().map(|m| m.id).collect::<Vec<_>>(), [third.id, second.id]);
        let rest = store
            .mail_for_tenant(acme.id, PageRequest { limit: 2, after: page.next_after })
            .await
            .expect("list");
        assert_eq!(rest.items.iter().map(|m| m.id).collect::<Vec<_>>(), [first.id]);
        assert_eq!(rest.next_after, None);
        let sent = &rest.items[0];
        assert_eq!(sent.state, MailState::Sent);
        assert_eq!(sent.sent_at, Some(now));
        assert_eq!(sent.subject.as_deref(), Some("You have been invited"));
        assert_eq!(page.items[1].state, MailState::Failed);
        assert_eq!(page.items[1].last_error.as_deref(), Some("gave up: 421 try later"));
        assert_eq!(page.items[0].state, MailState::Cancelled);

        // Once nothing is pending for the user, another invitation may be queued.
        assert!(store.enqueue_mail(&again).await.expect("enqueue after sent"));
        // A tenant's mail goes with the tenant.
        store.delete_tenant(&acme.slug, None).await.expect("delete");
        let gone = store.mail_for_tenant(acme.id, PageRequest::first(10)).await.expect("list");
        assert!(gone.items.is_empty());
        let orphan = invitation(&acme, "dee@acme.test", T0);
        assert!(matches!(store.enqueue_mail(&orphan).await, Err(idbridge_store::StoreError::NotFound)));
    }

    async fn concurrent_mail_claimers_never_get_the_same_message(db: TestDb) {
        // Two stores on one database: two processes.
        let stores = [open(&db).await, open(&db).await];
        let acme = tenant(&stores[0], "acme").await;
        const MESSAGES: usize = 60;
        for n in 0..MESSAGES {
            let mail = invitation(&acme, &format!("user{n}@acme.test"), T0 + Duration::milliseconds(n as i64));
            assert!(stores[0].enqueue_mail(&mail).await.expect("enqueue"));
        }
        let now = T0 + Duration::minutes(1);
        // Eight workers, four per process, each claiming small batches until none is left.
        let workers = (0..8).map(|w| {
            let store = Arc::clone(&stores[w % 2]);
            tokio::spawn(async move {
                let owner = Uuid::now_v7();
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_mail(now, owner, now + LEASE, 3).await.expect("claim");
                    if batch.is_empty() {
                        break;
                    }
                    for mail in &batch {
                        assert_eq!(mail.attempts, 1, "claimed twice");
                    }
                    mine.extend(batch.into_iter().map(|m| m.id));
                    tokio::task::yield_now().await;
                }
                mine
            })
        });
        let mut all = Vec::new();
        for worker in futures::future::join_all(workers).await {
            all.extend(worker.expect("worker"));
        }
        let distinct: HashSet<Uuid> = all.iter().copied().collect();
        assert_eq!(distinct.len(), all.len(), "a message went to two claimers");
        assert_eq!(all.len(), MESSAGES);
    }
}
