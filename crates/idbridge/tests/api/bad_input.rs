use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, expect_error};
use idbridge_testkit::both_backends;

both_backends! {
    async fn malformed_json_is_400_and_writes_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        for body in ["{", "{\"slug\": \"acme\", \"name\": }", "not json", "{\"slug\":\"acme\",\"name\":\"A\"} trailing", ""] {
            let response = app
                .admin(Method::POST, "/api/v1/tenants")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
        }
        assert_eq!(app.tenant_count().await, 0);
    }

    async fn wrong_shapes_are_400_invalid_body(db: TestDb) {
        let app = TestApp::spawn(db).await;
        for body in [
            json!({"slug": "acme"}),
            json!({"slug": "acme", "name": "A", "extra": 1}),
            json!({"slug": 7, "name": "A"}),
            json!(["acme"]),
            json!(null),
        ] {
            let response = app.admin(Method::POST, "/api/v1/tenants").json(&body).send().await.expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
        }
        assert_eq!(app.tenant_count().await, 0);
    }

    async fn a_nul_in_a_json_body_is_400_and_writes_nothing(db: TestDb) {
        // U+0000 (`\u0000`) in any field: refused before any rule reads it. Without
        // this, PostgreSQL refused the write with a 500 and SQLite stored it.
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        for (method, path, body) in [
            (Method::POST, "/api/v1/tenants/acme/users", json!({"email": "a\u{0}@acme.example"})),
            (Method::POST, "/api/v1/clients", json!({"name": "app", "redirect_uris": ["https://app.example.com/cb\u{0}"]})),
            (Method::PATCH, "/api/v1/tenants/acme", json!({"name": "Acme\u{0}"})),
        ] {
            let response = app.admin(method, path).json(&body).send().await.expect("send");
            let error = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
            assert!(error["message"].as_str().expect("message").contains("U+0000"), "{path}: {error}");
        }
        // A query's parameter too.
        let response = app.admin(Method::GET, "/api/v1/tenants/acme/users?email=a%00").send().await.expect("send");
        let error = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(error["message"].as_str().expect("message").contains("U+0000"), "{error}");
        let users: serde_json::Value = app.admin_get("/api/v1/tenants/acme/users").await;
        assert_eq!(users["data"], json!([]));
        let clients: serde_json::Value = app.admin_get("/api/v1/clients").await;
        assert_eq!(clients["data"], json!([]));
        let tenant: serde_json::Value = app.admin_get("/api/v1/tenants/acme").await;
        assert_eq!(tenant["name"], "acme Inc");
        // A backslash before `u0000` is text, not NUL.
        let response = app
            .admin(Method::POST, "/api/v1/tenants/acme/users")
            .json(&json!({"email": "a@acme.example", "name": {"givenName": "\\u0000"}}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.text().await);
    }

    async fn non_json_content_type_is_415(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let response = app
            .admin(Method::POST, "/api/v1/tenants")
            .body(r#"{"slug":"acme","name":"A"}"#)
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
        let response = app
            .admin(Method::POST, "/api/v1/tenants")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("slug=acme&name=A")
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
        assert_eq!(app.tenant_count().await, 0);
    }

    async fn oversize_bodies_are_413(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let huge = format!(r#"{{"slug":"acme","name":"{}"}}"#, "x".repeat(idbridge_server::ADMIN_BODY_LIMIT));
        let response = app
            .admin(Method::POST, "/api/v1/tenants")
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        app.create_tenant("acme").await;
        let response = app
            .admin(Method::POST, "/api/v1/tenants/acme/scim-tokens")
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        assert_eq!(app.tenant_count().await, 1);
    }

    async fn unknown_routes_and_methods_get_json_errors(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let response = app.admin(Method::GET, "/api/v1/nothing-here").send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "no_route").await;
        let response = app.admin(Method::PUT, "/api/v1/tenants").send().await.expect("send");
        expect_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }
}
