//! Setup links through the admin API: created with a URL shown once, listed without
//! it, revoked, refused when malformed.

use idbridge_testkit::both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error};

/// Creates a link for `slug`; returns (the answer, the token in its URL).
pub async fn create_link(app: &TestApp, slug: &str, body: Value) -> (Value, String) {
    let response = app
        .admin(Method::POST, &format!("/api/v1/tenants/{slug}/setup-links"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("json");
    let url = created["url"].as_str().expect("url");
    let token = url
        .split_once("/setup?token=")
        .map(|(_, t)| t.to_owned())
        .expect("a /setup?token= URL");
    assert!(token.starts_with("idb_setup_"), "{token}");
    (created, token)
}

both_backends! {
    async fn a_link_is_shown_once_listed_without_its_token_and_revocable(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let (created, token) = create_link(&app, "acme", json!({"provider": "entra", "note": "Jane, Acme IT"})).await;
        assert_eq!(created["tenant"], "acme");
        assert_eq!(created["provider"], "entra");
        assert_eq!(created["state"], "active");
        assert!(created["url"].as_str().expect("url").starts_with(&app.base));
        let created_at = time::OffsetDateTime::parse(created["created_at"].as_str().expect("t"), &time::format_description::well_known::Rfc3339).expect("time");
        let expires_at = time::OffsetDateTime::parse(created["expires_at"].as_str().expect("t"), &time::format_description::well_known::Rfc3339).expect("time");
        assert_eq!(expires_at - created_at, time::Duration::hours(72), "default lifetime");

        let list: Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        assert_eq!(list["data"].as_array().expect("data").len(), 1);
        assert!(!list.to_string().contains(&token), "the token is never shown again");
        assert!(list["data"][0].get("url").is_none());

        let id = created["id"].as_str().expect("id");
        let response = app.admin(Method::DELETE, &format!("/api/v1/tenants/acme/setup-links/{id}"))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let list: Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        assert_eq!(list["data"][0]["state"], "revoked");

        // Another tenant's link id is not found under this tenant.
        app.create_tenant("globex").await;
        let (other, _) = create_link(&app, "globex", json!({})).await;
        let response = app.admin(Method::DELETE, &format!("/api/v1/tenants/acme/setup-links/{}", other["id"].as_str().expect("id")))
            .send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }

    async fn bad_link_requests_are_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        for (body, status, code) in [
            (json!({"expires_in_hours": 0}), StatusCode::BAD_REQUEST, "invalid_request"),
            (json!({"expires_in_hours": 721}), StatusCode::BAD_REQUEST, "invalid_request"),
            (json!({"provider": "ping"}), StatusCode::BAD_REQUEST, "invalid_body"),
            (json!({"note": "a\u{0007}b"}), StatusCode::BAD_REQUEST, "invalid_request"),
            (json!({"tenant": "globex"}), StatusCode::BAD_REQUEST, "invalid_body"),
        ] {
            let response = app.admin(Method::POST, "/api/v1/tenants/acme/setup-links")
                .json(&body).send().await.expect("send");
            expect_error(response, status, code).await;
        }
        let response = app.admin(Method::POST, "/api/v1/tenants/nope/setup-links")
            .json(&json!({})).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "tenant_not_found").await;
        let list: Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        assert!(list["data"].as_array().expect("data").is_empty(), "nothing was created");
    }
}
