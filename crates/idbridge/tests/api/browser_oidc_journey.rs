//! OpenID Connect connections in headless Chromium, as the IT admin and the
//! operator see them: the setup portal's Entra ID (OpenID Connect) guide in Entra's
//! words, the connection made from the form, "test connection" through the IdP (a
//! scripted Entra-shaped OpenID provider on loopback) back to the result page; the
//! Google guide's issuer; and the console's Connections tab.
//! Screenshots: target/browser-screenshots/oidc_journey_in_chromium/.

use idbridge_core::Clock;
use idbridge_testkit::TestDb;
use idbridge_testkit::oidc_idp::{self, Profile};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{TestApp, TestOptions};

const OPERATOR: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_journey_in_chromium() {
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        TestOptions {
            allow_private_urls: true,
            ..TestOptions::default()
        },
    )
    .await;
    // The IdP signs with the real time.
    app.clock
        .advance(time::OffsetDateTime::now_utc() - app.clock.now());
    idbridge_app::operators::create(
        &app.state.app,
        OPERATOR,
        &SecretString::from(PASSWORD),
        &idbridge_app::audit::Audit::cli(None),
    )
    .await
    .expect("operator");
    app.create_tenant("contoso").await;
    let created: Value = app
        .admin(Method::POST, "/api/v1/tenants/contoso/setup-links")
        .json(&json!({"provider": "entra", "note": "Megan"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let setup_url = created["url"].as_str().expect("url").to_owned();
    let idp = oidc_idp::start(Profile::Entra).await;
    let browser = Browser::start("oidc_journey_in_chromium").await;

    // The IT admin opens the link and chooses OpenID Connect from the SAML page.
    browser.goto(&setup_url).await;
    browser.wait_for("ol.progress").await;
    browser.goto(&app.url("/setup/sso")).await;
    browser.wait_for("#metadata_xml").await;
    browser.click("a[href*='/setup/oidc']").await;
    browser.wait_for("#redirect-uri").await;
    assert_eq!(
        browser.property("#redirect-uri", "value").await,
        app.url("/oidc/contoso/callback")
    );
    let guide = browser.text("main").await;
    for words in [
        "App registrations",
        "New registration",
        "Single tenant",
        "Token configuration",
        "Add optional claim",
        "Application (client) ID",
        "Certificates & secrets",
        "New client secret",
    ] {
        assert!(guide.contains(words), "the Entra guide lacks {words:?}");
    }
    browser.screenshot("01-portal-oidc-entra-guide").await;

    // A wrong issuer is refused next to the form, the form kept (not the secret).
    browser
        .fill("#issuer", "https://127.0.0.1:1/nothing-here")
        .await;
    browser.fill("#client_id", &idp.client.client_id).await;
    browser
        .fill("#client_secret", &idp.client.client_secret)
        .await;
    browser
        .click("form[action$='/setup/oidc'] button[type=submit]")
        .await;
    browser.wait_for(".notice-error").await;
    assert_eq!(
        browser.property("#client_id", "value").await,
        idp.client.client_id
    );
    assert_eq!(browser.property("#client_secret", "value").await, "");
    browser.screenshot("02-portal-oidc-refused").await;

    // The real one connects.
    browser.fill("#issuer", &idp.issuer).await;
    browser
        .fill("#client_secret", &idp.client.client_secret)
        .await;
    browser
        .click("form[action$='/setup/oidc'] button[type=submit]")
        .await;
    browser.wait_for(".notice-success").await;
    assert!(browser.text(".page-head").await.contains("Connected"));
    browser.screenshot("03-portal-oidc-connected").await;

    // Test connection: through the IdP and back to the result page.
    browser
        .click("form[action*='/setup/oidc/'][action$='/test'] button[type=submit]")
        .await;
    browser.wait_for("#test-title").await;
    let login_url = browser
        .property(".highlight a.button.primary", "href")
        .await;
    assert!(login_url.starts_with(&idp.issuer), "{login_url}");
    browser.goto(&login_url).await;
    browser.wait_for("h1").await;
    let landed = browser.current_url().await;
    assert!(
        landed.starts_with(&app.url("/oidc/contoso/callback?")),
        "{landed}"
    );
    assert_eq!(browser.title().await, "Test connection succeeded");
    let result = browser.text("body").await;
    assert!(result.contains("@acme.example"), "{result}");
    browser.screenshot("04-test-connection-result").await;
    let users: Value = app.admin_get("/api/v1/tenants/contoso/users").await;
    assert_eq!(users["data"], json!([]), "a test writes no user");

    // A new client secret (Entra ID's expire), replaced from the portal; sign-ins
    // go on with it.
    browser.goto(&app.url("/setup/oidc?idp=entra")).await;
    browser.wait_for("details summary").await;
    browser.click("details summary").await;
    browser.fill("#secret-1", &idp.client.client_secret).await;
    browser
        .click("form[action$='/secret'] button[type=submit]")
        .await;
    browser.wait_for(".notice-success").await;
    assert!(
        browser
            .text(".notice-success")
            .await
            .contains("new client secret")
    );

    // Google's guide fills in Google's issuer.
    browser.goto(&app.url("/setup/oidc?idp=google")).await;
    browser.wait_for("#issuer").await;
    assert_eq!(
        browser.property("#issuer", "value").await,
        "https://accounts.google.com"
    );
    assert!(
        browser
            .text("main")
            .await
            .contains("Authorized redirect URIs")
    );
    browser.screenshot("05-portal-oidc-google-guide").await;

    // Okta's guide, in Okta's words.
    browser.goto(&app.url("/setup/oidc?idp=okta")).await;
    browser.wait_for("#issuer").await;
    let okta = browser.text("main").await;
    for words in [
        "Create App Integration",
        "OIDC - OpenID Connect",
        "Web Application",
        "Sign-in redirect URIs",
        "Groups claim filter",
    ] {
        assert!(okta.contains(words), "the Okta guide lacks {words:?}");
    }

    // The operator's console lists the connection and can rename it.
    browser.goto(&app.url("/admin/login")).await;
    browser.fill("input[name=email]", OPERATOR).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("#new-name").await;
    browser
        .goto(&app.url("/admin/tenants/contoso/connections"))
        .await;
    browser.wait_for("#name-1").await;
    assert!(browser.text("main").await.contains(&idp.issuer));
    browser.fill("#name-1", "Contoso staff (Entra ID)").await;
    browser
        .click("form[action*='/connections/'] button[type=submit]")
        .await;
    browser.wait_for(".notice-success").await;
    assert!(
        browser
            .text("main")
            .await
            .contains("Contoso staff (Entra ID)")
    );
    browser.screenshot("06-console-connections").await;
    let listed: Value = app.admin_get("/api/v1/tenants/contoso/connections").await;
    assert_eq!(listed["data"][0]["name"], "Contoso staff (Entra ID)");
    // The sign-in log names the connection each sign-in came through.
    browser
        .goto(&app.url("/admin/tenants/contoso/sign-ins"))
        .await;
    browser.wait_for("table").await;
    let log = browser.text("table").await;
    assert!(log.contains("Contoso staff (Entra ID)"), "{log}");
    browser
        .goto(&app.url("/admin/tenants/contoso/connections"))
        .await;
    browser.wait_for("#saml-name").await;
    // A SAML connection beside it, added in the console.
    let saml_idp = idbridge_testkit::saml::TestIdp::okta(idbridge_testkit::saml::Key::Rsa2048);
    browser.fill("#saml-name", "Contractors (Okta SAML)").await;
    browser
        .set_value("#saml-metadata-xml", &saml_idp.metadata_xml())
        .await;
    browser.fill("#saml-domains", "contractors.example").await;
    browser
        .click("form[action$='/connections/saml'] button[type=submit]")
        .await;
    browser.wait_for(".notice-success").await;
    let page = browser.text("main").await;
    assert!(page.contains("Contractors (Okta SAML)"), "{page}");
    // The tenant had no SAML connection: this one is its first, at /saml/contoso.
    assert!(page.contains(&app.url("/saml/contoso/acs")), "{page}");
    browser.screenshot("07-console-two-connections").await;

    // The IT admin removes the OpenID Connect connection from the portal.
    browser.goto(&app.url("/setup/oidc?idp=entra")).await;
    browser.wait_for("details summary").await;
    browser.click("details summary").await;
    browser
        .click("form[action$='/remove'] button[type=submit]")
        .await;
    browser.wait_for(".notice-success").await;
    assert!(
        browser
            .text(".notice-success")
            .await
            .contains("Connection removed")
    );
    let left: Value = app.admin_get("/api/v1/tenants/contoso/connections").await;
    assert_eq!(left["data"].as_array().expect("data").len(), 1);
    assert_eq!(left["data"][0]["type"], "saml");
    assert_eq!(
        listed["data"][0]["has_client_secret"], true,
        "a rename keeps the secret"
    );
    let response = app
        .admin(Method::GET, "/api/v1/tenants/contoso")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    browser.close().await;
}
