//! The ACS over real HTTP, with responses signed by the test IdP (real keys, shaped
//! like Entra ID's and Okta's): "test connection" end to end, and every refusal,
//! each recorded in the sign-in log with its reason.

use std::collections::HashMap;

use idbridge_core::Clock;
use idbridge_saml::authn_request::inflate_redirect_payload;
use idbridge_testkit::both_backends;
use idbridge_testkit::saml::{Key, ResponseSpec, TestIdp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn configure(app: &TestApp, slug: &str, idp: &TestIdp, extra: Value) {
    app.create_tenant(slug).await;
    let mut body = json!({"idp_metadata_xml": idp.metadata_xml()});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let response = app
        .admin(Method::PUT, &format!("/api/v1/tenants/{slug}/saml"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
}

/// Starts a sign-in (a test one through the admin API, or `/login`) and returns the
/// AuthnRequest's ID and the RelayState, as the IdP would receive them.
async fn start(app: &TestApp, slug: &str, test: bool) -> (String, String) {
    let location = if test {
        let response = app
            .admin(Method::POST, &format!("/api/v1/tenants/{slug}/saml/test"))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        body["login_url"].as_str().expect("login_url").to_owned()
    } else {
        let response = app
            .browser()
            .get(app.url(&format!("/saml/{slug}/login")))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::FOUND);
        response.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned()
    };
    let url = url::Url::parse(&location).expect("url");
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let xml = inflate_redirect_payload(&query["SAMLRequest"]).expect("inflates");
    let id = xml
        .split(" ID=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("ID")
        .to_owned();
    (id, query["RelayState"].clone())
}

fn spec(app: &TestApp, idp: &TestIdp, slug: &str, in_response_to: Option<&str>) -> ResponseSpec {
    idp.response_spec(
        &app.url(&format!("/saml/{slug}")),
        &app.url(&format!("/saml/{slug}/acs")),
        in_response_to,
        "ada@example.com",
        app.clock.now(),
    )
}

async fn post_acs(app: &TestApp, slug: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let response = app
        .browser()
        .post(app.url(&format!("/saml/{slug}/acs")))
        .form(form)
        .send()
        .await
        .expect("send");
    let status = response.status();
    assert!(
        response.headers().get("location").is_none(),
        "no redirect, so no code"
    );
    (status, response.text().await.expect("body"))
}

async fn post_acs_raw(app: &TestApp, slug: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.browser()
        .post(app.url(&format!("/saml/{slug}/acs")))
        .form(form)
        .send()
        .await
        .expect("send")
}

const APP_CALLBACK: &str = "https://app.example.com/auth/callback";

/// An app (OIDC client) with a callback, and a tenant whose sign-ins land there.
async fn configure_for_app(app: &TestApp, slug: &str, idp: &TestIdp) -> String {
    let response = app
        .admin(Method::POST, "/api/v1/clients")
        .json(&json!({"name": "app", "redirect_uris": [APP_CALLBACK]}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let client: Value = response.json().await.expect("json");
    configure(
        app,
        slug,
        idp,
        json!({"default_redirect_uri": APP_CALLBACK}),
    )
    .await;
    client["client_id"].as_str().expect("client_id").to_owned()
}

/// The code in a redirect to the app's callback.
fn code_in(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with(APP_CALLBACK), "{location}");
    let url = url::Url::parse(location).expect("url");
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code")
}

async fn users(app: &TestApp, slug: &str) -> Vec<Value> {
    let body: Value = app
        .admin_get(&format!("/api/v1/tenants/{slug}/users"))
        .await;
    body["data"].as_array().expect("data").clone()
}

async fn event_types(app: &TestApp, slug: &str) -> Vec<String> {
    let body: Value = app
        .admin(
            Method::GET,
            &format!("/api/v1/tenants/{slug}/events?after=0"),
        )
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect()
}

async fn sign_ins(app: &TestApp, slug: &str) -> Vec<Value> {
    let body: Value = app
        .admin_get(&format!("/api/v1/tenants/{slug}/sign-in-log"))
        .await;
    body["data"].as_array().expect("data").clone()
}

async fn last_reason(app: &TestApp, slug: &str) -> String {
    sign_ins(app, slug).await[0]["reason"]
        .as_str()
        .unwrap_or("-")
        .to_owned()
}

both_backends! {
    async fn test_connection_shows_what_entra_sent(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({})).await;
        let (id, relay) = start(&app, "acme", true).await;
        let value = idp.post_value(&spec(&app, &idp, "acme", Some(&id)));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Test connection succeeded"));
        assert!(page.contains("ada@example.com"));
        assert!(page.contains("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"));
        let log = sign_ins(&app, "acme").await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["outcome"], "success");
        assert_eq!(log[0]["test"], true);
        assert_eq!(log[0]["email"], "ada@example.com");
    }

    async fn test_connection_with_okta_ecdsa_and_both_signatures(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::okta(Key::P256);
        configure(&app, "acme", &idp, json!({"want_response_signed": true})).await;
        let (id, relay) = start(&app, "acme", true).await;
        let value = idp.post_value(&spec(&app, &idp, "acme", Some(&id)));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Ada Lovelace"));
    }

    async fn a_response_is_used_once(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({})).await;
        let (id, relay) = start(&app, "acme", true).await;
        let value = idp.post_value(&spec(&app, &idp, "acme", Some(&id)));
        let form = [("SAMLResponse", value.as_str()), ("RelayState", relay.as_str())];
        assert_eq!(post_acs(&app, "acme", &form).await.0, StatusCode::OK);
        let (status, page) = post_acs(&app, "acme", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("unknown_request"), "the request it answered is used up");
        // Unsolicited (IdP-initiated) responses are caught by the replay cache.
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        let (_, first) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert!(!first.contains("replayed"), "{first}");
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("replayed"), "{page}");
        assert_eq!(last_reason(&app, "acme").await, "replayed");
    }

    async fn refused_responses_say_why_and_are_logged(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({})).await;
        type Edit = fn(&mut ResponseSpec);
        let cases: [(&str, StatusCode, Edit); 6] = [
            ("signature_missing", StatusCode::FORBIDDEN, |s| s.sign_assertion = false),
            ("signature_invalid", StatusCode::FORBIDDEN, |s| s.signing_key = Key::Other),
            ("expired", StatusCode::BAD_REQUEST, |s| s.not_on_or_after = s.issued_at - time::Duration::minutes(10)),
            ("audience_mismatch", StatusCode::BAD_REQUEST, |s| s.audience = "https://elsewhere.example.com".into()),
            ("recipient_mismatch", StatusCode::BAD_REQUEST, |s| s.recipient = "https://elsewhere.example.com/acs".into()),
            ("status_not_success", StatusCode::BAD_REQUEST, |s| s.status = "urn:oasis:names:tc:SAML:2.0:status:Requester".into()),
        ];
        for (reason, status, edit) in cases {
            let (id, relay) = start(&app, "acme", true).await;
            let mut s = spec(&app, &idp, "acme", Some(&id));
            edit(&mut s);
            let value = idp.post_value(&s);
            let (got, page) = post_acs(&app, "acme", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
            assert_eq!(got, status, "{reason}: {page}");
            assert!(page.contains(reason), "{reason}: {page}");
            assert_eq!(last_reason(&app, "acme").await, reason);
        }
        let log = sign_ins(&app, "acme").await;
        assert!(log.iter().all(|e| e["outcome"] == "failure" && e["detail"].as_str().is_some()));
        let events = event_types(&app, "acme").await;
        assert_eq!(events.len(), 6);
        assert!(events.iter().all(|t| t == "sign_in.failed"), "{events:?}");
    }

    async fn malformed_posts_are_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({})).await;
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let xxe = b64(r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#);
        let not_xml = b64("hello");
        // XML carries no U+0000, not even as a character reference.
        let nul_reference = b64(r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&#0;</samlp:Response>"#);
        for (form, reason) in [
            (vec![("RelayState", "x")], "malformed_request"),
            // A form field holding U+0000 is not read at all.
            (vec![("SAMLResponse", not_xml.as_str()), ("RelayState", "x\u{0}")], "malformed_request"),
            (vec![("SAMLResponse", nul_reference.as_str())], "malformed_xml"),
            (vec![("SAMLResponse", "***not base64***")], "malformed_encoding"),
            (vec![("SAMLResponse", xxe.as_str())], "dtd_refused"),
            (vec![("SAMLResponse", not_xml.as_str())], "malformed_xml"),
        ] {
            let (status, page) = post_acs(&app, "acme", &form).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{reason}");
            assert!(page.contains(reason), "{reason}: {page}");
            assert!(!page.contains("/etc/passwd") && !page.contains("root:"), "nothing echoed");
        }
        // The server is still fine.
        assert_eq!(app.http.get(app.url("/healthz")).send().await.expect("send").status(), StatusCode::OK);
    }

    async fn requests_are_matched_exactly(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({"allow_idp_initiated": false})).await;
        // InResponseTo naming no request of ours.
        let value = idp.post_value(&spec(&app, &idp, "acme", Some("_0000")));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value), ("RelayState", "x")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("unknown_request"));
        // The right request, the wrong RelayState.
        let (id, _) = start(&app, "acme", true).await;
        let value = idp.post_value(&spec(&app, &idp, "acme", Some(&id)));
        let (_, page) = post_acs(&app, "acme", &[("SAMLResponse", &value), ("RelayState", "forged")]).await;
        assert!(page.contains("relay_state_mismatch"), "{page}");
        // Unsolicited, where the tenant does not allow IdP-initiated sign-in.
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("idp_initiated_refused"));
    }

    async fn a_response_for_one_tenant_is_refused_by_another(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({})).await;
        configure(&app, "globex", &idp, json!({})).await;
        let (id, relay) = start(&app, "acme", true).await;
        let value = idp.post_value(&spec(&app, &idp, "acme", Some(&id)));
        let (status, page) = post_acs(&app, "globex", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        assert_eq!(last_reason(&app, "globex").await, "destination_mismatch");
        // acme's request was not consumed by the attempt at globex.
        let (status, _) = post_acs(&app, "acme", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn a_sign_in_ends_at_the_app_with_a_code_and_a_just_in_time_user(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        let client_id = configure_for_app(&app, "acme", &idp).await;
        let (id, relay) = start(&app, "acme", false).await;
        let value = idp.post_value(&spec(&app, &idp, "acme", Some(&id)));
        let response = post_acs_raw(&app, "acme", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
        assert_eq!(response.headers()["cache-control"], "no-store");
        let code = code_in(&response);
        assert!(code.starts_with("idb_code_"));

        // The user exists now, created at sign-in.
        let users = users(&app, "acme").await;
        assert_eq!(users.len(), 1);
        assert_eq!(users[0]["user_name"], "ada@example.com");
        let user_id = users[0]["id"].as_str().expect("id").to_owned();
        // The code is stored only as a digest, bound to client, redirect, tenant, user.
        let hash = idbridge_core::secret::AuthorizationCode::parse(&code).expect("code").hash();
        let record = app.store.authorization_code(&hash).await.expect("lookup").expect("stored");
        assert_eq!(record.client_id.to_string(), client_id);
        assert_eq!(record.redirect_uri, APP_CALLBACK);
        assert_eq!(record.user_id.to_string(), user_id);
        assert_eq!(record.expires_at, app.clock.now() + time::Duration::seconds(60));
        let log = sign_ins(&app, "acme").await;
        assert_eq!(log[0]["outcome"], "success");
        assert_eq!(log[0]["user_id"], user_id.as_str());
        // The app's feed has both: the user, then the sign-in.
        assert_eq!(event_types(&app, "acme").await, vec!["user.created", "sign_in.succeeded"]);

        // The next sign-in finds the same user.
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        let again = post_acs_raw(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert_ne!(code_in(&again), code);
        assert_eq!(crate::saml_acs::users(&app, "acme").await.len(), 1);
    }

    async fn scim_users_are_matched_and_deactivated_ones_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::okta(Key::P256);
        configure_for_app(&app, "acme", &idp).await;
        let (_, token) = app.create_scim_token("acme").await;
        let created = app
            .scim(Method::POST, "acme", "/Users", &token, Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "00u1abc",
                "emails": [{"value": "ADA@example.com", "type": "work", "primary": true}],
                "active": true,
            })))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let scim_user: Value = created.json().await.expect("json");
        // Matched by email (case-insensitively), not duplicated.
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        code_in(&post_acs_raw(&app, "acme", &[("SAMLResponse", &value)]).await);
        assert_eq!(users(&app, "acme").await.len(), 1);
        assert_eq!(sign_ins(&app, "acme").await[0]["user_id"], scim_user["id"]);

        // SCIM deactivates the user: the next sign-in is refused, and says why.
        let id = scim_user["id"].as_str().expect("id");
        let patched = app
            .scim(Method::PATCH, "acme", &format!("/Users/{id}"), &token, Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": false}}],
            })))
            .await;
        assert_eq!(patched.status(), StatusCode::OK);
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("user_inactive"), "{page}");
        assert_eq!(last_reason(&app, "acme").await, "user_inactive");

        // SCIM deletes the user: the next sign-in is refused too, and does not create
        // the user again just in time.
        let deleted = app.scim(Method::DELETE, "acme", &format!("/Users/{id}"), &token, None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("user_deleted"), "{page}");
        assert_eq!(last_reason(&app, "acme").await, "user_deleted");
        assert!(users(&app, "acme").await.is_empty());

        // SCIM creating the user again brings the sign-in back.
        let again = app
            .scim(Method::POST, "acme", "/Users", &token, Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@example.com",
                "active": true,
            })))
            .await;
        assert_eq!(again.status(), StatusCode::CREATED);
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        code_in(&post_acs_raw(&app, "acme", &[("SAMLResponse", &value)]).await);
    }

    async fn without_jit_only_provisioned_users_sign_in(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure_for_app(&app, "acme", &idp).await;
        let response = app.admin(Method::PATCH, "/api/v1/tenants/acme")
            .json(&json!({"jit_enabled": false})).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("user_not_provisioned"), "{page}");
        assert!(users(&app, "acme").await.is_empty());
    }

    async fn a_valid_sign_in_with_nowhere_to_land_is_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({})).await;
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(page.contains("no_redirect_uri"), "{page}");
        assert!(users(&app, "acme").await.is_empty(), "no user is created for a sign-in that cannot finish");
    }

    async fn a_tenant_can_choose_where_the_email_comes_from(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure_for_app(&app, "acme", &idp).await;
        let put = |body: Value| app.admin(Method::PUT, "/api/v1/tenants/acme/saml").json(&body).send();
        for bad in [json!([""]), json!([" upn"]), json!(vec!["a"; 11])] {
            let response = put(json!({"email_attributes": bad})).await.expect("send");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let view: Value = put(json!({"email_attributes": ["upn"]})).await.expect("send").json().await.expect("json");
        assert_eq!(view["email_attributes"], json!(["upn"]));
        // The IdP sends both; the tenant's order says which one is the user.
        let mut s = spec(&app, &idp, "acme", None);
        s.attributes.push(("upn".into(), vec!["ada.upn@example.com".into()]));
        code_in(&post_acs_raw(&app, "acme", &[("SAMLResponse", &idp.post_value(&s))]).await);
        assert_eq!(users(&app, "acme").await[0]["user_name"], "ada.upn@example.com");
        // [] restores the default order.
        let view: Value = put(json!({"email_attributes": []})).await.expect("send").json().await.expect("json");
        assert_eq!(view["email_attributes"][0], "email");
    }

    async fn deleting_the_app_stops_sign_ins_landing_there(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        let client_id = configure_for_app(&app, "acme", &idp).await;
        let response = app.admin(Method::DELETE, &format!("/api/v1/clients/{client_id}")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let value = idp.post_value(&spec(&app, &idp, "acme", None));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(page.contains("redirect_uri_unregistered"), "{page}");
        assert!(users(&app, "acme").await.is_empty());
    }

    async fn what_a_refused_response_says_is_quoted_only_in_part(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({})).await;
        let mut s = spec(&app, &idp, "acme", None);
        s.audience = format!("https://{}.example.com", "a".repeat(50_000));
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &idp.post_value(&s))]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.len() < 5_000, "{} bytes", page.len());
        let log = sign_ins(&app, "acme").await;
        assert_eq!(log[0]["reason"], "audience_mismatch");
        assert!(log[0]["detail"].as_str().expect("detail").chars().count() < 500);
    }
}

mod encrypted {
    //! Encrypted assertions end to end: the server decrypts with the tenant's stored
    //! SP key (seeded here with the test IdP's fixture key, so the IdP can encrypt to
    //! it), and its generated key is what the metadata and the admin API publish.

    use idbridge_store::SpKeyRecord;
    use idbridge_testkit::saml::{Encryption, SpKey};

    use super::*;

    /// A tenant whose SP key is the fixture key `key`, connected to `idp`, landing
    /// at the app.
    async fn tenant_with_sp_key(app: &TestApp, idp: &TestIdp, key: SpKey) {
        let tenant = app.create_tenant("acme").await;
        let tenant_id = uuid::Uuid::parse_str(tenant["id"].as_str().expect("id")).expect("uuid");
        let now = app.clock.now();
        let stored = app
            .store
            .add_sp_key(&SpKeyRecord {
                id: uuid::Uuid::now_v7(),
                tenant_id,
                private_key: key.private_key_der().to_vec(),
                certificate: key.certificate_der(),
                created_at: now,
                not_after: now + time::Duration::days(365),
                retired_at: None,
            })
            .await
            .expect("store SP key");
        assert!(stored);
        let response = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app", "redirect_uris": [APP_CALLBACK]}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = app
            .admin(Method::PUT, "/api/v1/tenants/acme/saml")
            .json(&json!({"idp_metadata_xml": idp.metadata_xml(), "default_redirect_uri": APP_CALLBACK}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
    }

    both_backends! {
        async fn entra_encrypted_assertions_sign_in(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::entra(Key::Rsa2048);
            tenant_with_sp_key(&app, &idp, SpKey::Encryption).await;
            for encryption in [Encryption::entra(SpKey::Encryption), Encryption::sibling(SpKey::Encryption)] {
                let mut spec = spec(&app, &idp, "acme", None);
                spec.encryption = Some(encryption);
                let value = idp.post_value(&spec);
                let response = post_acs_raw(&app, "acme", &[("SAMLResponse", &value)]).await;
                code_in(&response);
            }
            assert_eq!(users(&app, "acme").await.len(), 1);
        }

        async fn after_an_sp_key_rotation_both_keys_decrypt(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::entra(Key::Rsa2048);
            tenant_with_sp_key(&app, &idp, SpKey::Encryption).await;
            let before: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
            let rotated = app
                .admin(Method::POST, "/api/v1/tenants/acme/saml/sp-key/rotate")
                .send().await.expect("send");
            assert_eq!(rotated.status(), StatusCode::OK);
            let after: Value = rotated.json().await.expect("json");
            let (old_pem, new_pem) = (
                before["sp_encryption_certificate"]["pem"].as_str().expect("pem"),
                after["sp_encryption_certificate"]["pem"].as_str().expect("pem"),
            );
            assert_ne!(old_pem, new_pem);
            let body = |pem: &str| pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>();
            let metadata = app.http.get(app.url("/saml/acme/metadata"))
                .send().await.expect("send").text().await.expect("xml");
            assert!(metadata.contains(&body(new_pem)), "the new certificate is published");
            assert!(!metadata.contains(&body(old_pem)), "only the active one is offered");
            // An IdP still encrypting to the previous certificate is not cut off.
            let mut spec = spec(&app, &idp, "acme", None);
            spec.encryption = Some(Encryption::entra(SpKey::Encryption));
            let value = idp.post_value(&spec);
            code_in(&post_acs_raw(&app, "acme", &[("SAMLResponse", &value)]).await);
        }

        async fn an_assertion_encrypted_for_another_key_is_refused(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::okta(Key::Rsa2048);
            tenant_with_sp_key(&app, &idp, SpKey::Encryption).await;
            let mut spec = spec(&app, &idp, "acme", None);
            spec.encryption = Some(Encryption::entra(SpKey::Rollover));
            let value = idp.post_value(&spec);
            let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value)]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
            assert_eq!(last_reason(&app, "acme").await, "decryption_failed");
            assert!(users(&app, "acme").await.is_empty());
        }

        async fn the_generated_sp_key_is_published_for_encryption(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::entra(Key::Rsa2048);
            configure(&app, "acme", &idp, json!({})).await;
            let view: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
            let pem = view["sp_encryption_certificate"]["pem"].as_str().expect("pem");
            let body: String = pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            let metadata = app
                .http
                .get(app.url("/saml/acme/metadata"))
                .send().await.expect("send").text().await.expect("xml");
            assert!(metadata.contains("use=\"encryption\""), "{metadata}");
            assert!(metadata.contains(&body), "the metadata publishes the admin API's certificate");
            assert!(!metadata.contains("rsa-1_5"));
            // The same key on every read: created once.
            let again: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
            assert_eq!(again["sp_encryption_certificate"]["pem"], pem);
        }
    }
}

both_backends! {
    async fn signed_authn_requests_verify_with_the_published_certificate(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &idp, json!({"sign_authn_requests": true})).await;
        let view: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
        assert_eq!(view["sign_authn_requests"], true);
        let pem = view["sp_encryption_certificate"]["pem"].as_str().expect("pem");
        let der = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>(),
        )
        .expect("base64");
        let metadata = app.http.get(app.url("/saml/acme/metadata"))
            .send().await.expect("send").text().await.expect("xml");
        assert!(metadata.contains("AuthnRequestsSigned=\"true\""), "{metadata}");
        assert!(metadata.contains("use=\"signing\""), "{metadata}");

        let response = app.browser().get(app.url("/saml/acme/login")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = response.headers()["location"].to_str().expect("ascii").to_owned();
        let query = location.split_once('?').expect("query").1;
        assert!(query.contains("SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"), "{query}");
        assert!(idbridge_saml::authn_request::verify_redirect_signature(query, &der));
        // The signed request is still one the ACS answers.
        let (id, relay) = start(&app, "acme", false).await;
        let value = idp.post_value(&spec(&app, &idp, "acme", Some(&id)));
        let response = post_acs_raw(&app, "acme", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "no default_redirect_uri: the sign-in itself was valid");

        // Off by default: unsigned requests, no signing key in the metadata.
        configure_again_unsigned(&app, &idp).await;
        let response = app.browser().get(app.url("/saml/acme/login")).send().await.expect("send");
        let location = response.headers()["location"].to_str().expect("ascii");
        assert!(!location.contains("Signature="));
    }
}

async fn configure_again_unsigned(app: &TestApp, idp: &TestIdp) {
    let response = app
        .admin(Method::PUT, "/api/v1/tenants/acme/saml")
        .json(&json!({"idp_metadata_xml": idp.metadata_xml(), "sign_authn_requests": false}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
}

mod claims {
    //! Role, group and name claims: what a JIT user gets from them, how later
    //! sign-ins keep it current, and what is left alone.

    use idbridge_saml::claims::{MS_DISPLAY_NAME, MS_GIVEN_NAME, MS_GROUPS, MS_ROLE};

    use super::*;

    async fn set_app_roles(app: &TestApp, roles: &[&str]) {
        let response = app
            .admin(Method::PUT, "/api/v1/app-roles")
            .json(&json!({ "roles": roles }))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
    }

    async fn set_mappings(app: &TestApp, slug: &str, mappings: Value) {
        let response = app
            .admin(
                Method::PUT,
                &format!("/api/v1/tenants/{slug}/role-mappings"),
            )
            .json(&json!({ "mappings": mappings, "policy": "all" }))
            .send()
            .await
            .expect("send");
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    async fn events(app: &TestApp, slug: &str) -> Vec<Value> {
        let body: Value = app
            .admin(
                Method::GET,
                &format!("/api/v1/tenants/{slug}/events?after=0"),
            )
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        body["data"].as_array().expect("data").clone()
    }

    /// An unsolicited sign-in with `edit` applied to the IdP's usual response.
    async fn sign_in(app: &TestApp, idp: &TestIdp, edit: impl FnOnce(&mut ResponseSpec)) {
        let mut s = spec(app, idp, "acme", None);
        edit(&mut s);
        let response = post_acs_raw(app, "acme", &[("SAMLResponse", &idp.post_value(&s))]).await;
        code_in(&response);
    }

    async fn only_user(app: &TestApp) -> Value {
        let users = users(app, "acme").await;
        assert_eq!(users.len(), 1, "{users:?}");
        users[0].clone()
    }

    both_backends! {
        async fn a_user_created_at_first_sign_in_is_invited_when_the_tenant_invites(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::entra(Key::Rsa2048);
            configure_for_app(&app, "acme", &idp).await;
            let on = app.admin(Method::PATCH, "/api/v1/tenants/acme").json(&json!({"invite_new_users": true})).send().await.expect("send");
            assert_eq!(on.status(), StatusCode::OK);
            sign_in(&app, &idp, |_| {}).await;
            let user = only_user(&app).await;
            assert_eq!(user["source"], "jit");
            let invited: Vec<Value> = events(&app, "acme").await.into_iter().filter(|e| e["type"] == "user.invited").collect();
            assert_eq!(invited.len(), 1, "one invitation, at creation");
            assert_eq!(invited[0]["data"]["source"], "saml");
            assert_eq!(invited[0]["data"]["user"]["id"], user["id"]);
            // The next sign-in updates the user; nobody is invited twice.
            sign_in(&app, &idp, |_| {}).await;
            let again = events(&app, "acme").await.into_iter().filter(|e| e["type"] == "user.invited").count();
            assert_eq!(again, 1);
        }

        async fn entra_role_claims_give_a_jit_user_app_roles(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::entra(Key::Rsa2048);
            configure_for_app(&app, "acme", &idp).await;
            set_app_roles(&app, &["admin", "editor", "viewer"]).await;
            sign_in(&app, &idp, |s| s.set_attribute(MS_ROLE, &["Admin", "SuperEditor", "Admin"])).await;
            let user = only_user(&app).await;
            assert_eq!(user["source"], "jit");
            assert_eq!(user["idp_roles"], json!(["Admin", "SuperEditor"]));
            // `Admin` names an app role; `SuperEditor` maps to nothing yet.
            assert_eq!(user["roles"], json!(["admin"]));
            assert_eq!(user["given_name"], "Ada");
            assert_eq!(user["family_name"], "Lovelace");
            assert_eq!(user["display_name"], "Ada Lovelace");
            // Stored as SCIM stores them.
            let doc = &user["attributes"];
            assert_eq!(doc["roles"], json!([{"value": "Admin", "primary": false}, {"value": "SuperEditor", "primary": false}]));
            assert_eq!(doc["name"], json!({"givenName": "Ada", "familyName": "Lovelace"}));
            assert_eq!(doc["emails"][0]["value"], "ada@example.com");

            // A role mapping set through the admin API applies to the stored values.
            set_mappings(&app, "acme", json!([{"source": "role", "value": "supereditor", "role": "editor"}])).await;
            assert_eq!(only_user(&app).await["roles"], json!(["admin", "editor"]));
            let created = &events(&app, "acme").await[0];
            assert_eq!(created["type"], "user.created");
            assert_eq!(created["data"]["source"], "saml");
            assert_eq!(created["data"]["user"]["roles"][0]["value"], "Admin");
        }

        async fn okta_group_claims_map_through_group_mappings(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::okta(Key::P256);
            configure_for_app(&app, "acme", &idp).await;
            set_app_roles(&app, &["admin", "editor", "viewer"]).await;
            set_mappings(&app, "acme", json!([
                {"source": "group", "value": "engineering", "role": "editor"},
                {"source": "group", "value": "07dd8a60-bf6d-4e17-8844-230b77145381", "role": "viewer"},
            ])).await;
            sign_in(&app, &idp, |s| s.set_attribute("groups", &["Engineering", "Everyone"])).await;
            let user = only_user(&app).await;
            assert_eq!(user["saml_groups"], json!(["Engineering", "Everyone"]));
            assert_eq!(user["groups"], json!([]), "not directory groups");
            assert_eq!(user["roles"], json!(["editor"]));
            assert_eq!(
                user["attributes"]["urn:idbridge:params:scim:schemas:extension:saml:2.0:User"],
                json!({"groups": ["Engineering", "Everyone"]})
            );
            // Entra's group claim (object IDs by default) maps the same way.
            let entra = TestIdp::entra(Key::Rsa2048);
            let response = app.admin(Method::PUT, "/api/v1/tenants/acme/saml")
                .json(&json!({"idp_metadata_xml": entra.metadata_xml()})).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::OK);
            sign_in(&app, &entra, |s| s.set_attribute(MS_GROUPS, &["07dd8a60-bf6d-4e17-8844-230b77145381"])).await;
            let user = only_user(&app).await;
            assert_eq!(user["saml_groups"], json!(["07dd8a60-bf6d-4e17-8844-230b77145381"]));
            assert_eq!(user["roles"], json!(["viewer"]), "the groups the IdP no longer sends no longer count");
        }

        async fn later_sign_ins_update_what_changed_and_only_then(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::entra(Key::Rsa2048);
            configure_for_app(&app, "acme", &idp).await;
            set_app_roles(&app, &["admin", "viewer"]).await;
            sign_in(&app, &idp, |s| s.set_attribute(MS_ROLE, &["admin"])).await;
            let first = only_user(&app).await;
            assert_eq!(first["roles"], json!(["admin"]));

            // Renamed, and demoted, at the IdP.
            app.clock.advance(time::Duration::minutes(5));
            sign_in(&app, &idp, |s| {
                s.set_attribute(MS_GIVEN_NAME, &["Augusta Ada"]);
                s.set_attribute(MS_DISPLAY_NAME, &["Augusta Ada King"]);
                s.set_attribute(MS_ROLE, &["viewer"]);
            }).await;
            let second = only_user(&app).await;
            assert_eq!(second["id"], first["id"]);
            assert_eq!(second["display_name"], "Augusta Ada King");
            assert_eq!(second["given_name"], "Augusta Ada");
            assert_eq!(second["family_name"], "Lovelace");
            assert_eq!(second["roles"], json!(["viewer"]));
            assert_ne!(second["updated_at"], first["updated_at"]);
            let feed = events(&app, "acme").await;
            let kinds: Vec<&str> = feed.iter().map(|e| e["type"].as_str().expect("type")).collect();
            assert_eq!(kinds, ["user.created", "sign_in.succeeded", "user.updated", "sign_in.succeeded"]);
            assert_eq!(feed[2]["data"]["source"], "saml");
            assert_eq!(feed[2]["data"]["user"]["displayName"], "Augusta Ada King");
            assert_eq!(feed[2]["data"]["user"]["meta"]["version"], "W/\"2\"");

            // The same claims again (in another order): no write, no event.
            app.clock.advance(time::Duration::minutes(5));
            sign_in(&app, &idp, |s| {
                s.set_attribute(MS_GIVEN_NAME, &["Augusta Ada"]);
                s.set_attribute(MS_DISPLAY_NAME, &["Augusta Ada King"]);
                s.set_attribute(MS_ROLE, &["viewer"]);
                s.attributes.reverse();
            }).await;
            let third = only_user(&app).await;
            assert_eq!(third["updated_at"], second["updated_at"]);
            assert_eq!(third["attributes"], second["attributes"]);
            assert_eq!(event_types(&app, "acme").await.len(), 5, "only the sign-in");
            assert_eq!(event_types(&app, "acme").await[4], "sign_in.succeeded");

            // The role claim withdrawn: the role goes with it.
            sign_in(&app, &idp, |s| {
                s.set_attribute(MS_GIVEN_NAME, &["Augusta Ada"]);
                s.set_attribute(MS_DISPLAY_NAME, &["Augusta Ada King"]);
            }).await;
            let fourth = only_user(&app).await;
            assert_eq!(fourth["idp_roles"], json!([]));
            assert_eq!(fourth["roles"], json!([]));
            assert!(fourth["attributes"].get("roles").is_none());
        }

        async fn hostile_claim_values_are_bounded(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::entra(Key::Rsa2048);
            configure_for_app(&app, "acme", &idp).await;
            let long = "x".repeat(257);
            let many: Vec<String> = (0..400).map(|i| format!("group-{i:03}")).collect();
            let mut groups: Vec<&str> = vec![long.as_str(), "<script>alert(1)</script>"];
            groups.extend(many.iter().map(String::as_str));
            sign_in(&app, &idp, |s| {
                s.set_attribute("groups", &groups);
                s.set_attribute("roles", &[long.as_str(), "Admin", "ADMIN", "admin"]);
                s.set_attribute("name", &[long.as_str()]);
            }).await;
            let user = only_user(&app).await;
            let saml_groups = user["saml_groups"].as_array().expect("array");
            assert_eq!(saml_groups.len(), 200);
            assert!(saml_groups.iter().all(|g| g.as_str().expect("str").chars().count() <= 256));
            assert!(!saml_groups.contains(&json!(long)));
            assert_eq!(user["idp_roles"], json!(["Admin"]), "deduplicated as mappings compare");
            assert_eq!(user["display_name"], "Ada Lovelace", "the over-long name is skipped");
            let (_, page) = {
                configure(&app, "globex", &idp, json!({})).await;
                let (id, relay) = start(&app, "globex", true).await;
                let mut s = spec(&app, &idp, "globex", Some(&id));
                s.set_attribute(MS_ROLE, &["<b>Admin</b>"]);
                post_acs(&app, "globex", &[("SAMLResponse", &idp.post_value(&s)), ("RelayState", &relay)]).await
            };
            // Escaped (askama writes numeric references), never markup.
            assert!(!page.contains("<b>Admin</b>") && page.contains("&#60;b&#62;Admin&#60;/b&#62;"), "{page}");
        }

        async fn scim_provisioned_users_keep_their_document(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::okta(Key::P256);
            configure_for_app(&app, "acme", &idp).await;
            set_app_roles(&app, &["admin", "viewer"]).await;
            set_mappings(&app, "acme", json!([{"source": "group", "value": "Admins", "role": "admin"}])).await;
            let (_, token) = app.create_scim_token("acme").await;
            let created = app
                .scim(Method::POST, "acme", "/Users", &token, Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "ada@example.com",
                    "name": {"givenName": "Ada", "familyName": "Byron"},
                    "displayName": "Ada Byron",
                    "roles": [{"value": "viewer"}],
                    "active": true,
                })))
                .await;
            assert_eq!(created.status(), StatusCode::CREATED);
            let before = only_user(&app).await;
            let kinds_before = event_types(&app, "acme").await;
            sign_in(&app, &idp, |s| {
                s.set_attribute("groups", &["Admins"]);
                s.set_attribute("roles", &["admin"]);
            }).await;
            let after = only_user(&app).await;
            assert_eq!(after["attributes"], before["attributes"], "SCIM's document is SCIM's");
            assert_eq!(after["updated_at"], before["updated_at"]);
            assert_eq!(after["display_name"], "Ada Byron");
            assert_eq!(after["roles"], json!(["viewer"]), "SCIM's roles, not the claims'");
            assert_eq!(after["saml_groups"], json!([]));
            let mut expected = kinds_before;
            expected.push("sign_in.succeeded".into());
            assert_eq!(event_types(&app, "acme").await, expected);
        }

        async fn a_jit_user_scim_takes_over_is_left_to_scim(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::okta(Key::P256);
            configure_for_app(&app, "acme", &idp).await;
            sign_in(&app, &idp, |s| s.set_attribute("roles", &["viewer"])).await;
            let jit = only_user(&app).await;
            assert_eq!(jit["source"], "jit");
            // Entra/Okta provisioning finds the user by userName and patches it.
            let (_, token) = app.create_scim_token("acme").await;
            let id = jit["id"].as_str().expect("id");
            let patched = app
                .scim(Method::PATCH, "acme", &format!("/Users/{id}"), &token, Some(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "Ada (HR system)"}],
                })))
                .await;
            assert_eq!(patched.status(), StatusCode::OK);
            let taken = only_user(&app).await;
            assert_eq!(taken["source"], "scim");
            // The next sign-in with other claims no longer edits it.
            sign_in(&app, &idp, |s| s.set_attribute("roles", &["admin"])).await;
            let after = only_user(&app).await;
            assert_eq!(after["attributes"], taken["attributes"]);
            assert_eq!(after["display_name"], "Ada (HR system)");
        }

        async fn test_connection_shows_the_roles_the_claims_give(db: TestDb) {
            let app = TestApp::spawn(db).await;
            let idp = TestIdp::okta(Key::P256);
            configure(&app, "acme", &idp, json!({})).await;
            set_app_roles(&app, &["admin", "editor", "viewer"]).await;
            set_mappings(&app, "acme", json!([{"source": "group", "value": "Engineering", "role": "editor"}])).await;
            let (id, relay) = start(&app, "acme", true).await;
            let mut s = spec(&app, &idp, "acme", Some(&id));
            s.set_attribute("groups", &["Engineering"]);
            s.set_attribute("roles", &["Admin"]);
            let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &idp.post_value(&s)), ("RelayState", &relay)]).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            assert!(page.contains("<dd id=\"app-roles\">admin, editor</dd>"), "{page}");
            assert!(page.contains("<dt>Group claims</dt><dd>Engineering</dd>"), "{page}");
            assert!(users(&app, "acme").await.is_empty(), "a test creates no user");
        }
    }
}

both_backends! {
    async fn an_idp_offering_only_http_post_gets_the_request_posted(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = TestIdp::entra(Key::Rsa2048);
        // Metadata whose only SingleSignOnService is the HTTP-POST binding.
        let metadata = idp.metadata_xml().replace(
            &format!("<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{}\"/>", idp.sso_url),
            "",
        );
        assert!(!metadata.contains("HTTP-Redirect"));
        app.create_tenant("acme").await;
        let response = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app", "redirect_uris": [APP_CALLBACK]}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = app
            .admin(Method::PUT, "/api/v1/tenants/acme/saml")
            .json(&json!({"idp_metadata_xml": metadata, "default_redirect_uri": APP_CALLBACK}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text().await);
        // /login sends the browser to our page, which posts the AuthnRequest.
        let response = app.browser().get(app.url("/saml/acme/login")).send().await.expect("login");
        assert_eq!(response.status(), StatusCode::FOUND);
        let page_url = response.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(page_url.starts_with(&app.url("/saml/acme/post?request=_")), "{page_url}");
        let response = app.browser().get(&page_url).send().await.expect("page");
        assert_eq!(response.status(), StatusCode::OK);
        let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let page = response.text().await.expect("page");
        let field = |name: &str| {
            let marker = format!("name=\"{name}\" value=\"");
            let start = page.find(&marker).expect(name) + marker.len();
            page[start..].split('"').next().expect("value").to_owned()
        };
        assert!(page.contains(&format!("action=\"{}\"", idp.sso_url)), "{page}");
        assert!(page.contains("src=\"/saml/post.js\""));
        use base64::Engine as _;
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD.decode(field("SAMLRequest")).expect("base64"),
        )
        .expect("utf8");
        assert!(xml.contains(&format!("Destination=\"{}\"", idp.sso_url)), "{xml}");
        let id = xml.split(" ID=\"").nth(1).and_then(|r| r.split('"').next()).expect("ID").to_owned();
        assert!(page_url.ends_with(&id));
        let relay = field("RelayState");
        // The script the page loads submits the form.
        let script = app.http.get(app.url("/saml/post.js")).send().await.expect("script");
        assert!(script.text().await.expect("js").contains("submit()"));
        // The IdP answers that request: the sign-in completes as over HTTP-Redirect.
        let value = idp.post_value(&spec(&app, &idp, "acme", Some(&id)));
        let response = post_acs_raw(&app, "acme", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
        code_in(&response);
        // A request id that is not one of ours (or already answered) gets no form.
        let response = app.browser().get(&page_url).send().await.expect("page again");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}

both_backends! {
    async fn a_further_saml_connection_has_its_own_entity_id_and_acs(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let staff = TestIdp::entra(Key::Rsa2048);
        configure_for_app(&app, "acme", &staff).await;
        let acquired = TestIdp::okta(Key::P256);
        let response = app
            .admin(Method::POST, "/api/v1/tenants/acme/connections")
            .json(&json!({"type": "saml", "name": "Acquired (Okta)", "domains": ["acquired.example"],
                          "idp_metadata_xml": acquired.metadata_xml(),
                          "default_redirect_uri": APP_CALLBACK}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("json");
        let id = created["id"].as_str().expect("id").to_owned();
        let base = app.url(&format!("/saml/acme/c/{id}"));
        assert_eq!(created["type"], "saml");
        assert_eq!(created["name"], "Acquired (Okta)");
        assert_eq!(created["sp_entity_id"], base);
        assert_eq!(created["acs_url"], format!("{base}/acs"));
        assert_eq!(created["domains"], json!(["acquired.example"]));
        // Its own SP metadata.
        let metadata = app.http.get(format!("{base}/metadata")).send().await.expect("metadata");
        assert_eq!(metadata.status(), StatusCode::OK);
        let xml = metadata.text().await.expect("xml");
        assert!(xml.contains(&format!("entityID=\"{base}\"")), "{xml}");
        assert!(xml.contains(&format!("Location=\"{base}/acs\"")));
        // The first connection is as it was.
        let first: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
        assert_eq!(first["sp_entity_id"], app.url("/saml/acme"));

        // A sign-in through it: its request, its audience, its ACS.
        let response = app.browser().get(format!("{base}/login")).send().await.expect("login");
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = response.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(location.starts_with(&acquired.sso_url), "{location}");
        let query: HashMap<String, String> = url::Url::parse(&location).expect("url").query_pairs().into_owned().collect();
        let request_xml = inflate_redirect_payload(&query["SAMLRequest"]).expect("inflates");
        assert!(request_xml.contains(&format!("<saml:Issuer>{base}</saml:Issuer>")), "{request_xml}");
        let request_id = request_xml.split(" ID=\"").nth(1).and_then(|r| r.split('"').next()).expect("ID").to_owned();
        let spec = acquired.response_spec(&base, &format!("{base}/acs"), Some(&request_id), "kim@acquired.example", app.clock.now());
        // Posted to the first connection's ACS, it is refused (another audience,
        // another IdP's signature).
        let (status, _) = post_acs(&app, "acme", &[("SAMLResponse", &acquired.post_value(&spec)), ("RelayState", &query["RelayState"])]).await;
        assert!(status.is_client_error());
        let response = app
            .browser()
            .post(format!("{base}/acs"))
            .form(&[("SAMLResponse", acquired.post_value(&spec).as_str()), ("RelayState", query["RelayState"].as_str())])
            .send()
            .await
            .expect("send");
        let code = code_in(&response);
        let hash = idbridge_core::secret::AuthorizationCode::parse(&code).expect("code").hash();
        let record = app.store.authorization_code(&hash).await.expect("lookup").expect("stored");
        assert_eq!(record.connection_id.map(|c| c.to_string()), Some(id.clone()));

        // A request sent for the first connection is not answered at this ACS.
        let (first_request, relay) = start(&app, "acme", false).await;
        let spec = acquired.response_spec(&base, &format!("{base}/acs"), Some(&first_request), "kim@acquired.example", app.clock.now());
        let response = app
            .browser()
            .post(format!("{base}/acs"))
            .form(&[("SAMLResponse", acquired.post_value(&spec).as_str()), ("RelayState", relay.as_str())])
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(last_reason(&app, "acme").await, "unknown_request");

        // Removed, it has no metadata any more; the first connection stays.
        let response = app.admin(Method::DELETE, &format!("/api/v1/tenants/acme/connections/{id}")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let gone = app.http.get(format!("{base}/metadata")).send().await.expect("metadata");
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        let first: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
        assert!(first["idp_entity_id"].is_string(), "{first}");
        // Not an id: no such connection.
        let bad = app.http.get(app.url("/saml/acme/c/not-an-id/metadata")).send().await.expect("send");
        assert_eq!(bad.status(), StatusCode::NOT_FOUND);
    }
}

both_backends! {
    async fn a_refused_test_says_what_to_change_in_the_idps_console(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let entra = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &entra, json!({})).await;
        // Entra ID's default Identifier for a new app, never replaced.
        let (id, relay) = start(&app, "acme", true).await;
        assert!(relay.starts_with("test.a."), "{relay}");
        let mut wrong = spec(&app, &entra, "acme", Some(&id));
        wrong.audience = "spn:2b5f0b0c-71c4-4b8e-9a5c-0c6c1e1c7a11".into();
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &entra.post_value(&wrong)), ("RelayState", &relay)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        assert!(page.contains("<title>Test connection failed</title>"), "{page}");
        assert!(page.contains("How to fix it in Microsoft Entra ID"), "{page}");
        assert!(page.contains("Basic SAML Configuration") && page.contains("&#34;Identifier (Entity ID)&#34;"), "{page}");
        assert!(page.contains(&format!("value=\"{}\"", app.url("/saml/acme"))), "the value to paste: {page}");
        assert!(page.contains("spn:2b5f0b0c"), "what Entra ID sent: {page}");
        assert!(page.contains("audience_mismatch"));
        assert!(!page.contains("Back to setup") && page.contains("You can close this tab"), "started through the API");
        let log = sign_ins(&app, "acme").await;
        assert_eq!((log[0]["reason"].as_str(), log[0]["test"].as_bool()), (Some("audience_mismatch"), Some(true)));

        // Okta, signing with a certificate it was not configured with.
        let okta = TestIdp::okta(Key::Rsa2048);
        configure(&app, "globex", &okta, json!({})).await;
        let (id, relay) = start(&app, "globex", true).await;
        let mut other_key = spec(&app, &okta, "globex", Some(&id));
        other_key.signing_key = Key::Other;
        let (status, page) = post_acs(&app, "globex", &[("SAMLResponse", &okta.post_value(&other_key)), ("RelayState", &relay)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(page.contains("How to fix it in Okta") && page.contains("View IdP metadata"), "{page}");
        assert_eq!(last_reason(&app, "globex").await, "signature_invalid");

        // A success page started through the API has no way back either.
        let (id, relay) = start(&app, "acme", true).await;
        let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &entra.post_value(&spec(&app, &entra, "acme", Some(&id)))), ("RelayState", &relay)]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Test connection succeeded") && page.contains("You can close this tab"));
    }
}

both_backends! {
    async fn a_test_relay_state_that_no_test_sign_in_has_gets_the_ordinary_error_page(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let entra = TestIdp::entra(Key::Rsa2048);
        configure(&app, "acme", &entra, json!({})).await;
        // An ordinary sign-in's request, answered with a "test" RelayState naming it.
        let (id, _) = start(&app, "acme", false).await;
        let mut wrong = spec(&app, &entra, "acme", Some(&id));
        wrong.audience = "spn:someone-else".into();
        let value = entra.post_value(&wrong);
        for relay in [format!("test.p.{id}"), "test.p._00000000000000000000000000000000".into(), "test.x.y".into()] {
            let (status, page) = post_acs(&app, "acme", &[("SAMLResponse", &value), ("RelayState", &relay)]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
            assert!(page.contains("<title>Sign-in failed ·"), "{relay}: {page}");
            assert!(!page.contains("How to fix it"), "{relay}");
        }
        let log = sign_ins(&app, "acme").await;
        assert!(log.iter().all(|row| row["test"] == false), "none of these was a test");
    }
}
