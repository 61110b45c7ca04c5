//! The issue's whole journey in headless Chromium, as the two people who make it
//! see it: the operator signs in to the console and creates a tenant and a setup
//! link there; the tenant's IT admin opens the link, follows the Entra ID guide, gives
//! idbridge the IdP's metadata, runs "test connection" (the test IdP answers as
//! Entra ID would), generates the Secret Token and proves the email domain (the
//! test's DNS server publishes the TXT record); Entra-shaped SCIM requests
//! provision users with app roles and a group; the operator's console then shows
//! the users, the sign-in log and the provisioning log.
//! Screenshots: target/browser-screenshots/setup_journey_in_chromium/.

use std::collections::HashMap;

use idbridge_core::Clock;
use idbridge_saml::authn_request::inflate_redirect_payload;
use idbridge_testkit::TestDb;
use idbridge_testkit::saml::{Key, TestIdp};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::browser_pages::idp_post_page;
use crate::dns_server::TestDns;
use crate::helpers::TestApp;

const OPERATOR: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// Users as Entra ID provisions them: app role in `roles`, as
/// `SingleAppRoleAssignment([appRoleAssignments])` → `roles[primary eq "True"].value`
/// sends it. One display name is hostile, to be seen escaped on every page.
fn entra_user(user_name: &str, display_name: &str, role: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": uuid::Uuid::new_v4().to_string(),
        "userName": user_name,
        "active": true,
        "displayName": display_name,
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": role}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engineering"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_journey_in_chromium() {
    let dns = TestDns::start().await;
    let app = TestApp::spawn_with_dns_resolver(TestDb::sqlite().await, dns.addr).await;
    idbridge_app::operators::create(
        &app.state.app,
        OPERATOR,
        &SecretString::from(PASSWORD),
        &idbridge_app::audit::Audit::cli(None),
    )
    .await
    .expect("operator");
    let roles = app
        .admin(Method::PUT, "/api/v1/app-roles")
        .json(&json!({"roles": ["admin", "AppAdmin", "member"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(roles.status(), StatusCode::OK);
    let browser = Browser::start("setup_journey_in_chromium").await;

    // The operator signs in and creates the tenant.
    browser.goto(&app.url("/admin/login")).await;
    browser.fill("input[name=email]", OPERATOR).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("#new-name").await;
    browser.fill("#new-name", "Contoso Ltd").await;
    browser.fill("#new-slug", "contoso").await;
    browser.screenshot("01-console-new-tenant").await;
    browser
        .click("form[method=post][action$='/admin/tenants'] button[type=submit]")
        .await;
    browser.wait_for("nav.tabs").await;
    assert!(browser.text("h1").await.contains("Contoso Ltd"));
    browser.screenshot("02-console-tenant").await;

    // The setup link for Contoso's IT admin, made in the console and shown once.
    browser
        .goto(&app.url("/admin/tenants/contoso/setup-links"))
        .await;
    browser.wait_for("#note").await;
    browser.set_value("#provider", "entra").await;
    browser.fill("#note", "Megan, Contoso IT").await;
    browser
        .click("form[action$='/setup-links'] button[type=submit]")
        .await;
    browser.wait_for("#new-url").await;
    let setup_url = browser.property("#new-url", "value").await;
    assert!(
        setup_url.starts_with(&app.url("/setup?token=idb_setup_")),
        "{setup_url}"
    );
    browser.screenshot("03-console-setup-link").await;

    // The IT admin opens it: the address loses the token at once.
    browser.goto(&setup_url).await;
    browser.wait_for("ol.progress").await;
    assert_eq!(browser.current_url().await, app.url("/setup"));
    assert!(browser.text("body").await.contains("Not connected"));
    browser.screenshot("04-portal-overview").await;

    // Step 1: the Entra guide, the values to paste, the metadata.
    browser.click("a.button.primary[href*='/setup/sso']").await;
    browser.wait_for("#metadata_xml").await;
    assert_eq!(
        browser.property("#sp-entity-id", "value").await,
        app.url("/saml/contoso")
    );
    assert_eq!(
        browser.property("#acs-url", "value").await,
        app.url("/saml/contoso/acs")
    );
    let guide = browser.text("main").await;
    for words in [
        "Identifier (Entity ID)",
        "Reply URL (Assertion Consumer Service URL)",
        "user.mail",
        "App Federation Metadata Url",
    ] {
        assert!(guide.contains(words), "the guide lacks {words:?}");
    }
    browser.screenshot("05-portal-sso-guide").await;
    let idp = TestIdp::entra(Key::Rsa2048);
    browser
        .set_value("#metadata_xml", &idp.metadata_xml())
        .await;
    browser
        .click("form[action$='/setup/sso'] button[type=submit]")
        .await;
    browser.wait_for(".notice-success").await;
    eprintln!("DEBUG {}", browser.text("main").await);
    assert!(browser.text(".page-head").await.contains("Connected"));
    browser.screenshot("06-portal-sso-saved").await;

    // Test connection: idbridge hands over a sign-in for the IdP; the test IdP
    // answers it as Entra ID would, through the browser.
    browser
        .click("form[action$='/setup/sso/test'] button[type=submit]")
        .await;
    browser.wait_for("#test-title").await;
    browser.screenshot("07-portal-test-ready").await;
    let login_url = browser
        .property(".highlight a.button.primary", "href")
        .await;
    assert!(login_url.starts_with(&idp.sso_url), "{login_url}");
    let login = url::Url::parse(&login_url).expect("login URL");
    let query: HashMap<String, String> = login.query_pairs().into_owned().collect();
    let request = inflate_redirect_payload(&query["SAMLRequest"]).expect("inflates");
    let request_id = request
        .split(" ID=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("ID");
    let acs_url = app.url("/saml/contoso/acs");
    let spec = idp.response_spec(
        &app.url("/saml/contoso"),
        &acs_url,
        Some(request_id),
        "megan@contoso.com",
        app.clock.now(),
    );
    browser.goto(&idp_post_page(&acs_url)).await;
    browser
        .set_value("textarea[name=SAMLResponse]", &idp.post_value(&spec))
        .await;
    browser
        .fill("input[name=RelayState]", &query["RelayState"])
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&acs_url).await;
    assert_eq!(browser.title().await, "Test connection succeeded");
    assert!(browser.text("body").await.contains("megan@contoso.com"));
    browser.screenshot("08-test-connection-result").await;

    // Step 2: the Secret Token, shown once, and the Entra provisioning guide.
    browser.goto(&app.url("/setup/provisioning")).await;
    browser.wait_for("#tenant-url").await;
    assert_eq!(
        browser.property("#tenant-url", "value").await,
        app.url("/scim/v2/contoso")
    );
    browser
        .click("form[action$='/setup/provisioning/tokens'] button[type=submit]")
        .await;
    browser.wait_for("#new-token").await;
    let token = browser.property("#new-token", "value").await;
    assert!(token.starts_with("idb_scim_"), "{token}");
    let guide = browser.text("main").await;
    assert!(guide.contains("You will not be able to view it again"));
    assert_eq!(
        browser.property("#role-expression", "value").await,
        "SingleAppRoleAssignment([appRoleAssignments])"
    );
    assert_eq!(
        browser.property("#role-target", "value").await,
        r#"roles[primary eq "True"].value"#
    );
    browser.screenshot("09-portal-secret-token").await;

    // Entra ID provisions with the token it was given.
    let hostile = r#"<img src=x onerror=alert(1)> Hacker"#;
    let mut ids = Vec::new();
    for (user, name, role) in [
        ("megan@contoso.com", "Megan Bowen", "admin"),
        ("alex@contoso.com", "Alex Wilber", "AppAdmin"),
        ("lee@contoso.com", hostile, "member"),
    ] {
        let response = app
            .scim(
                Method::POST,
                "contoso",
                "/Users",
                &token,
                Some(entra_user(user, name, role)),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{user}");
        let created: Value = response.json().await.expect("json");
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "externalId": uuid::Uuid::new_v4().to_string(),
        "displayName": "Contoso Engineering",
        "members": ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>(),
    });
    let response = app
        .scim(Method::POST, "contoso", "/Groups", &token, Some(group))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // Step 3: the email domain, proven with the TXT record the page gives, which
    // the DNS admin publishes (here: the test's DNS server idbridge asks, which
    // serves the reserved `.test` zone).
    browser.goto(&app.url("/setup/domains")).await;
    browser.wait_for("#domain").await;
    browser.fill("#domain", "contoso.test").await;
    browser
        .click("form[action$='/setup/domains'] button[type=submit]")
        .await;
    browser.wait_for("#txt-name-1").await;
    let txt_name = browser.property("#txt-name-1", "value").await;
    let txt_value = browser.property("#txt-value-1", "value").await;
    assert!(txt_name.ends_with("contoso.test"), "{txt_name}");
    // Pressed before the record is published: the page says it is not verified
    // yet, and why.
    browser
        .click("form[action$='/verify'] button[type=submit]")
        .await;
    browser
        .wait_for_url(&app.url("/setup/domains?guide=entra&done=checked"))
        .await;
    let notice = browser.text(".notice-error").await;
    assert!(notice.contains("not verified yet"), "{notice}");
    let reason = browser.text(".reason").await;
    assert!(reason.contains("Last check"), "{reason}");
    dns.add_txt(&txt_name, &[&txt_value]).await;
    browser
        .click("form[action$='/verify'] button[type=submit]")
        .await;
    // The same page again, with the outcome in its address: wait for that one.
    browser
        .wait_for_url(&app.url("/setup/domains?guide=entra&done=verified"))
        .await;
    let domains = browser.text("main").await;
    assert!(domains.contains("Verified"), "{domains}");
    browser.screenshot("10-portal-domain-verified").await;

    // The portal's overview now says what idbridge has seen.
    browser.goto(&app.url("/setup")).await;
    let overview = browser.text("ol.progress").await;
    assert!(overview.contains("Connected"), "{overview}");
    assert!(
        overview.contains("Microsoft Entra ID last connected"),
        "{overview}"
    );
    assert!(overview.contains("Succeeded"), "{overview}");
    assert!(overview.contains("1 of 1 verified"), "{overview}");
    browser.screenshot("11-portal-overview-done").await;

    // The operator's console shows the users, with roles, and both logs.
    browser.goto(&app.url("/admin/tenants/contoso/users")).await;
    browser.wait_for("table").await;
    let users = browser.text("table").await;
    for expected in ["megan@contoso.com", "alex@contoso.com", "AppAdmin", hostile] {
        assert!(
            users.contains(expected),
            "users page lacks {expected:?}: {users}"
        );
    }
    browser.screenshot("12-console-users").await;
    browser
        .goto(&app.url("/admin/tenants/contoso/provisioning"))
        .await;
    browser.wait_for("table").await;
    let log = browser.text("table").await;
    assert!(log.contains("POST /scim/v2/contoso/Users 201"), "{log}");
    assert!(log.contains("POST /scim/v2/contoso/Groups 201"), "{log}");
    browser.screenshot("13-console-provisioning-log").await;
    browser
        .goto(&app.url("/admin/tenants/contoso/sign-ins"))
        .await;
    browser.wait_for("table").await;
    let log = browser.text("table").await;
    assert!(log.contains("megan@contoso.com"), "{log}");
    browser.screenshot("14-console-sign-in-log").await;

    // The hostile display name was text on every page, never markup: no image
    // element was made from it.
    let images = browser.property("body", "innerHTML").await;
    assert!(!images.contains("<img src=\"x\""), "markup from SCIM data");

    browser.close().await;
}
