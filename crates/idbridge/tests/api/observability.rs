use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;
use idbridge_testkit::both_backends;

both_backends! {
    async fn healthz_is_200_when_the_database_answers(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let response = app.http.get(app.url("/healthz")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
    }

    async fn healthz_is_503_when_the_database_is_gone(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.store.close().await;
        let response = app.http.get(app.url("/healthz")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = app.admin(Method::GET, "/api/v1/tenants").send().await.expect("send");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "unavailable");
    }

    async fn metrics_count_requests_by_route_template_not_raw_path(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("secret-customer-name").await;
        app.admin(Method::GET, "/api/v1/tenants/secret-customer-name").send().await.expect("send");
        app.admin(Method::GET, "/api/v1/does-not-exist").send().await.expect("send");
        let response = app.http.get(app.url("/metrics")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().expect("ct").starts_with("application/openmetrics-text"));
        let text = response.text().await.expect("text");
        assert!(text.contains(r#"idbridge_http_requests_total{method="POST",route="/api/v1/tenants",status="201"} 1"#), "{text}");
        assert!(text.contains(r#"idbridge_http_requests_total{method="GET",route="/api/v1/tenants/{slug}",status="200"} 1"#), "{text}");
        assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
        assert!(text.contains("idbridge_http_request_duration_seconds_bucket"), "{text}");
        assert!(!text.contains("secret-customer-name"), "raw paths must not become labels");
    }

    async fn every_response_carries_a_request_id(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let response = app.http.get(app.url("/healthz")).send().await.expect("send");
        let generated = response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
        assert_eq!(generated.len(), 36, "a UUID: {generated}");
        let response = app
            .http
            .get(app.url("/api/v1/tenants"))
            .header("x-request-id", "caller-chosen-id")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["x-request-id"], "caller-chosen-id");
    }

    async fn openapi_document_is_3_1_and_covers_every_admin_route(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let doc: Value = app.http.get(app.url("/api/v1/openapi.json")).send().await.expect("send").json().await.expect("json");
        assert_eq!(doc["openapi"], "3.1.0");
        let expected = [
            ("/tenants", "post"),
            ("/tenants", "get"),
            ("/tenants/{slug}", "get"),
            ("/tenants/{slug}", "patch"),
            ("/tenants/{slug}", "delete"),
            ("/clients", "post"),
            ("/clients", "get"),
            ("/clients/{client_id}", "get"),
            ("/clients/{client_id}", "delete"),
            ("/tenants/{slug}/scim-tokens", "post"),
            ("/tenants/{slug}/scim-tokens", "get"),
            ("/tenants/{slug}/scim-tokens/{id}", "delete"),
        ];
        for (path, method) in expected {
            assert!(doc["paths"][path][method].is_object(), "{method} {path} is missing from the OpenAPI document");
        }
        assert!(doc["components"]["schemas"]["TenantDetail"].is_object());
        assert!(doc["components"]["securitySchemes"]["admin_api_key"].is_object());
    }
}
