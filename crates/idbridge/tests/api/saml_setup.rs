//! Setting up a tenant's SAML connection, the SP metadata the IdP admin copies, and
//! the start of SP-initiated sign-in, over real HTTP.

use idbridge_saml::authn_request::inflate_redirect_payload;
use idbridge_testkit::both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error};

/// Like [`serve_fixed`], answering with whatever status and body `document` holds now.
async fn serve_mutable(document: std::sync::Arc<std::sync::Mutex<(u16, String)>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (status, body) = document.lock().expect("lock").clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/federationmetadata.xml")
}

/// A one-route HTTP server on loopback: answers every request with `status`,
/// `extra_headers` and `body`. Stands in for an IdP's metadata endpoint.
async fn serve_fixed(status: u16, extra_headers: String, body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = body.clone();
            let extra_headers = extra_headers.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/samlmetadata+xml\r\n{extra_headers}content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

const CERT: &str = include_str!("../../../idbridge-saml/tests/fixtures/idp-rsa2048.pem");
const NEXT_CERT: &str = include_str!("../../../idbridge-saml/tests/fixtures/idp-p256.pem");
const SSO_URL: &str =
    "https://login.microsoftonline.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/saml2";

fn cert_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// IdP metadata in Entra ID's shape (SAML role only), with two signing certificates.
fn idp_metadata() -> String {
    let key = |pem: &str| {
        format!(
            r#"<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"#,
            cert_body(pem)
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><EntityDescriptor entityID="https://sts.windows.net/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{}{}<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{SSO_URL}"/><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{SSO_URL}"/></IDPSSODescriptor></EntityDescriptor>"#,
        key(CERT),
        key(NEXT_CERT)
    )
}

async fn put_saml(app: &TestApp, slug: &str, body: Value) -> reqwest::Response {
    app.admin(Method::PUT, &format!("/api/v1/tenants/{slug}/saml"))
        .json(&body)
        .send()
        .await
        .expect("send")
}

async fn get_saml(app: &TestApp, slug: &str) -> Value {
    let response = app
        .admin(Method::GET, &format!("/api/v1/tenants/{slug}/saml"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

both_backends! {
    async fn sp_metadata_is_served_before_any_idp_is_configured(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let response = app.http.get(app.url("/saml/acme/metadata")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/samlmetadata+xml");
        let xml = response.text().await.expect("body");
        assert!(xml.contains(&format!(r#"entityID="{}""#, app.url("/saml/acme"))), "{xml}");
        assert!(xml.contains(&format!(r#"Location="{}""#, app.url("/saml/acme/acs"))), "{xml}");
        assert!(xml.contains(r#"WantAssertionsSigned="true""#));

        let missing = app.http.get(app.url("/saml/nobody/metadata")).send().await.expect("send");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let page = missing.text().await.expect("body");
        assert!(page.contains("tenant_not_found"), "{page}");
    }

    async fn the_connection_view_lists_sp_values_before_setup(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let view = get_saml(&app, "acme").await;
        assert_eq!(view["configured"], false);
        assert_eq!(view["sp_entity_id"], app.url("/saml/acme"));
        assert_eq!(view["acs_url"], app.url("/saml/acme/acs"));
        assert_eq!(view["sp_metadata_url"], app.url("/saml/acme/metadata"));
        assert_eq!(view["idp_entity_id"], Value::Null);
        assert_eq!(view["want_assertions_signed"], true);
        assert_eq!(view["want_response_signed"], false);
    }

    async fn pasted_metadata_configures_the_connection(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let response = put_saml(&app, "acme", json!({"idp_metadata_xml": idp_metadata(), "default_role": "Member"})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let view: Value = response.json().await.expect("json");
        assert_eq!(view["configured"], true);
        assert_eq!(view["idp_entity_id"], "https://sts.windows.net/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/");
        assert_eq!(view["idp_sso_url"], SSO_URL);
        let certificates = view["idp_certificates"].as_array().expect("certificates");
        assert_eq!(certificates.len(), 2, "current and next certificate are both kept");
        assert_eq!(certificates[0]["subject"], "CN=Microsoft Azure Federated SSO Certificate");
        assert_eq!(certificates[0]["expires_soon"], false);
        assert_eq!(view["want_assertions_signed"], true);
        assert_eq!(view["want_response_signed"], false);
        assert_eq!(view["allow_idp_initiated"], true);
        assert_eq!(view["clock_skew_seconds"], 180);
        assert_eq!(view["default_role"], "Member");
        assert_eq!(get_saml(&app, "acme").await, view);

        let tenant: Value = app.admin_get("/api/v1/tenants/acme").await;
        assert_eq!(tenant["saml"]["configured"], true);
        assert_eq!(tenant["default_role"], "Member");

        // Changing a toggle keeps the metadata.
        let response = put_saml(&app, "acme", json!({"want_response_signed": true, "clock_skew_seconds": 60})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let view: Value = response.json().await.expect("json");
        assert_eq!(view["want_response_signed"], true);
        assert_eq!(view["clock_skew_seconds"], 60);
        assert_eq!(view["idp_sso_url"], SSO_URL);
    }

    async fn bad_connections_are_refused_and_write_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let unsigned_metadata = idp_metadata().replace(r#"use="signing""#, r#"use="encryption""#);
        let dtd = format!(r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>{}"#, idp_metadata().trim_start_matches(r#"<?xml version="1.0" encoding="utf-8"?>"#));
        for (body, code) in [
            (json!({}), "invalid_request"),
            (json!({"idp_metadata_xml": unsigned_metadata}), "invalid_metadata"),
            (json!({"idp_metadata_xml": dtd}), "invalid_metadata"),
            (json!({"idp_metadata_xml": "not xml"}), "invalid_metadata"),
            (json!({"idp_metadata_xml": idp_metadata(), "want_assertions_signed": false}), "invalid_request"),
            (json!({"idp_metadata_xml": idp_metadata(), "clock_skew_seconds": 3600}), "invalid_request"),
            (json!({"idp_metadata_xml": idp_metadata(), "default_redirect_uri": "https://evil.example/cb"}), "invalid_request"),
            (json!({"idp_metadata_xml": idp_metadata(), "idp_metadata_url": "https://x/"}), "invalid_request"),
            // Outside URLs may not reach private addresses, nor use http.
            (json!({"idp_metadata_url": "https://169.254.169.254/latest/meta-data/"}), "metadata_fetch_failed"),
            (json!({"idp_metadata_url": "https://localhost:1/metadata"}), "metadata_fetch_failed"),
            (json!({"idp_metadata_url": "https://[::1]:1/metadata"}), "metadata_fetch_failed"),
            (json!({"idp_metadata_url": "http://login.microsoftonline.com/x/federationmetadata.xml"}), "metadata_fetch_failed"),
            (json!({"idp_metadata_url": "file:///etc/passwd"}), "metadata_fetch_failed"),
            (json!({"idp_metadata_xml": idp_metadata(), "surprise": 1}), "invalid_body"),
        ] {
            let response = put_saml(&app, "acme", body.clone()).await;
            let error = expect_error(response, StatusCode::BAD_REQUEST, code).await;
            assert!(!error["message"].as_str().unwrap_or_default().is_empty(), "{body}");
        }
        assert_eq!(get_saml(&app, "acme").await["configured"], false);
        let missing = put_saml(&app, "nobody", json!({"idp_metadata_xml": idp_metadata()})).await;
        expect_error(missing, StatusCode::NOT_FOUND, "tenant_not_found").await;
    }

    async fn default_redirect_uri_must_be_a_registered_client_redirect(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let response = app.admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app", "redirect_uris": ["https://app.example.com/auth/callback"]}))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = put_saml(&app, "acme", json!({
            "idp_metadata_xml": idp_metadata(),
            "default_redirect_uri": "https://app.example.com/auth/callback",
        })).await;
        assert_eq!(response.status(), StatusCode::OK);
        let view: Value = response.json().await.expect("json");
        assert_eq!(view["default_redirect_uri"], "https://app.example.com/auth/callback");
    }

    async fn login_sends_the_browser_to_the_idp_with_a_stored_request(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let tenant = app.create_tenant("acme").await;
        assert_eq!(put_saml(&app, "acme", json!({"idp_metadata_xml": idp_metadata()})).await.status(), StatusCode::OK);
        let response = app.browser().get(app.url("/saml/acme/login")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let location = url::Url::parse(response.headers()["location"].to_str().expect("ascii")).expect("url");
        assert!(location.as_str().starts_with(SSO_URL), "{location}");
        let query: std::collections::HashMap<String, String> = location.query_pairs().into_owned().collect();
        let relay_state = query.get("RelayState").expect("RelayState");
        assert!(relay_state.len() >= 22, "an unguessable handle, not a URL: {relay_state}");
        let xml = inflate_redirect_payload(query.get("SAMLRequest").expect("SAMLRequest")).expect("inflates");
        assert!(xml.contains(&format!(r#"Destination="{SSO_URL}""#)), "{xml}");
        assert!(xml.contains(&format!(r#"AssertionConsumerServiceURL="{}""#, app.url("/saml/acme/acs"))), "{xml}");
        assert!(xml.contains(&format!("<saml:Issuer>{}</saml:Issuer>", app.url("/saml/acme"))), "{xml}");
        let id = xml.split(r#" ID=""#).nth(1).and_then(|rest| rest.split('"').next()).expect("ID");

        // The request is in the database, for whichever process receives the response.
        let tenant_id: uuid::Uuid = tenant["id"].as_str().expect("id").parse().expect("uuid");
        let now = app.state.app.clock.now();
        let stored = app.store.take_saml_request(tenant_id, id, now).await.expect("take").expect("stored");
        assert_eq!(&stored.relay_state, relay_state);
        assert_eq!(stored.redirect_uri, None);
        assert!(!stored.test);
        assert_eq!(stored.expires_at, now + time::Duration::minutes(10));
        // Each login is a fresh request.
        let again = app.browser().get(app.url("/saml/acme/login")).send().await.expect("send");
        assert_ne!(again.headers()["location"], location.as_str());
    }

    async fn login_without_a_connection_is_a_clear_page(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let response = app.browser().get(app.url("/saml/acme/login")).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
        let request_id = response.headers()["x-request-id"].to_str().expect("id").to_owned();
        let page = response.text().await.expect("body");
        assert!(page.contains("saml_not_configured"), "{page}");
        assert!(page.contains(&request_id), "the page carries the reference of the log line");
        let unknown = app.browser().get(app.url("/saml/%3Cscript%3E/login")).send().await.expect("send");
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        assert!(!unknown.text().await.expect("body").contains("<script>"));
    }

    async fn a_metadata_url_is_fetched_and_remembered(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let url = format!("{}/federationmetadata/2007-06/federationmetadata.xml", serve_fixed(200, String::new(), idp_metadata()).await);
        let response = put_saml(&app, "acme", json!({"idp_metadata_url": url})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let view: Value = response.json().await.expect("json");
        assert_eq!(view["idp_metadata_url"], url.as_str());
        assert_eq!(view["idp_sso_url"], SSO_URL);
        assert_eq!(view["idp_certificates"].as_array().map(Vec::len), Some(2));
        // A later toggle change keeps the URL.
        let view: Value = put_saml(&app, "acme", json!({"allow_idp_initiated": false})).await.json().await.expect("json");
        assert_eq!(view["idp_metadata_url"], url.as_str());
        assert_eq!(view["allow_idp_initiated"], false);
    }

    async fn metadata_urls_that_fail_are_reported_and_write_nothing(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        let not_found = serve_fixed(404, String::new(), "no".into()).await;
        let html = serve_fixed(200, String::new(), "<html><body>Sign in to continue</body></html>".into()).await;
        let huge = serve_fixed(200, String::new(), "x".repeat(2 * 1024 * 1024)).await;
        let target = serve_fixed(200, String::new(), idp_metadata()).await;
        let hop = format!("location: {target}/next\r\n");
        let redirecting = serve_fixed(302, hop, String::new()).await;
        for (url, code, says) in [
            (not_found, "metadata_fetch_failed", "404"),
            (html, "invalid_metadata", "html"),
            (huge, "metadata_fetch_failed", "larger"),
        ] {
            let response = put_saml(&app, "acme", json!({"idp_metadata_url": url})).await;
            let error = expect_error(response, StatusCode::BAD_REQUEST, code).await;
            assert!(error["message"].as_str().unwrap_or_default().contains(says), "{error}");
        }
        assert_eq!(get_saml(&app, "acme").await["configured"], false);
        // One redirect is followed.
        let response = put_saml(&app, "acme", json!({"idp_metadata_url": redirecting})).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    async fn fetched_metadata_is_refreshed_daily_and_failures_keep_the_last_good_one(db: TestDb) {
        let app = TestApp::spawn_allowing_private_urls(db).await;
        app.create_tenant("acme").await;
        // The IdP's metadata endpoint, whose document the test changes.
        let document = std::sync::Arc::new(std::sync::Mutex::new((200u16, idp_metadata())));
        let url = serve_mutable(document.clone()).await;
        assert_eq!(put_saml(&app, "acme", json!({"idp_metadata_url": url})).await.status(), StatusCode::OK);
        let fingerprints = |view: &Value| -> Vec<String> {
            view["idp_certificates"].as_array().expect("certificates").iter()
                .map(|c| c["sha256_fingerprint"].as_str().expect("fingerprint").to_owned()).collect()
        };
        let before = fingerprints(&get_saml(&app, "acme").await);
        assert_eq!(before.len(), 2);

        // The IdP rolls its certificate: only the new one is published now.
        let rolled = idp_metadata().replacen(&cert_body(CERT), &cert_body(NEXT_CERT), 1);
        document.lock().expect("lock").1 = rolled;
        // Not due yet: nothing is fetched.
        assert_eq!(idbridge_app::connections::refresh_due(&app.state.app).await.expect("refresh"), 0);
        app.clock.advance(time::Duration::hours(25));
        assert_eq!(idbridge_app::connections::refresh_due(&app.state.app).await.expect("refresh"), 1);
        let view = get_saml(&app, "acme").await;
        assert_eq!(fingerprints(&view), vec![before[1].clone()]);
        assert_eq!(view["idp_metadata_error"], Value::Null);

        // The endpoint breaks: the error is reported, the last good metadata stays.
        document.lock().expect("lock").0 = 500;
        app.clock.advance(time::Duration::hours(25));
        assert_eq!(idbridge_app::connections::refresh_due(&app.state.app).await.expect("refresh"), 1);
        let view = get_saml(&app, "acme").await;
        assert_eq!(fingerprints(&view), vec![before[1].clone()]);
        assert!(view["idp_metadata_error"].as_str().is_some_and(|e| e.contains("500")), "{view}");
        // Switching to pasted metadata stops the refresh.
        assert_eq!(put_saml(&app, "acme", json!({"idp_metadata_xml": idp_metadata()})).await.status(), StatusCode::OK);
        app.clock.advance(time::Duration::hours(25));
        assert_eq!(idbridge_app::connections::refresh_due(&app.state.app).await.expect("refresh"), 0);
    }

    async fn certificates_near_expiry_are_flagged_and_announced_once(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        assert_eq!(put_saml(&app, "acme", json!({"idp_metadata_xml": idp_metadata()})).await.status(), StatusCode::OK);
        assert_eq!(idbridge_app::connections::warn_expiring(&app.state.app).await.expect("check"), 0);
        // Move to three weeks before the first certificate ends.
        let view = get_saml(&app, "acme").await;
        let not_after = time::OffsetDateTime::parse(
            view["idp_certificates"][0]["not_after"].as_str().expect("not_after"),
            &time::format_description::well_known::Rfc3339,
        ).expect("time");
        let now = idbridge_core::Clock::now(app.clock.as_ref());
        app.clock.advance(not_after - now - time::Duration::days(21));
        let view = get_saml(&app, "acme").await;
        assert_eq!(view["idp_certificates"][0]["expires_soon"], true);
        // Both fixture certificates were issued the same day, for ten years: both end
        // within the 30 days.
        assert_eq!(idbridge_app::connections::warn_expiring(&app.state.app).await.expect("check"), 2);
        assert_eq!(idbridge_app::connections::warn_expiring(&app.state.app).await.expect("check"), 0, "once per certificate");
        let events: Value = app.admin_get("/api/v1/tenants/acme/events?after=0").await;
        let events = events["data"].as_array().expect("data");
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e["type"] == "saml.certificate_expiring"));
        assert!(events.iter().any(|e| e["data"]["certificate"]["sha256_fingerprint"] == view["idp_certificates"][0]["sha256_fingerprint"]));
    }
}
