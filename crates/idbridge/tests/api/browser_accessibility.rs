//! Accessibility, checked by axe-core in headless Chromium (WCAG 2.0 and 2.1, A
//! and AA, and axe's best practices; a `serious` or `critical` violation fails):
//! every page of the operator's console, of the setup portal a tenant's IT admin
//! opens from a setup link, of the sign-in flow, and of the dev IdP, each with data
//! in it (the dev IdP's SAML and OpenID Connect sign-in forms among them), at a
//! laptop's width and at a phone's (390 px), where a page must not scroll sideways
//! either (WCAG 1.4.10). At a phone's width the wide tables read as cards, still
//! tables to a screen reader (`tables_read_as_cards_at_a_phones_width`).
//! The console's tenant slug field is checked by the browser itself (its pattern
//! compiles under the `v` flag). Also the console's Users tab as an operator uses
//! it: add a user (and a refusal that keeps what was typed), deactivate, activate,
//! delete behind its confirmation, the invitations that were queued, and the audit
//! log, filtered, showing what those actions recorded.
//! Screenshots and axe's full results (`<step>.axe.json`):
//! target/browser-screenshots/<test>/.

use idbridge_core::Clock;
use idbridge_testkit::TestDb;
use idbridge_testkit::saml::{Key, TestIdp};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::browser::{Browser, PHONE_HEIGHT, PHONE_WIDTH, WINDOW_HEIGHT, WINDOW_WIDTH};
use crate::browser_pages::{idp_post_page, start_test_sign_in};
use crate::helpers::{ScimClient, TestApp, TestOptions};
use crate::setup_links::create_link;

const OPERATOR: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// A browser that checks each page it is shown at both widths and reports every
/// page's violations together at the end (one run lists all there is to fix).
struct Checker {
    browser: Browser,
    failures: Vec<String>,
    pages: usize,
}

impl Checker {
    fn new(browser: Browser) -> Self {
        Self {
            browser,
            failures: Vec::new(),
            pages: 0,
        }
    }

    /// Checks the page the browser is on: a screenshot and axe at a laptop's width,
    /// then both again at a phone's, with the page's sideways overflow.
    async fn check(&mut self, step: &str) {
        for (label, width, height) in [
            ("desktop", WINDOW_WIDTH, WINDOW_HEIGHT),
            ("phone", PHONE_WIDTH, PHONE_HEIGHT),
        ] {
            self.browser.set_window_size(width, height).await;
            assert_eq!(
                self.browser.viewport_width().await,
                u64::from(width),
                "{step}: the page is laid out at the window's width"
            );
            let name = format!("{step}-{label}");
            self.browser.screenshot(&name).await;
            let overflow = self.browser.sideways_overflow().await;
            if !overflow.is_empty() {
                self.failures.push(format!(
                    "{name}: the page scrolls sideways at {width} px, past: {}",
                    overflow.join(", ")
                ));
            }
            let found = self.browser.accessibility_violations(&name).await;
            self.failures.extend(found);
        }
        self.browser
            .set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)
            .await;
        self.pages += 1;
    }

    /// Opens `url`, waits for `css` (that it is the page meant) and checks it.
    async fn visit(&mut self, url: &str, css: &str, step: &str) {
        self.browser.goto(url).await;
        self.browser.wait_for(css).await;
        self.check(step).await;
    }

    /// Fails listing every violation found on every page; else the browser.
    fn finish(self) -> Browser {
        assert!(
            self.failures.is_empty(),
            "accessibility violations on the {} pages checked:\n{}",
            self.pages,
            self.failures.join("\n")
        );
        self.browser
    }
}

async fn create_operator(app: &TestApp) {
    idbridge_app::operators::create(
        &app.state.app,
        OPERATOR,
        &SecretString::from(PASSWORD),
        &idbridge_app::audit::Audit::cli(None),
    )
    .await
    .expect("operator");
}

/// Signs the operator in through the console's login form.
async fn sign_in(app: &TestApp, browser: &Browser) {
    browser.goto(&app.url("/admin/login")).await;
    browser.fill("#email", OPERATOR).await;
    browser.fill("#password", PASSWORD).await;
    browser.click("main button[type=submit]").await;
    browser.wait_for(".mainnav").await;
}

/// An admin API call that must answer `status`; its JSON body (Null when empty).
async fn api(app: &TestApp, method: Method, path: &str, body: Value, status: StatusCode) -> Value {
    let mut request = app.admin(method.clone(), path);
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let got = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(got, status, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A server whose invitations are queued (mail to a port nothing listens on, so
/// they stay pending and are listed as such).
async fn spawn_inviting() -> TestApp {
    TestApp::spawn_with(
        TestDb::sqlite().await,
        TestOptions {
            smtp_url: Some(format!(
                "smtp://127.0.0.1:{}",
                idbridge_testkit::smtp::free_port()
            )),
            invite_url: Some("https://app.example.com/welcome"),
            ..TestOptions::default()
        },
    )
    .await
}

/// What the pages are about: tenant `acme` with everything a page can list.
struct Fixture {
    group_id: String,
    webhook_id: String,
    setup_url: String,
    idp: TestIdp,
}

async fn populate(app: &TestApp) -> Fixture {
    api(
        app,
        Method::PUT,
        "/api/v1/app-roles",
        json!({"roles": ["Admin", "AppAdmin", "Member"]}),
        StatusCode::OK,
    )
    .await;
    app.create_tenant("acme").await;
    api(
        app,
        Method::PATCH,
        "/api/v1/tenants/acme",
        json!({"invite_new_users": true}),
        StatusCode::OK,
    )
    .await;
    let idp = TestIdp::entra(Key::Rsa2048);
    api(
        app,
        Method::PUT,
        "/api/v1/tenants/acme/saml",
        json!({"idp_metadata_xml": idp.metadata_xml()}),
        StatusCode::OK,
    )
    .await;
    let (_, token) = app.create_scim_token("acme").await;
    let scim = ScimClient {
        app,
        slug: "acme".to_owned(),
        token,
    };
    let ada = scim.create_user("ada@acme.example").await;
    let grace = scim.create_user("grace@acme.example").await;
    let group = scim
        .create_group(
            "Engineering",
            &[
                ada["id"].as_str().expect("id"),
                grace["id"].as_str().expect("id"),
            ],
        )
        .await;
    api(
        app,
        Method::POST,
        "/api/v1/tenants/acme/users",
        json!({
            "email": "linus@acme.example",
            "name": {"givenName": "Linus", "familyName": "Torvalds"},
            "roles": ["member"],
        }),
        StatusCode::CREATED,
    )
    .await;
    api(
        app,
        Method::POST,
        "/api/v1/tenants/acme/domains",
        json!({"domain": "acme.example"}),
        StatusCode::CREATED,
    )
    .await;
    let (link, _) = create_link(
        app,
        "acme",
        json!({"provider": "entra", "note": "Jane, Acme IT"}),
    )
    .await;
    let webhook = api(
        app,
        Method::POST,
        "/api/v1/webhooks",
        json!({"url": "https://hooks.example.com/idbridge", "description": "The app's receiver"}),
        StatusCode::CREATED,
    )
    .await;
    Fixture {
        group_id: group["id"].as_str().expect("group id").to_owned(),
        webhook_id: webhook["id"].as_str().expect("webhook id").to_owned(),
        setup_url: link["url"].as_str().expect("url").to_owned(),
        idp,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_at_desktop_and_phone_widths() {
    let app = spawn_inviting().await;
    create_operator(&app).await;
    let fixture = populate(&app).await;
    let dev_idp = crate::dev_idp::spawn_idp(&app).await;
    let mut pages =
        Checker::new(Browser::start("every_page_passes_axe_at_desktop_and_phone_widths").await);

    // --- the setup portal, as the tenant's IT admin opens it ---------------------
    pages
        .visit(&fixture.setup_url, "ol.progress", "portal-01-overview")
        .await;
    pages
        .visit(
            &app.url("/setup/sso?guide=entra"),
            "#metadata_xml",
            "portal-02-sso-entra",
        )
        .await;
    pages
        .visit(
            &app.url("/setup/sso?guide=okta"),
            "#metadata_xml",
            "portal-03-sso-okta",
        )
        .await;
    // "Test connection": the page that hands the sign-in over to the IdP.
    pages
        .browser
        .click("form[action$='/setup/sso/test'] button[type=submit]")
        .await;
    pages.browser.wait_for("#test-title").await;
    pages.check("portal-04-sso-test-ready").await;
    pages
        .visit(&app.url("/setup/oidc"), "main", "portal-05-oidc")
        .await;
    pages
        .visit(
            &app.url("/setup/provisioning"),
            "#tenant-url",
            "portal-06-provisioning",
        )
        .await;
    pages
        .browser
        .click("form[action$='/setup/provisioning/tokens'] button[type=submit]")
        .await;
    pages.browser.wait_for("#new-token").await;
    pages.check("portal-07-provisioning-token").await;
    pages
        .visit(&app.url("/setup/domains"), "#domain", "portal-08-domains")
        .await;
    // The guides of the other IdPs, and the end of setup.
    for guide in [
        "google",
        "onelogin",
        "jumpcloud",
        "pingone",
        "adfs",
        "generic",
    ] {
        pages
            .visit(
                &app.url(&format!("/setup/sso?guide={guide}")),
                "#metadata_xml",
                &format!("portal-08-sso-{guide}"),
            )
            .await;
        pages
            .visit(
                &app.url(&format!("/setup/provisioning?guide={guide}")),
                "main",
                &format!("portal-08-provisioning-{guide}"),
            )
            .await;
    }
    pages
        .visit(&app.url("/setup/done"), "h1", "portal-08-done")
        .await;
    pages
        .visit(
            &app.url("/setup?token=idb_setup_not-a-real-token"),
            "main",
            "portal-09-message",
        )
        .await;
    assert!(
        pages
            .browser
            .text("body")
            .await
            .contains("This setup link does not work")
    );

    // --- the sign-in flow ------------------------------------------------------------
    // A "test connection" sign-in answered by the test IdP: the claims page.
    let (request_id, relay_state) = start_test_sign_in(&app, "acme").await;
    let acs_url = app.url("/saml/acme/acs");
    let spec = fixture.idp.response_spec(
        &app.url("/saml/acme"),
        &acs_url,
        Some(&request_id),
        "ada@acme.example",
        app.clock.now(),
    );
    pages.browser.goto(&idp_post_page(&acs_url)).await;
    pages
        .browser
        .set_value(
            "textarea[name=SAMLResponse]",
            &fixture.idp.post_value(&spec),
        )
        .await;
    pages
        .browser
        .fill("input[name=RelayState]", &relay_state)
        .await;
    pages.browser.click("button[type=submit]").await;
    pages.browser.wait_for_url(&acs_url).await;
    let title = pages.browser.title().await;
    assert!(title.starts_with("Test connection succeeded"), "{title}");
    pages.check("flow-01-test-result").await;
    // A refused test (Entra ID's default Identifier never replaced): the advice page.
    let (request_id, relay_state) = start_test_sign_in(&app, "acme").await;
    let mut wrong = fixture.idp.response_spec(
        &app.url("/saml/acme"),
        &acs_url,
        Some(&request_id),
        "ada@acme.example",
        app.clock.now(),
    );
    wrong.audience = "spn:2b5f0b0c-71c4-4b8e-9a5c-0c6c1e1c7a11".into();
    pages.browser.goto(&idp_post_page(&acs_url)).await;
    pages
        .browser
        .set_value(
            "textarea[name=SAMLResponse]",
            &fixture.idp.post_value(&wrong),
        )
        .await;
    pages
        .browser
        .fill("input[name=RelayState]", &relay_state)
        .await;
    pages.browser.click("button[type=submit]").await;
    pages.browser.wait_for("#fix").await;
    let title = pages.browser.title().await;
    assert_eq!(title, "Test connection failed");
    pages.check("flow-01-test-refused").await;
    // A refused sign-in.
    pages
        .visit(&app.url("/oauth/authorize"), "body", "flow-02-error")
        .await;
    assert!(pages.browser.title().await.starts_with("Sign-in failed"));
    // The HTTP-POST binding's page, for an IdP that offers only it. Its script
    // posts the form at once; the page is checked as served, from a `data:` URL
    // (where the script, a same-origin path, does not load).
    let post_only = fixture.idp.metadata_xml().replace(
        &format!(
            "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{}\"/>",
            fixture.idp.sso_url
        ),
        "",
    );
    assert!(!post_only.contains("HTTP-Redirect"));
    app.create_tenant("postco").await;
    api(
        &app,
        Method::PUT,
        "/api/v1/tenants/postco/saml",
        json!({"idp_metadata_xml": post_only}),
        StatusCode::OK,
    )
    .await;
    let response = app
        .browser()
        .get(app.url("/saml/postco/login"))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::FOUND);
    let post_page = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let html = app
        .browser()
        .get(&post_page)
        .send()
        .await
        .expect("post page")
        .text()
        .await
        .expect("html");
    use base64::Engine as _;
    let data_url = format!(
        "data:text/html;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&html)
    );
    pages
        .visit(&data_url, "form#saml-post", "flow-03-saml-post")
        .await;

    // --- the dev IdP ----------------------------------------------------------------
    pages
        .visit(&format!("{dev_idp}/"), "h1", "dev-idp-01-index")
        .await;
    let initiate = format!(
        "{dev_idp}/sso/initiate?acs={}&audience={}",
        crate::helpers::q(&acs_url),
        crate::helpers::q(&app.url("/saml/acme")),
    );
    pages
        .visit(&initiate, "form", "dev-idp-02-sign-in-form")
        .await;
    pages
        .visit(&format!("{dev_idp}/sso"), "body", "dev-idp-03-error")
        .await;
    // Its OpenID Provider: the authorize form, as a relying party sends the
    // browser there, and its refusal page.
    let authorize = format!(
        "{dev_idp}/oidc/authorize?response_type=code&client_id=idbridge-acme\
         &redirect_uri={}&scope=openid%20email%20profile&state=s1&nonce=n1\
         &login_hint=ada%40acme.example",
        crate::helpers::q(&app.url("/oidc/acme/callback")),
    );
    pages
        .visit(&authorize, "form #email", "dev-idp-04-oidc-sign-in-form")
        .await;
    assert_eq!(
        pages.browser.property("#email", "value").await,
        "ada@acme.example"
    );
    pages
        .visit(
            &format!("{dev_idp}/oidc/authorize"),
            "h1",
            "dev-idp-05-oidc-error",
        )
        .await;

    // --- the console, as the operator sees it ----------------------------------------
    pages
        .visit(&app.url("/admin/login"), "#email", "console-01-login")
        .await;
    pages.browser.fill("#email", OPERATOR).await;
    pages.browser.fill("#password", "not the password").await;
    pages.browser.click("main button[type=submit]").await;
    pages.browser.wait_for("#email").await;
    pages.check("console-02-login-refused").await;
    sign_in(&app, &pages.browser).await;
    let admin = |path: &str| app.url(&format!("/admin{path}"));
    pages
        .visit(&admin("/tenants"), "#new-slug", "console-03-tenants")
        .await;
    // The slug's pattern is one the browser can compile (under the `v` flag a bare
    // `-` in a class is an error, and the browser then checks nothing).
    pages.browser.fill("#new-slug", "Not A Slug!").await;
    let validity = pages
        .browser
        .run_script(
            "const f = document.getElementById('new-slug'); \
             return [f.checkValidity(), f.validity.patternMismatch];",
        )
        .await;
    assert_eq!(validity, json!([false, true]), "an invalid slug is refused");
    pages.browser.fill("#new-slug", "acme-2").await;
    let valid = pages
        .browser
        .run_script("return document.getElementById('new-slug').checkValidity();")
        .await;
    assert_eq!(valid, json!(true), "a valid slug passes");
    let tenant = |path: &str| admin(&format!("/tenants/acme{path}"));
    let group = format!("/groups/{}", fixture.group_id);
    for (path, css, step) in [
        ("", "nav.tabs", "console-04-tenant"),
        ("/users", "table", "console-05-users"),
        ("/groups", "table", "console-06-groups"),
        (group.as_str(), "h1", "console-07-group"),
        ("/roles", "main", "console-08-roles"),
        ("/saml", "main", "console-09-saml"),
        ("/connections", "main", "console-10-connections"),
        ("/scim", "main", "console-11-scim"),
        ("/domains", "main", "console-12-domains"),
        ("/setup-links", "#note", "console-13-setup-links"),
        ("/sign-ins", "form.filters", "console-14-sign-in-log"),
        ("/provisioning", "table", "console-15-provisioning-log"),
    ] {
        pages.visit(&tenant(path), css, step).await;
    }
    pages
        .visit(&admin("/webhooks"), "#new-url", "console-16-webhooks")
        .await;
    pages
        .visit(
            &admin(&format!("/webhooks/{}", fixture.webhook_id)),
            "main",
            "console-17-webhook",
        )
        .await;
    pages
        .visit(
            &admin(&format!("/webhooks/{}/delete", fixture.webhook_id)),
            "#delete-title",
            "console-18-webhook-delete",
        )
        .await;
    pages
        .visit(&admin("/audit-log"), "table", "console-19-audit-log")
        .await;
    pages
        .visit(&admin("/tenants/nope"), "main", "console-20-not-found")
        .await;

    pages.finish().close().await;
}

/// The Users tab's actions as an operator uses them, each page state checked by
/// axe too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_users_tab_adds_deactivates_and_deletes_in_chromium() {
    let app = spawn_inviting().await;
    create_operator(&app).await;
    api(
        &app,
        Method::PUT,
        "/api/v1/app-roles",
        json!({"roles": ["Admin", "Member"]}),
        StatusCode::OK,
    )
    .await;
    let scim = app.scim_tenant("acme").await;
    scim.create_user("ada@acme.example").await;
    api(
        &app,
        Method::PATCH,
        "/api/v1/tenants/acme",
        json!({"invite_new_users": true}),
        StatusCode::OK,
    )
    .await;
    let mut pages = Checker::new(
        Browser::start("console_users_tab_adds_deactivates_and_deletes_in_chromium").await,
    );
    sign_in(&app, &pages.browser).await;
    let users_url = app.url("/admin/tenants/acme/users");
    pages.visit(&users_url, "#new-email", "01-users").await;
    // The invitations table is shown while invitations are on, empty so far.
    assert!(
        pages
            .browser
            .text("section[aria-labelledby=invitations-title]")
            .await
            .contains("None yet")
    );

    // Add a user.
    pages.browser.fill("#new-email", "Grace@Acme.example").await;
    pages.browser.fill("#new-given", "Grace").await;
    pages.browser.fill("#new-family", "Hopper").await;
    pages.browser.fill("#new-role", "member").await;
    pages
        .browser
        .click("form[action$='/tenants/acme/users'] button[type=submit]")
        .await;
    pages
        .browser
        .wait_for_url(&format!("{users_url}?done=created"))
        .await;
    pages.browser.wait_for("#notice").await;
    let row = pages
        .browser
        .text("tbody tr:has(form[action$='/deactivate'])")
        .await;
    for expected in [
        "Grace Hopper",
        "grace@acme.example",
        "Active",
        "Member",
        "manual",
    ] {
        assert!(
            row.contains(expected),
            "the new row lacks {expected:?}: {row}"
        );
    }
    let invitations = pages
        .browser
        .text("section[aria-labelledby=invitations-title]")
        .await;
    assert!(
        invitations.contains("grace@acme.example") && invitations.contains("pending"),
        "{invitations}"
    );
    pages.check("02-user-added").await;

    // The same address again is refused: the form keeps what was typed and marks
    // the field.
    pages.browser.fill("#new-email", "grace@acme.example").await;
    pages.browser.fill("#new-given", "Second").await;
    pages
        .browser
        .click("form[action$='/tenants/acme/users'] button[type=submit]")
        .await;
    pages.browser.wait_for(".notice-error").await;
    assert_eq!(
        pages.browser.property("#new-email", "value").await,
        "grace@acme.example"
    );
    assert_eq!(
        pages.browser.property("#new-given", "value").await,
        "Second"
    );
    let invalid = pages
        .browser
        .run_script("return document.getElementById('new-email').getAttribute('aria-invalid');")
        .await;
    assert_eq!(invalid, json!("true"));
    pages.check("03-user-refused").await;

    // Deactivate, then activate again (only users not managed by SCIM have these).
    pages.browser.goto(&users_url).await;
    pages
        .browser
        .click("form[action$='/deactivate'] button[type=submit]")
        .await;
    pages
        .browser
        .wait_for_url(&format!("{users_url}?done=deactivated"))
        .await;
    let row = pages
        .browser
        .text("tbody tr:has(form[action$='/activate'])")
        .await;
    assert!(row.contains("Deactivated"), "{row}");
    pages.check("04-user-deactivated").await;
    pages
        .browser
        .click("form[action$='/activate'] button[type=submit]")
        .await;
    pages
        .browser
        .wait_for_url(&format!("{users_url}?done=activated"))
        .await;
    assert!(
        pages
            .browser
            .text("tbody tr:has(form[action$='/deactivate'])")
            .await
            .contains("Active")
    );

    // Delete, behind its confirmation: the button shows only once it is opened.
    let grace = "tbody tr:has(form[action$='/deactivate'])";
    let delete_button = format!("{grace} form[action$='/delete'] button[type=submit]");
    assert!(!pages.browser.is_displayed(&delete_button).await);
    pages.browser.click(&format!("{grace} summary")).await;
    assert!(pages.browser.is_displayed(&delete_button).await);
    pages.check("05-user-delete-confirm").await;
    pages.browser.click(&delete_button).await;
    pages
        .browser
        .wait_for_url(&format!("{users_url}?done=deleted"))
        .await;
    let table = pages.browser.text("table").await;
    assert!(!table.contains("grace@acme.example"), "{table}");
    assert!(table.contains("ada@acme.example"), "{table}");

    // The audit log shows what was done, by whom; its filters narrow it.
    pages
        .visit(
            &app.url("/admin/audit-log?tenant=acme"),
            "table",
            "06-audit-log",
        )
        .await;
    let log = pages.browser.text("table").await;
    for action in [
        "user.created",
        "user.updated",
        "user.deleted",
        "tenant.updated",
    ] {
        assert!(log.contains(action), "the audit log lacks {action}: {log}");
    }
    assert!(log.contains(OPERATOR), "{log}");
    pages.browser.set_value("#f-action", "user.deleted").await;
    pages.browser.fill("#f-actor", OPERATOR).await;
    pages.browser.click("form.search button[type=submit]").await;
    pages
        .browser
        .wait_for_url(&app.url(&format!(
            "/admin/audit-log?tenant=acme&actor={}&action=user.deleted",
            crate::helpers::q(OPERATOR)
        )))
        .await;
    let rows = pages
        .browser
        .run_script("return document.querySelectorAll('tbody tr').length;")
        .await;
    assert_eq!(rows, json!(1), "one deletion");
    let log = pages.browser.text("table").await;
    assert!(
        log.contains("user.deleted") && log.contains(OPERATOR),
        "{log}"
    );
    pages.check("07-audit-log-filtered").await;

    pages.finish().close().await;
}

/// What [`tables_read_as_cards_at_a_phones_width`] measures of every table on the
/// page: problems (empty: the tables are cards), how many tables and rows, and
/// the labels drawn in the first row of each.
const CARD_LAYOUT: &str = r#"
const out = {tables: 0, rows: 0, labels: [], problems: []};
document.querySelectorAll('.table-wrap').forEach((wrap, i) => {
  const table = wrap.querySelector('table');
  if (!table) return;
  const name = wrap.getAttribute('aria-label') || ('table ' + (i + 1));
  out.tables++;
  if (wrap.scrollWidth > wrap.clientWidth + 1)
    out.problems.push(name + ': scrolls sideways in its region (' + wrap.scrollWidth + ' px in ' + wrap.clientWidth + ')');
  if (table.tHead) {
    const head = table.tHead.getBoundingClientRect();
    if (head.width > 1 || head.height > 1) out.problems.push(name + ': its header row is shown');
  }
  const rows = table.tBodies.length ? Array.from(table.tBodies[0].rows) : [];
  rows.forEach((row, n) => {
    out.rows++;
    const where = name + ', row ' + (n + 1);
    if (getComputedStyle(row).display !== 'block') out.problems.push(where + ': not a block');
    const rowBox = row.getBoundingClientRect();
    const cells = Array.from(row.cells).filter(c => c.getBoundingClientRect().height > 0);
    cells.forEach((cell, k) => {
      const box = cell.getBoundingClientRect();
      if (box.width < rowBox.width - 4) out.problems.push(where + ', cell ' + (k + 1) + ': ' + Math.round(box.width) + ' px of the card\'s ' + Math.round(rowBox.width));
      if (k > 0 && box.top < cells[k - 1].getBoundingClientRect().bottom - 1)
        out.problems.push(where + ', cell ' + (k + 1) + ': beside the one before, not under it');
    });
    row.querySelectorAll('td[data-label]').forEach(cell => {
      const label = cell.getAttribute('data-label');
      const before = getComputedStyle(cell, '::before');
      const width = parseFloat(before.width);
      if (before.display === 'none' || before.visibility !== 'visible' || !(width > 40) || !before.content.includes(label))
        out.problems.push(where + ': the label ' + JSON.stringify(label) + ' is not drawn (content ' + before.content + ', width ' + before.width + ')');
      else if (n === 0) out.labels.push(label);
    });
  });
});
return out;
"#;

/// At a phone's width the console's and the portal's wide tables are cards: each
/// row a block, each cell under the one before with its column's name drawn
/// beside it (from `data-label`), nothing scrolling sideways, not the page and
/// not a table in its region (which then leaves the tab order); still a table to
/// a screen reader (the browser's computed roles). At a laptop's width they are tables again. Each page is also
/// checked by axe and screenshotted at both widths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_read_as_cards_at_a_phones_width() {
    let app = spawn_inviting().await;
    create_operator(&app).await;
    let fixture = populate(&app).await;
    // A second SCIM token, revoked, so that the portal's table has two kinds of row.
    let (token_id, _) = app.create_scim_token("acme").await;
    api(
        &app,
        Method::DELETE,
        &format!("/api/v1/tenants/acme/scim-tokens/{token_id}"),
        Value::Null,
        StatusCode::NO_CONTENT,
    )
    .await;
    let mut pages = Checker::new(Browser::start("tables_read_as_cards_at_a_phones_width").await);

    pages.browser.goto(&fixture.setup_url).await;
    pages.browser.wait_for("ol.progress").await;
    let portal_provisioning = app.url("/setup/provisioning");
    sign_in(&app, &pages.browser).await;
    let admin = |path: &str| app.url(&format!("/admin{path}"));
    for (url, labels, step) in [
        (
            portal_provisioning.as_str(),
            &["Description", "Created", "Last used", "Status"][..],
            "portal-provisioning-tokens",
        ),
        (
            &admin("/tenants"),
            &["Name", "Slug", "Sign-in", "Created"],
            "console-tenants",
        ),
        (
            &admin("/tenants/acme/users"),
            &[
                "User",
                "Email",
                "Status",
                "App roles",
                "Groups",
                "Source",
                "Updated",
            ],
            "console-users",
        ),
        (
            &admin("/tenants/acme/groups"),
            &["Group", "External id", "Created", "Updated"],
            "console-groups",
        ),
        (
            &admin("/tenants/acme/scim"),
            &["Description", "Status", "Created", "Last used"],
            "console-scim-tokens",
        ),
        (
            &admin("/tenants/acme/setup-links"),
            &[
                "For",
                "Provider",
                "State",
                "Created",
                "Expires",
                "Last used",
            ],
            "console-setup-links",
        ),
        (
            &admin("/webhooks"),
            &[
                "Endpoint",
                "Status",
                "Delivery",
                "Event types",
                "Tenants",
                "Created",
            ],
            "console-webhooks",
        ),
        (
            &admin("/audit-log"),
            &[
                "When", "Who", "Action", "Tenant", "Target", "From", "Changes",
            ],
            "console-audit-log",
        ),
    ] {
        pages.browser.goto(url).await;
        pages.browser.wait_for(".table-wrap table").await;

        pages
            .browser
            .set_window_size(PHONE_WIDTH, PHONE_HEIGHT)
            .await;
        let layout = pages.browser.run_script(CARD_LAYOUT).await;
        let problems: Vec<&str> = layout["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            problems.is_empty(),
            "{step} at {PHONE_WIDTH} px:\n{}",
            problems.join("\n")
        );
        assert!(layout["rows"].as_u64() > Some(0), "{step}: rows to show");
        let drawn: Vec<&str> = layout["labels"]
            .as_array()
            .expect("labels")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for label in labels {
            assert!(
                drawn.contains(label),
                "{step}: the first card lacks the label {label:?} (it has {drawn:?})"
            );
        }
        let overflow = pages.browser.sideways_overflow().await;
        assert!(
            overflow.is_empty(),
            "{step}: the page scrolls sideways at {PHONE_WIDTH} px, past: {}",
            overflow.join(", ")
        );
        // With nothing to scroll, a table's region is no stop on the way through
        // the page (the script takes it out of the tab order once laid out anew).
        let mut stops = Value::Null;
        for _ in 0..20 {
            stops = pages
                .browser
                .run_script("return document.querySelectorAll('.table-wrap[tabindex]').length;")
                .await;
            if stops == json!(0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(
            stops,
            json!(0),
            "{step}: table regions left in the tab order"
        );
        // Still a table to assistive technology, headers and all.
        for (css, role) in [
            (".table-wrap table", "table"),
            (".table-wrap thead th", "columnheader"),
            (".table-wrap tbody tr", "row"),
            (".table-wrap tbody td[data-label]", "cell"),
        ] {
            assert_eq!(
                pages.browser.computed_role(css).await,
                role,
                "{step}: {css} at {PHONE_WIDTH} px"
            );
        }

        pages
            .browser
            .set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)
            .await;
        let display = pages
            .browser
            .run_script(
                "return getComputedStyle(document.querySelector('.table-wrap tbody tr')).display;",
            )
            .await;
        assert_eq!(display, json!("table-row"), "{step}: a table on a laptop");

        // axe, the page's own overflow and screenshots at both widths.
        pages.check(step).await;
    }

    pages.finish().close().await;
}
