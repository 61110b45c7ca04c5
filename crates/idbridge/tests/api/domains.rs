//! Verified email domains end to end: the admin API, a real DNS server on loopback
//! (`TestDns`) that idbridge asks through `--dns-resolver`, the lookup, the daily
//! re-check and the events it leaves.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dns_server::TestDns;
use crate::helpers::{TestApp, expect_error, q};
use idbridge_testkit::both_backends;

async fn app_with_dns(db: idbridge_testkit::TestDb) -> (TestApp, TestDns) {
    let dns = TestDns::start().await;
    let app = TestApp::spawn_with_dns_resolver(db, dns.addr).await;
    (app, dns)
}

impl TestApp {
    async fn add_domain(&self, slug: &str, domain: &str) -> reqwest::Response {
        self.admin(Method::POST, &format!("/api/v1/tenants/{slug}/domains"))
            .json(&json!({"domain": domain}))
            .send()
            .await
            .expect("send")
    }

    /// Claims `domain` for `slug` and answers the created claim.
    async fn claim(&self, slug: &str, domain: &str) -> Value {
        let response = self.add_domain(slug, domain).await;
        assert_eq!(response.status(), StatusCode::CREATED, "claiming {domain}");
        response.json().await.expect("json")
    }

    async fn verify(&self, slug: &str, domain: &str) -> reqwest::Response {
        self.admin(
            Method::POST,
            &format!("/api/v1/tenants/{slug}/domains/{domain}/verify"),
        )
        .send()
        .await
        .expect("send")
    }

    async fn verify_ok(&self, slug: &str, domain: &str) -> Value {
        let response = self.verify(slug, domain).await;
        assert_eq!(response.status(), StatusCode::OK, "verifying {domain}");
        response.json().await.expect("json")
    }

    async fn lookup(&self, email: &str) -> reqwest::Response {
        self.admin(Method::GET, &format!("/api/v1/lookup?email={}", q(email)))
            .send()
            .await
            .expect("send")
    }

    async fn lookup_ok(&self, email: &str) -> Value {
        let response = self.lookup(email).await;
        assert_eq!(response.status(), StatusCode::OK, "lookup {email}");
        response.json().await.expect("json")
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self.admin(Method::GET, path).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    async fn event_types(&self, slug: &str) -> Vec<String> {
        self.get_json(&format!("/api/v1/tenants/{slug}/events?limit=200"))
            .await["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Publishes the claim's TXT record as one character-string.
async fn publish(dns: &TestDns, claim: &Value) {
    let name = claim["txt_record"]["name"].as_str().expect("name");
    let value = claim["txt_record"]["value"].as_str().expect("value");
    dns.add_txt(name, &[value]).await;
}

both_backends! {
    async fn a_published_txt_record_verifies_the_domain(db: TestDb) {
        let (app, dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        let claim = app.claim("acme", "Acme.TEST.").await;
        assert_eq!(claim["domain"], "acme.test");
        assert_eq!(claim["verified"], false);
        assert_eq!(claim["verified_at"], Value::Null);
        assert_eq!(claim["txt_record"]["name"], "_idbridge-verification.acme.test");
        let value = claim["txt_record"]["value"].as_str().expect("value");
        assert!(value.starts_with("idbridge-verification="), "{value}");
        assert!(value.len() > "idbridge-verification=".len() + 20, "{value}");

        // Not published yet: the name does not exist.
        let pending = app.verify_ok("acme", "acme.test").await;
        assert_eq!(pending["verified"], false);
        assert_eq!(pending["verification_error"], "nxdomain");

        // Other TXT records at the name are ignored.
        dns.add_txt("_idbridge-verification.acme.test", &["v=spf1 -all"]).await;
        publish(&dns, &claim).await;
        let verified = app.verify_ok("acme", "acme.test").await;
        assert_eq!(verified["verified"], true, "{verified}");
        assert_eq!(verified["verification_error"], Value::Null);
        assert_eq!(verified["verified_at"], "2026-11-01T09:00:00Z");
        assert_eq!(verified["txt_record"], claim["txt_record"]);

        let list = app.get_json("/api/v1/tenants/acme/domains").await;
        assert_eq!(list["next_cursor"], Value::Null);
        assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(list["data"][0]["domain"], "acme.test");
        assert_eq!(list["data"][0]["verified"], true);
        let tenant = app.get_json("/api/v1/tenants/acme").await;
        assert_eq!(tenant["domains"], json!({"total": 1, "verified": 1}));
        assert_eq!(app.event_types("acme").await, ["domain.verified"]);

        // Verifying again changes nothing and raises no second event.
        let again = app.verify_ok("acme", "acme.test").await;
        assert_eq!(again["verified"], true);
        assert_eq!(again["verified_at"], "2026-11-01T09:00:00Z");
        assert_eq!(app.event_types("acme").await, ["domain.verified"]);
    }

    async fn a_claim_keeps_its_token_and_lists_page(db: TestDb) {
        let (app, _dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        let first = app.claim("acme", "acme.test").await;
        let response = app.add_domain("acme", "ACME.test").await;
        assert_eq!(response.status(), StatusCode::OK);
        let again: Value = response.json().await.expect("json");
        assert_eq!(again["txt_record"], first["txt_record"]);
        for domain in ["b.acme.test", "c.acme.test"] {
            app.claim("acme", domain).await;
        }
        let page = app.get_json("/api/v1/tenants/acme/domains?limit=2").await;
        assert_eq!(page["data"][0]["domain"], "acme.test");
        assert_eq!(page["data"][1]["domain"], "b.acme.test");
        let cursor = page["next_cursor"].as_str().expect("cursor");
        let rest = app
            .get_json(&format!("/api/v1/tenants/acme/domains?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(rest["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(rest["data"][0]["domain"], "c.acme.test");
        assert_eq!(rest["next_cursor"], Value::Null);
        let tenant = app.get_json("/api/v1/tenants/acme").await;
        assert_eq!(tenant["domains"], json!({"total": 3, "verified": 0}));
        expect_error(
            app.add_domain("nobody", "acme.test").await,
            StatusCode::NOT_FOUND,
            "tenant_not_found",
        )
        .await;
    }

    async fn a_wrong_value_does_not_verify(db: TestDb) {
        let (app, dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        app.claim("acme", "acme.test").await;
        dns.add_txt(
            "_idbridge-verification.acme.test",
            &["idbridge-verification=not-the-token"],
        )
        .await;
        let checked = app.verify_ok("acme", "acme.test").await;
        assert_eq!(checked["verified"], false);
        assert_eq!(checked["verification_error"], "txt_record_not_found");
        assert_eq!(checked["checked_at"], "2026-11-01T09:00:00Z");
        assert!(app.event_types("acme").await.is_empty());
        expect_error(
            app.verify("acme", "unclaimed.test").await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }

    async fn a_record_split_into_several_strings_verifies(db: TestDb) {
        let (app, dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        let claim = app.claim("acme", "acme.test").await;
        let value = claim["txt_record"]["value"].as_str().expect("value");
        let (head, tail) = value.split_at(10);
        dns.add_txt("_idbridge-verification.acme.test", &[head, tail]).await;
        let checked = app.verify_ok("acme", "acme.test").await;
        assert_eq!(checked["verified"], true, "{checked}");
    }

    async fn a_domain_verified_by_one_tenant_cannot_be_verified_by_another(db: TestDb) {
        let (app, dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let a = app.claim("acme", "shared.test").await;
        // Pending claims by two tenants are allowed: a claim proves nothing.
        let b = app.claim("globex", "shared.test").await;
        assert_ne!(a["txt_record"]["value"], b["txt_record"]["value"]);
        publish(&dns, &a).await;
        publish(&dns, &b).await;
        assert_eq!(app.verify_ok("acme", "shared.test").await["verified"], true);

        let body = expect_error(
            app.verify("globex", "shared.test").await,
            StatusCode::CONFLICT,
            "claimed_by_another_tenant",
        )
        .await;
        assert!(body["message"].as_str().is_some_and(|m| m.contains("shared.test")), "{body}");
        let list = app.get_json("/api/v1/tenants/globex/domains").await;
        assert_eq!(list["data"][0]["verified"], false);
        assert_eq!(list["data"][0]["verification_error"], "claimed_by_another_tenant");

        app.create_tenant("initech").await;
        expect_error(
            app.add_domain("initech", "shared.test").await,
            StatusCode::CONFLICT,
            "claimed_by_another_tenant",
        )
        .await;
        assert_eq!(app.lookup_ok("jane@shared.test").await["tenant"], "acme");
        assert!(app.event_types("globex").await.is_empty());
    }

    async fn public_mail_domains_are_refused(db: TestDb) {
        let (app, _dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        for domain in [
            "gmail.com",
            "Outlook.com",
            "hotmail.co.uk",
            "yahoo.com",
            "icloud.com",
            "proton.me",
            "aol.com",
            "gmx.de",
            "gmx.net",
            "mail.ru",
            "yandex.ru",
            "qq.com",
            "163.com",
        ] {
            let body = expect_error(
                app.add_domain("acme", domain).await,
                StatusCode::BAD_REQUEST,
                "public_mail_domain",
            )
            .await;
            assert!(body["message"].as_str().is_some_and(|m| m.contains("public mail")), "{body}");
        }
        let tenant = app.get_json("/api/v1/tenants/acme").await;
        assert_eq!(tenant["domains"]["total"], 0);
    }

    async fn what_is_no_domain_name_is_refused(db: TestDb) {
        let (app, _dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        let too_long = format!("{}.test", ["abcdefghij"; 25].join("."));
        let long_label = format!("{}.test", "a".repeat(64));
        for domain in [
            "",
            "   ",
            "localhost",
            "test",
            "10.0.0.1",
            "::1",
            "[2001:db8::1]",
            "1.2.3.4.5",
            "not a domain!",
            // (An address pasted for a domain is cleaned to it: see
            // a_pasted_address_is_cleaned_to_its_domain; what is left must be one.)
            "https://10.0.0.1/",
            "jane@localhost",
            "acme..test",
            "-acme.test",
            "acme_corp.test",
            too_long.as_str(),
            long_label.as_str(),
        ] {
            expect_error(
                app.add_domain("acme", domain).await,
                StatusCode::BAD_REQUEST,
                "invalid_domain",
            )
            .await;
        }
        let response = app
            .admin(Method::POST, "/api/v1/tenants/acme/domains")
            .json(&json!({"domain": 42}))
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_body").await;
        // Internationalised names are stored as punycode.
        let idn = app.claim("acme", "Bücher.test").await;
        assert_eq!(idn["domain"], "xn--bcher-kva.test");
        assert_eq!(idn["txt_record"]["name"], "_idbridge-verification.xn--bcher-kva.test");
        let tenant = app.get_json("/api/v1/tenants/acme").await;
        assert_eq!(tenant["domains"]["total"], 1);
    }

    async fn lookup_finds_the_tenant_of_a_verified_domain_only(db: TestDb) {
        let (app, dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        app.create_tenant("globex").await;
        let response = app
            .admin(Method::PATCH, "/api/v1/tenants/acme")
            .json(&json!({"sso_required": true}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let claim = app.claim("acme", "acme.test").await;
        app.claim("globex", "globex.test").await;

        let none = json!({"tenant": null, "sso_required": false});
        // Claimed but not verified: no tenant yet.
        assert_eq!(app.lookup_ok("jane@acme.test").await, none);
        publish(&dns, &claim).await;
        app.verify_ok("acme", "acme.test").await;

        let found = json!({"tenant": "acme", "sso_required": true});
        assert_eq!(app.lookup_ok("jane@acme.test").await, found);
        assert_eq!(app.lookup_ok("Jane.Doe@ACME.Test").await, found);
        assert_eq!(app.lookup_ok(" jane@acme.test. ").await, found);
        // A subdomain is a domain of its own.
        assert_eq!(app.lookup_ok("jane@eu.acme.test").await, none);
        assert_eq!(app.lookup_ok("jane@globex.test").await, none);
        assert_eq!(app.lookup_ok("jane@gmail.com").await, none);

        for malformed in ["", "jane", "@acme.test", "jane@", "jane@localhost", "jane@10.0.0.1"] {
            expect_error(app.lookup(malformed).await, StatusCode::BAD_REQUEST, "invalid_email").await;
        }
        let response = app.admin(Method::GET, "/api/v1/lookup").send().await.expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

        // Once the tenant has a connection, the lookup names the one the sign-in
        // goes through.
        let idp = idbridge_testkit::saml::TestIdp::entra(idbridge_testkit::saml::Key::Rsa2048);
        let response = app
            .admin(Method::PUT, "/api/v1/tenants/acme/saml")
            .json(&json!({"idp_metadata_xml": idp.metadata_xml()}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let tenant = app.get_json("/api/v1/tenants/acme").await;
        let found = app.lookup_ok("jane@acme.test").await;
        assert_eq!(found["tenant"], "acme");
        assert_eq!(found["connection"], json!({"id": tenant["id"], "type": "saml", "name": "SAML"}));
    }

    async fn the_recheck_unverifies_a_domain_whose_record_is_gone(db: TestDb) {
        let (app, dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        let claim = app.claim("acme", "acme.test").await;
        let kept = app.claim("acme", "kept.test").await;
        publish(&dns, &claim).await;
        publish(&dns, &kept).await;
        app.verify_ok("acme", "acme.test").await;
        app.verify_ok("acme", "kept.test").await;

        // Not due yet: nothing is asked.
        assert_eq!(idbridge_app::domains::recheck_due(&app.state.app).await.expect("recheck"), 0);

        dns.remove_txt("_idbridge-verification.acme.test").await;
        app.clock.advance(time::Duration::hours(25));
        assert_eq!(idbridge_app::domains::recheck_due(&app.state.app).await.expect("recheck"), 2);

        let list = app.get_json("/api/v1/tenants/acme/domains").await;
        let acme = &list["data"][0];
        assert_eq!(acme["domain"], "acme.test");
        assert_eq!(acme["verified"], false);
        assert_eq!(acme["verified_at"], Value::Null);
        assert_eq!(acme["verification_error"], "txt_record_missing");
        assert_eq!(acme["checked_at"], "2026-11-02T10:00:00Z");
        let still = &list["data"][1];
        assert_eq!(still["verified"], true);
        assert_eq!(still["checked_at"], "2026-11-02T10:00:00Z");

        assert_eq!(
            app.lookup_ok("jane@acme.test").await,
            json!({"tenant": null, "sso_required": false})
        );
        assert_eq!(app.lookup_ok("jane@kept.test").await["tenant"], "acme");
        let events = app.get_json("/api/v1/tenants/acme/events?limit=200").await;
        let types: Vec<&str> = events["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(types, ["domain.verified", "domain.verified", "domain.unverified"]);
        let unverified = &events["data"][2];
        assert_eq!(unverified["resource_type"], "Domain");
        assert_eq!(unverified["data"]["domain"]["domain"], "acme.test");
        assert_eq!(unverified["data"]["domain"]["reason"], "txt_record_missing");

        // Checked a moment ago: the next run has nothing to do.
        assert_eq!(idbridge_app::domains::recheck_due(&app.state.app).await.expect("recheck"), 0);
        // Published again, an admin's verify restores it.
        publish(&dns, &claim).await;
        assert_eq!(app.verify_ok("acme", "acme.test").await["verified"], true);
        assert_eq!(app.lookup_ok("jane@acme.test").await["tenant"], "acme");
    }

    async fn deleting_a_domain_stops_the_lookup(db: TestDb) {
        let (app, dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        let claim = app.claim("acme", "acme.test").await;
        publish(&dns, &claim).await;
        app.verify_ok("acme", "acme.test").await;
        let response = app
            .admin(Method::DELETE, "/api/v1/tenants/acme/domains/ACME.test")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.lookup_ok("jane@acme.test").await["tenant"], Value::Null);
        assert_eq!(app.event_types("acme").await, ["domain.verified", "domain.unverified"]);
        let tenant = app.get_json("/api/v1/tenants/acme").await;
        assert_eq!(tenant["domains"], json!({"total": 0, "verified": 0}));
        let response = app
            .admin(Method::DELETE, "/api/v1/tenants/acme/domains/acme.test")
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        // Another tenant may now claim and verify it.
        app.create_tenant("globex").await;
        let b = app.claim("globex", "acme.test").await;
        publish(&dns, &b).await;
        assert_eq!(app.verify_ok("globex", "acme.test").await["verified"], true);
    }
}

/// The routes are in the OpenAPI document (generated from the handlers).
#[tokio::test]
async fn openapi_documents_the_domain_routes() {
    let app = TestApp::spawn(idbridge_testkit::TestDb::sqlite().await).await;
    let doc: Value = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    for (path, method) in [
        ("/tenants/{slug}/domains", "post"),
        ("/tenants/{slug}/domains", "get"),
        ("/tenants/{slug}/domains/{domain}/verify", "post"),
        ("/tenants/{slug}/domains/{domain}", "delete"),
        ("/lookup", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    for schema in [
        "DomainView",
        "TxtRecordView",
        "LookupView",
        "DomainsSummary",
        "AddDomain",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

/// The real binary with `--dns-resolver host:port` asks that server: what an
/// operator's deployment does.
#[tokio::test]
async fn the_binary_asks_the_dns_server_its_flag_names() {
    let dns = TestDns::start().await;
    let resolver = dns.addr.to_string();
    let server =
        crate::helpers::ServerProcess::start(None, &["--dns-resolver", &resolver], "info").await;
    let http = reqwest::Client::new();
    let admin = |method: Method, path: &str| {
        http.request(method, server.url(path))
            .bearer_auth(crate::helpers::ADMIN_KEY)
    };
    let response = admin(Method::POST, "/api/v1/tenants")
        .json(&json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let claim: Value = admin(Method::POST, "/api/v1/tenants/acme/domains")
        .json(&json!({"domain": "acme.test"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    publish(&dns, &claim).await;
    let verified: Value = admin(
        Method::POST,
        "/api/v1/tenants/acme/domains/acme.test/verify",
    )
    .send()
    .await
    .expect("send")
    .json()
    .await
    .expect("json");
    assert_eq!(verified["verified"], true, "{verified}\n{}", server.logs());
    let found: Value = admin(Method::GET, "/api/v1/lookup?email=jane%40acme.test")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(found, json!({"tenant": "acme", "sso_required": false}));
}

/// A DNS server that never answers: the check ends within its bound and says so,
/// and a verified domain would keep its status (see the store's contract test).
#[tokio::test]
async fn a_silent_dns_server_is_reported_as_a_timeout() {
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let addr = udp.local_addr().expect("addr");
    // Accepts TCP too, and never answers there either.
    let _tcp = tokio::net::TcpListener::bind(addr).await.ok();
    let app =
        TestApp::spawn_with_dns_resolver(idbridge_testkit::TestDb::sqlite().await, addr).await;
    app.create_tenant("acme").await;
    app.claim("acme", "acme.test").await;
    let started = std::time::Instant::now();
    let checked = app.verify_ok("acme", "acme.test").await;
    assert_eq!(checked["verified"], false);
    assert_eq!(checked["verification_error"], "dns_timeout", "{checked}");
    assert!(
        started.elapsed()
            < idbridge_app::net::dns::CHECK_TIMEOUT + std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(udp);
}

mod required {
    //! `require_verified_domains`: a tenant that turns it on accepts SAML sign-ins
    //! and SCIM users only at domains it verified.

    use idbridge_core::Clock;
    use idbridge_testkit::saml::{Key, TestIdp};

    use super::*;

    async fn verified_tenant(app: &TestApp, dns: &TestDns) {
        app.create_tenant("acme").await;
        let claim = app.claim("acme", "acme.test").await;
        publish(dns, &claim).await;
        assert_eq!(app.verify_ok("acme", "acme.test").await["verified"], true);
        let response = app
            .admin(Method::PATCH, "/api/v1/tenants/acme")
            .json(&json!({"require_verified_domains": true}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let tenant: Value = response.json().await.expect("json");
        assert_eq!(tenant["require_verified_domains"], true);
    }

    both_backends! {
        async fn scim_users_must_be_at_a_verified_domain(db: TestDb) {
            let (app, dns) = app_with_dns(db).await;
            verified_tenant(&app, &dns).await;
            let (_, token) = app.create_scim_token("acme").await;
            let scim = crate::helpers::ScimClient { app: &app, slug: "acme".into(), token };
            let ok = scim.create_user("ada@ACME.test").await;
            let refused = scim
                .send(Method::POST, "/Users", Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "eve@elsewhere.test",
                })))
                .await;
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
            let body: Value = refused.json().await.expect("json");
            assert_eq!(body["scimType"], "invalidValue");
            assert!(body["detail"].as_str().expect("detail").contains("elsewhere.test"));
            // Nor can a PATCH add an address elsewhere; the user stays as it was.
            let id = ok["id"].as_str().expect("id");
            let patched = scim
                .send(Method::PATCH, &format!("/Users/{id}"), Some(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "emails", "value": [{"value": "ada@elsewhere.test"}]}],
                })))
                .await;
            assert_eq!(patched.status(), StatusCode::BAD_REQUEST);
            let user = scim.get(&format!("/Users/{id}")).await;
            assert_eq!(user["emails"].as_array().expect("emails").len(), 1);
        }

        async fn saml_sign_ins_must_be_at_a_verified_domain(db: TestDb) {
            let (app, dns) = app_with_dns(db).await;
            verified_tenant(&app, &dns).await;
            let idp = TestIdp::okta(Key::Rsa2048);
            let response = app
                .admin(Method::PUT, "/api/v1/tenants/acme/saml")
                .json(&json!({"idp_metadata_xml": idp.metadata_xml()}))
                .send().await.expect("send");
            assert_eq!(response.status(), StatusCode::OK);
            let post = |email: &'static str| {
                let spec = idp.response_spec(
                    &app.url("/saml/acme"),
                    &app.url("/saml/acme/acs"),
                    None,
                    email,
                    app.clock.now(),
                );
                let value = idp.post_value(&spec);
                let browser = app.browser();
                let url = app.url("/saml/acme/acs");
                async move {
                    browser.post(url).form(&[("SAMLResponse", value.as_str())]).send().await.expect("send")
                }
            };
            let refused = post("eve@elsewhere.test").await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN);
            assert!(refused.text().await.expect("page").contains("email_domain_not_verified"));
            // At the verified domain the response is accepted (it then stops at the
            // missing default_redirect_uri, which is a later step).
            let accepted = post("ada@acme.test").await;
            assert_eq!(accepted.status(), StatusCode::CONFLICT);
            let log: Value = app.admin_get("/api/v1/tenants/acme/sign-in-log").await;
            let reasons: Vec<&str> = log["data"].as_array().expect("data").iter()
                .filter_map(|e| e["reason"].as_str()).collect();
            assert_eq!(reasons, vec!["no_redirect_uri", "email_domain_not_verified"]);
        }
    }
}

both_backends! {
    async fn a_pasted_address_is_cleaned_to_its_domain(db: TestDb) {
        let (app, _dns) = app_with_dns(db).await;
        app.create_tenant("acme").await;
        for (pasted, domain) in [("https://Acme.Example/", "acme.example"), ("ada@globex.example", "globex.example"), ("http://initech.example:8080/login?x=1", "initech.example")] {
            let claim = app.claim("acme", pasted).await;
            assert_eq!(claim["domain"], domain, "{pasted}");
        }
        // What is left must still be a domain.
        let response = app.add_domain("acme", "https://10.0.0.1/").await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_domain").await;
    }
}
