//! The sign-in pages as a person sees them, in headless Chromium: the SP metadata an
//! admin opens (a download), the ACS's answers to what an IdP's page posts (a
//! refusal and a "test connection" success), the page an app's bad authorization
//! request gets, and the one a rate-limited network gets.
//! Screenshots: target/browser-screenshots/sign_in_pages_render_in_chromium/.

use std::collections::HashMap;
use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idbridge_core::Clock;
use idbridge_saml::authn_request::inflate_redirect_payload;
use idbridge_testkit::TestDb;
use idbridge_testkit::saml::{Key, TestIdp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{TestApp, TestOptions};
use idbridge_server::RateLimitQuota;

/// What an IdP's page does after sign-in: a form that posts to the ACS. Served as a
/// `data:` URL, so no second server is needed; the browser posts across origins as
/// it does from a real IdP.
pub(crate) fn idp_post_page(acs_url: &str) -> String {
    let html = format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<title>Test IdP</title></head><body><h1>Test IdP</h1>",
            "<form method=\"post\" action=\"{acs}\">",
            "<label>SAMLResponse <textarea name=\"SAMLResponse\" rows=\"4\" cols=\"60\"></textarea></label>",
            "<label>RelayState <input name=\"RelayState\"></label>",
            "<button type=\"submit\">Continue</button></form></body></html>"
        ),
        acs = acs_url
    );
    format!("data:text/html;base64,{}", STANDARD.encode(html))
}

/// A "test connection" sign-in started through the admin API: the AuthnRequest's ID
/// and RelayState, as the IdP would receive them.
pub(crate) async fn start_test_sign_in(app: &TestApp, slug: &str) -> (String, String) {
    let response = app
        .admin(Method::POST, &format!("/api/v1/tenants/{slug}/saml/test"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    let url = url::Url::parse(body["login_url"].as_str().expect("login_url")).expect("url");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_pages_render_in_chromium() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    app.create_tenant("acme").await;
    let idp = TestIdp::entra(Key::Rsa2048);
    let response = app
        .admin(Method::PUT, "/api/v1/tenants/acme/saml")
        .json(&json!({"idp_metadata_xml": idp.metadata_xml()}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let acs_url = app.url("/saml/acme/acs");
    let browser = Browser::start("sign_in_pages_render_in_chromium").await;

    // The SP metadata, opened by the tenant's admin: Chromium saves an
    // `application/samlmetadata+xml` answer as the file the server names, rather
    // than showing it, and that file holds the values to copy into the IdP.
    browser.goto(&app.url("/saml/acme/metadata")).await;
    let metadata = browser.downloaded("idbridge-sp-metadata.xml").await;
    assert!(metadata.contains("EntityDescriptor"), "{metadata}");
    assert!(
        metadata.contains(&format!("Location=\"{acs_url}\"")),
        "{metadata}"
    );
    assert!(
        metadata.contains(&format!("entityID=\"{}\"", app.url("/saml/acme"))),
        "{metadata}"
    );

    // An IdP page posting something that is not a SAML response.
    browser.goto(&idp_post_page(&acs_url)).await;
    browser
        .fill("textarea[name=SAMLResponse]", "this is not a SAML response")
        .await;
    browser.screenshot("01-idp-post-form").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&acs_url).await;
    assert_eq!(browser.title().await, "Sign-in failed");
    let page = browser.text("body").await;
    assert!(page.contains("Reason: malformed_encoding"), "{page}");
    assert!(page.contains("Reference: "), "{page}");
    browser.screenshot("02-acs-refusal").await;

    // A signed response to a "test connection" sign-in: the claims page.
    let (request_id, relay_state) = start_test_sign_in(&app, "acme").await;
    let spec = idp.response_spec(
        &app.url("/saml/acme"),
        &acs_url,
        Some(&request_id),
        "ada@example.com",
        app.clock.now(),
    );
    browser.goto(&idp_post_page(&acs_url)).await;
    browser
        .set_value("textarea[name=SAMLResponse]", &idp.post_value(&spec))
        .await;
    browser.fill("input[name=RelayState]", &relay_state).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&acs_url).await;
    assert_eq!(browser.title().await, "Test connection succeeded");
    let page = browser.text("body").await;
    assert!(page.contains("ada@example.com"), "{page}");
    browser.screenshot("03-test-connection-succeeded").await;

    // An app's authorization request with a redirect URI nobody registered: a page,
    // never a redirect.
    let response = app
        .admin(Method::POST, "/api/v1/clients")
        .json(&json!({"name": "app", "redirect_uris": ["https://app.example.com/cb"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let client: Value = response.json().await.expect("json");
    let authorize = format!(
        "/oauth/authorize?response_type=code&scope=openid&tenant=acme&client_id={}&redirect_uri={}",
        client["client_id"].as_str().expect("client_id"),
        crate::helpers::q("https://attacker.example/cb"),
    );
    browser.goto(&app.url(&authorize)).await;
    assert!(browser.current_url().await.starts_with(&app.base));
    assert_eq!(browser.title().await, "Sign-in failed");
    let page = browser.text("body").await;
    assert!(page.contains("Reason: invalid_redirect_uri"), "{page}");
    let shot = browser.screenshot("04-authorize-refusal").await;
    assert!(shot.exists());

    // A browser on a network that spent its sign-in budget: the same kind of page,
    // saying how long to wait.
    let limited = TestApp::spawn_with(
        TestDb::sqlite().await,
        TestOptions {
            rate_limit: RateLimitQuota::new(1, NonZeroU32::MIN),
            ..TestOptions::default()
        },
    )
    .await;
    browser.goto(&limited.url("/oauth/authorize")).await;
    let first = browser.text("body").await;
    assert!(first.contains("Reason: invalid_request"), "{first}");
    browser.goto(&limited.url("/oauth/authorize")).await;
    assert_eq!(browser.title().await, "Sign-in failed");
    let page = browser.text("body").await;
    assert!(page.contains("Reason: rate_limited"), "{page}");
    assert!(page.contains("try again"), "{page}");
    browser.screenshot("05-rate-limited").await;

    browser.close().await;
}

/// The console's newer pages as an operator uses them, in headless Chromium: sign
/// in, add a webhook endpoint (its secret shown once, with a working copy button,
/// which proves the script loads under the CSP), a setup link, the roles tab and a
/// filtered sign-in log; the pages that show what was just made pass axe-core. Screenshots:
/// target/browser-screenshots/console_pages_render_in_chromium/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_render_in_chromium() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    app.create_tenant("acme").await;
    idbridge_app::operators::create(
        &app.state.app,
        "ops@example.com",
        &secrecy::SecretString::from("correct horse battery staple"),
        &idbridge_app::audit::Audit::cli(None),
    )
    .await
    .expect("operator");
    let browser = Browser::start("console_pages_render_in_chromium").await;

    browser.goto(&app.url("/admin/login")).await;
    browser.fill("#email", "ops@example.com").await;
    browser
        .fill("#password", "correct horse battery staple")
        .await;
    browser.click("main button[type=submit]").await;
    browser.wait_for(".mainnav").await;

    browser.click(".mainnav a[href$='/admin/webhooks']").await;
    browser.wait_for("#new-url").await;
    assert_eq!(browser.title().await, "Webhooks · idbridge");
    browser
        .fill("#new-url", "https://hooks.example.com/idbridge")
        .await;
    browser.fill("#new-description", "The app's receiver").await;
    browser.fill("#new-types", "user.*").await;
    browser.screenshot("01-webhooks").await;
    browser
        .click("form[action$='/admin/webhooks'] button[type=submit]")
        .await;
    browser.wait_for("#new-secret").await;
    // The copy button is shown by the script only.
    browser
        .wait_for("button[data-copy='new-secret']:not([hidden])")
        .await;
    let page = browser.text("main").await;
    assert!(page.contains("shown only this once"), "{page}");
    assert!(
        page.contains("Delivery by tenant") && page.contains("Replay"),
        "{page}"
    );
    browser.screenshot("02-webhook-created").await;
    browser.check_accessibility("02-webhook-created").await;
    browser.click("a.button.danger").await;
    browser.wait_for("#delete-title").await;
    browser.screenshot("03-webhook-delete-confirm").await;

    browser
        .goto(&app.url("/admin/tenants/acme/setup-links"))
        .await;
    browser.fill("#note", "Jane, Acme IT").await;
    browser
        .click("form[action$='/setup-links'] button[type=submit]")
        .await;
    browser.wait_for("#new-url").await;
    let page = browser.text("main").await;
    assert!(
        page.contains("Jane, Acme IT") && page.contains("Active"),
        "{page}"
    );
    browser.screenshot("04-setup-link-created").await;
    browser.check_accessibility("04-setup-link-created").await;

    browser.goto(&app.url("/admin/tenants/acme/roles")).await;
    browser.fill("#app_roles", "Admin\nAppAdmin\nMember").await;
    browser
        .click("form[action$='/roles/app-roles'] button[type=submit]")
        .await;
    browser.wait_for("select#role-0").await;
    let page = browser.text("main").await;
    assert!(page.contains("App roles saved"), "{page}");
    browser.screenshot("05-roles").await;
    browser.check_accessibility("05-roles").await;

    browser
        .goto(&app.url("/admin/tenants/acme/sign-ins?outcome=failure"))
        .await;
    browser.wait_for("form.filters").await;
    browser.screenshot("06-sign-in-log-filtered").await;

    browser.close().await;
}
