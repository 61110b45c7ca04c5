use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error};
use idbridge_testkit::both_backends;

both_backends! {
    async fn create_tenant_answers_201_with_the_tenant_object(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let response = app
            .admin(Method::POST, "/api/v1/tenants")
            .json(&json!({"slug": "acme", "name": "Acme Inc"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["location"], "/api/v1/tenants/acme");
        let body: Value = response.json().await.expect("json");
        assert!(body["id"].as_str().is_some_and(|id| id.len() == 36), "{body}");
        assert_eq!(body["slug"], "acme");
        assert_eq!(body["name"], "Acme Inc");
        assert_eq!(body["sso_required"], false);
        assert_eq!(body["jit_enabled"], true);
        assert_eq!(body["default_role"], Value::Null);
        assert_eq!(body["saml"]["sp_entity_id"], app.url("/saml/acme"));
        assert_eq!(body["saml"]["acs_url"], app.url("/saml/acme/acs"));
        assert_eq!(body["saml"]["sp_metadata_url"], app.url("/saml/acme/metadata"));
        assert_eq!(body["scim"]["base_url"], app.url("/scim/v2/acme"));
        assert_eq!(body["scim"]["active_tokens"], 0);
        assert_eq!(body["domains"], json!({"total": 0, "verified": 0}));
        assert_eq!(body["created_at"], "2026-11-01T09:00:00Z");
    }

    async fn get_tenant_returns_what_create_returned(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let created = app.create_tenant("acme").await;
        let fetched: Value = app.admin_get("/api/v1/tenants/acme").await;
        assert_eq!(fetched, created);
    }

    async fn duplicate_slug_gets_409_and_keeps_the_first_tenant(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let response = app
            .admin(Method::POST, "/api/v1/tenants")
            .json(&json!({"slug": "acme", "name": "Impostor"}))
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::CONFLICT, "tenant_exists").await;
        let kept: Value =
            app.admin_get("/api/v1/tenants/acme").await;
        assert_eq!(kept["name"], "acme Inc");
        assert_eq!(app.tenant_count().await, 1);
    }

    async fn slugs_outside_the_contract_alphabet_are_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let too_long = "a".repeat(64);
        for slug in ["", "Acme", "ac me", "acme_inc", "a/b", "ümlaut", "a.b", too_long.as_str()] {
            let response = app
                .admin(Method::POST, "/api/v1/tenants")
                .json(&json!({"slug": slug, "name": "X"}))
                .send()
                .await
                .expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, "invalid_slug").await;
        }
        let longest = "a".repeat(63);
        app.create_tenant(&longest).await;
        app.create_tenant("0-9").await;
        assert_eq!(app.tenant_count().await, 2);
    }

    async fn tenant_names_are_validated(db: TestDb) {
        let app = TestApp::spawn(db).await;
        for name in ["", "   ", "bad\u{0}name", &"n".repeat(201)] {
            let response = app
                .admin(Method::POST, "/api/v1/tenants")
                .json(&json!({"slug": "acme", "name": name}))
                .send()
                .await
                .expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
        assert_eq!(app.tenant_count().await, 0);
    }

    async fn unknown_tenant_is_404(db: TestDb) {
        let app = TestApp::spawn(db).await;
        for (method, path) in [
            (Method::GET, "/api/v1/tenants/nope"),
            (Method::DELETE, "/api/v1/tenants/nope"),
            (Method::POST, "/api/v1/tenants/nope/scim-tokens"),
            (Method::GET, "/api/v1/tenants/nope/scim-tokens"),
        ] {
            let response = app.admin(method, path).send().await.expect("send");
            expect_error(response, StatusCode::NOT_FOUND, "tenant_not_found").await;
        }
        let response = app
            .admin(Method::PATCH, "/api/v1/tenants/nope")
            .json(&json!({"name": "x"}))
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "tenant_not_found").await;
        let response = app.admin(Method::GET, "/api/v1/tenants/NOPE").send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_slug").await;
    }

    async fn patch_changes_only_the_given_fields(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.clock.advance(time::Duration::minutes(3));
        let response = app
            .admin(Method::PATCH, "/api/v1/tenants/acme")
            .json(&json!({"sso_required": true, "default_role": "member"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["sso_required"], true);
        assert_eq!(body["default_role"], "member");
        assert_eq!(body["name"], "acme Inc");
        assert_eq!(body["jit_enabled"], true);
        assert_eq!(body["updated_at"], "2026-11-01T09:03:00Z");
        assert_eq!(body["created_at"], "2026-11-01T09:00:00Z");

        let body: Value = app
            .admin(Method::PATCH, "/api/v1/tenants/acme")
            .json(&json!({"default_role": null, "jit_enabled": false, "name": "Acme Corporation"}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(body["default_role"], Value::Null);
        assert_eq!(body["jit_enabled"], false);
        assert_eq!(body["sso_required"], true);
        assert_eq!(body["name"], "Acme Corporation");
    }

    async fn patch_refuses_unknown_and_mistyped_fields_and_changes_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let before = app.create_tenant("acme").await;
        for body in [
            json!({"sso_requried": true}),
            json!({"sso_required": "yes"}),
            json!({"name": 5}),
            json!({"slug": "renamed"}),
            json!({"default_role": ""}),
        ] {
            let response =
                app.admin(Method::PATCH, "/api/v1/tenants/acme").json(&body).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        }
        let after: Value =
            app.admin_get("/api/v1/tenants/acme").await;
        assert_eq!(after, before);
    }

    async fn delete_tenant_answers_204_then_404(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let response = app.admin(Method::DELETE, "/api/v1/tenants/acme").send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.bytes().await.expect("body").is_empty());
        let response = app.admin(Method::GET, "/api/v1/tenants/acme").send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "tenant_not_found").await;
        let response = app.admin(Method::DELETE, "/api/v1/tenants/acme").send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "tenant_not_found").await;
    }

    async fn tenant_list_pages_with_cursors_in_creation_order(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let slugs: Vec<String> = (0..5).map(|i| format!("tenant-{i}")).collect();
        for slug in &slugs {
            app.create_tenant(slug).await;
        }
        let mut seen = Vec::new();
        let mut path = "/api/v1/tenants?limit=2".to_owned();
        loop {
            let page: Value = app.admin_get(&path).await;
            let data = page["data"].as_array().expect("data");
            assert!(data.len() <= 2);
            seen.extend(data.iter().map(|t| t["slug"].as_str().expect("slug").to_owned()));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/v1/tenants?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, slugs);
    }

    async fn list_refuses_bad_limits_and_cursors(db: TestDb) {
        let app = TestApp::spawn(db).await;
        for query in ["limit=0", "limit=201", "limit=abc", "limit=-1"] {
            let response =
                app.admin(Method::GET, &format!("/api/v1/tenants?{query}")).send().await.expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
        for cursor in ["garbage!", "AAAA", "x"] {
            let response =
                app.admin(Method::GET, &format!("/api/v1/tenants?cursor={cursor}")).send().await.expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, "invalid_cursor").await;
        }
    }
}
