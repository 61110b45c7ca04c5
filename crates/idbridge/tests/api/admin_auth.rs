use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error};
use idbridge_app::credentials;
use idbridge_testkit::both_backends;

both_backends! {
    async fn every_admin_route_requires_a_key(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let id = uuid::Uuid::now_v7();
        let routes = [
            (Method::POST, "/api/v1/tenants".to_owned()),
            (Method::GET, "/api/v1/tenants".to_owned()),
            (Method::GET, "/api/v1/tenants/acme".to_owned()),
            (Method::PATCH, "/api/v1/tenants/acme".to_owned()),
            (Method::DELETE, "/api/v1/tenants/acme".to_owned()),
            (Method::POST, "/api/v1/clients".to_owned()),
            (Method::GET, "/api/v1/clients".to_owned()),
            (Method::GET, format!("/api/v1/clients/{id}")),
            (Method::DELETE, format!("/api/v1/clients/{id}")),
            (Method::POST, "/api/v1/tenants/acme/scim-tokens".to_owned()),
            (Method::GET, "/api/v1/tenants/acme/scim-tokens".to_owned()),
            (Method::DELETE, format!("/api/v1/tenants/acme/scim-tokens/{id}")),
            (Method::POST, "/api/v1/tenants/acme/domains".to_owned()),
            (Method::GET, "/api/v1/tenants/acme/domains".to_owned()),
            (Method::POST, "/api/v1/tenants/acme/domains/acme.test/verify".to_owned()),
            (Method::DELETE, "/api/v1/tenants/acme/domains/acme.test".to_owned()),
            (Method::GET, "/api/v1/lookup?email=jane%40acme.test".to_owned()),
        ];
        // And every operation the OpenAPI document lists, so a new route cannot be
        // forgotten here.
        let openapi: Value = app.http.get(app.url("/api/v1/openapi.json"))
            .send().await.expect("send").json().await.expect("json");
        let mut documented = Vec::new();
        for (path, operations) in openapi["paths"].as_object().expect("paths") {
            let concrete = path
                .replace("{slug}", "acme")
                .replace("{domain}", "acme.test")
                .replace("{id}", &id.to_string())
                .replace("{client_id}", &id.to_string())
                .replace("{user_id}", &id.to_string())
                .replace("{group_id}", &id.to_string());
            assert!(!concrete.contains('{'), "add a value for {path}");
            for method in operations.as_object().expect("operations").keys() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
                documented.push((method, format!("/api/v1{concrete}")));
            }
        }
        assert!(documented.len() >= routes.len(), "{documented:?}");
        for (method, path) in routes.into_iter().chain(documented) {
            let response = app.http.request(method.clone(), app.url(&path)).json(&json!({})).send().await.expect("send");
            assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"idbridge-admin\"");
            expect_error(response, StatusCode::UNAUTHORIZED, "missing_credentials").await;
            let response = app
                .http
                .request(method, app.url(&path))
                .bearer_auth("not-the-key")
                .json(&json!({}))
                .send()
                .await
                .expect("send");
            expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        }
        // Nothing above reached a handler.
        assert_eq!(app.tenant_count().await, 1);
    }

    async fn malformed_authorization_headers_are_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let url = app.url("/api/v1/tenants");
        for value in ["Basic dGVzdDp0ZXN0", "Bearer", "Bearer ", crate::helpers::ADMIN_KEY, "Token x"] {
            let response = app.http.get(&url).header("authorization", value).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
        }
        let almost = format!("{}x", crate::helpers::ADMIN_KEY);
        let response = app.http.get(&url).bearer_auth(almost).send().await.expect("send");
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        let response = app.http.get(&url).header("authorization", format!("bearer {}", crate::helpers::ADMIN_KEY)).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK, "the scheme is case-insensitive");
    }

    async fn created_admin_keys_work_until_revoked(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let created = credentials::create_admin_key(&app.state.app, "ci", &idbridge_app::audit::Audit::cli(None)).await.expect("create");
        let key = created.key.expose_secret().to_owned();
        assert!(key.starts_with("idb_admin_"));
        let response = app.http.get(app.url("/api/v1/tenants")).bearer_auth(&key).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let listed = credentials::list_admin_keys(&app.state.app, idbridge_store::PageRequest::first(10)).await.expect("list");
        assert!(listed.items[0].last_used_at.is_some());
        credentials::revoke_admin_key(&app.state.app, created.record.id, &idbridge_app::audit::Audit::cli(None)).await.expect("revoke");
        let response = app.http.get(app.url("/api/v1/tenants")).bearer_auth(&key).send().await.expect("send");
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }

    async fn openapi_document_and_health_need_no_key(db: TestDb) {
        let app = TestApp::spawn(db).await;
        assert_eq!(app.http.get(app.url("/api/v1/openapi.json")).send().await.expect("send").status(), StatusCode::OK);
        assert_eq!(app.http.get(app.url("/healthz")).send().await.expect("send").status(), StatusCode::OK);
    }
}
