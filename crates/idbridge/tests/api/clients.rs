use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error};
use idbridge_testkit::both_backends;

both_backends! {
    async fn client_secret_is_shown_once_and_stored_only_hashed(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let response = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app", "redirect_uris": ["https://app.example.com/cb", "http://127.0.0.1:9/cb"]}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("json");
        let client_id = created["client_id"].as_str().expect("client_id").to_owned();
        let secret = created["client_secret"].as_str().expect("secret").to_owned();
        assert!(secret.starts_with("idb_cs_") && secret.len() == "idb_cs_".len() + 43, "{secret}");
        assert_eq!(created["redirect_uris"], json!(["https://app.example.com/cb", "http://127.0.0.1:9/cb"]));
        assert_eq!(created["public"], false);

        let fetched: Value = app.admin_get(&format!("/api/v1/clients/{client_id}")).await;
        assert_eq!(fetched.get("client_secret"), None);
        assert_eq!(fetched["name"], "app");
        let listed = app.admin(Method::GET, "/api/v1/clients").send().await.expect("send").text().await.expect("text");
        assert!(listed.contains(&client_id));
        assert!(!listed.contains(&secret));

        // What the database holds is the digest, never the secret.
        let stored = app.store.client_secret_hash(client_id.parse().expect("uuid")).await.expect("hash");
        assert_eq!(stored, Some(idbridge_core::secret::SecretHash::of(&secret)));
    }

    async fn public_clients_get_no_secret(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let created: Value = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "spa", "redirect_uris": ["https://spa.example.com/cb"], "public": true}))
            .send().await.expect("send").json().await.expect("json");
        assert_eq!(created["public"], true);
        assert_eq!(created.get("client_secret"), None);
    }

    async fn invalid_redirect_uris_are_refused_and_nothing_is_created(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let bad_lists = [
            json!([]),
            json!(["/relative"]),
            json!(["javascript:alert(1)"]),
            json!(["https://app.example.com/cb#frag"]),
            json!(["https://user:pw@app.example.com/cb"]),
            json!(["https://a.example/cb", "https://a.example/cb"]),
            json!((0..21).map(|i| format!("https://a.example/{i}")).collect::<Vec<_>>()),
        ];
        for uris in bad_lists {
            let response = app
                .admin(Method::POST, "/api/v1/clients")
                .json(&json!({"name": "app", "redirect_uris": uris}))
                .send().await.expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
        let response = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app"}))
            .send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
        let listed: Value = app.admin_get("/api/v1/clients").await;
        assert_eq!(listed["data"], json!([]));
        assert_eq!(listed["next_cursor"], Value::Null);
    }

    async fn delete_client_answers_204_then_404(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let created: Value = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app", "redirect_uris": ["https://app.example.com/cb"]}))
            .send().await.expect("send").json().await.expect("json");
        let path = format!("/api/v1/clients/{}", created["client_id"].as_str().expect("id"));
        let response = app.admin(Method::DELETE, &path).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let response = app.admin(Method::GET, &path).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app.admin(Method::DELETE, &path).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app.admin(Method::GET, "/api/v1/clients/not-a-uuid").send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}
