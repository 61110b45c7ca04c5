//! The per-client-address limit on the routes anyone can call that write rows
//! (`/saml/{slug}/login`, `/saml/{slug}/acs`, `/oauth/authorize`), over real HTTP:
//! the TCP peer is the client, `X-Forwarded-For` counts only from a trusted proxy,
//! and a refused request writes nothing.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use idbridge_core::Clock;
use idbridge_testkit::TestDb;
use idbridge_testkit::both_backends;
use idbridge_testkit::saml::{Key, TestIdp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ServerProcess, TestApp, TestOptions, idbridge_bin};
use idbridge_server::{RateLimitQuota, TrustedProxies};

/// A budget of `burst` requests at once, refilled at one a minute: no test runs
/// long enough to see a refill.
fn quota(burst: u32) -> Option<RateLimitQuota> {
    RateLimitQuota::new(1, NonZeroU32::new(burst).expect("non-zero"))
}

async fn limited_app(db: TestDb, burst: u32, trusted_proxies: &str) -> TestApp {
    TestApp::spawn_with(
        db,
        TestOptions {
            rate_limit: quota(burst),
            trusted_proxies: TrustedProxies::parse(trusted_proxies).expect("valid list"),
            ..TestOptions::default()
        },
    )
    .await
}

/// A client whose connections come from `source` (any 127/8 address reaches the
/// server's 127.0.0.1 on Linux), not following redirects, as a browser seen from the
/// server.
fn browser_from(source: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn sign_in_log_len(app: &TestApp, slug: &str) -> usize {
    let body: Value = app
        .admin_get(&format!("/api/v1/tenants/{slug}/sign-in-log"))
        .await;
    body["data"].as_array().expect("data").len()
}

async fn event_count(app: &TestApp, slug: &str) -> usize {
    let body: Value = app
        .admin(
            Method::GET,
            &format!("/api/v1/tenants/{slug}/events?limit=1000"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    body["data"].as_array().expect("data").len()
}

/// Checks a 429 is the sign-in error page with `Retry-After`, and returns the body.
async fn expect_rate_limited(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("Retry-After is whole seconds");
    // One request a minute: the next is allowed within a minute.
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let page = response.text().await.expect("body");
    assert!(page.contains("<code>rate_limited</code>"), "{page}");
    assert!(page.contains(&request_id), "the page names the request id");
    page
}

both_backends! {
    async fn over_the_limit_the_sign_in_routes_answer_429_and_write_nothing(db: TestDb) {
        let app = limited_app(db, 3, "").await;
        app.create_tenant("acme").await;
        let idp = TestIdp::entra(Key::Rsa2048);
        let response = app
            .admin(Method::PUT, "/api/v1/tenants/acme/saml")
            .json(&json!({"idp_metadata_xml": idp.metadata_xml()}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let browser = browser_from(Ipv4Addr::LOCALHOST);

        // The budget: two AuthnRequests and one refused response.
        for _ in 0..2 {
            let response = browser.get(app.url("/saml/acme/login")).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::FOUND);
        }
        let response = browser
            .post(app.url("/saml/acme/acs"))
            .form(&[("SAMLResponse", "not base64 at all")])
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(sign_in_log_len(&app, "acme").await, 1);
        let events = event_count(&app, "acme").await;

        // Spent: each limited route refuses, before reading the tenant or the body.
        let response = browser.get(app.url("/saml/acme/login")).send().await.expect("send");
        let page = expect_rate_limited(response).await;
        assert!(page.contains("Sign-in failed"), "the SAML flow's page: {page}");
        for _ in 0..3 {
            let response = browser
                .post(app.url("/saml/acme/acs"))
                .form(&[("SAMLResponse", "not base64 at all")])
                .send()
                .await
                .expect("send");
            expect_rate_limited(response).await;
        }
        let response = browser
            .get(app.url("/oauth/authorize?response_type=code&tenant=acme"))
            .send()
            .await
            .expect("send");
        expect_rate_limited(response).await;
        // A tenant that does not exist costs the same: nothing is looked up.
        let response = browser.get(app.url("/saml/nobody/login")).send().await.expect("send");
        expect_rate_limited(response).await;

        // Nothing was written by the refused requests: one log row, no new event,
        // and exactly the two AuthnRequests (expired and swept ten minutes on).
        assert_eq!(sign_in_log_len(&app, "acme").await, 1);
        assert_eq!(event_count(&app, "acme").await, events);
        let later = app.clock.now() + time::Duration::minutes(11);
        assert_eq!(app.store.sweep_expired(later).await.expect("sweep"), 2);

        // Routes that write nothing are not limited.
        let response = browser.get(app.url("/saml/acme/metadata")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);

        // Another client address has its own budget.
        let neighbour = browser_from(Ipv4Addr::new(127, 0, 0, 2));
        let response = neighbour.get(app.url("/saml/acme/login")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::FOUND);

        let metrics = app.http.get(app.url("/metrics")).send().await.expect("send").text().await.expect("text");
        for (route, count) in [("/saml/{slug}/login", 2), ("/saml/{slug}/acs", 3), ("/oauth/authorize", 1)] {
            let line = format!("idbridge_rate_limited_requests_total{{route=\"{route}\"}} {count}");
            assert!(metrics.contains(&line), "{line} in\n{metrics}");
        }
        assert!(!metrics.contains("nobody"), "raw paths never become labels");
    }

    async fn refused_scim_requests_are_logged_within_the_client_addresss_budget(db: TestDb) {
        // Anyone can send a SCIM request with a bad token, and each refusal is a
        // provisioning log line: past a client address's budget the answer is
        // still 401, and no more lines are written. A caller whose token opens the
        // tenant is never limited, and another address has its own budget.
        let app = limited_app(db, 3, "").await;
        let scim = app.scim_tenant("acme").await;
        let log_len = |app: &TestApp| {
            let request = app.admin(Method::GET, "/api/v1/tenants/acme/provisioning-log?limit=100");
            async move {
                let body: Value = request.send().await.expect("send").json().await.expect("json");
                body["data"].as_array().expect("data").len()
            }
        };
        let from = |source: Ipv4Addr, token: &str| {
            browser_from(source)
                .get(app.url("/scim/v2/acme/Users?filter=userName%20eq%20%22x%22"))
                .bearer_auth(token.to_owned())
                .send()
        };
        for _ in 0..10 {
            let response = from(Ipv4Addr::LOCALHOST, "idb_scim_wrong").await.expect("send");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(log_len(&app).await, 3, "the burst, then nothing");
        let response = from(Ipv4Addr::new(127, 0, 0, 2), "idb_scim_wrong").await.expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(log_len(&app).await, 4, "another address's budget");
        // The tenant's own IdP: its failures are all logged, past any budget.
        for _ in 0..5 {
            scim.expect(Method::GET, "/Users?filter=userName%20eq", None, StatusCode::BAD_REQUEST).await;
        }
        assert_eq!(log_len(&app).await, 9);
        let metrics = app.http.get(app.url("/metrics")).send().await.expect("send").text().await.expect("text");
        let line = "idbridge_scim_refusals_not_logged_total 7";
        assert!(metrics.contains(line), "{line} in\n{metrics}");
        // They were answered 401, not 429: the rate limit's count is not theirs.
        assert!(!metrics.contains("idbridge_rate_limited_requests_total{route=\"/scim"), "{metrics}");
    }
}

/// `/oauth/authorize` without parameters answers 400 and touches no row: a cheap
/// limited request for the tests about whose budget a request is taken from.
async fn authorize_from(app: &TestApp, forwarded_for: Option<&str>) -> StatusCode {
    let mut request = browser_from(Ipv4Addr::LOCALHOST).get(app.url("/oauth/authorize"));
    if let Some(header) = forwarded_for {
        request = request.header("x-forwarded-for", header);
    }
    request.send().await.expect("send").status()
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_from_a_trusted_proxy() {
    // The test's own connections (127.0.0.1) are the load balancer.
    let app = limited_app(TestDb::sqlite().await, 1, "127.0.0.1, 10.0.0.0/8").await;
    let ok = StatusCode::BAD_REQUEST;
    let refused = StatusCode::TOO_MANY_REQUESTS;
    assert_eq!(authorize_from(&app, Some("203.0.113.1")).await, ok);
    assert_eq!(authorize_from(&app, Some("203.0.113.1")).await, refused);
    assert_eq!(authorize_from(&app, Some("203.0.113.2")).await, ok);
    // A client that sends its own header cannot pick a fresh budget: the proxy's
    // entry (right-most) is what counts.
    assert_eq!(
        authorize_from(&app, Some("198.51.100.77, 203.0.113.2")).await,
        refused
    );
    // Trusted hops in between are skipped.
    assert_eq!(
        authorize_from(&app, Some("203.0.113.1, 10.1.1.1")).await,
        refused
    );
    // IPv6 clients are counted by their /64.
    assert_eq!(authorize_from(&app, Some("2001:db8:0:1::1")).await, ok);
    assert_eq!(
        authorize_from(&app, Some("2001:db8:0:1::ffff")).await,
        refused
    );
    assert_eq!(authorize_from(&app, Some("2001:db8:0:2::1")).await, ok);
    // Requests through the proxy without the header are the proxy's own.
    assert_eq!(authorize_from(&app, None).await, ok);
    assert_eq!(authorize_from(&app, None).await, refused);
    // Garbage is not a new client either: it counts against the proxy.
    assert_eq!(authorize_from(&app, Some("not-an-address")).await, refused);
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = limited_app(TestDb::sqlite().await, 1, "10.0.0.0/8").await;
    assert_eq!(
        authorize_from(&app, Some("203.0.113.1")).await,
        StatusCode::BAD_REQUEST
    );
    // Another claimed address, same peer: the same, spent, budget.
    assert_eq!(
        authorize_from(&app, Some("203.0.113.2")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn without_a_limit_nothing_is_refused() {
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        TestOptions {
            rate_limit: None,
            ..TestOptions::default()
        },
    )
    .await;
    for _ in 0..50 {
        assert_eq!(authorize_from(&app, None).await, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn the_binary_takes_the_limit_from_its_flags_and_zero_turns_it_off() {
    let server = ServerProcess::start(
        None,
        &["--rate-limit-per-minute", "1", "--rate-limit-burst", "2"],
        "info",
    )
    .await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = http
            .get(server.url("/oauth/authorize"))
            .send()
            .await
            .expect("send");
        statuses.push(response.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let logs = server.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("rate limited"))
        .unwrap_or_else(|| panic!("one log line for the refusal:\n{logs}"));
    assert!(
        line.contains("127.0.0.1") && line.contains("/oauth/authorize"),
        "{line}"
    );

    let server = ServerProcess::start(None, &["--rate-limit-per-minute", "0"], "info").await;
    for _ in 0..30 {
        let response = http
            .get(server.url("/oauth/authorize"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn bad_trusted_proxy_lists_stop_the_binary_with_a_clear_error() {
    for (args, env, named) in [
        (
            vec!["--trusted-proxies", "10.0.0.0/33"],
            None,
            "10.0.0.0/33",
        ),
        (vec![], Some("10.0.0.0/8,proxy.internal"), "proxy.internal"),
        (vec!["--trusted-proxies", "10.0.0.1/8"], None, "10.0.0.0/8"),
    ] {
        let mut command = tokio::process::Command::new(idbridge_bin());
        command
            .env_clear()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&args);
        if let Some(value) = env {
            command.env("IDBRIDGE_TRUSTED_PROXIES", value);
        }
        let output = command.output().await.expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--trusted-proxies") && stderr.contains(named),
            "{stderr}"
        );
    }
}
