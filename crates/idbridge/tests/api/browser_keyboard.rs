//! The journey by keyboard alone, in headless Chromium: every step is reached with
//! Tab and Shift+Tab and done with Enter, Space and typing (WebDriver key actions:
//! nothing is clicked, no element is scripted), and at every stop on the way the
//! focus can be seen (an outline or a box shadow). The operator signs in to the
//! console, creates a tenant (its slug filled from its name) and a setup link; the
//! tenant's IT admin opens the link, skips to the content, follows the single
//! sign-on step, pastes the IdP's metadata (copied with Ctrl+A and Ctrl+C from the
//! page showing it, pasted with Ctrl+V), saves, moves on to provisioning with
//! Shift+Tab, and generates the Secret Token.
//! Screenshots: target/browser-screenshots/keyboard_only_journey_in_chromium/.

use base64::Engine as _;
use fantoccini::key::Key;
use idbridge_testkit::TestDb;
use idbridge_testkit::saml::{Key as SigningKey, TestIdp};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;

use crate::browser::{Browser, NO_ELEMENT};
use crate::helpers::TestApp;

const OPERATOR: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// How many presses of Tab a step may take before it counts as unreachable.
const MAX_STOPS: usize = 80;

fn tab() -> char {
    Key::Tab.into()
}

fn shift() -> char {
    Key::Shift.into()
}

fn enter() -> char {
    Key::Enter.into()
}

fn control() -> char {
    Key::Control.into()
}

/// Moves the focus with Tab (Shift+Tab when `backwards`) until it is on an element
/// matching `css`, checking at every stop that the focus can be seen. Fails naming
/// the stops passed when the element is not reached, or the first stop whose focus
/// is invisible.
async fn move_focus_to(browser: &Browser, css: &str, step: &str, backwards: bool) {
    let mut stops: Vec<String> = Vec::new();
    for _ in 0..MAX_STOPS {
        if backwards {
            browser.press(&[shift(), tab()]).await;
        } else {
            browser.press(&[tab()]).await;
        }
        let focus = browser.focus().await;
        stops.push(focus.element.clone());
        if focus.element == NO_ELEMENT {
            // Past either end of the page the focus is in the browser's own
            // controls; the next press comes back in.
            continue;
        }
        assert!(
            focus.is_visible(),
            "{step}: the focus on {} cannot be seen (indicator: {:?}, on screen: {}); \
             the stops so far: {}",
            focus.element,
            focus.indicator,
            focus.on_screen,
            stops.join(" → ")
        );
        if browser.focus_matches(css).await {
            return;
        }
    }
    panic!(
        "{step}: {css} is not reached with {MAX_STOPS} presses of {}; the focus went: {}",
        if backwards { "Shift+Tab" } else { "Tab" },
        stops.join(" → ")
    );
}

async fn tab_to(browser: &Browser, css: &str, step: &str) {
    move_focus_to(browser, css, step, false).await;
}

async fn shift_tab_to(browser: &Browser, css: &str, step: &str) {
    move_focus_to(browser, css, step, true).await;
}

/// A page showing the IdP's metadata XML, as the IdP's console (or an editor with
/// the downloaded file) does: the IT admin copies it from here.
fn metadata_page(xml: &str) -> String {
    let escaped = xml
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Federation Metadata XML</title></head><body><h1>Federation Metadata XML</h1>\
         <label for=\"xml\">Metadata</label>\
         <textarea id=\"xml\" readonly rows=\"10\" cols=\"80\">{escaped}</textarea></body></html>"
    );
    format!(
        "data:text/html;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(html)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_journey_in_chromium() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
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
        .json(&json!({"roles": ["Admin", "Member"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(roles.status(), StatusCode::OK);
    let browser = Browser::start("keyboard_only_journey_in_chromium").await;

    // --- The operator: sign in -------------------------------------------------
    browser.goto(&app.url("/admin/login")).await;
    browser.wait_for("#email").await;
    tab_to(&browser, "#email", "login: the email field").await;
    browser.type_text(OPERATOR).await;
    tab_to(&browser, "#password", "login: the password field").await;
    browser.type_text(PASSWORD).await;
    browser.screenshot("01-console-login").await;
    browser.press(&[enter()]).await;
    browser.wait_for("#new-name").await;

    // --- Create a tenant: the slug follows the name -------------------------------
    tab_to(&browser, "#new-name", "tenants: the new tenant's name").await;
    browser.type_text("Acme Corp (EU)").await;
    assert_eq!(
        browser.property("#new-slug", "value").await,
        "acme-corp-eu",
        "the slug is made from the name"
    );
    tab_to(&browser, "#new-slug", "tenants: the slug").await;
    tab_to(
        &browser,
        "form[method=post][action$='/admin/tenants'] button[type=submit]",
        "tenants: Create tenant",
    )
    .await;
    browser.screenshot("02-console-new-tenant").await;
    browser.press(&[enter()]).await;
    browser.wait_for("nav.tabs").await;
    assert!(
        browser.text("h1").await.contains("Acme Corp (EU)"),
        "the tenant's page"
    );

    // --- A setup link for the IT admin --------------------------------------------
    tab_to(
        &browser,
        "nav.tabs a[href$='/tenants/acme-corp-eu/setup-links']",
        "tenant: the Setup links tab",
    )
    .await;
    browser.press(&[enter()]).await;
    browser.wait_for("#provider").await;
    tab_to(&browser, "#provider", "setup links: the identity provider").await;
    // A closed list picks the option whose label starts with what is typed.
    browser.type_text("Microsoft").await;
    assert_eq!(browser.property("#provider", "value").await, "entra");
    tab_to(&browser, "#note", "setup links: the note").await;
    browser.type_text("Megan, Acme IT").await;
    tab_to(
        &browser,
        "form[action$='/setup-links'] button[type=submit]",
        "setup links: Create link",
    )
    .await;
    browser.press(&[enter()]).await;
    browser.wait_for("#new-url").await;
    let setup_url = browser.property("#new-url", "value").await;
    assert!(
        setup_url.starts_with(&app.url("/setup?token=idb_setup_")),
        "{setup_url}"
    );
    tab_to(&browser, "#new-url", "setup links: the new link").await;
    browser.screenshot("03-console-setup-link").await;

    // --- The IT admin: the overview, then single sign-on --------------------------
    browser.goto(&setup_url).await;
    browser.wait_for("ol.progress").await;
    tab_to(&browser, "a.skip", "portal: Skip to content").await;
    browser.press(&[enter()]).await;
    assert!(
        browser.focus_matches("main#main").await,
        "Skip to content moves the focus to the page's content, not {}",
        browser.focus().await.element
    );
    tab_to(
        &browser,
        "main a.button.primary[href*='/setup/sso']",
        "overview: Start with single sign-on",
    )
    .await;
    browser.screenshot("04-portal-overview").await;
    browser.press(&[enter()]).await;
    browser.wait_for("#metadata_xml").await;
    assert!(browser.current_url().await.contains("/setup/sso"));

    // The IdP's metadata, copied from where the IdP shows it.
    let idp = TestIdp::entra(SigningKey::Rsa2048);
    let sso_page = browser.current_url().await;
    browser.goto(&metadata_page(&idp.metadata_xml())).await;
    browser.wait_for("#xml").await;
    tab_to(&browser, "#xml", "the IdP's metadata").await;
    browser.press(&[control(), 'a']).await;
    browser.press(&[control(), 'c']).await;
    browser.goto(&sso_page).await;
    browser.wait_for("#metadata_xml").await;
    tab_to(
        &browser,
        "#metadata_xml",
        "single sign-on: the metadata XML",
    )
    .await;
    browser.press(&[control(), 'v']).await;
    let pasted = browser.property("#metadata_xml", "value").await;
    assert_eq!(
        pasted.trim(),
        idp.metadata_xml().trim(),
        "Ctrl+V pastes the metadata copied from the IdP's page"
    );
    tab_to(
        &browser,
        "form[action$='/setup/sso'] button[type=submit]",
        "single sign-on: Save",
    )
    .await;
    browser.screenshot("05-portal-sso-metadata").await;
    browser.press(&[enter()]).await;
    browser.wait_for(".notice-success").await;
    assert!(browser.text(".page-head").await.contains("Connected"));

    // Straight to the end of the page (Shift+Tab from the top): the way on.
    shift_tab_to(
        &browser,
        "main a.button.primary[href*='/setup/provisioning']",
        "single sign-on: Next: provisioning",
    )
    .await;
    browser.screenshot("06-portal-sso-saved").await;
    browser.press(&[enter()]).await;
    browser.wait_for("#tenant-url").await;

    // --- Provisioning: the Secret Token, shown once ----------------------------------
    tab_to(
        &browser,
        "form[action$='/setup/provisioning/tokens'] button[type=submit]",
        "provisioning: Generate token",
    )
    .await;
    browser.press(&[' ']).await;
    browser.wait_for("#new-token").await;
    let token = browser.property("#new-token", "value").await;
    assert!(token.starts_with("idb_scim_"), "{token}");
    tab_to(&browser, "#new-token", "provisioning: the token").await;
    tab_to(
        &browser,
        "button[data-copy='new-token']",
        "provisioning: Copy the token",
    )
    .await;
    browser.screenshot("07-portal-secret-token").await;

    // The token works: the IdP can provision with it.
    let response = app
        .scim(Method::GET, "acme-corp-eu", "/Users", &token, None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    browser.close().await;
}
