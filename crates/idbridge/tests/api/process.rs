//! The real binary, as an operator runs it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, ServerProcess, idbridge_bin, run_cli};
use idbridge_testkit::both_backends;

#[tokio::test]
async fn serve_with_no_database_url_creates_an_embedded_sqlite_database() {
    let server = ServerProcess::start(None, &[], "info").await;
    let response = reqwest::get(server.url("/healthz")).await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let db = server.dir().join("idbridge.db");
    assert!(
        db.exists(),
        "idbridge.db is created in the working directory"
    );
    // A write puts the database in WAL mode's shape on disk.
    let http = reqwest::Client::new();
    let response = http
        .post(server.url("/api/v1/tenants"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(
        server.dir().join("idbridge.db-wal").exists(),
        "SQLite runs in WAL mode"
    );
}

#[tokio::test]
async fn help_lists_every_command() {
    let output = tokio::process::Command::new(idbridge_bin())
        .arg("--help")
        .output()
        .await
        .expect("run");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in [
        "serve",
        "migrate",
        "tenant",
        "scim-token",
        "client",
        "admin-key",
    ] {
        assert!(
            help.contains(command),
            "{command} missing from --help:\n{help}"
        );
    }
    let output = tokio::process::Command::new(idbridge_bin())
        .args(["serve", "--help"])
        .output()
        .await
        .expect("run");
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, env) in [
        ("--listen", "IDBRIDGE_LISTEN"),
        ("--database-url", "IDBRIDGE_DATABASE_URL"),
        ("--public-url", "IDBRIDGE_PUBLIC_URL"),
        ("--admin-api-key", "IDBRIDGE_ADMIN_API_KEY"),
        ("--dns-resolver", "IDBRIDGE_DNS_RESOLVER"),
        ("--allow-private-urls", "IDBRIDGE_ALLOW_PRIVATE_URLS"),
        ("--rate-limit-per-minute", "IDBRIDGE_RATE_LIMIT_PER_MINUTE"),
        ("--rate-limit-burst", "IDBRIDGE_RATE_LIMIT_BURST"),
        ("--trusted-proxies", "IDBRIDGE_TRUSTED_PROXIES"),
    ] {
        assert!(
            help.contains(flag) && help.contains(env),
            "{flag}/{env} missing:\n{help}"
        );
    }
}

#[tokio::test]
async fn an_unsupported_database_url_fails_clearly() {
    let output = tokio::process::Command::new(idbridge_bin())
        .env_clear()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "mysql://root@localhost/x",
        ])
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
}

#[tokio::test]
async fn an_unreachable_database_is_reported_not_hung_on() {
    // Nothing listens on port 1. The wait for the database (a minute) is not awaited
    // here, only that the process says, after its first 3 s attempt, why it waits.
    let mut child = tokio::process::Command::new(idbridge_bin())
        .env_clear()
        .env("IDBRIDGE_LOG_FORMAT", "json")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://postgres:pw@127.0.0.1:1/x",
        ])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    tokio::time::sleep(Duration::from_secs(5)).await;
    child.start_kill().expect("kill");
    let output = child.wait_with_output().await.expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database not reachable yet"), "{stderr}");
    assert!(
        !stderr.contains(":pw@"),
        "the database password must not be logged: {stderr}"
    );
}

both_backends! {
    async fn two_processes_on_one_database_behave_as_one_service(db: TestDb) {
        let a = ServerProcess::start(Some(db.url()), &[], "info").await;
        let b = ServerProcess::start(Some(db.url()), &[], "info").await;
        let http = reqwest::Client::new();

        let response = http.post(a.url("/api/v1/tenants")).bearer_auth(ADMIN_KEY)
            .json(&json!({"slug": "acme", "name": "Acme"})).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let seen: Value = http.get(b.url("/api/v1/tenants/acme")).bearer_auth(ADMIN_KEY)
            .send().await.expect("send").json().await.expect("json");
        assert_eq!(seen["slug"], "acme");

        let created: Value = http.post(a.url("/api/v1/tenants/acme/scim-tokens")).bearer_auth(ADMIN_KEY)
            .send().await.expect("send").json().await.expect("json");
        let token = created["token"].as_str().expect("token");
        let id = created["id"].as_str().expect("id");
        for node in [&a, &b] {
            let response = http.get(node.url("/scim/v2/acme/ServiceProviderConfig")).bearer_auth(token)
                .send().await.expect("send");
            assert_eq!(response.status(), StatusCode::OK);
        }
        let response = http.delete(b.url(&format!("/api/v1/tenants/acme/scim-tokens/{id}")))
            .bearer_auth(ADMIN_KEY).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        // At once, on the other node: no cache stands between a revocation and a check.
        let response = http.get(a.url("/scim/v2/acme/ServiceProviderConfig")).bearer_auth(token)
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    async fn a_saml_response_is_accepted_by_one_process_only(db: TestDb) {
        use idbridge_testkit::saml::{Key, TestIdp};
        // Both nodes answer for the same public URL, as behind a load balancer.
        let public = "https://id.example.com";
        let extra = ["--public-url", public];
        // Trace level: nothing a sign-in carries may reach a log line at any level.
        let a = ServerProcess::start(Some(db.url()), &extra, "trace").await;
        let b = ServerProcess::start(Some(db.url()), &extra, "trace").await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let idp = TestIdp::okta(Key::Rsa2048);
        let response = http.post(a.url("/api/v1/tenants")).bearer_auth(ADMIN_KEY)
            .json(&json!({"slug": "acme", "name": "Acme"})).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = http.post(a.url("/api/v1/clients")).bearer_auth(ADMIN_KEY)
            .json(&json!({"name": "app", "redirect_uris": ["https://app.example.com/cb"]}))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let client: Value = response.json().await.expect("json");
        let client_id = client["client_id"].as_str().expect("client_id").to_owned();
        let client_secret = client["client_secret"].as_str().expect("secret").to_owned();
        let response = http.put(a.url("/api/v1/tenants/acme/saml")).bearer_auth(ADMIN_KEY)
            .json(&json!({"idp_metadata_xml": idp.metadata_xml(), "default_redirect_uri": "https://app.example.com/cb"}))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);

        // One IdP-initiated response, replayed to both nodes at once, several times.
        let spec = idp.response_spec(
            &format!("{public}/saml/acme"),
            &format!("{public}/saml/acme/acs"),
            None,
            "ada@example.com",
            time::OffsetDateTime::now_utc(),
        );
        let value = idp.post_value(&spec);
        let posts = [&a, &b, &a, &b].map(|node| {
            http.post(node.url("/saml/acme/acs")).form(&[("SAMLResponse", value.as_str())]).send()
        });
        let answers: Vec<reqwest::Response> = futures::future::join_all(posts).await
            .into_iter().map(|r| r.expect("send")).collect();
        let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();
        let code = answers.iter()
            .find_map(|r| r.headers().get("location"))
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.split("code=").nth(1))
            .expect("one answer carries a code")
            .to_owned();
        let accepted = statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
        assert_eq!(accepted, 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::BAD_REQUEST), "{statuses:?}");
        let log: Value = http.get(b.url("/api/v1/tenants/acme/sign-in-log")).bearer_auth(ADMIN_KEY)
            .send().await.expect("send").json().await.expect("json");
        let reasons: Vec<&str> = log["data"].as_array().expect("data").iter()
            .filter_map(|e| e["reason"].as_str()).collect();
        assert_eq!(reasons, vec!["replayed"; 3]);

        // The code, exchanged at both nodes at once, twice each: one token.
        let code = code.split('&').next().expect("code").to_owned();
        let exchanges = [&a, &b, &a, &b].map(|node| {
            http.post(node.url("/oauth/token"))
                .basic_auth(&client_id, Some(&client_secret))
                .form(&[("grant_type", "authorization_code"), ("code", code.as_str()),
                        ("redirect_uri", "https://app.example.com/cb")])
                .send()
        });
        let answers: Vec<reqwest::Response> = futures::future::join_all(exchanges).await
            .into_iter().map(|r| r.expect("send")).collect();
        let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count(), 3, "{statuses:?}");
        let issued = answers.into_iter().find(|r| r.status() == StatusCode::OK).expect("one 200");
        let tokens: Value = issued.json().await.expect("json");
        // The losers' second use revoked what the winner got.
        let userinfo = http.get(b.url("/oauth/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().expect("access_token"))
            .send().await.expect("send");
        assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
        for node in [&a, &b] {
            let logs = node.logs();
            for secret in ["access_token", "id_token"] {
                let value = tokens[secret].as_str().expect("token");
                assert!(!logs.contains(&value[value.len() - 30..]), "the {secret} reached a log line");
            }
            assert!(!logs.contains(&client_secret), "the client secret reached a log line");
        }
        // Neither the code, nor the response, nor what the assertion says is logged.
        let xml = String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &value).expect("b64")).expect("utf8");
        let assertion_start = xml.find("<saml2:Assertion").expect("assertion");
        for node in [&a, &b] {
            let logs = node.logs();
            assert!(!logs.contains(&code), "the authorization code reached a log line");
            assert!(!logs.contains(&value[..64]), "the SAMLResponse reached a log line");
            assert!(!logs.contains(&xml[assertion_start..assertion_start + 200]), "the assertion reached a log line");
            assert!(!logs.contains("Ada Lovelace"), "an attribute value reached a log line");
        }
    }

    async fn several_processes_starting_at_once_migrate_safely(db: TestDb) {
        let starts = (0..3).map(|_| ServerProcess::start(Some(db.url()), &[], "info"));
        let nodes = futures::future::join_all(starts).await;
        for node in &nodes {
            let response = reqwest::get(node.url("/healthz")).await.expect("send");
            assert_eq!(response.status(), StatusCode::OK, "{}", node.logs());
        }
    }

    async fn sigterm_lets_in_flight_requests_finish(db: TestDb) {
        let mut server = ServerProcess::start(Some(db.url()), &[], "info").await;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
        let request = reqwest::Client::new()
            .post(server.url("/api/v1/tenants"))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send();
        let in_flight = tokio::spawn(request);
        tx.send(Ok(br#"{"slug": "acme", "#.to_vec())).await.expect("first half");
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.terminate();
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.send(Ok(br#""name": "Acme"}"#.to_vec())).await.expect("second half");
        drop(tx);
        let response = in_flight.await.expect("join").expect("the in-flight request is answered");
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(server.wait().await, Some(0), "{}", server.logs());
        let logs = server.logs();
        assert!(logs.contains("SIGTERM received"), "{logs}");
        // New connections are refused once it has stopped.
        assert!(reqwest::get(server.url("/healthz")).await.is_err());
    }

    async fn cli_commands_work_on_the_service_database(db: TestDb) {
        let url = db.url().to_owned();
        let (code, out, err) = run_cli(&url, &["tenant", "create", "--slug", "acme", "--name", "Acme Inc", "--sso-required"]).await;
        assert_eq!(code, 0, "{err}");
        let tenant: Value = serde_json::from_str(&out).expect("tenant JSON");
        assert_eq!(tenant["slug"], "acme");
        assert_eq!(tenant["sso_required"], true);
        assert_eq!(tenant["scim"]["base_url"], "https://id.example.com/scim/v2/acme");

        let (code, _, err) = run_cli(&url, &["tenant", "create", "--slug", "acme", "--name", "Again"]).await;
        assert_eq!(code, 1);
        assert!(err.contains("already exists"), "{err}");
        let (code, _, err) = run_cli(&url, &["tenant", "create", "--slug", "Bad Slug", "--name", "X"]).await;
        assert_eq!(code, 1);
        assert!(err.contains("invalid tenant slug"), "{err}");

        let (code, out, err) = run_cli(&url, &["scim-token", "create", "--tenant", "acme", "--description", "Okta"]).await;
        assert_eq!(code, 0, "{err}");
        let token: Value = serde_json::from_str(&out).expect("token JSON");
        let token_value = token["token"].as_str().expect("token").to_owned();
        let token_id = token["id"].as_str().expect("id").to_owned();
        assert!(token_value.starts_with("idb_scim_"));

        let (code, out, _) = run_cli(&url, &["admin-key", "create", "--name", "ops"]).await;
        assert_eq!(code, 0);
        let key: Value = serde_json::from_str(&out).expect("key JSON");
        let admin_key = key["admin_api_key"].as_str().expect("key").to_owned();

        let (code, out, _) = run_cli(&url, &["client", "create", "--name", "app", "--redirect-uri", "https://app.example.com/cb"]).await;
        assert_eq!(code, 0);
        let client: Value = serde_json::from_str(&out).expect("client JSON");
        assert!(client["client_secret"].as_str().is_some_and(|s| s.starts_with("idb_cs_")));

        // A running service sees what the CLI wrote, and takes the CLI's admin key.
        let server = ServerProcess::start(Some(&url), &[], "info").await;
        let http = reqwest::Client::new();
        let response = http.get(server.url("/api/v1/tenants/acme")).bearer_auth(&admin_key).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let response = http.get(server.url("/scim/v2/acme/ServiceProviderConfig")).bearer_auth(&token_value).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);

        let (code, out, _) = run_cli(&url, &["scim-token", "list", "--tenant", "acme"]).await;
        assert_eq!(code, 0);
        assert!(out.contains(&token_id) && !out.contains(&token_value));
        let (code, _, err) = run_cli(&url, &["scim-token", "revoke", "--tenant", "acme", &token_id]).await;
        assert_eq!(code, 0, "{err}");
        let response = http.get(server.url("/scim/v2/acme/ServiceProviderConfig")).bearer_auth(&token_value).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        let (code, out, _) = run_cli(&url, &["admin-key", "list"]).await;
        assert_eq!(code, 0);
        assert!(!out.contains(&admin_key));
        let key_id = key["id"].as_str().expect("id");
        assert_eq!(run_cli(&url, &["admin-key", "revoke", key_id]).await.0, 0);
        let response = http.get(server.url("/api/v1/tenants/acme")).bearer_auth(&admin_key).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        let (code, out, _) = run_cli(&url, &["client", "list"]).await;
        assert_eq!(code, 0);
        assert!(!out.contains(client["client_secret"].as_str().expect("secret")));
        let (code, out, _) = run_cli(&url, &["tenant", "list"]).await;
        assert_eq!(code, 0);
        assert!(out.contains("\"acme\""));
        assert_eq!(run_cli(&url, &["tenant", "delete", "acme"]).await.0, 0);
        assert_eq!(run_cli(&url, &["tenant", "delete", "acme"]).await.0, 1);
        assert_eq!(run_cli(&url, &["migrate"]).await.0, 0);

        // Signing keys: the server made one per algorithm; rotation adds a new active
        // key and keeps the old one published (JWKS lists both); no private key is
        // ever printed.
        let jwks = |server: &ServerProcess| {
            let url = server.url("/oauth/jwks");
            async move {
                let body: Value = reqwest::get(url).await.expect("send").json().await.expect("json");
                body["keys"].as_array().expect("keys").iter()
                    .map(|k| k["kid"].as_str().expect("kid").to_owned()).collect::<Vec<_>>()
            }
        };
        let before = jwks(&server).await;
        assert_eq!(before.len(), 2, "{before:?}");
        let (code, out, err) = run_cli(&url, &["keys", "rotate", "--alg", "RS256"]).await;
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("rotated"), "{err}");
        let after = jwks(&server).await;
        assert_eq!(after.len(), 3, "{after:?}");
        assert!(before.iter().all(|kid| after.contains(kid)));
        let (code, out_list, _) = run_cli(&url, &["keys", "list"]).await;
        assert_eq!(code, 0);
        let listed: Value = serde_json::from_str(&out_list).expect("JSON");
        assert_eq!(listed.as_array().expect("keys").len(), 3);
        assert!(!out_list.contains("private") && !out.contains("PRIVATE"));
        assert_eq!(run_cli(&url, &["keys", "rotate", "--alg", "HS256"]).await.0, 1);
    }

    async fn no_secret_ever_reaches_a_log_line(db: TestDb) {
        let url = db.url().to_owned();
        let server = ServerProcess::start(Some(&url), &[], "trace,hyper=debug,h2=debug").await;
        let http = reqwest::Client::new();
        let mut secrets = vec![ADMIN_KEY.to_owned()];

        http.post(server.url("/api/v1/tenants")).bearer_auth(ADMIN_KEY)
            .json(&json!({"slug": "acme", "name": "Acme"})).send().await.expect("send");
        let token: Value = http.post(server.url("/api/v1/tenants/acme/scim-tokens")).bearer_auth(ADMIN_KEY)
            .send().await.expect("send").json().await.expect("json");
        let token_value = token["token"].as_str().expect("token").to_owned();
        secrets.push(token_value.clone());
        let client: Value = http.post(server.url("/api/v1/clients")).bearer_auth(ADMIN_KEY)
            .json(&json!({"name": "app", "redirect_uris": ["https://app.example.com/cb"]}))
            .send().await.expect("send").json().await.expect("json");
        secrets.push(client["client_secret"].as_str().expect("secret").to_owned());
        let (_, out, cli_err) = run_cli(&url, &["admin-key", "create", "--name", "ops"]).await;
        let key: Value = serde_json::from_str(&out).expect("key JSON");
        let admin_key = key["admin_api_key"].as_str().expect("key").to_owned();
        secrets.push(admin_key.clone());

        // Use every credential, rightly and wrongly, so each passes through the code
        // paths that could log it.
        http.get(server.url("/api/v1/tenants")).bearer_auth(&admin_key).send().await.expect("send");
        http.get(server.url("/scim/v2/acme/ServiceProviderConfig")).bearer_auth(&token_value).send().await.expect("send");
        http.get(server.url("/scim/v2/other/ServiceProviderConfig")).bearer_auth(&token_value).send().await.expect("send");
        http.get(server.url("/api/v1/tenants")).bearer_auth(&token_value).send().await.expect("send");
        http.get(server.url("/scim/v2/acme/ServiceProviderConfig")).bearer_auth(&admin_key).send().await.expect("send");
        let id = token["id"].as_str().expect("id");
        http.delete(server.url(&format!("/api/v1/tenants/acme/scim-tokens/{id}"))).bearer_auth(ADMIN_KEY).send().await.expect("send");
        http.get(server.url("/scim/v2/acme/ServiceProviderConfig")).bearer_auth(&token_value).send().await.expect("send");

        let logs = server.logs();
        assert!(logs.lines().count() > 20, "the server logged at trace level:\n{logs}");
        assert!(logs.contains("SCIM token issued"), "{logs}");
        for secret in &secrets {
            assert!(!logs.contains(secret.as_str()), "a secret reached the server log");
            // Not even the random part on its own.
            if let Some((_, body)) = secret.rsplit_once('_')
                && body.len() > 20
            {
                assert!(!logs.contains(body), "part of a secret reached the server log");
            }
            assert!(!cli_err.contains(secret.as_str()), "a secret reached the CLI's log");
        }
    }
}

/// A `Stream` over an mpsc receiver, without pulling in tokio-stream.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
