//! Groups as Entra ID and Okta write them: one displayName per group in a tenant, and
//! member changes pushed in parallel, from any number of idbridge processes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, ServerProcess, TestApp};
use idbridge_testkit::both_backends;

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn group_body(name: &str) -> Value {
    json!({"schemas": [GROUP], "displayName": name})
}

fn rename(name: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": name}]})
}

both_backends! {
    async fn a_group_name_is_unique_in_its_tenant_ignoring_case(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let engineering = scim.create_group("Engineering", &[]).await;
        let eng_id = engineering["id"].as_str().expect("id").to_owned();
        let events_before = scim.events().await.len();

        // A second group of that name, in any case: 409 uniqueness, nothing written.
        for name in ["Engineering", "ENGINEERING", "engineering"] {
            let err = scim.expect(Method::POST, "/Groups", Some(group_body(name)), StatusCode::CONFLICT).await;
            assert_eq!(err["scimType"], "uniqueness", "{err}");
            assert_eq!(err["status"], "409");
        }
        assert_eq!(scim.get("/Groups").await["totalResults"], 1);
        assert_eq!(scim.events().await.len(), events_before, "a refused create raises no event");

        // Another tenant may have its own Engineering.
        let other = app.scim_tenant("globex").await;
        other.create_group("Engineering", &[]).await;

        // Renaming into a taken name, by PATCH or PUT, is refused the same way and
        // leaves the group as it was.
        let sales = scim.create_group("Sales", &[]).await;
        let sales_id = sales["id"].as_str().expect("id").to_owned();
        let err = scim.expect(Method::PATCH, &format!("/Groups/{sales_id}"), Some(rename("engineering")), StatusCode::CONFLICT).await;
        assert_eq!(err["scimType"], "uniqueness");
        let err = scim.expect(Method::PUT, &format!("/Groups/{sales_id}"), Some(group_body("Engineering")), StatusCode::CONFLICT).await;
        assert_eq!(err["scimType"], "uniqueness");
        assert_eq!(scim.get(&format!("/Groups/{sales_id}")).await["displayName"], "Sales");

        // A group may change the case of its own name; a freed name can be taken.
        scim.expect(Method::PATCH, &format!("/Groups/{eng_id}"), Some(rename("ENGINEERING")), StatusCode::NO_CONTENT).await;
        assert_eq!(scim.get(&format!("/Groups/{eng_id}")).await["displayName"], "ENGINEERING");
        scim.expect(Method::PATCH, &format!("/Groups/{eng_id}"), Some(rename("Platform")), StatusCode::NO_CONTENT).await;
        scim.create_group("Engineering", &[]).await;
        scim.expect(Method::DELETE, &format!("/Groups/{sales_id}"), None, StatusCode::NO_CONTENT).await;
        scim.create_group("sales", &[]).await;
    }

    async fn member_changes_from_two_processes_at_once_all_land(db: TestDb) {
        let a = ServerProcess::start(Some(db.url()), &[], "warn").await;
        let b = ServerProcess::start(Some(db.url()), &[], "warn").await;
        let http = reqwest::Client::new();
        let response = http.post(a.url("/api/v1/tenants")).bearer_auth(ADMIN_KEY)
            .json(&json!({"slug": "acme", "name": "Acme"})).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = http.post(a.url("/api/v1/tenants/acme/scim-tokens")).bearer_auth(ADMIN_KEY)
            .send().await.expect("send").json().await.expect("json");
        let token = created["token"].as_str().expect("token").to_owned();
        let scim = |node: &ServerProcess, method: Method, path: &str, body: Option<Value>| {
            let mut request = http.request(method, node.url(&format!("/scim/v2/acme{path}")))
                .bearer_auth(&token).header("content-type", "application/scim+json");
            if let Some(body) = body {
                request = request.body(body.to_string());
            }
            request.send()
        };

        const USERS: usize = 64;
        let mut user_ids = Vec::new();
        for i in 0..USERS {
            let response = scim(&a, Method::POST, "/Users", Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{i}@acme.com")
            }))).await.expect("send");
            assert_eq!(response.status(), StatusCode::CREATED);
            let user: Value = response.json().await.expect("json");
            user_ids.push(user["id"].as_str().expect("id").to_owned());
        }
        let response = scim(&a, Method::POST, "/Groups", Some(group_body("Everyone"))).await.expect("send");
        let group: Value = response.json().await.expect("json");
        let group_id = group["id"].as_str().expect("id").to_owned();
        let path = format!("/Groups/{group_id}");

        // Every add at once, half through each process, as Entra ID and Okta push
        // memberships in parallel: every one is acknowledged and every one is kept.
        let adds = user_ids.iter().enumerate().map(|(i, user)| {
            let node = if i % 2 == 0 { &a } else { &b };
            scim(node, Method::PATCH, &path, Some(json!({"schemas": [PATCH_OP],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]})))
        });
        for response in futures::future::join_all(adds).await {
            let response = response.expect("send");
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", response.text().await.unwrap_or_default());
        }
        let stored: Value = scim(&b, Method::GET, &path, None).await.expect("send").json().await.expect("json");
        assert_eq!(stored["members"].as_array().expect("members").len(), USERS, "{stored}");

        // Removes and adds mixed, at once: the result is as if applied one by one.
        let changes = user_ids.iter().enumerate().map(|(i, user)| {
            let node = if i % 2 == 0 { &b } else { &a };
            let op = if i < USERS / 2 {
                json!({"op": "remove", "path": format!("members[value eq \"{user}\"]")})
            } else {
                json!({"op": "add", "path": "members", "value": [{"value": user}]})
            };
            scim(node, Method::PATCH, &path, Some(json!({"schemas": [PATCH_OP], "Operations": [op]})))
        });
        for response in futures::future::join_all(changes).await {
            assert_eq!(response.expect("send").status(), StatusCode::NO_CONTENT);
        }
        let stored: Value = scim(&a, Method::GET, &path, None).await.expect("send").json().await.expect("json");
        let mut members: Vec<&str> = stored["members"].as_array().expect("members").iter()
            .filter_map(|m| m["value"].as_str()).collect();
        members.sort_unstable();
        let mut expected: Vec<&str> = user_ids[USERS / 2..].iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(members, expected);

        // Each membership that changed raised exactly one event.
        let events: Value = http.get(a.url("/api/v1/tenants/acme/events?limit=1000")).bearer_auth(ADMIN_KEY)
            .send().await.expect("send").json().await.expect("json");
        let count = |kind: &str| events["data"].as_array().expect("data").iter().filter(|e| e["type"] == kind).count();
        assert_eq!(count("group.member_added"), USERS);
        assert_eq!(count("group.member_removed"), USERS / 2);

        // If-Match still means it: a stale version is refused, and changes nothing.
        let stale = group["meta"]["version"].as_str().expect("version").to_owned();
        let response = scim(&a, Method::PATCH, &path, Some(json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user_ids[0]}]}]})))
            .await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let response = http.patch(b.url(&format!("/scim/v2/acme{path}"))).bearer_auth(&token)
            .header("content-type", "application/scim+json").header("if-match", &stale)
            .body(json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]}).to_string())
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
        let stored: Value = scim(&b, Method::GET, &path, None).await.expect("send").json().await.expect("json");
        assert_eq!(stored["members"].as_array().expect("members").len(), USERS / 2 + 1);
    }
}
