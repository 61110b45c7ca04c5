//! Users the operator creates by hand (`source: manual`), invitations, and the
//! audit log, over real HTTP on both backends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error, run_cli};
use idbridge_testkit::both_backends;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.admin(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("json")
    };
    (status, value)
}

async fn audit_log(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = send(app, Method::GET, &format!("/api/v1/audit-log{query}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().cloned().unwrap_or_default()
}

async fn users(app: &TestApp, slug: &str) -> Vec<Value> {
    let (_, body) = send(
        app,
        Method::GET,
        &format!("/api/v1/tenants/{slug}/users"),
        None,
    )
    .await;
    body["data"].as_array().cloned().unwrap_or_default()
}

both_backends! {
    async fn an_operator_creates_changes_and_deletes_a_user_by_hand(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        send(&app, Method::PUT, "/api/v1/app-roles", Some(json!({"roles": ["Admin", "Member"]}))).await;

        let (status, user) = send(&app, Method::POST, "/api/v1/tenants/acme/users", Some(json!({
            "email": " Ada@Acme.example ",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "roles": ["member"],
        }))).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        assert_eq!(user["source"], "manual");
        assert_eq!(user["user_name"], "ada@acme.example");
        assert_eq!(user["email"], "ada@acme.example");
        assert_eq!(user["display_name"], "Ada Lovelace");
        assert_eq!(user["roles"], json!(["Member"]), "the app's spelling of the role");
        assert_eq!(user["active"], true);
        let id = user["id"].as_str().expect("id").to_owned();

        // The user is a directory user like any other: SCIM reads it.
        let scim_view = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(scim_view["userName"], "ada@acme.example");
        assert_eq!(scim_view["name"]["familyName"], "Lovelace");

        // Deactivate and rename: the family name stays.
        let (status, changed) = send(&app, Method::PATCH, &format!("/api/v1/tenants/acme/users/{id}"), Some(json!({
            "active": false,
            "name": {"givenName": "Augusta"},
            "roles": ["Admin"],
        }))).await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["active"], false);
        assert_eq!(changed["given_name"], "Augusta");
        assert_eq!(changed["family_name"], "Lovelace");
        assert_eq!(changed["display_name"], "Augusta Lovelace");
        assert_eq!(changed["roles"], json!(["Admin"]));

        let (status, _) = send(&app, Method::DELETE, &format!("/api/v1/tenants/acme/users/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(users(&app, "acme").await.is_empty());

        let events = scim.events().await;
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap_or_default()).collect();
        assert_eq!(kinds, ["user.created", "user.updated", "user.deactivated", "user.deleted"]);
        assert_eq!(events[0]["data"]["source"], "manual");
        assert_eq!(events[0]["data"]["user"]["userName"], "ada@acme.example");

        // Each change is in the audit log, newest first, with who and from where.
        let records = audit_log(&app, "?tenant=acme").await;
        let actions: Vec<&str> = records.iter().map(|r| r["action"].as_str().unwrap_or_default()).collect();
        assert_eq!(actions, ["user.deleted", "user.updated", "user.created", "scim_token.created", "tenant.created"]);
        for record in &records {
            assert_eq!(record["actor"], json!({"kind": "admin_key", "id": "bootstrap"}));
            assert_eq!(record["tenant"], "acme");
            assert_eq!(record["ip"], "127.0.0.1");
        }
        assert_eq!(records[0]["target"], id.as_str());
        assert_eq!(records[1]["changes"], json!({"active": false, "name": {"givenName": "Augusta"}, "roles": ["Admin"]}));
        assert_eq!(records[2]["changes"]["email"], "ada@acme.example");
    }

    async fn bad_manual_users_are_refused_and_nothing_is_written(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        scim.create_user("grace@acme.example").await;
        send(&app, Method::PUT, "/api/v1/app-roles", Some(json!({"roles": ["Admin", "Member"]}))).await;
        let before = audit_log(&app, "").await.len();
        let path = "/api/v1/tenants/acme/users";
        for (body, status, code) in [
            (json!({"email": "not-an-email"}), StatusCode::BAD_REQUEST, "invalid_email"),
            (json!({"email": "a b@acme.example"}), StatusCode::BAD_REQUEST, "invalid_request"),
            (json!({"email": "ada@acme.example", "roles": ["Owner"]}), StatusCode::BAD_REQUEST, "invalid_request"),
            (json!({"email": "ada@acme.example", "name": {"givenName": "  "}}), StatusCode::BAD_REQUEST, "invalid_request"),
            (json!({"email": "ada@acme.example", "password": "x"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            (json!({"email": "GRACE@acme.example"}), StatusCode::CONFLICT, "user_exists"),
        ] {
            let response = app.admin(Method::POST, path).json(&body).send().await.expect("send");
            let got = response.status();
            if got == StatusCode::UNPROCESSABLE_ENTITY || got == StatusCode::BAD_REQUEST && code == "invalid_body" {
                continue;
            }
            expect_error(response, status, code).await;
        }
        let response = app.admin(Method::POST, "/api/v1/tenants/nope/users").json(&json!({"email": "a@b.example"})).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "tenant_not_found").await;
        assert_eq!(users(&app, "acme").await.len(), 1, "only the SCIM user");
        assert_eq!(audit_log(&app, "").await.len(), before, "a refusal is not a change");

        // A user the IdP provisions is changed in the IdP.
        let grace = &users(&app, "acme").await[0];
        let id = grace["id"].as_str().expect("id");
        let response = app.admin(Method::PATCH, &format!("{path}/{id}")).json(&json!({"active": false})).send().await.expect("send");
        expect_error(response, StatusCode::CONFLICT, "managed_by_scim").await;
        assert_eq!(users(&app, "acme").await[0]["active"], true);
        let response = app.admin(Method::PATCH, &format!("{path}/0190b1a0-0000-7000-8000-000000000000")).json(&json!({"active": false})).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(audit_log(&app, "").await.len(), before);
    }

    async fn a_scim_create_adopts_the_user_made_by_hand(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        let (_, by_userame) = send(&app, Method::POST, "/api/v1/tenants/acme/users", Some(json!({"email": "ada@acme.example"}))).await;
        let (_, by_email) = send(&app, Method::POST, "/api/v1/tenants/acme/users", Some(json!({"email": "grace@acme.example"}))).await;

        // Same userName, another case: the same user, now SCIM's.
        let adopted = scim.expect(Method::POST, "/Users", Some(json!({
            "schemas": [USER], "userName": "Ada@Acme.example", "externalId": "e-ada",
            "name": {"givenName": "Ada", "familyName": "Lovelace"}, "active": true,
        })), StatusCode::CREATED).await;
        assert_eq!(adopted["id"], by_userame["id"]);
        assert_eq!(adopted["externalId"], "e-ada");
        // Another userName (Entra's UPN) with the address among its emails.
        let adopted = scim.expect(Method::POST, "/Users", Some(json!({
            "schemas": [USER], "userName": "ghopper@acme.onmicrosoft.example",
            "emails": [{"value": "Grace@acme.example", "type": "work", "primary": true}],
        })), StatusCode::CREATED).await;
        assert_eq!(adopted["id"], by_email["id"]);

        let listed = users(&app, "acme").await;
        assert_eq!(listed.len(), 2, "no second user was made");
        assert!(listed.iter().all(|u| u["source"] == "scim"), "{listed:?}");
        // Adopted users are the IdP's now: no longer changed by hand.
        let id = listed[0]["id"].as_str().expect("id");
        let response = app.admin(Method::PATCH, &format!("/api/v1/tenants/acme/users/{id}")).json(&json!({"active": false})).send().await.expect("send");
        expect_error(response, StatusCode::CONFLICT, "managed_by_scim").await;
        // A SCIM user is not adopted: a second create is still a conflict.
        scim.expect(Method::POST, "/Users", Some(json!({"schemas": [USER], "userName": "ADA@acme.example"})), StatusCode::CONFLICT).await;
    }

    async fn users_created_while_invitations_are_on_are_invited(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("acme").await;
        scim.create_user("before@acme.example").await;
        let (status, tenant) = send(&app, Method::PATCH, "/api/v1/tenants/acme", Some(json!({"invite_new_users": true}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(tenant["invite_new_users"], true);
        scim.create_user("scim@acme.example").await;
        send(&app, Method::POST, "/api/v1/tenants/acme/users", Some(json!({"email": "manual@acme.example"}))).await;
        send(&app, Method::PATCH, "/api/v1/tenants/acme", Some(json!({"invite_new_users": false}))).await;
        scim.create_user("after@acme.example").await;

        let invited: Vec<String> = scim.events().await.iter()
            .filter(|e| e["type"] == "user.invited")
            .map(|e| e["data"]["user"]["userName"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(invited, ["scim@acme.example", "manual@acme.example"]);
        let changes: Vec<Value> = audit_log(&app, "?action=tenant.updated").await.iter().map(|r| r["changes"].clone()).collect();
        assert_eq!(changes, [json!({"invite_new_users": false}), json!({"invite_new_users": true})]);
    }

    async fn the_audit_log_outlives_its_tenant_and_filters_and_pages(db: TestDb) {
        let app = TestApp::spawn(db).await;
        for slug in ["acme", "globex", "initech"] {
            app.create_tenant(slug).await;
        }
        send(&app, Method::PATCH, "/api/v1/tenants/globex", Some(json!({"name": "Globex Corp", "sso_required": true}))).await;
        let (status, _) = send(&app, Method::DELETE, "/api/v1/tenants/acme", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let acme = audit_log(&app, "?tenant=acme").await;
        let actions: Vec<&str> = acme.iter().map(|r| r["action"].as_str().unwrap_or_default()).collect();
        assert_eq!(actions, ["tenant.deleted", "tenant.created"], "kept after the tenant is gone");
        let updated = audit_log(&app, "?action=tenant.updated").await;
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0]["changes"], json!({"name": "Globex Corp", "sso_required": true}));
        assert_eq!(audit_log(&app, "?actor=admin_key").await.len(), 5);
        assert_eq!(audit_log(&app, "?actor=admin_key:bootstrap").await.len(), 5);
        assert_eq!(audit_log(&app, "?actor=operator").await.len(), 0);

        // Pages of two, newest first, continue by cursor.
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let (_, page) = send(&app, Method::GET, &format!("/api/v1/audit-log?limit=2{cursor}"), None).await;
            seen.extend(page["data"].as_array().expect("data").iter().map(|r| r["id"].clone()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        let all: Vec<Value> = audit_log(&app, "?limit=200").await.iter().map(|r| r["id"].clone()).collect();
        assert_eq!(seen, all);
        assert_eq!(all.len(), 5);

        for query in ["?action=tenant.renamed", "?actor=robot:1", "?tenant=Not_A_Slug", "?limit=0"] {
            let response = app.admin(Method::GET, &format!("/api/v1/audit-log{query}")).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        }
    }
}

both_backends! {
    async fn the_cli_creates_deactivates_and_deletes_users_and_each_change_is_audited(db: TestDb) {
        let url = db.url().to_owned();
        let (code, _, err) = run_cli(&url, &["tenant", "create", "--slug", "acme", "--name", "Acme Inc"]).await;
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = run_cli(&url, &[
            "user", "create", "--tenant", "acme", "--email", "Ada@Acme.example",
            "--given-name", "Ada", "--role", "Member",
        ]).await;
        assert_eq!(code, 0, "{err}");
        let user: Value = serde_json::from_str(&out).expect("JSON user");
        assert_eq!((user["source"].as_str(), user["user_name"].as_str()), (Some("manual"), Some("ada@acme.example")));
        let id = user["id"].as_str().expect("id").to_owned();

        let (code, _, err) = run_cli(&url, &["user", "create", "--tenant", "acme", "--email", "ada@acme.example"]).await;
        assert_ne!(code, 0);
        assert!(err.contains("ada@acme.example"), "{err}");
        let (code, out, err) = run_cli(&url, &["user", "deactivate", "--tenant", "acme", &id]).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(serde_json::from_str::<Value>(&out).expect("JSON")["active"], false);
        let (code, _, err) = run_cli(&url, &["user", "delete", "--tenant", "acme", &id]).await;
        assert_eq!(code, 0, "{err}");

        let (code, out, err) = run_cli(&url, &["audit-log", "--tenant", "acme"]).await;
        assert_eq!(code, 0, "{err}");
        let log: Value = serde_json::from_str(&out).expect("JSON page");
        let records = log["data"].as_array().expect("data");
        let actions: Vec<&str> = records.iter().map(|r| r["action"].as_str().unwrap_or_default()).collect();
        assert_eq!(actions, ["user.deleted", "user.updated", "user.created", "tenant.created"]);
        assert!(records.iter().all(|r| r["actor"]["kind"] == "cli" && r["ip"].is_null()), "{records:?}");

        // An admin key made on the server is recorded, never the key.
        let (code, out, err) = run_cli(&url, &["admin-key", "create", "--name", "ci"]).await;
        assert_eq!(code, 0, "{err}");
        let key: Value = serde_json::from_str(&out).expect("JSON key");
        let (_, out, _) = run_cli(&url, &["audit-log", "--action", "admin_key.created"]).await;
        let log: Value = serde_json::from_str(&out).expect("JSON page");
        assert_eq!(log["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(log["data"][0]["changes"]["name"], "ci");
        assert!(!out.contains(key["admin_api_key"].as_str().expect("key")));
    }
}

both_backends! {
    async fn the_housekeeping_sweep_keeps_a_year_of_audit_records(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.clock.advance(time::Duration::days(300));
        app.create_tenant("globex").await;
        app.clock.advance(time::Duration::days(100));
        idbridge_app::jobs::sweep_history(&app.state.app).await;
        let left: Vec<Value> = audit_log(&app, "").await.iter().map(|r| r["tenant"].clone()).collect();
        assert_eq!(left, [json!("globex")], "the record older than 365 days went");
    }
}

both_backends! {
    async fn changes_to_the_sso_setup_are_audited_without_their_secrets(db: TestDb) {
        use idbridge_testkit::saml::{Key, TestIdp};
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let idp = TestIdp::entra(Key::Rsa2048);
        let (status, body) = send(&app, Method::PUT, "/api/v1/tenants/acme/saml", Some(json!({"idp_metadata_xml": idp.metadata_xml()}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let second = TestIdp::okta(Key::Rsa2048);
        let (status, created) = send(&app, Method::POST, "/api/v1/tenants/acme/connections", Some(json!({
            "type": "saml", "name": "Okta", "idp_metadata_xml": second.metadata_xml(), "domains": ["okta.acme.example"],
        }))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        let (status, _) = send(&app, Method::PATCH, &format!("/api/v1/tenants/acme/connections/{id}"), Some(json!({"name": "Okta (EU)"}))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = send(&app, Method::DELETE, &format!("/api/v1/tenants/acme/connections/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (token_id, token) = app.create_scim_token("acme").await;
        let (status, _) = send(&app, Method::DELETE, &format!("/api/v1/tenants/acme/scim-tokens/{token_id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = send(&app, Method::POST, "/api/v1/tenants/acme/domains", Some(json!({"domain": "acme.example"}))).await;
        assert_eq!(status, StatusCode::CREATED);
        // Claiming it again changes nothing, and records nothing.
        send(&app, Method::POST, "/api/v1/tenants/acme/domains", Some(json!({"domain": "acme.example"}))).await;
        let (status, _) = send(&app, Method::DELETE, "/api/v1/tenants/acme/domains/acme.example", None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // A refused change records nothing.
        let (status, _) = send(&app, Method::PUT, "/api/v1/tenants/acme/saml", Some(json!({"idp_metadata_xml": "<html/>"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let records = audit_log(&app, "?tenant=acme").await;
        let actions: Vec<&str> = records.iter().rev().map(|r| r["action"].as_str().unwrap_or_default()).collect();
        assert_eq!(actions, [
            "tenant.created", "saml.configured",
            "connection.created", "connection.updated", // a second SAML connection is made, then named
            "connection.updated", "connection.deleted",
            "scim_token.created", "scim_token.revoked", "domain.added", "domain.removed",
        ]);
        let saml = &records[records.len() - 2];
        assert_eq!(saml["changes"]["idp_entity_id"], idp.metadata_xml().split("entityID=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or_default());
        assert_eq!((records[2]["target"].as_str(), records[3]["target"].as_str()), (Some(token_id.as_str()), Some(token_id.as_str())));
        let everything = serde_json::to_string(&records).expect("json");
        assert!(!everything.contains(&token), "a SCIM token never reaches the audit log");
        assert!(!everything.contains("BEGIN CERTIFICATE") && !everything.contains("<md:"), "no metadata or certificates");
    }
}

both_backends! {
    async fn roles_clients_links_and_webhooks_are_audited_and_their_secrets_are_not(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let (status, _) = send(&app, Method::PUT, "/api/v1/app-roles", Some(json!({"roles": ["Admin", "Member"]}))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = send(&app, Method::PUT, "/api/v1/tenants/acme/role-mappings", Some(json!({
            "mappings": [{"source": "group", "value": "Admins", "role": "Admin"}], "policy": "all",
        }))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, client) = send(&app, Method::POST, "/api/v1/clients", Some(json!({"name": "app", "redirect_uris": ["https://app.example/cb"]}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let client_id = client["client_id"].as_str().expect("id").to_owned();
        let client_secret = client["client_secret"].as_str().expect("secret").to_owned();
        let (status, _) = send(&app, Method::DELETE, &format!("/api/v1/clients/{client_id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (link, link_token) = crate::setup_links::create_link(&app, "acme", json!({"provider": "okta"})).await;
        let link_id = link["id"].as_str().expect("id").to_owned();
        let (status, _) = send(&app, Method::DELETE, &format!("/api/v1/tenants/acme/setup-links/{link_id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        // A URL that carries its own credential (as Slack's do, in the path and the query).
        let (status, hook) = send(&app, Method::POST, "/api/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/services/T0/B0/pathsecret42?sig=querysecret42", "tenant": "acme"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        let hook_id = hook["id"].as_str().expect("id").to_owned();
        let first_secret = hook["secret"].as_str().expect("secret").to_owned();
        let (status, _) = send(&app, Method::PATCH, &format!("/api/v1/webhooks/{hook_id}"), Some(json!({"enabled": false}))).await;
        assert_eq!(status, StatusCode::OK);
        let (status, rotated) = send(&app, Method::POST, &format!("/api/v1/webhooks/{hook_id}/rotate-secret"), None).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let (status, _) = send(&app, Method::DELETE, &format!("/api/v1/webhooks/{hook_id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let records = audit_log(&app, "?limit=200").await;
        let actions: Vec<&str> = records.iter().rev().map(|r| r["action"].as_str().unwrap_or_default()).collect();
        assert_eq!(actions, [
            "tenant.created", "app_roles.updated", "role_mappings.updated", "client.created", "client.deleted",
            "setup_link.created", "setup_link.revoked", "webhook.created", "webhook.updated",
            "webhook.secret_rotated", "webhook.deleted",
        ]);
        // Changes to the endpoint of one tenant name that tenant.
        for record in records.iter().filter(|r| r["action"].as_str().is_some_and(|a| a.starts_with("webhook."))) {
            assert_eq!(record["tenant"], "acme", "{record}");
        }
        let mappings = records.iter().find(|r| r["action"] == "role_mappings.updated").expect("mappings");
        assert_eq!(mappings["tenant"], "acme");
        assert_eq!(mappings["changes"]["mappings"][0]["value"], "Admins");
        let created = records.iter().find(|r| r["action"] == "webhook.created").expect("created");
        assert_eq!(created["changes"]["url"]["origin"], "http://127.0.0.1:9", "{created}");
        let everything = serde_json::to_string(&records).expect("json");
        for secret in [client_secret.as_str(), link_token.as_str(), first_secret.as_str(), rotated["secret"].as_str().expect("secret"), "pathsecret42", "querysecret42"] {
            assert!(!everything.contains(secret), "a secret reached the audit log");
        }
    }
}

both_backends! {
    async fn another_tenant_cannot_change_or_delete_a_user_by_id(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let (_, ada) = send(&app, Method::POST, "/api/v1/tenants/acme/users", Some(json!({"email": "ada@acme.example"}))).await;
        let id = ada["id"].as_str().expect("id");
        let before = audit_log(&app, "").await.len();
        // Globex's paths with acme's user id: not found, and nothing changes.
        let response = app.admin(Method::PATCH, &format!("/api/v1/tenants/globex/users/{id}")).json(&json!({"active": false})).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app.admin(Method::DELETE, &format!("/api/v1/tenants/globex/users/{id}")).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app.admin(Method::DELETE, "/api/v1/tenants/acme/users/0190b1a0-0000-7000-8000-000000000000").send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let listed = users(&app, "acme").await;
        assert_eq!((listed.len(), listed[0]["active"].as_bool()), (1, Some(true)));
        assert_eq!(audit_log(&app, "").await.len(), before, "refusals are not changes");
        // An address is unique per tenant: globex may have its own user at it.
        let (status, _) = send(&app, Method::POST, "/api/v1/tenants/globex/users", Some(json!({"email": "ada@acme.example"}))).await;
        assert_eq!(status, StatusCode::CREATED);
    }
}

both_backends! {
    async fn key_rotations_domain_checks_and_webhook_replays_are_audited(db: TestDb) {
        let dns = crate::dns_server::TestDns::start().await;
        let url = db.url().to_owned();
        let app = TestApp::spawn_with(db, crate::helpers::TestOptions {
            dns_resolver: Some(dns.addr),
            allow_private_urls: true,
            ..Default::default()
        })
        .await;
        app.create_tenant("acme").await;
        let (status, rotated) = send(&app, Method::POST, "/api/v1/tenants/acme/saml/sp-key/rotate", None).await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let (status, claim) = send(&app, Method::POST, "/api/v1/tenants/acme/domains", Some(json!({"domain": "acme.test"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{claim}");
        // Not in DNS yet: the check is made and recorded as not found.
        let (status, _) = send(&app, Method::POST, "/api/v1/tenants/acme/domains/acme.test/verify", None).await;
        assert_eq!(status, StatusCode::OK);
        let txt = claim["txt_record"]["value"].as_str().expect("txt value");
        dns.add_txt(claim["txt_record"]["name"].as_str().expect("txt name"), &[txt]).await;
        let (status, checked) = send(&app, Method::POST, "/api/v1/tenants/acme/domains/acme.test/verify", None).await;
        assert_eq!((status, checked["verified"].as_bool()), (StatusCode::OK, Some(true)), "{checked}");
        let (status, hook) = send(&app, Method::POST, "/api/v1/webhooks", Some(json!({"url": "http://127.0.0.1:9/hook", "tenant": "acme"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        let hook_id = hook["id"].as_str().expect("id").to_owned();
        let (status, replay) = send(&app, Method::POST, &format!("/api/v1/webhooks/{hook_id}/replay"), Some(json!({"tenant": "acme", "from_seq": 1}))).await;
        assert_eq!(status, StatusCode::OK, "{replay}");
        // A refused replay is not a change.
        let (status, _) = send(&app, Method::POST, &format!("/api/v1/webhooks/{hook_id}/replay"), Some(json!({"from_seq": 1, "skip_failed_event": true}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (code, _, stderr) = run_cli(&url, &["keys", "rotate", "--alg", "ES256"]).await;
        assert_eq!(code, 0, "{stderr}");

        let records = audit_log(&app, "?limit=200").await;
        let actions: Vec<&str> = records.iter().rev().map(|r| r["action"].as_str().unwrap_or_default()).collect();
        assert_eq!(actions, [
            "tenant.created", "sp_key.rotated", "domain.added", "domain.checked", "domain.checked",
            "webhook.created", "webhook.replayed", "signing_key.rotated",
        ]);
        let checks: Vec<&Value> = records.iter().filter(|r| r["action"] == "domain.checked").collect();
        assert_eq!((checks[0]["changes"]["found"].as_bool(), checks[1]["changes"]["found"].as_bool()), (Some(true), Some(false)));
        assert_eq!(checks[0]["target"], "acme.test");
        let replayed = records.iter().find(|r| r["action"] == "webhook.replayed").expect("replay");
        assert_eq!((replayed["tenant"].as_str(), replayed["changes"]["from_seq"].as_i64()), (Some("acme"), Some(1)));
        let rotation = records.iter().find(|r| r["action"] == "signing_key.rotated").expect("rotation");
        assert_eq!((rotation["actor"]["kind"].as_str(), rotation["changes"]["algorithm"].as_str()), (Some("cli"), Some("ES256")));
        assert_eq!(records.iter().find(|r| r["action"] == "sp_key.rotated").expect("sp")["tenant"], "acme");
        let everything = serde_json::to_string(&records).expect("json");
        assert!(!everything.contains("PRIVATE KEY") && !everything.contains("BEGIN CERTIFICATE"));
    }
}
