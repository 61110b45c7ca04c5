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
