//! The vendor's brand over real HTTP: set through the admin API, shown by the setup
//! portal (name, logo, accent stylesheet, support contact, return URL), a link's
//! overrides, and every refusal storing nothing.

use idbridge_testkit::both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::form_client::FormClient;
use crate::helpers::{TestApp, expect_error};
use crate::setup_links::create_link;

/// A small valid PNG header and some bytes (the portal never decodes it).
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..200u8).collect::<Vec<_>>());
    bytes
}

async fn put_branding(app: &TestApp, body: Value) -> reqwest::Response {
    app.admin(Method::PUT, "/api/v1/branding")
        .json(&body)
        .send()
        .await
        .expect("send")
}

async fn put_logo(app: &TestApp, content_type: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.admin(Method::PUT, "/api/v1/branding/logo")
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("send")
}

async fn get_branding(app: &TestApp) -> Value {
    let response = app
        .admin(Method::GET, "/api/v1/branding")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn audit_log(app: &TestApp, action: &str) -> Vec<Value> {
    let body: Value = app
        .admin_get(&format!("/api/v1/audit-log?action={action}"))
        .await;
    body["data"].as_array().cloned().unwrap_or_default()
}

/// The portal's top bar (between `<header class="topbar">` and `</header>`).
fn top_bar(body: &str) -> &str {
    let start = body.find("<header class=\"topbar\">").expect("top bar");
    let end = body[start..].find("</header>").expect("top bar end") + start;
    &body[start..end]
}

/// Opens a link of `slug` with `overrides` and returns the overview's body.
async fn portal_overview(app: &TestApp, slug: &str, overrides: Value) -> String {
    let mut body = json!({"provider": "okta"});
    body.as_object_mut()
        .expect("object")
        .extend(overrides.as_object().expect("object").clone());
    let (_, token) = create_link(app, slug, body).await;
    let mut client = FormClient::new(app);
    let opened = client.get(&format!("/setup?token={token}")).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let overview = client.get("/setup").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    overview.body
}

both_backends! {
    async fn branding_shows_on_the_portal_instead_of_idbridge(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;

        // Nothing set: idbridge's own look, and no brand files.
        let unset = get_branding(&app).await;
        assert_eq!(unset["app_name"], Value::Null);
        assert_eq!(unset["logo"], Value::Null);
        let plain = portal_overview(&app, "acme", json!({})).await;
        assert!(top_bar(&plain).contains("idbridge"));
        assert!(!plain.contains("brand.css"));
        assert!(!plain.contains("Questions?"));

        let response = put_branding(&app, json!({
            "app_name": "Ledger",
            "accent_color": "#FFCC00",
            "support_email": "help@ledger.test",
            "support_url": "https://ledger.test/help",
            "return_url": "https://ledger.test/settings/sso",
        })).await;
        assert_eq!(response.status(), StatusCode::OK);
        let view: Value = response.json().await.expect("json");
        assert_eq!(view["accent_color"], "#ffcc00", "stored in lower case");
        assert_eq!(view["accent_text_color"], "#000000", "black text on yellow");
        let response = put_logo(&app, "image/png", png()).await;
        assert_eq!(response.status(), StatusCode::OK);
        let view: Value = response.json().await.expect("json");
        assert_eq!(view["app_name"], "Ledger", "the logo leaves the settings alone");
        let logo_url = view["logo"]["url"].as_str().expect("logo url").to_owned();
        assert!(logo_url.contains("/setup/brand/logo?v="), "{logo_url}");

        let body = portal_overview(&app, "acme", json!({})).await;
        let bar = top_bar(&body);
        assert!(bar.contains("Ledger"), "{bar}");
        assert!(!bar.to_lowercase().contains("idbridge"), "{bar}");
        assert!(body.contains("<title>") && body.contains("Ledger setup</title>"), "{body}");
        let logo_path = logo_url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).expect("path");
        assert!(bar.contains(&format!("src=\"{}\"", logo_path.replace('&', "&amp;"))) || bar.contains(&format!("src=\"{logo_path}\"")), "{bar}");
        assert!(body.contains("/setup/brand.css?v=ffcc00"), "{body}");
        assert!(body.contains("Questions? Contact"));
        assert!(body.contains("mailto:help@ledger.test"));
        assert!(body.contains("https://ledger.test/help"));
        assert!(body.contains("href=\"https://ledger.test/settings/sso\""));
        assert!(body.contains("Back to Ledger"));

        // The logo is served with its type, for good; the stylesheet from this origin.
        let logo = app.browser().get(app.url(logo_path)).send().await.expect("send");
        assert_eq!(logo.status(), StatusCode::OK);
        assert_eq!(logo.headers()["content-type"], "image/png");
        assert!(logo.headers()["cache-control"].to_str().expect("ascii").contains("immutable"));
        assert_eq!(logo.bytes().await.expect("bytes").to_vec(), png());
        let css = app.browser().get(app.url("/setup/brand.css?v=ffcc00")).send().await.expect("send");
        assert_eq!(css.status(), StatusCode::OK);
        assert!(css.headers()["content-type"].to_str().expect("ascii").starts_with("text/css"));
        let css = css.text().await.expect("text");
        assert!(css.contains("--accent: #ffcc00") && css.contains("--accent-text: #000000"), "{css}");
        // Only the current version is answered (and cached for good): another would
        // put today's file in caches under a later colour's or logo's address.
        for stale in ["/setup/brand.css?v=000000", "/setup/brand.css", "/setup/brand/logo?v=0123abcd", "/setup/brand/logo"] {
            let response = app.browser().get(app.url(stale)).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{stale}");
            assert_eq!(response.headers()["cache-control"], "no-store", "{stale}");
        }

        // The end user's sign-in error page wears the brand too: the name, the
        // colour, the contact and the way back to the app; never idbridge's name.
        let refused = app.browser().post(app.url("/saml/acme/acs")).form(&[("SAMLResponse", "not a SAML response")]).send().await.expect("send");
        assert!(refused.status().is_client_error(), "{}", refused.status());
        let page = refused.text().await.expect("body");
        assert!(page.contains("<title>Sign-in failed · Ledger</title>"), "{page}");
        assert!(page.contains("/setup/brand.css?v=ffcc00") && page.contains("mailto:help@ledger.test"), "{page}");
        assert!(page.contains("href=\"https://ledger.test/settings/sso\"") && page.contains("Back to Ledger"), "{page}");
        assert!(page.contains("Reason: <code>") && page.contains("Reference: <code>"), "{page}");
        assert!(!page.to_lowercase().contains("idbridge</span>"), "{page}");

        // The audit log has the changes, never the image's bytes.
        let updated = audit_log(&app, "branding.updated").await;
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0]["changes"]["app_name"], "Ledger");
        let logo_records = audit_log(&app, "branding.logo_updated").await;
        assert_eq!(logo_records.len(), 1);
        let changes = &logo_records[0]["changes"];
        assert_eq!(changes["content_type"], "image/png");
        assert_eq!(changes["size"], png().len());
        assert!(changes.to_string().len() < 200, "no image bytes: {changes}");

        // Removing the logo: gone from the page and its address.
        let response = app.admin(Method::DELETE, "/api/v1/branding/logo").send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(audit_log(&app, "branding.logo_removed").await.len(), 1);
        let gone = app.browser().get(app.url(logo_path)).send().await.expect("send");
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    }

    async fn a_links_return_url_and_contact_win(db: TestDb) {
        let app = TestApp::spawn(db).await;
        app.create_tenant("acme").await;
        let response = put_branding(&app, json!({
            "app_name": "Ledger",
            "support_email": "help@ledger.test",
            "return_url": "https://ledger.test/done",
        })).await;
        assert_eq!(response.status(), StatusCode::OK);
        let (created, _) = create_link(&app, "acme", json!({
            "return_url": "http://127.0.0.1:3000/acme/done",
            "support_url": "https://ledger.test/acme-help",
        })).await;
        assert_eq!(created["return_url"], "http://127.0.0.1:3000/acme/done");
        assert_eq!(created["support_url"], "https://ledger.test/acme-help");
        let listed: Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        assert_eq!(listed["data"][0]["return_url"], "http://127.0.0.1:3000/acme/done");

        let body = portal_overview(&app, "acme", json!({
            "return_url": "https://acme.ledger.test/back",
            "support_email": "acme-team@ledger.test",
        })).await;
        assert!(body.contains("href=\"https://acme.ledger.test/back\""), "{body}");
        assert!(!body.contains("https://ledger.test/done"));
        assert!(body.contains("acme-team@ledger.test"));
        assert!(!body.contains("help@ledger.test"), "the link's contact replaces the brand's");

        for bad in [json!({"return_url": "http://ledger.test/"}), json!({"support_email": "nope"}), json!({"return_url": "javascript:alert(1)"})] {
            let response = app.admin(Method::POST, "/api/v1/tenants/acme/setup-links").json(&bad).send().await.expect("send");
            expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
    }

    async fn bad_branding_is_refused_and_nothing_is_stored(db: TestDb) {
        let app = TestApp::spawn(db).await;
        for (body, word) in [
            (json!({"accent_color": "red"}), "accent_color"),
            (json!({"accent_color": "#fff"}), "accent_color"),
            (json!({"accent_color": "#12345g"}), "accent_color"),
            (json!({"return_url": "http://ledger.test/"}), "return_url"),
            (json!({"return_url": "javascript:alert(1)"}), "return_url"),
            (json!({"support_url": "ftp://ledger.test/"}), "support_url"),
            (json!({"support_email": "not an address"}), "support_email"),
            (json!({"app_name": "x".repeat(81)}), "app_name"),
            (json!({"app_name": "Ledger", "logo_url": "https://cdn.test/logo.png"}), "logo_url"),
        ] {
            // An unknown field is the body's fault (`invalid_body`), a bad value the field's.
            let code = if word == "logo_url" { "invalid_body" } else { "invalid_request" };
            let body = expect_error(put_branding(&app, body).await, StatusCode::BAD_REQUEST, code).await;
            assert!(body["message"].as_str().expect("message").contains(word), "{body}");
        }
        let mut big = png();
        big.resize(256 * 1024 + 1, 0);
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
        for (content_type, bytes) in [
            ("image/svg+xml", svg.clone()),
            ("image/png", svg),
            ("image/png", big),
            ("image/png", b"garbage".to_vec()),
            ("image/jpeg", png()),
            ("image/png", Vec::new()),
        ] {
            expect_error(put_logo(&app, content_type, bytes).await, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
        let view = get_branding(&app).await;
        for field in ["app_name", "accent_color", "support_email", "support_url", "return_url", "logo", "updated_at"] {
            assert_eq!(view[field], Value::Null, "{field}");
        }
        for action in ["branding.updated", "branding.logo_updated"] {
            assert!(audit_log(&app, action).await.is_empty(), "{action}");
        }
        // Loopback http and 256 KiB exactly are fine.
        let response = put_branding(&app, json!({"return_url": "http://localhost:8080/done"})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let mut largest = png();
        largest.resize(256 * 1024, 0);
        assert_eq!(put_logo(&app, "image/png", largest).await.status(), StatusCode::OK);
    }
}

mod console {
    use super::*;
    use secrecy::SecretString;

    const EMAIL: &str = "ops@example.com";
    const PASSWORD: &str = "correct horse battery staple";

    async fn signed_in(app: &TestApp) -> FormClient<'_> {
        idbridge_app::operators::create(
            &app.state.app,
            EMAIL,
            &SecretString::from(PASSWORD),
            &idbridge_app::audit::Audit::cli(None),
        )
        .await
        .expect("operator");
        let mut browser = FormClient::new(app);
        browser.get("/admin/login").await;
        let answer = browser
            .post("/admin/login", &[("email", EMAIL), ("password", PASSWORD)])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        browser
    }

    /// A browser's multipart logo form.
    fn logo_form(csrf: &str, bytes: &[u8]) -> (String, Vec<u8>) {
        let boundary = "----formBoundary7MA4YWxkTrZu0gW";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{csrf}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    }

    both_backends! {
        async fn console_sets_branding_uploads_a_logo_and_invites_an_it_admin(db: TestDb) {
            let app = TestApp::spawn(db).await;
            app.create_tenant("acme").await;
            let mut browser = signed_in(&app).await;
            let page = browser.get("/admin/branding").await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.body.contains("href=\"/admin/branding\""), "the nav links it");

            let refused = browser.post("/admin/branding", &[("app_name", "Ledger"), ("accent_color", "blue")]).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST);
            assert!(refused.body.contains("accent_color must be"), "{}", refused.body);
            assert!(refused.body.contains("value=\"blue\""), "the typing is kept");
            assert_eq!(get_branding(&app).await["app_name"], Value::Null);

            let saved = browser.post("/admin/branding", &[
                ("app_name", "Ledger"), ("accent_color", "#0b3d91"), ("support_email", ""),
                ("support_url", "https://ledger.test/help"), ("return_url", ""),
            ]).await;
            assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
            let page = browser.get(saved.location()).await;
            assert!(page.body.contains("/setup/brand.css?v=0b3d91"), "the preview uses the stylesheet");
            assert!(page.body.contains("Text on the accent colour: white"));

            // The logo upload: a multipart form with the page's token.
            let csrf = page.csrf_field().expect("token");
            let (content_type, body) = logo_form(&csrf, &png());
            let request = app.browser().post(app.url("/admin/branding/logo"))
                .header("content-type", content_type).header("origin", app.base.clone()).body(body);
            let uploaded = browser.send(request).await;
            assert_eq!(uploaded.status, StatusCode::SEE_OTHER, "{}", uploaded.body);
            assert_eq!(get_branding(&app).await["logo"]["content_type"], "image/png");
            // Without the token, or with an SVG, nothing changes.
            let (content_type, body) = logo_form("forged", &png());
            let request = app.browser().post(app.url("/admin/branding/logo"))
                .header("content-type", content_type).header("origin", app.base.clone()).body(body);
            assert_eq!(browser.send(request).await.status, StatusCode::FORBIDDEN);
            let (content_type, body) = logo_form(&csrf, b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
            let request = app.browser().post(app.url("/admin/branding/logo"))
                .header("content-type", content_type).header("origin", app.base.clone()).body(body);
            let refused = browser.send(request).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST);
            assert!(refused.body.contains("PNG, JPEG or WebP"));
            assert_eq!(audit_log(&app, "branding.logo_updated").await.len(), 1);
            // A file over the forms' 1 MiB is said to be too large (413), not taken
            // for a forged form, and changes nothing.
            let mut huge = png();
            huge.resize(2 * 1024 * 1024, 0);
            let (content_type, body) = logo_form(&csrf, &huge);
            let request = app.browser().post(app.url("/admin/branding/logo"))
                .header("content-type", content_type).header("origin", app.base.clone()).body(body);
            let too_large = browser.send(request).await;
            assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", too_large.body);
            assert!(too_large.body.contains("at most 256 KiB") && too_large.body.contains("Nothing was changed"));
            assert_eq!(audit_log(&app, "branding.logo_updated").await.len(), 1);

            // "Invite IT admin" on the tenant's overview: a link, shown once.
            let overview = browser.get("/admin/tenants/acme").await;
            assert!(overview.body.contains("Invite IT admin"));
            let invited = browser.post_and_follow("/admin/tenants/acme/setup-links", &[
                ("provider", "okta"), ("note", "Jane"), ("return_url", "https://ledger.test/acme"),
            ]).await;
            assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
            assert!(invited.body.contains("/setup?token=idb_setup_"), "{}", invited.body);
            let listed: Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
            assert_eq!(listed["data"][0]["return_url"], "https://ledger.test/acme");
            assert_eq!(listed["data"][0]["provider"], "okta");
        }
    }
}
