//! Webhook delivery to a real HTTP receiver on loopback: signatures, order, retries
//! with backoff, a receiver that is down, dead letters and replay, filters, and the
//! admin API's refusals. Rounds of delivery are driven by the test
//! (`idbridge_app::webhooks::delivery::deliver_due`) on the test's clock, so backoff is exact and quick.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use idbridge_core::Clock as _;
use idbridge_core::webhook::verify_signature;
use idbridge_testkit::both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use tokio::task::JoinHandle;

use crate::helpers::{ScimClient, TestApp, expect_error};

/// A SCIM client (with a new token) for an existing tenant.
async fn scim<'a>(app: &'a TestApp, slug: &str) -> ScimClient<'a> {
    let (_, token) = app.create_scim_token(slug).await;
    ScimClient {
        app,
        slug: slug.to_owned(),
        token,
    }
}

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct ReceiverState {
    /// Requests answered 2xx, in arrival order.
    accepted: Vec<Received>,
    /// Every request, whatever the answer.
    all: Vec<Received>,
    /// Statuses to answer with next, before answering 204.
    script: Vec<u16>,
    /// Answer every request with this status instead (a broken receiver).
    always: Option<u16>,
}

/// A webhook receiver on a loopback port, which can be stopped and started again
/// on the same port.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    server: Option<JoinHandle<()>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut receiver = Self {
            addr,
            state: Arc::default(),
            server: None,
        };
        receiver.serve(listener);
        receiver
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(Arc::clone(&self.state));
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Stops listening: connections are refused.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    pub async fn restart(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("rebind the receiver's port");
        self.serve(listener);
    }

    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.lock().expect("lock").script = statuses.to_vec();
    }

    pub fn answer_always(&self, status: Option<u16>) {
        self.state.lock().expect("lock").always = status;
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.state.lock().expect("lock").accepted.clone()
    }

    pub fn all(&self) -> Vec<Received> {
        self.state.lock().expect("lock").all.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    let mut state = state.lock().expect("lock");
    let received = Received { headers, body };
    state.all.push(received.clone());
    let status = match state.always {
        Some(status) => status,
        None if state.script.is_empty() => 204,
        None => state.script.remove(0),
    };
    if (200..300).contains(&status) {
        state.accepted.push(received);
    }
    AxumStatus::from_u16(status).unwrap_or(AxumStatus::INTERNAL_SERVER_ERROR)
}

/// Registers `receiver` (all tenants, all types unless `extra` says otherwise);
/// returns (id, secret).
pub async fn register(app: &TestApp, url: &str, extra: Value) -> (String, String) {
    let mut body = json!({"url": url, "description": "the app"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let response = app
        .admin(Method::POST, "/api/v1/webhooks")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("json");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("idb_whsec_"), "{secret}");
    (created["id"].as_str().expect("id").to_owned(), secret)
}

/// Runs delivery rounds until one claims nothing.
pub async fn deliver_all(app: &TestApp) {
    for _ in 0..50 {
        let claimed = idbridge_app::webhooks::delivery::deliver_due(&app.state.app)
            .await
            .expect("delivery round");
        if claimed == 0 {
            return;
        }
    }
    panic!("delivery did not settle in 50 rounds");
}

async fn tenants_state(app: &TestApp, id: &str) -> Vec<Value> {
    let body: Value = app
        .admin_get(&format!("/api/v1/webhooks/{id}/tenants"))
        .await;
    body["data"].as_array().cloned().expect("data")
}

fn types(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

both_backends! {
    async fn events_arrive_signed_in_feed_order_from_registration_on(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let scim = scim(&app, "acme").await;
        // Before the endpoint exists: not delivered (an endpoint gets what happens
        // from its registration on, not history).
        scim.create_user("before@acme.example").await;

        let receiver = Receiver::start().await;
        let (_, secret) = register(&app, &receiver.url(), json!({})).await;
        let jane = scim.create_user("jane@acme.example").await;
        scim.create_group("Engineering", &[jane["id"].as_str().expect("id")]).await;
        scim.send(Method::DELETE, &format!("/Users/{}", jane["id"].as_str().expect("id")), None).await;
        deliver_all(&app).await;

        let accepted = receiver.accepted();
        let feed = scim.events().await;
        let expected: Vec<&Value> = feed.iter().skip(1).collect();
        assert_eq!(accepted.len(), expected.len(), "one POST per event after registration");
        let now = app.clock.now().unix_timestamp();
        let mut last_seq = 1;
        for (received, event) in accepted.iter().zip(expected) {
            let body = received.json();
            // The body is the feed's own JSON for the event.
            assert_eq!(&body, event);
            assert!(body["seq"].as_i64().expect("seq") > last_seq, "in feed order");
            last_seq = body["seq"].as_i64().expect("seq");
            assert_eq!(received.header("idbridge-event-id"), body["id"].as_str().expect("id"));
            assert_eq!(received.header("idbridge-delivery-attempt"), "1");
            assert_eq!(received.header("content-type"), "application/json");
            verify_signature(
                received.header("idbridge-signature"),
                secret.as_bytes(),
                &received.body,
                now,
                Duration::minutes(5),
            )
            .expect("the signature verifies with the secret shown at registration");
            assert!(
                verify_signature(received.header("idbridge-signature"), b"idb_whsec_other", &received.body, now, Duration::minutes(5)).is_err()
            );
        }
        assert_eq!(types(&accepted)[0], "user.created");
        let state = tenants_state(&app, &register_id_of(&app).await).await;
        assert_eq!(state[0]["state"], "delivering");
        assert_eq!(state[0]["delivered_seq"], state[0]["latest_seq"]);
    }

    async fn a_receiver_that_is_down_gets_everything_in_order_when_it_returns(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let scim = scim(&app, "acme").await;
        let mut receiver = Receiver::start().await;
        let (id, _) = register(&app, &receiver.url(), json!({})).await;
        receiver.stop();
        for n in 0..5 {
            scim.create_user(&format!("user{n}@acme.example")).await;
        }
        deliver_all(&app).await;
        let state = &tenants_state(&app, &id).await[0];
        assert_eq!(state["state"], "retrying", "{state}");
        assert_eq!(state["failures"], 1);
        assert_eq!(state["delivered_seq"], 0);
        assert!(state["last_error"].as_str().expect("error").contains("failed"), "{state}");

        // Not due before the backoff has passed: nothing is tried.
        assert_eq!(idbridge_app::webhooks::delivery::deliver_due(&app.state.app).await.expect("round"), 0);
        app.clock.advance(Duration::seconds(11));
        deliver_all(&app).await;
        assert_eq!(tenants_state(&app, &id).await[0]["failures"], 2);

        receiver.restart().await;
        app.clock.advance(Duration::seconds(21));
        deliver_all(&app).await;
        let accepted = receiver.accepted();
        assert_eq!(accepted.len(), 5, "nothing lost while the receiver was down");
        let seqs: Vec<i64> = accepted.iter().map(|r| r.json()["seq"].as_i64().expect("seq")).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert_eq!(accepted[0].header("idbridge-delivery-attempt"), "3");
        assert_eq!(accepted[1].header("idbridge-delivery-attempt"), "1");

        let attempts: Value = app.admin_get(&format!("/api/v1/webhooks/{id}/attempts?tenant=acme")).await;
        let outcomes: Vec<&str> = attempts["data"].as_array().expect("data").iter()
            .map(|a| a["outcome"].as_str().expect("outcome")).collect();
        // Newest first: five deliveries after two failures.
        assert_eq!(outcomes, ["delivered"; 5].iter().copied().chain(["failed", "failed"]).collect::<Vec<_>>());
        assert_eq!(tenants_state(&app, &id).await[0]["state"], "delivering");
    }

    async fn server_errors_are_retried_and_later_events_wait_behind(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let scim = scim(&app, "acme").await;
        let receiver = Receiver::start().await;
        let (id, _) = register(&app, &receiver.url(), json!({})).await;
        scim.create_user("a@acme.example").await;
        scim.create_user("b@acme.example").await;
        receiver.answer_next(&[500, 503]);

        deliver_all(&app).await;
        let state = &tenants_state(&app, &id).await[0];
        assert_eq!(state["failing_seq"], 1);
        assert!(state["last_error"].as_str().expect("error").contains("500"), "{state}");
        assert!(receiver.accepted().is_empty(), "event 2 waits behind event 1");
        app.clock.advance(Duration::seconds(10));
        deliver_all(&app).await;
        app.clock.advance(Duration::seconds(20));
        deliver_all(&app).await;

        let all = receiver.all();
        let seqs: Vec<i64> = all.iter().map(|r| r.json()["seq"].as_i64().expect("seq")).collect();
        assert_eq!(seqs, vec![1, 1, 1, 2], "retries of the first event, then the second");
        assert_eq!(all[2].header("idbridge-delivery-attempt"), "3");
        // Each retry is signed anew, with the same event id.
        assert_eq!(all[0].header("idbridge-event-id"), all[2].header("idbridge-event-id"));
        assert_ne!(all[0].header("idbridge-signature"), all[2].header("idbridge-signature"));
    }

    async fn a_day_of_failures_dead_letters_and_replay_resumes(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let acme = scim(&app, "acme").await;
        let globex = scim(&app, "globex").await;
        let receiver = Receiver::start().await;
        let (id, _) = register(&app, &receiver.url(), json!({})).await;
        acme.create_user("a@acme.example").await;
        acme.create_user("b@acme.example").await;
        receiver.answer_always(Some(500));

        let mut rounds = 0;
        loop {
            deliver_all(&app).await;
            let state = tenants_state(&app, &id).await;
            let acme_state = state.iter().find(|s| s["tenant"] == "acme").expect("acme");
            if acme_state["state"] == "dead" {
                assert_eq!(acme_state["failing_seq"], 1);
                assert!(acme_state["dead_at"].is_string());
                break;
            }
            rounds += 1;
            assert!(rounds < 60, "dead-lettered within a day of retries");
            app.clock.advance(Duration::hours(1));
        }
        // At least 24 hours of attempts.
        let first = receiver.all().first().map(|r| r.header("idbridge-signature").to_owned()).expect("attempted");
        let first_t: i64 = first.trim_start_matches("t=").split(',').next().expect("t").parse().expect("number");
        assert!(app.clock.now().unix_timestamp() - first_t >= 24 * 3600);

        // Dead: no more attempts, even when due, and other tenants are unaffected.
        let attempts_before = receiver.all().len();
        receiver.answer_always(None);
        app.clock.advance(Duration::hours(2));
        globex.create_user("g@globex.example").await;
        deliver_all(&app).await;
        assert_eq!(receiver.all().len(), attempts_before + 1);
        assert_eq!(types(&receiver.accepted()), ["user.created"]);
        assert_eq!(receiver.accepted()[0].json()["tenant"], "globex");

        // Replay: the dead-lettered event first, then the rest, in order.
        let replay: Value = app
            .admin(Method::POST, &format!("/api/v1/webhooks/{id}/replay"))
            .json(&json!({"tenant": "acme"}))
            .send().await.expect("send").json().await.expect("json");
        assert_eq!(replay["resumed"], 1);
        deliver_all(&app).await;
        let acme_seqs: Vec<i64> = receiver.accepted().iter()
            .filter(|r| r.json()["tenant"] == "acme")
            .map(|r| r.json()["seq"].as_i64().expect("seq")).collect();
        assert_eq!(acme_seqs, vec![1, 2]);
    }

    async fn skip_and_rewind_are_explicit_operator_choices(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let acme = scim(&app, "acme").await;
        let receiver = Receiver::start().await;
        let (id, _) = register(&app, &receiver.url(), json!({})).await;
        for n in 0..3 {
            acme.create_user(&format!("u{n}@acme.example")).await;
        }
        // A receiver that refuses event 1 for good (say it cannot parse it).
        receiver.answer_always(Some(422));
        deliver_all(&app).await;
        app.clock.advance(Duration::hours(25));
        deliver_all(&app).await;
        assert_eq!(tenants_state(&app, &id).await[0]["state"], "dead");
        receiver.answer_always(None);

        let skipped: Value = app
            .admin(Method::POST, &format!("/api/v1/webhooks/{id}/replay"))
            .json(&json!({"tenant": "acme", "skip_failed_event": true}))
            .send().await.expect("send").json().await.expect("json");
        assert_eq!(skipped["resumed"], 1);
        deliver_all(&app).await;
        let seqs = |r: Vec<Received>| r.iter().map(|r| r.json()["seq"].as_i64().expect("seq")).collect::<Vec<_>>();
        assert_eq!(seqs(receiver.accepted()), vec![2, 3]);

        // Rewind: everything from event 1 again (receivers de-duplicate by id).
        let response = app
            .admin(Method::POST, &format!("/api/v1/webhooks/{id}/replay"))
            .json(&json!({"tenant": "acme", "from_seq": 1}))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        deliver_all(&app).await;
        assert_eq!(seqs(receiver.accepted()), vec![2, 3, 1, 2, 3]);

        // Refusals.
        for (body, message) in [
            (json!({"from_seq": 1}), "needs a tenant"),
            (json!({"tenant": "acme", "from_seq": 0}), "1 or more"),
            (json!({"tenant": "acme", "from_seq": 1, "skip_failed_event": true}), "exclude"),
        ] {
            let response = app
                .admin(Method::POST, &format!("/api/v1/webhooks/{id}/replay"))
                .json(&body).send().await.expect("send");
            let error = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
            assert!(error["message"].as_str().expect("message").contains(message), "{error}");
        }
    }

    async fn filters_scope_what_an_endpoint_receives(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let receiver = Receiver::start().await;
        let (id, _) = register(&app, &receiver.url(), json!({"tenant": "acme", "event_types": ["group.*"]})).await;
        let acme = scim(&app, "acme").await;
        let globex = scim(&app, "globex").await;
        let jane = acme.create_user("jane@acme.example").await;
        acme.create_group("Admins", &[jane["id"].as_str().expect("id")]).await;
        acme.create_user("late@acme.example").await;
        globex.create_group("Other", &[]).await;
        // A tenant created after the endpoint: not covered (scoped to acme).
        app.create_tenant("initech").await;
        scim(&app, "initech").await.create_group("Initech", &[]).await;
        deliver_all(&app).await;

        let accepted = receiver.accepted();
        assert!(types(&accepted).iter().all(|t| t.starts_with("group.")), "{:?}", types(&accepted));
        assert!(accepted.iter().all(|r| r.json()["tenant"] == "acme"));
        assert!(!accepted.is_empty());
        // The cursor moved past the user events too.
        let state = tenants_state(&app, &id).await;
        assert_eq!(state.len(), 1);
        assert_eq!(state[0]["delivered_seq"], state[0]["latest_seq"]);

        // Every type again: later events of any type arrive.
        let response = app
            .admin(Method::PATCH, &format!("/api/v1/webhooks/{id}"))
            .json(&json!({"event_types": null}))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        acme.create_user("after@acme.example").await;
        deliver_all(&app).await;
        assert_eq!(types(&receiver.accepted()).last().map(String::as_str), Some("user.created"));
    }

    async fn a_backlog_longer_than_a_batch_keeps_draining_between_full_checks(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let receiver = Receiver::start().await;
        register(&app, &receiver.url(), json!({})).await;
        let scim = scim(&app, "acme").await;
        for n in 0..120 {
            scim.create_user(&format!("u{n}@acme.example")).await;
        }
        // A full check takes the first batch of 100 events.
        let full = idbridge_app::webhooks::delivery::deliver_due(&app.state.app).await.expect("round");
        assert_eq!((full, receiver.accepted().len()), (1, 100));
        // The rest are older than any recent poll looks for (here: every event id
        // is before `events_after`); the pair was given back due now, so a recent
        // poll still finds it rather than waiting 30 s for the next full check.
        let old_events = idbridge_store::ClaimScope::Recent {
            events_after: uuid::Uuid::now_v7(),
            due_after: app.clock.now() - Duration::seconds(1),
        };
        let recent = idbridge_app::webhooks::delivery::deliver_due_in(&app.state.app, old_events).await.expect("round");
        assert_eq!((recent, receiver.accepted().len()), (1, 120));
    }

    async fn a_tenant_created_later_is_delivered_from_its_first_event(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        let receiver = Receiver::start().await;
        register(&app, &receiver.url(), json!({})).await;
        app.create_tenant("newco").await;
        scim(&app, "newco").await.create_user("first@newco.example").await;
        deliver_all(&app).await;
        let accepted = receiver.accepted();
        assert_eq!(accepted.len(), 1);
        assert_eq!(accepted[0].json()["seq"], 1);
        assert_eq!(accepted[0].json()["tenant"], "newco");
    }

    async fn history_past_its_retention_goes_but_not_what_a_webhook_still_owes(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let acme = scim(&app, "acme").await;
        acme.create_user("old@acme.example").await;
        let receiver = Receiver::start().await;
        // Registered now: owes acme's events from here on, and every event of a
        // tenant created later.
        register(&app, &receiver.url(), json!({})).await;
        acme.create_user("owed@acme.example").await;
        app.create_tenant("newco").await;
        scim(&app, "newco").await.create_user("first@newco.example").await;
        let feed = |slug: &'static str| {
            let request = app.admin(Method::GET, &format!("/api/v1/tenants/{slug}/events?limit=100"));
            async move {
                let body: Value = request.send().await.expect("send").json().await.expect("json");
                body["data"].as_array().expect("data").iter().map(|e| e["seq"].as_i64().expect("seq")).collect::<Vec<_>>()
            }
        };
        let log_lines = |slug: &'static str| {
            let request = app.admin(Method::GET, &format!("/api/v1/tenants/{slug}/provisioning-log"));
            async move {
                let body: Value = request.send().await.expect("send").json().await.expect("json");
                body["data"].as_array().expect("data").len()
            }
        };
        assert_eq!(feed("acme").await, [1, 2]);
        assert_eq!(log_lines("acme").await, 2);

        // Within the retention nothing goes.
        idbridge_app::jobs::sweep_history(&app.state.app).await;
        assert_eq!(feed("acme").await, [1, 2]);
        assert_eq!(log_lines("acme").await, 2);

        // 91 days on: past both retentions (90 days of events, 30 of log). The log
        // goes; of the feed, only what the endpoint does not owe.
        // (History is dated by its UUIDv7 ids, made on the real clock; the test's clock
        // is moved to 91 days after real time.)
        app.clock.advance(time::OffsetDateTime::now_utc() + Duration::days(91) - app.clock.now());
        idbridge_app::jobs::sweep_history(&app.state.app).await;
        assert_eq!(log_lines("acme").await, 0);
        assert_eq!(feed("acme").await, [2]);
        assert_eq!(feed("newco").await, [1]);

        // Delivered, it may go too.
        deliver_all(&app).await;
        assert_eq!(receiver.accepted().len(), 2);
        idbridge_app::jobs::sweep_history(&app.state.app).await;
        assert!(feed("acme").await.is_empty());
        assert!(feed("newco").await.is_empty());
        // The sequence goes on from where it was.
        acme.create_user("new@acme.example").await;
        assert_eq!(feed("acme").await, [3]);
    }

    async fn an_endpoint_holds_back_only_its_own_tenants_history(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let receiver = Receiver::start().await;
        register(&app, &receiver.url(), json!({"tenant": "acme"})).await;
        scim(&app, "acme").await.create_user("a@acme.example").await;
        scim(&app, "globex").await.create_user("g@globex.example").await;
        app.clock.advance(time::OffsetDateTime::now_utc() + Duration::days(91) - app.clock.now());
        idbridge_app::jobs::sweep_history(&app.state.app).await;
        let feed_len = |slug: &'static str| {
            let request = app.admin(Method::GET, &format!("/api/v1/tenants/{slug}/events"));
            async move {
                let body: Value = request.send().await.expect("send").json().await.expect("json");
                body["data"].as_array().expect("data").len()
            }
        };
        assert_eq!(feed_len("acme").await, 1, "owed to acme's endpoint");
        assert_eq!(feed_len("globex").await, 0, "no endpoint covers globex");
    }

    async fn a_disabled_endpoint_keeps_its_place_and_catches_up(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let receiver = Receiver::start().await;
        let (id, _) = register(&app, &receiver.url(), json!({"enabled": false})).await;
        let acme = scim(&app, "acme").await;
        acme.create_user("a@acme.example").await;
        deliver_all(&app).await;
        assert!(receiver.all().is_empty());
        app.admin(Method::PATCH, &format!("/api/v1/webhooks/{id}"))
            .json(&json!({"enabled": true})).send().await.expect("send");
        deliver_all(&app).await;
        assert_eq!(receiver.accepted().len(), 1);
    }

    async fn secrets_are_shown_once_and_rotation_overlaps(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let receiver = Receiver::start().await;
        let (id, old) = register(&app, &receiver.url(), json!({})).await;
        let view: Value = app.admin_get(&format!("/api/v1/webhooks/{id}")).await;
        assert!(!view.to_string().contains(&old), "the secret is not shown again");
        let list: Value = app.admin_get("/api/v1/webhooks").await;
        assert!(!list.to_string().contains(&old));
        assert_eq!(list["data"][0]["url"], receiver.url());

        let rotated: Value = app.admin(Method::POST, &format!("/api/v1/webhooks/{id}/rotate-secret"))
            .send().await.expect("send").json().await.expect("json");
        let new = rotated["secret"].as_str().expect("secret").to_owned();
        assert_ne!(new, old);
        assert!(rotated["previous_secret_expires_at"].is_string());
        scim(&app, "acme").await.create_user("a@acme.example").await;
        deliver_all(&app).await;
        let now = app.clock.now().unix_timestamp();
        let received = &receiver.accepted()[0];
        let signature = received.header("idbridge-signature");
        assert_eq!(signature.matches("v1=").count(), 2, "both secrets sign during the overlap");
        for secret in [&old, &new] {
            verify_signature(signature, secret.as_bytes(), &received.body, now, Duration::minutes(5))
                .expect("either secret verifies");
        }
        // A day later only the new secret signs.
        app.clock.advance(Duration::hours(25));
        scim(&app, "acme").await.create_user("b@acme.example").await;
        deliver_all(&app).await;
        let received = &receiver.accepted()[1];
        let signature = received.header("idbridge-signature");
        assert_eq!(signature.matches("v1=").count(), 1);
        let now = app.clock.now().unix_timestamp();
        verify_signature(signature, new.as_bytes(), &received.body, now, Duration::minutes(5)).expect("new");
        assert!(verify_signature(signature, old.as_bytes(), &received.body, now, Duration::minutes(5)).is_err());

        let response = app.admin(Method::DELETE, &format!("/api/v1/webhooks/{id}")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let response = app.admin(Method::GET, &format!("/api/v1/webhooks/{id}")).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn webhook_urls_are_checked_like_metadata_urls(db: TestDb) {
        // Without --allow-private-urls.
        let app = TestApp::spawn(db).await;
        for (url, why) in [
            ("http://hooks.example.com/x", "https"),
            ("https://127.0.0.1/hook", "private"),
            ("https://10.1.2.3/hook", "private"),
            ("https://169.254.169.254/latest", "private"),
            ("https://[::1]/hook", "private"),
            ("https://user:pass@hooks.example.com/x", "credentials"),
            ("https://hooks.example.com/x#frag", "fragment"),
            ("not a url", "absolute"),
            ("file:///etc/passwd", "https"),
        ] {
            let response = app
                .admin(Method::POST, "/api/v1/webhooks")
                .json(&json!({"url": url}))
                .send().await.expect("send");
            let error = expect_error(response, StatusCode::BAD_REQUEST, "invalid_webhook_url").await;
            assert!(error["message"].as_str().expect("message").contains(why), "{url}: {error}");
        }
        for (body, code) in [
            (json!({"url": "https://hooks.example.com/x", "event_types": ["User.Created"]}), "invalid_request"),
            (json!({"url": "https://hooks.example.com/x", "event_types": []}), "invalid_request"),
            (json!({"url": "https://hooks.example.com/x", "secret": "mine"}), "invalid_body"),
        ] {
            let response = app.admin(Method::POST, "/api/v1/webhooks").json(&body).send().await.expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, code).await;
        }
        let response = app
            .admin(Method::POST, "/api/v1/webhooks")
            .json(&json!({"url": "https://hooks.example.com/x", "tenant": "nope"}))
            .send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "tenant_not_found").await;
        // A host name that resolves to loopback is refused when delivering.
        app.create_tenant("acme").await;
        let (id, _) = register(&app, "https://localhost:9/hook", json!({})).await;
        scim(&app, "acme").await.create_user("a@acme.example").await;
        deliver_all(&app).await;
        let state = tenants_state(&app, &id).await;
        assert!(state[0]["last_error"].as_str().expect("error").contains("private"), "{}", state[0]);
        assert_eq!(app.tenant_count().await, 1, "nothing else changed");
    }
}

/// The one endpoint's id.
async fn register_id_of(app: &TestApp) -> String {
    let list: Value = app.admin_get("/api/v1/webhooks").await;
    list["data"][0]["id"].as_str().expect("id").to_owned()
}

both_backends! {
    async fn two_processes_share_delivery_without_doubling_or_reordering(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, ServerProcess};
        let extra = ["--allow-private-urls"];
        let a = ServerProcess::start(Some(db.url()), &extra, "info").await;
        let b = ServerProcess::start(Some(db.url()), &extra, "info").await;
        let http = reqwest::Client::new();
        let receiver = Receiver::start().await;
        let response = http.post(a.url("/api/v1/webhooks")).bearer_auth(ADMIN_KEY)
            .json(&json!({"url": receiver.url()})).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);

        // Three tenants, writes spread over both nodes at once.
        let mut tokens = Vec::new();
        for slug in ["acme", "globex", "initech"] {
            let response = http.post(a.url("/api/v1/tenants")).bearer_auth(ADMIN_KEY)
                .json(&json!({"slug": slug, "name": slug})).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::CREATED);
            let token: Value = http.post(b.url(&format!("/api/v1/tenants/{slug}/scim-tokens")))
                .bearer_auth(ADMIN_KEY).send().await.expect("send").json().await.expect("json");
            tokens.push((slug, token["token"].as_str().expect("token").to_owned()));
        }
        let writes = tokens.iter().flat_map(|(slug, token)| {
            (0..12).map(|n| {
                let node = if n % 2 == 0 { &a } else { &b };
                let url = node.url(&format!("/scim/v2/{slug}/Users"));
                let http = http.clone();
                let token = token.clone();
                async move {
                    let response = http.post(url).bearer_auth(token)
                        .json(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                      "userName": format!("u{n}@example.com")}))
                        .send().await.expect("send");
                    assert_eq!(response.status(), StatusCode::CREATED);
                }
            }).collect::<Vec<_>>()
        });
        futures::future::join_all(writes).await;

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while receiver.accepted().len() < 36 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Give a doubled delivery, if there were one, the time to arrive.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let accepted = receiver.accepted();
        let mut ids: Vec<String> = accepted.iter().map(|r| r.header("idbridge-event-id").to_owned()).collect();
        assert_eq!(ids.len(), 36, "every event delivered exactly once");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 36, "no event delivered twice");
        for (slug, _) in &tokens {
            let seqs: Vec<i64> = accepted.iter().map(Received::json)
                .filter(|body| body["tenant"] == *slug)
                .map(|body| body["seq"].as_i64().expect("seq")).collect();
            assert_eq!(seqs, (1..=12).collect::<Vec<_>>(), "{slug}'s events in feed order");
        }
    }
}
