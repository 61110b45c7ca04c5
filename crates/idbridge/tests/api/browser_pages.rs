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
    assert!(browser.title().await.starts_with("Sign-in failed"));
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
    assert!(browser.title().await.starts_with("Sign-in failed"));
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
    assert!(browser.title().await.starts_with("Sign-in failed"));
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

/// The console's new tenant form fills the slug from the name as it is typed
/// (lowercase, hyphens, `[a-z0-9-]`, at most 63 characters), until the operator
/// types a slug of their own; emptying the slug hands it back to the name.
/// Screenshots: target/browser-screenshots/tenant_slug_follows_the_name_in_chromium/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_slug_follows_the_name_in_chromium() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    idbridge_app::operators::create(
        &app.state.app,
        "ops@example.com",
        &secrecy::SecretString::from("correct horse battery staple"),
        &idbridge_app::audit::Audit::cli(None),
    )
    .await
    .expect("operator");
    let browser = Browser::start("tenant_slug_follows_the_name_in_chromium").await;
    browser.goto(&app.url("/admin/login")).await;
    browser.fill("#email", "ops@example.com").await;
    browser
        .fill("#password", "correct horse battery staple")
        .await;
    browser.click("main button[type=submit]").await;
    browser.wait_for("#new-name").await;

    for (name, slug) in [
        ("Acme Corp (EU)", "acme-corp-eu"),
        (
            "  Société Générale — Zürich & Co.  ",
            "societe-generale-zurich-co",
        ),
        ("株式会社 Tokyo 2", "tokyo-2"),
        (
            "A very long name for a tenant, longer than any slug may be: sixty-three characters at most",
            "a-very-long-name-for-a-tenant-longer-than-any-slug-may-be-sixty",
        ),
    ] {
        browser.fill("#new-name", name).await;
        let made = browser.property("#new-slug", "value").await;
        assert_eq!(made, slug, "from {name:?}");
        assert!(made.len() <= 63);
        let valid = browser
            .run_script("return document.getElementById('new-slug').checkValidity();")
            .await;
        assert_eq!(
            valid,
            json!(true),
            "{made:?} passes the field's own pattern"
        );
    }
    browser.fill("#new-name", "Acme Corp (EU)").await;
    browser.screenshot("01-slug-from-name").await;

    // The operator's own slug stays, whatever is typed into the name after it.
    browser.fill("#new-slug", "acme-eu").await;
    browser.click("#new-name").await;
    browser.press(&[fantoccini::key::Key::End.into()]).await;
    browser.type_text(" Holdings").await;
    assert_eq!(
        browser.property("#new-name", "value").await,
        "Acme Corp (EU) Holdings"
    );
    assert_eq!(browser.property("#new-slug", "value").await, "acme-eu");
    browser.screenshot("02-own-slug-kept").await;

    // Emptied, the slug follows the name again.
    browser.click("#new-slug").await;
    browser
        .press(&[fantoccini::key::Key::Control.into(), 'a'])
        .await;
    browser
        .press(&[fantoccini::key::Key::Backspace.into()])
        .await;
    assert_eq!(browser.property("#new-slug", "value").await, "");
    browser.click("#new-name").await;
    browser.press(&[fantoccini::key::Key::End.into()]).await;
    browser.type_text(" Ltd").await;
    assert_eq!(
        browser.property("#new-slug", "value").await,
        "acme-corp-eu-holdings-ltd"
    );

    // And it is what the tenant is created with.
    browser
        .click("form[method=post][action$='/admin/tenants'] button[type=submit]")
        .await;
    browser.wait_for("nav.tabs").await;
    assert!(
        browser
            .current_url()
            .await
            .contains("/admin/tenants/acme-corp-eu-holdings-ltd"),
        "{}",
        browser.current_url().await
    );
    assert!(
        browser
            .text("h1")
            .await
            .contains("Acme Corp (EU) Holdings Ltd")
    );
    browser.close().await;
}

/// A PNG of `width`×`height` RGBA pixels from `pixel` (uncompressed deflate: the
/// tests need a real image, not a small one).
fn png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // no filter
        for x in 0..width {
            raw.extend(pixel(x, y));
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(usize::from(u16::MAX)).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).expect("a stored block");
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend(*block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let mut header = width.to_be_bytes().to_vec();
    header.extend(height.to_be_bytes());
    header.extend([8, 6, 0, 0, 0]); // 8 bits, RGBA
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", header), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        out.extend(u32::try_from(data.len()).expect("a chunk").to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend(data);
        out.extend(&chunk);
        out.extend(crc32(&chunk).to_be_bytes());
    }
    out
}

/// The vendor's logo for the branded screenshots: a white rounded square with a
/// teal ledger (three lines and a margin), to stand out on the teal top bar.
fn ledger_logo() -> Vec<u8> {
    const SIZE: u32 = 56;
    png(SIZE, SIZE, |x, y| {
        let r = 12i64;
        let (x, y, size) = (i64::from(x), i64::from(y), i64::from(SIZE));
        let cx = x.clamp(r, size - 1 - r);
        let cy = y.clamp(r, size - 1 - r);
        if (x - cx).pow(2) + (y - cy).pow(2) > r * r {
            return [0, 0, 0, 0];
        }
        let line = (14..50).contains(&x) && [16, 26, 36].iter().any(|t| (*t..*t + 4).contains(&y));
        let margin = (14..18).contains(&x) && (12..44).contains(&y);
        if line || margin {
            [11, 122, 117, 255]
        } else {
            [255, 255, 255, 255]
        }
    })
}

/// The setup portal under the vendor's brand (name, logo, accent colour, contact
/// and return address set by the operator) as the IT admin sees it when every
/// step is done, then "Finish setup" and the "All set" page, at a laptop's width
/// and a phone's. Screenshots (the README's among them):
/// target/browser-screenshots/branded_portal_finishes_setup_in_chromium/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branded_portal_finishes_setup_in_chromium() {
    let dns = crate::dns_server::TestDns::start().await;
    let app = TestApp::spawn_with_dns_resolver(TestDb::sqlite().await, dns.addr).await;
    let admin = |method: Method, path: &str, body: Value| {
        let mut request = app.admin(method, path);
        if !body.is_null() {
            request = request.json(&body);
        }
        let path = path.to_owned();
        async move {
            let response = request.send().await.expect("send");
            let status = response.status();
            let text = response.text().await.expect("body");
            assert!(status.is_success(), "{path}: {status} {text}");
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)
        }
    };
    admin(
        Method::PUT,
        "/api/v1/branding",
        json!({
            "app_name": "Ledger",
            "accent_color": "#0b7a75",
            "support_email": "support@ledger.example",
            "return_url": "https://ledger.example/settings/sso",
        }),
    )
    .await;
    let logo = app
        .admin(Method::PUT, "/api/v1/branding/logo")
        .header("content-type", "image/png")
        .body(ledger_logo())
        .send()
        .await
        .expect("send");
    assert_eq!(logo.status(), StatusCode::OK);
    admin(
        Method::POST,
        "/api/v1/tenants",
        json!({"slug": "contoso", "name": "Contoso Ltd"}),
    )
    .await;
    // Every step done: the IdP's metadata, a SCIM token, a verified domain.
    let idp = TestIdp::entra(Key::Rsa2048);
    admin(
        Method::PUT,
        "/api/v1/tenants/contoso/saml",
        json!({"idp_metadata_xml": idp.metadata_xml()}),
    )
    .await;
    app.create_scim_token("contoso").await;
    let claim = admin(
        Method::POST,
        "/api/v1/tenants/contoso/domains",
        json!({"domain": "contoso.test"}),
    )
    .await;
    dns.add_txt(
        claim["txt_record"]["name"].as_str().expect("name"),
        &[claim["txt_record"]["value"].as_str().expect("value")],
    )
    .await;
    let checked = admin(
        Method::POST,
        "/api/v1/tenants/contoso/domains/contoso.test/verify",
        Value::Null,
    )
    .await;
    assert_eq!(checked["verified"], true, "{checked}");
    let (link, _) = crate::setup_links::create_link(
        &app,
        "contoso",
        json!({"provider": "entra", "note": "Megan, Contoso IT"}),
    )
    .await;

    let mut browser = Browser::start("branded_portal_finishes_setup_in_chromium").await;
    browser
        .goto(link["url"].as_str().expect("the link's url"))
        .await;
    browser.wait_for("ol.progress").await;
    assert!(browser.title().await.contains("Ledger setup"));
    assert_eq!(browser.text(".topbar .brand-name").await, "Ledger");
    let logo_width = browser
        .run_script("return document.querySelector('.topbar img.brand-logo').naturalWidth;")
        .await;
    assert_eq!(
        logo_width,
        json!(56),
        "the logo is an image the browser draws"
    );
    let accent = browser
        .run_script(
            "return getComputedStyle(document.querySelector('form[action$=\"/finish\"] .button.primary')).backgroundColor;",
        )
        .await;
    assert_eq!(accent, json!("rgb(11, 122, 117)"), "the accent colour");
    assert!(
        browser
            .text("footer")
            .await
            .contains("support@ledger.example")
    );
    browser.screenshot("01-branded-overview").await;
    browser.check_accessibility("01-branded-overview").await;

    browser
        .click("form[action$='/finish'] button[type=submit]")
        .await;
    browser.wait_for(".notice-success").await;
    assert_eq!(browser.text("h1").await, "All set");
    let done = browser.text("main").await;
    assert!(done.contains("The app's team has been told"), "{done}");
    assert!(done.contains("Back to Ledger"), "{done}");
    browser.screenshot("02-all-set").await;
    browser.check_accessibility("02-all-set").await;
    browser
        .set_window_size(crate::browser::PHONE_WIDTH, crate::browser::PHONE_HEIGHT)
        .await;
    browser.screenshot("03-all-set-phone").await;
    assert!(browser.sideways_overflow().await.is_empty());
    browser.goto(&app.url("/setup")).await;
    browser.wait_for("ol.progress").await;
    browser.screenshot("04-branded-overview-phone").await;
    assert!(browser.sideways_overflow().await.is_empty());
    browser.close().await;
}
