use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error};
use idbridge_testkit::both_backends;

both_backends! {
    async fn scim_token_is_shown_once_with_the_tenant_url(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let response = app
            .admin(Method::POST, "/api/v1/tenants/acme/scim-tokens")
            .header("content-type", "application/json")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("json");
        let token = created["token"].as_str().expect("token").to_owned();
        assert!(token.starts_with("idb_scim_") && token.len() == "idb_scim_".len() + 43, "{token}");
        assert_eq!(created["scim_base_url"], app.url("/scim/v2/acme"));
        let id = created["id"].as_str().expect("id").to_owned();

        let listed = app
            .admin(Method::GET, "/api/v1/tenants/acme/scim-tokens")
            .send().await.expect("send").text().await.expect("text");
        assert!(listed.contains(&id));
        assert!(!listed.contains(&token), "a listed token must never include the token");
        let tenant = app.admin(Method::GET, "/api/v1/tenants/acme").send().await.expect("send").text().await.expect("text");
        assert!(!tenant.contains(&token));
        assert!(tenant.contains("\"active_tokens\":1"));
    }

    async fn scim_token_takes_an_optional_description(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let created: Value = app
            .admin(Method::POST, "/api/v1/tenants/acme/scim-tokens")
            .json(&json!({"description": "Entra ID provisioning"}))
            .send().await.expect("send").json().await.expect("json");
        assert_eq!(created["description"], "Entra ID provisioning");
        let response = app
            .admin(Method::POST, "/api/v1/tenants/acme/scim-tokens")
            .json(&json!({"descripton": "typo"}))
            .send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
        let response = app
            .admin(Method::POST, "/api/v1/tenants/acme/scim-tokens")
            .header("content-type", "text/plain")
            .body("description")
            .send().await.expect("send");
        expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    }

    async fn scim_token_opens_its_tenant_and_no_other(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let (_, acme_token) = app.create_scim_token("acme").await;
        let response = app.scim_get("acme", "/ServiceProviderConfig", &acme_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/scim+json");
        let response = app.scim_get("globex", "/ServiceProviderConfig", &acme_token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
        assert_eq!(body["status"], "401");
    }

    async fn scim_endpoint_refuses_missing_malformed_and_unknown_tokens(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let url = app.url("/scim/v2/acme/ServiceProviderConfig");
        let missing = app.http.get(&url).send().await.expect("send");
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert!(missing.headers().contains_key("www-authenticate"));
        let unknown = idbridge_core::secret::ScimToken::generate();
        for token in ["garbage", crate::helpers::ADMIN_KEY, unknown.expose_secret()] {
            let response = app.scim_get("acme", "/ServiceProviderConfig", token).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
        }
        let basic = app.http.get(&url).basic_auth("user", Some("pw")).send().await.expect("send");
        assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
        // Unknown SCIM paths ask for a token first; with one, they are 404 in SCIM form.
        let anonymous = app.http.get(app.url("/scim/v2/acme/Nothing")).send().await.expect("send");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let (_, token) = app.create_scim_token("acme").await;
        let missing = app.scim_get("acme", "/Nothing", &token).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.headers()["content-type"], "application/scim+json");
    }

    async fn revoked_scim_token_is_refused_at_once(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (id, token) = app.create_scim_token("acme").await;
        let (_, other) = app.create_scim_token("acme").await;
        assert_eq!(app.scim_get("acme", "/ServiceProviderConfig", &token).await.status(), StatusCode::OK);
        let response = app
            .admin(Method::DELETE, &format!("/api/v1/tenants/acme/scim-tokens/{id}"))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.scim_get("acme", "/ServiceProviderConfig", &token).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.scim_get("acme", "/ServiceProviderConfig", &other).await.status(), StatusCode::OK);

        let listed: Value = app.admin_get("/api/v1/tenants/acme/scim-tokens").await;
        let revoked = listed["data"].as_array().expect("data").iter().find(|t| t["id"] == id.as_str()).expect("listed");
        assert_eq!(revoked["active"], false);
        assert_eq!(revoked["revoked_at"], "2026-11-01T09:00:00Z");
    }

    async fn the_users_list_refuses_every_bad_token_whatever_it_asks(db: TestDb) {
        // `GET /Users` checks its token in the statement that reads the answer (a
        // lookup) or just before (any other list), not in the middleware: every
        // way a token can be wrong is still 401, before anything about the query
        // is told, and the right token still gets its answer.
        let app = TestApp::spawn(db).await;
        let tokens = Tokens::of_acme_and_globex(&app).await;
        let (token, revoked) = (&tokens.acme, &tokens.revoked);
        let created = app
            .scim(Method::POST, "acme", "/Users", token, Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@example.com",
            })))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let lists = [
            ("/Users?filter=userName%20eq%20%22ada@example.com%22", StatusCode::OK, Some(1)),
            ("/Users?filter=userName%20eq%20%22nobody@example.com%22", StatusCode::OK, Some(0)),
            ("/Users", StatusCode::OK, Some(1)),
            ("/Users?filter=userName%20eq%20%22ada@example.com%22&attributes=userName", StatusCode::OK, Some(1)),
            ("/Users?filter=userName%20eq", StatusCode::BAD_REQUEST, None),
            ("/Users?count=-1&startIndex=x&attributes=%5B", StatusCode::BAD_REQUEST, None),
            ("/Users?filter=userName%20eq%2042", StatusCode::OK, Some(0)),
            ("/Users?filter=meta.lastModified%20gt%20%22yesterday%22", StatusCode::BAD_REQUEST, None),
        ];
        for (path, status, total) in lists {
            tokens.refused_but_acmes(&app, path).await;
            let response = app.scim_get("acme", path, token).await;
            assert_eq!(response.status(), status, "{path}");
            let body: Value = response.json().await.expect("json");
            if let Some(total) = total {
                assert_eq!(body["totalResults"], total, "{path}");
            }
        }
        // HEAD is routed with GET: the same check, no body.
        let head = |token: &str| app.http.head(app.url("/scim/v2/acme/Users")).bearer_auth(token.to_owned()).send();
        assert_eq!(head(token).await.expect("send").status(), StatusCode::OK);
        assert_eq!(head(revoked).await.expect("send").status(), StatusCode::UNAUTHORIZED);
        // The refusals were logged without a token, the right token's 400s with it.
        let log: Value = app.admin_get("/api/v1/tenants/acme/provisioning-log?limit=100").await;
        let lines = log["data"].as_array().expect("data");
        let refused = lines.iter().filter(|line| line["status"] == 401).count();
        let bad = lines.iter().filter(|line| line["status"] == 400).collect::<Vec<_>>();
        assert!(refused >= 7, "{refused} refusals logged");
        assert!(lines.iter().filter(|line| line["status"] == 401).all(|line| line["token_id"].is_null()));
        assert_eq!(bad.len(), 3, "{log:#}");
        assert!(bad.iter().all(|line| line["token_id"].is_string()), "{log:#}");
    }

    async fn a_user_read_refuses_every_bad_token_whatever_it_asks(db: TestDb) {
        // `GET /Users/{id}` checks its token in the statement that reads the user
        // (a whole read) or just before (a projection, an id that is not one), not
        // in the middleware: every way a token can be wrong is 401, before anything
        // about the user is told, and the right token gets its answer.
        let app = TestApp::spawn(db).await;
        let tokens = Tokens::of_acme_and_globex(&app).await;
        let (token, theirs, revoked) = (&tokens.acme, &tokens.globex, &tokens.revoked);
        let user = |name: &str| json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
        });
        let ada: Value = app.scim(Method::POST, "acme", "/Users", token, Some(user("ada@example.com")))
            .await.json().await.expect("json");
        let ada_id = ada["id"].as_str().expect("id").to_owned();
        let group = app
            .scim(Method::POST, "acme", "/Groups", token, Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Staff",
                "members": [{"value": ada_id}],
            })))
            .await;
        assert_eq!(group.status(), StatusCode::CREATED);
        let bob: Value = app.scim(Method::POST, "globex", "/Users", theirs, Some(user("bob@example.com")))
            .await.json().await.expect("json");
        let bob_id = bob["id"].as_str().expect("id").to_owned();
        let reads = [
            (format!("/Users/{ada_id}"), StatusCode::OK),
            (format!("/Users/{ada_id}?attributes=userName"), StatusCode::OK),
            (format!("/Users/{ada_id}?excludedAttributes=groups"), StatusCode::OK),
            (format!("/Users/{ada_id}?attributes=%5B"), StatusCode::BAD_REQUEST),
            (format!("/Users/{bob_id}"), StatusCode::NOT_FOUND),
            (format!("/Users/{}", uuid::Uuid::now_v7()), StatusCode::NOT_FOUND),
            ("/Users/not-an-id".to_owned(), StatusCode::NOT_FOUND),
        ];
        for (path, status) in &reads {
            tokens.refused_but_acmes(&app, path).await;
            let response = app.scim_get("acme", path, token).await;
            assert_eq!(response.status(), *status, "{path}");
        }
        // The whole read: the user, its group, its version; If-None-Match of that
        // version is 304.
        let response = app.scim_get("acme", &format!("/Users/{ada_id}"), token).await;
        let etag = response.headers()["etag"].to_str().expect("ascii").to_owned();
        let read: Value = response.json().await.expect("json");
        assert_eq!(read["userName"], "ada@example.com");
        assert_eq!(read["groups"][0]["display"], "Staff");
        assert_eq!(read["meta"]["version"], etag.as_str());
        let response = app
            .http
            .get(app.url(&format!("/scim/v2/acme/Users/{ada_id}")))
            .bearer_auth(token)
            .header("if-none-match", &etag)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        // HEAD is routed with GET: the same check, no body.
        let head = |token: &str| app.http.head(app.url(&format!("/scim/v2/acme/Users/{ada_id}"))).bearer_auth(token.to_owned()).send();
        assert_eq!(head(token).await.expect("send").status(), StatusCode::OK);
        assert_eq!(head(revoked).await.expect("send").status(), StatusCode::UNAUTHORIZED);
        // `/Users/.search` is not a read: GET there is still refused without a token.
        let search = app.http.get(app.url("/scim/v2/acme/Users/.search")).send().await.expect("send");
        assert_eq!(search.status(), StatusCode::UNAUTHORIZED);
        // The refusals were logged without a token, the right token's 4xx with it.
        let log: Value = app.admin_get("/api/v1/tenants/acme/provisioning-log?limit=200").await;
        let lines = log["data"].as_array().expect("data");
        assert!(lines.iter().filter(|line| line["status"] == 401).all(|line| line["token_id"].is_null()));
        let answered: Vec<&Value> = lines.iter().filter(|line| line["status"] == 404 || line["status"] == 400).collect();
        assert_eq!(answered.len(), 4, "{log:#}");
        assert!(answered.iter().all(|line| line["token_id"].is_string()), "{log:#}");
    }

    async fn a_tenant_cannot_revoke_another_tenants_token(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let (id, token) = app.create_scim_token("acme").await;
        let response = app
            .admin(Method::DELETE, &format!("/api/v1/tenants/globex/scim-tokens/{id}"))
            .send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(app.scim_get("acme", "/ServiceProviderConfig", &token).await.status(), StatusCode::OK);
    }

    async fn deleting_a_tenant_kills_its_tokens(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (_, token) = app.create_scim_token("acme").await;
        app.admin(Method::DELETE, "/api/v1/tenants/acme").send().await.expect("send");
        app.create_tenant("acme").await;
        assert_eq!(app.scim_get("acme", "/ServiceProviderConfig", &token).await.status(), StatusCode::UNAUTHORIZED);
    }

    async fn last_used_at_is_kept_without_a_write_per_request(db: TestDb) {
        let app = TestApp::spawn(db).await;
        records_use_at_most_once_a_minute(&app, "/ServiceProviderConfig").await;
    }

    async fn a_lookup_that_checks_its_own_token_records_its_use_too(db: TestDb) {
        // `GET /Users` checks its token with the lookup, not in the middleware: its
        // use is recorded all the same, at most once a minute.
        let app = TestApp::spawn(db).await;
        records_use_at_most_once_a_minute(&app, "/Users?filter=userName%20eq%20%22ada@example.com%22").await;
    }

    async fn revoking_an_unknown_token_is_404(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let path = format!("/api/v1/tenants/acme/scim-tokens/{}", uuid::Uuid::now_v7());
        let response = app.admin(Method::DELETE, &path).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app.admin(Method::DELETE, "/api/v1/tenants/acme/scim-tokens/nope").send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

/// acme's SCIM token, and the wrong ones a caller could present on acme's URL.
struct Tokens {
    acme: String,
    globex: String,
    /// One of acme's, revoked.
    revoked: String,
    /// One no tenant has.
    unknown: idbridge_core::secret::ScimToken,
}

impl Tokens {
    /// Tenants acme and globex, a token of each, and a revoked one of acme's.
    async fn of_acme_and_globex(app: &TestApp) -> Self {
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let (_, acme) = app.create_scim_token("acme").await;
        let (_, globex) = app.create_scim_token("globex").await;
        let (revoked_id, revoked) = app.create_scim_token("acme").await;
        let response = app
            .admin(
                Method::DELETE,
                &format!("/api/v1/tenants/acme/scim-tokens/{revoked_id}"),
            )
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        Self {
            acme,
            globex,
            revoked,
            unknown: idbridge_core::secret::ScimToken::generate(),
        }
    }

    /// GET `path` on acme's URL is 401 with no token and with every wrong one
    /// (garbage, the admin key, unknown, globex's, revoked), and acme's token is
    /// 401 on globex's URL.
    async fn refused_but_acmes(&self, app: &TestApp, path: &str) {
        let anonymous = app
            .http
            .get(app.url(&format!("/scim/v2/acme{path}")))
            .send()
            .await
            .expect("send");
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{path}: no token"
        );
        assert!(
            anonymous.headers().contains_key("www-authenticate"),
            "{path}"
        );
        for (what, wrong) in [
            ("garbage", "garbage"),
            ("admin key", crate::helpers::ADMIN_KEY),
            ("unknown", self.unknown.expose_secret()),
            ("another tenant's", self.globex.as_str()),
            ("revoked", self.revoked.as_str()),
        ] {
            let response = app.scim_get("acme", path, wrong).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{path}: {what} token"
            );
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["status"], "401", "{path}: {what} token");
        }
        let response = app.scim_get("globex", path, &self.acme).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{path}: acme's token on globex"
        );
    }
}

/// A new token of a new tenant used on `path` three times: its `last_used_at` is
/// written at the first use, not again within the minute, then again after it.
async fn records_use_at_most_once_a_minute(app: &TestApp, path: &str) {
    app.create_tenant("acme").await;
    let (_, token) = app.create_scim_token("acme").await;
    let last_used = || async {
        let body: Value = app.admin_get("/api/v1/tenants/acme/scim-tokens").await;
        body["data"][0]["last_used_at"].clone()
    };
    assert_eq!(last_used().await, Value::Null);
    assert_eq!(
        app.scim_get("acme", path, &token).await.status(),
        StatusCode::OK
    );
    assert_eq!(last_used().await, "2026-11-01T09:00:00Z");
    app.clock.advance(time::Duration::seconds(30));
    app.scim_get("acme", path, &token).await;
    assert_eq!(
        last_used().await,
        "2026-11-01T09:00:00Z",
        "within a minute: no write"
    );
    app.clock.advance(time::Duration::seconds(31));
    app.scim_get("acme", path, &token).await;
    assert_eq!(last_used().await, "2026-11-01T09:01:01Z");
}
