//! The operator console (`/admin`) over real HTTP, as a browser would drive it: the
//! sign-in, the session cookie and its expiry, CSRF refusals, escaping of hostile
//! names, and each page's forms.

use std::collections::HashMap;

use idbridge_server::admin::service;
use idbridge_testkit::both_backends;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::TestApp;

const EMAIL: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// A browser's view of the console: its cookies, and the CSRF token of the last page.
struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
    csrf: String,
}

/// A form, the Origin it is sent with, and what is wrong with it.
type Attempt<'f> = (Vec<(&'f str, &'f str)>, Option<&'f str>, &'f str);

/// What a page answered.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }

    /// The value of the first hidden `csrf_token` field.
    fn csrf_field(&self) -> Option<String> {
        let marker = r#"name="csrf_token" value=""#;
        let start = self.body.find(marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].to_owned())
    }
}

async fn create_operator(app: &TestApp) {
    service::create_operator(&app.state, EMAIL, &SecretString::from(PASSWORD))
        .await
        .expect("operator");
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: app.browser(),
            cookies: HashMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, page: &Page) {
        for cookie in page.set_cookies() {
            let pair = cookie.split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(token) = page.csrf_field() {
            self.csrf = token;
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("send");
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        };
        self.remember(&page);
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.app.url(path));
        self.send(request).await
    }

    /// A form post as the console's own page sends it: same Origin, the CSRF token.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf.clone();
        form.push(("csrf_token", &token));
        self.post_raw(path, &form, Some(&self.app.base.clone()))
            .await
    }

    async fn post_raw(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut request = self.http.post(self.app.url(path)).form(form);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request).await
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, StatusCode::OK);
        self.post("/admin/login", &[("email", email), ("password", password)])
            .await
    }

    async fn signed_in(app: &'a TestApp) -> Self {
        let mut browser = Self::new(app);
        let answer = browser.sign_in(EMAIL, PASSWORD).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location(), "/admin/tenants");
        let tenants = browser.get("/admin/tenants").await;
        assert_eq!(tenants.status, StatusCode::OK);
        browser
    }
}

both_backends! {
    async fn console_signs_in_with_the_right_password_only(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;

        for (email, password) in [(EMAIL, "wrong horse battery staple"), ("nobody@example.com", PASSWORD), ("", "")] {
            let mut browser = Browser::new(&app);
            let refused = browser.sign_in(email, password).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{email}");
            assert!(refused.body.contains("The email address or the password is not right."));
            assert!(!browser.cookies.contains_key("idbridge_console"));
        }

        // Emails are compared case-insensitively.
        let mut browser = Browser::new(&app);
        let answer = browser.sign_in("  OPS@Example.com ", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        let session = answer
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("idbridge_console="))
            .expect("session cookie");
        let value = session.split(';').next().expect("pair");
        assert!(value.starts_with("idbridge_console=idb_sess_"), "{session}");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=43200"] {
            assert!(session.contains(attribute), "{attribute} missing: {session}");
        }
        // The public URL is http here: no Secure, no __Host- prefix.
        assert!(!session.contains("Secure"));
        let page = browser.get("/admin/tenants").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(EMAIL));
        // A signed-in operator asking for the sign-in form goes to the tenants.
        assert_eq!(browser.get("/admin/login").await.status, StatusCode::SEE_OTHER);
    }

    async fn console_sends_visitors_without_a_session_to_sign_in(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let mut browser = Browser::new(&app);
        for path in ["/admin", "/admin/tenants", "/admin/tenants/acme", "/admin/tenants/acme/saml"] {
            let page = browser.get(path).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
            assert_eq!(page.location(), "/admin/login", "{path}");
        }
        // A post without a session changes nothing.
        let page = browser
            .post_raw("/admin/tenants", &[("slug", "acme"), ("name", "Acme")], Some(&app.base))
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(app.tenant_count().await, 0);
        // A forged cookie is no session.
        browser.cookies.insert("idbridge_console".into(), "idb_sess_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
        assert_eq!(browser.get("/admin/tenants").await.status, StatusCode::SEE_OTHER);
        let missing = browser.get("/admin/no-such-page").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.body.contains("Not found"));
    }

    async fn console_sessions_end_when_idle_and_at_their_absolute_end(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;

        // Idle for longer than 30 minutes: signed out.
        let mut browser = Browser::signed_in(&app).await;
        app.clock.advance(time::Duration::minutes(31));
        assert_eq!(browser.get("/admin/tenants").await.location(), "/admin/login");

        // Active every 20 minutes: still in after 11 hours, out at 12.
        let mut browser = Browser::signed_in(&app).await;
        for _ in 0..33 {
            app.clock.advance(time::Duration::minutes(20));
            assert_eq!(browser.get("/admin/tenants").await.status, StatusCode::OK);
        }
        app.clock.advance(time::Duration::minutes(60));
        let page = browser.get("/admin/tenants").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "past 12 hours");
    }

    async fn console_sign_out_ends_the_session_everywhere(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let mut browser = Browser::signed_in(&app).await;
        let stolen = browser.cookies.clone();
        let out = browser.post("/admin/logout", &[]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(out.location(), "/admin/login");
        assert!(out.set_cookies().iter().any(|c| c.starts_with("idbridge_console=;") && c.contains("Max-Age=0")));
        // A copy of the cookie taken before sign-out no longer works.
        let mut replay = Browser::new(&app);
        replay.cookies = stolen;
        assert_eq!(replay.get("/admin/tenants").await.status, StatusCode::SEE_OTHER);
    }

    async fn console_sign_in_rotates_the_session(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let mut browser = Browser::signed_in(&app).await;
        let before = browser.cookies["idbridge_console"].clone();
        // Signing in again (the form is shown to a signed-in browser only through a
        // direct post) replaces the token and ends the old one.
        let form = Browser::new(&app).get("/admin/login").await;
        browser.remember(&form);
        let again = browser.post("/admin/login", &[("email", EMAIL), ("password", PASSWORD)]).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        let after = browser.cookies["idbridge_console"].clone();
        assert_ne!(before, after);
        let mut old = Browser::new(&app);
        old.cookies.insert("idbridge_console".into(), before);
        assert_eq!(old.get("/admin/tenants").await.status, StatusCode::SEE_OTHER);
    }

    async fn console_refuses_forms_without_the_sessions_csrf_token(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let (token_id, _) = app.create_scim_token("acme").await;
        let mut browser = Browser::signed_in(&app).await;
        assert_eq!(
            browser.post("/admin/tenants/acme/domains", &[("domain", "acme.test")]).await.status,
            StatusCode::SEE_OTHER
        );
        let revoke = format!("/admin/tenants/acme/scim/tokens/{token_id}/revoke");
        let posts: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("/admin/tenants", vec![("slug", "globex"), ("name", "Globex")]),
            ("/admin/tenants/acme", vec![("name", "Renamed")]),
            ("/admin/tenants/acme/saml", vec![("metadata_xml", "<x/>")]),
            ("/admin/tenants/acme/saml/test", vec![]),
            ("/admin/tenants/acme/scim/tokens", vec![("description", "x")]),
            (&revoke, vec![]),
            ("/admin/tenants/acme/domains", vec![("domain", "other.test")]),
            ("/admin/tenants/acme/domains/acme.test/verify", vec![]),
            ("/admin/tenants/acme/domains/acme.test/remove", vec![]),
            ("/admin/logout", vec![]),
        ];
        let good = browser.csrf.clone();
        let origin = app.base.clone();
        for (path, fields) in &posts {
            fn with<'f>(fields: &[(&'f str, &'f str)], token: Option<&'f str>) -> Vec<(&'f str, &'f str)> {
                let mut form = fields.to_vec();
                if let Some(token) = token {
                    form.push(("csrf_token", token));
                }
                form
            }
            let truncated = good[..good.len() - 1].to_owned();
            let attempts: Vec<Attempt<'_>> = vec![
                (with(fields, None), Some(&origin), "no token"),
                (with(fields, Some("")), Some(&origin), "empty token"),
                (with(fields, Some("AAAA-wrong-token")), Some(&origin), "wrong token"),
                (with(fields, Some(&truncated)), Some(&origin), "truncated token"),
                (with(fields, Some(&good)), Some("https://evil.example"), "foreign origin"),
                (with(fields, Some(&good)), None, "no origin"),
            ];
            for (form, origin, what) in attempts {
                let page = browser.post_raw(path, &form, origin).await;
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {what}");
                assert!(page.body.contains("Nothing was changed"), "{path}: {what}");
            }
        }
        // Nothing changed: no tenant, same name, token active, domain still there,
        // no second domain, no test sign-in, and the session still works.
        assert_eq!(app.tenant_count().await, 1);
        let tenant: serde_json::Value = app.admin(Method::GET, "/api/v1/tenants/acme").send().await.expect("send").json().await.expect("json");
        assert_eq!(tenant["name"], "acme Inc");
        assert_eq!(tenant["scim"]["active_tokens"], 1);
        assert_eq!(tenant["saml"]["configured"], false);
        assert_eq!(tenant["domains"]["total"], 1);
        assert_eq!(browser.get("/admin/tenants").await.status, StatusCode::OK);
    }

    async fn console_sign_in_form_needs_its_own_csrf_cookie(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let mut browser = Browser::new(&app);
        browser.get("/admin/login").await;
        let token = browser.csrf.clone();
        let form = [("email", EMAIL), ("password", PASSWORD), ("csrf_token", token.as_str())];
        // Another browser (no login cookie) posting a token it read elsewhere.
        let mut other = Browser::new(&app);
        assert_eq!(other.post_raw("/admin/login", &form, Some(&app.base)).await.status, StatusCode::FORBIDDEN);
        // The right cookie from another origin.
        assert_eq!(browser.post_raw("/admin/login", &form, Some("https://evil.example")).await.status, StatusCode::FORBIDDEN);
        // A wrong field with the right cookie.
        let wrong = [("email", EMAIL), ("password", PASSWORD), ("csrf_token", "nope")];
        assert_eq!(browser.post_raw("/admin/login", &wrong, Some(&app.base)).await.status, StatusCode::FORBIDDEN);
        assert_eq!(browser.post_raw("/admin/login", &form, Some(&app.base)).await.status, StatusCode::SEE_OTHER);
    }

    async fn console_pages_carry_the_security_headers(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;
        for path in ["/admin/login", "/admin/tenants", "/admin/tenants/acme", "/admin/tenants/acme/saml",
                     "/admin/tenants/acme/scim", "/admin/tenants/acme/domains", "/admin/static/console.css",
                     "/admin/nothing-here"] {
            let page = browser.get(path).await;
            let header = |name: &str| page.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            assert_eq!(header("cache-control"), "no-store", "{path}");
            assert_eq!(header("x-frame-options"), "DENY", "{path}");
            assert_eq!(header("referrer-policy"), "same-origin", "{path}");
            assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
            let csp = header("content-security-policy");
            assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
            // No inline script or style anywhere (the CSP would block it).
            assert!(!page.body.contains("<script>") && !page.body.contains("style="), "{path}");
        }
        let js = browser.get("/admin/static/console.js").await;
        assert_eq!(js.headers["content-type"], "text/javascript; charset=utf-8");
        assert!(js.body.contains("navigator.clipboard"));
    }

    async fn console_escapes_markup_in_names_everywhere(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let hostile_name = r#"<img src=x onerror=alert(1)>Acme "quoted" & co"#;
        let response = app
            .admin(Method::POST, "/api/v1/tenants")
            .json(&json!({"slug": "acme", "name": hostile_name}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let scim = crate::helpers::ScimClient {
            app: &app,
            slug: "acme".into(),
            token: app.create_scim_token("acme").await.1,
        };
        let user = scim.send(Method::POST, "/Users", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "mallory@acme.test",
            "displayName": "<script>alert(1)</script>",
            "name": {"givenName": "<b onmouseover=alert(2)>M</b>"},
        }))).await;
        assert_eq!(user.status(), StatusCode::CREATED);
        let description = r#""><script>alert(3)</script>"#;
        let mut browser = Browser::signed_in(&app).await;
        let generated = browser.post("/admin/tenants/acme/scim/tokens", &[("description", description)]).await;
        assert_eq!(generated.status, StatusCode::CREATED);
        let search = format!("/admin/tenants?q={}", "%3Cimg%20src");
        for path in ["/admin/tenants", search.as_str(), "/admin/tenants/acme", "/admin/tenants/acme/saml",
                     "/admin/tenants/acme/scim", "/admin/tenants/acme/domains", "/admin/tenants/acme/users",
                     "/admin/tenants/acme/users?q=mallory"] {
            let page = browser.get(path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            for raw in ["<img src=x", "<script>alert", "<b onmouseover", "\"><script>"] {
                assert!(!page.body.contains(raw), "{path} shows {raw:?} unescaped");
            }
        }
        let list = browser.get("/admin/tenants").await;
        assert!(list.body.contains("&#60;img src=x onerror=alert(1)&#62;Acme &#34;quoted&#34; &#38; co")
            || list.body.contains("&lt;img src=x onerror=alert(1)&gt;Acme &quot;quoted&quot; &amp; co"), "{}", list.body);
        let tokens = browser.get("/admin/tenants/acme/scim").await;
        assert!(tokens.body.contains("alert(3)"), "the description is shown, escaped");
        let users = browser.get("/admin/tenants/acme/users?q=mallory").await;
        assert!(users.body.contains("mallory@acme.test") && users.body.contains("alert(1)"), "the display name is shown, escaped");
    }
}

/// `idbridge operator create`, the real binary, with the password on stdin.
async fn operator_create(
    database_url: &str,
    email_args: &[&str],
    envs: &[(&str, &str)],
    stdin: &str,
) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(crate::helpers::idbridge_bin())
        .env_clear()
        .envs(envs.iter().copied())
        .args(["operator", "create"])
        .args(email_args)
        .args(["--database-url", database_url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run idbridge");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).await.expect("write");
    drop(input);
    let output = child.wait_with_output().await.expect("wait");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

both_backends! {
    async fn the_first_operator_is_created_from_the_command_line(db: TestDb) {
        let url = db.url().to_owned();
        let (code, out, err) = operator_create(&url, &["--email", "OPS@Example.com"], &[], &format!("{PASSWORD}\n")).await;
        assert_eq!(code, 0, "{err}");
        let created: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(created["email"], EMAIL);
        assert!(!out.contains("argon2") && !err.contains(PASSWORD) && !out.contains(PASSWORD));

        // The same email again, and a short password, are refused.
        let (code, _, err) = operator_create(&url, &[], &[("IDBRIDGE_OPERATOR_EMAIL", EMAIL)], &format!("{PASSWORD}\n")).await;
        assert_ne!(code, 0);
        assert!(err.contains("already exists"), "{err}");
        let (code, _, err) = operator_create(&url, &["--email", "second@example.com"], &[], "short\n").await;
        assert_ne!(code, 0);
        assert!(err.contains("at least 12 characters"), "{err}");

        let app = TestApp::spawn(db).await;
        Browser::signed_in(&app).await;
    }
}

/// The value of the read-only field with this id.
fn field_value(page: &Page, id: &str) -> String {
    let marker = format!(r#"id="{id}" type="text" readonly value=""#);
    let start = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {id}"))
        + marker.len();
    let end = page.body[start..].find('"').expect("end") + start;
    page.body[start..end].to_owned()
}

const IDP_CERT: &str = include_str!("../../../idbridge-saml/tests/fixtures/idp-rsa2048.pem");
const IDP_SSO_URL: &str =
    "https://login.microsoftonline.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/saml2";

/// IdP metadata in Entra ID's shape with one signing certificate.
fn idp_metadata() -> String {
    let body: String = IDP_CERT
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><EntityDescriptor entityID="https://sts.windows.net/0f1e2d3c/" xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{body}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO_URL}"/></IDPSSODescriptor></EntityDescriptor>"#
    )
}

async fn tenant_json(app: &TestApp, slug: &str) -> serde_json::Value {
    app.admin(Method::GET, &format!("/api/v1/tenants/{slug}"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

both_backends! {
    async fn console_creates_searches_pages_and_edits_tenants(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let mut browser = Browser::signed_in(&app).await;

        let created = browser.post("/admin/tenants", &[("slug", "acme"), ("name", "Acme Inc")]).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER);
        assert_eq!(created.location(), "/admin/tenants/acme?created=1");
        let overview = browser.get(created.location()).await;
        assert!(overview.body.contains("Tenant created."));
        assert!(overview.body.contains(&format!("{}/scim/v2/acme", app.base)));

        // Refusals are shown on the form, which keeps what was typed.
        let taken = browser.post("/admin/tenants", &[("slug", "acme"), ("name", "Second Acme")]).await;
        assert_eq!(taken.status, StatusCode::CONFLICT);
        assert!(taken.body.contains("already exists") && taken.body.contains(r#"value="Second Acme""#));
        let bad = browser.post("/admin/tenants", &[("slug", "Not A Slug"), ("name", "X")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("invalid tenant slug"));
        assert_eq!(app.tenant_count().await, 1);

        for i in 0..26 {
            app.create_tenant(&format!("t{i:02}")).await;
        }
        app.create_tenant("globex").await;
        let first = browser.get("/admin/tenants").await;
        assert_eq!(first.body.matches("<tr>").count(), 26, "25 rows and the header");
        let next = first.body.split(r#"class="button" href=""#).nth(1).and_then(|s| s.split('"').next()).expect("next page link").replace("&#38;", "&").replace("&amp;", "&");
        let second = browser.get(&next).await;
        assert!(second.body.contains("/admin/tenants/globex"), "{next}");
        assert!(!second.body.contains("Next page"));

        let found = browser.get("/admin/tenants?q=GLOB").await;
        assert!(found.body.contains("/admin/tenants/globex"));
        assert!(!found.body.contains("/admin/tenants/acme\""));
        let none = browser.get("/admin/tenants?q=nothing-like-this").await;
        assert!(none.body.contains("No tenant matches"));

        // Settings: ticked boxes are on, absent ones off.
        let saved = browser.post("/admin/tenants/acme", &[
            ("name", "Acme Corporation"), ("sso_required", "on"), ("require_verified_domains", "on"),
            ("default_role", "Member"), ("role_policy", "all"),
        ]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER);
        assert_eq!(saved.location(), "/admin/tenants/acme?saved=1");
        let tenant = tenant_json(&app, "acme").await;
        assert_eq!(tenant["name"], "Acme Corporation");
        assert_eq!(tenant["sso_required"], true);
        assert_eq!(tenant["jit_enabled"], false);
        assert_eq!(tenant["require_verified_domains"], true);
        assert_eq!(tenant["default_role"], "Member");
        assert_eq!(tenant["role_policy"], "all");
        let page = browser.get("/admin/tenants/acme?saved=1").await;
        assert!(page.body.contains("Settings saved.") && page.body.contains(r#"value="Member""#));
        // An empty name is refused, and nothing changes.
        let refused = browser.post("/admin/tenants/acme", &[("name", "  "), ("role_policy", "highest")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(tenant_json(&app, "acme").await["role_policy"], "all");
        assert_eq!(browser.get("/admin/tenants/nope").await.status, StatusCode::NOT_FOUND);
    }

    async fn console_connects_saml_and_starts_a_test_sign_in(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;

        let page = browser.get("/admin/tenants/acme/saml").await;
        assert_eq!(field_value(&page, "sp-entity-id"), format!("{}/saml/acme", app.base));
        assert_eq!(field_value(&page, "acs-url"), format!("{}/saml/acme/acs", app.base));
        assert_eq!(field_value(&page, "sp-metadata-url"), format!("{}/saml/acme/metadata", app.base));
        assert!(page.body.contains(r#"data-copy="acs-url" hidden"#), "copy buttons wait for the script");
        assert!(page.body.contains("Not connected") && page.body.contains("BEGIN CERTIFICATE"));
        let early = browser.post("/admin/tenants/acme/saml/test", &[]).await;
        assert_eq!(early.status, StatusCode::CONFLICT);
        assert!(early.body.contains("Connect the identity provider first"));

        // Both signatures off is refused by the same rule as the API; nothing is stored.
        let metadata = idp_metadata();
        let refused = browser.post("/admin/tenants/acme/saml", &[("metadata_xml", &metadata), ("allow_idp_initiated", "on")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains("cannot both be false"));
        assert_eq!(tenant_json(&app, "acme").await["saml"]["configured"], false);

        let saved = browser.post("/admin/tenants/acme/saml", &[
            ("metadata_xml", &metadata), ("want_assertions_signed", "on"), ("want_response_signed", "on"),
            ("clock_skew_seconds", "120"), ("email_attributes", "email\nhttp://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\nuser.email\nmail"),
        ]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let saml: serde_json::Value = app.admin(Method::GET, "/api/v1/tenants/acme/saml").send().await.expect("send").json().await.expect("json");
        assert_eq!(saml["configured"], true);
        assert_eq!(saml["want_response_signed"], true);
        assert_eq!(saml["allow_idp_initiated"], false);
        assert_eq!(saml["clock_skew_seconds"], 120);
        assert_eq!(saml["idp_sso_url"], IDP_SSO_URL);
        let fingerprint = saml["idp_certificates"][0]["sha256_fingerprint"].as_str().expect("fingerprint").to_owned();
        let page = browser.get("/admin/tenants/acme/saml?saved=1").await;
        assert!(page.body.contains("SAML connection saved.") && page.body.contains("Connected"));
        assert!(page.body.contains(&fingerprint));

        // Saving a toggle keeps the stored metadata.
        let toggled = browser.post("/admin/tenants/acme/saml", &[("want_assertions_signed", "on"), ("allow_idp_initiated", "on")]).await;
        assert_eq!(toggled.status, StatusCode::SEE_OTHER);
        let saml: serde_json::Value = app.admin(Method::GET, "/api/v1/tenants/acme/saml").send().await.expect("send").json().await.expect("json");
        assert_eq!((saml["allow_idp_initiated"].as_bool(), saml["want_response_signed"].as_bool()), (Some(true), Some(false)));
        assert_eq!(saml["idp_sso_url"], IDP_SSO_URL);

        let test = browser.post("/admin/tenants/acme/saml/test", &[]).await;
        assert_eq!(test.status, StatusCode::OK);
        assert!(test.body.contains("Test sign-in ready until"));
        let link = test.body.split(r#"class="button primary" href=""#).nth(1).and_then(|s| s.split('"').next()).expect("link");
        assert!(link.starts_with(IDP_SSO_URL), "{link}");
    }

    async fn console_shows_a_new_scim_token_once_and_revokes_it(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;
        let page = browser.get("/admin/tenants/acme/scim").await;
        assert_eq!(field_value(&page, "scim-url"), format!("{}/scim/v2/acme", app.base));
        assert!(page.body.contains("No tokens yet."));

        let generated = browser.post("/admin/tenants/acme/scim/tokens", &[("description", "Entra ID")]).await;
        assert_eq!(generated.status, StatusCode::CREATED);
        assert_eq!(generated.headers["cache-control"], "no-store");
        assert!(generated.body.contains("it is shown only this once"));
        let token = field_value(&generated, "new-token");
        assert!(token.starts_with("idb_scim_"));
        assert_eq!(app.scim_get("acme", "/Users", &token).await.status(), StatusCode::OK);

        let later = browser.get("/admin/tenants/acme/scim").await;
        assert!(!later.body.contains(&token), "never shown again");
        assert!(later.body.contains("Entra ID") && later.body.contains("Active"));
        let action = later.body.split("action=\"").find(|s| s.contains("/revoke\"")).and_then(|s| s.split('"').next()).expect("revoke form").to_owned();
        let revoked = browser.post(&action, &[]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        assert_eq!(app.scim_get("acme", "/Users", &token).await.status(), StatusCode::UNAUTHORIZED);
        let after = browser.get(revoked.location()).await;
        assert!(after.body.contains("Token revoked.") && after.body.contains("Revoked "));
    }

    async fn console_adds_verifies_and_removes_domains(db: TestDb) {
        let dns = crate::dns_server::TestDns::start().await;
        let app = TestApp::spawn_with_dns_resolver(db, dns.addr).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;

        let added = browser.post("/admin/tenants/acme/domains", &[("domain", "Acme.TEST")]).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER);
        let page = browser.get(added.location()).await;
        assert!(page.body.contains("Publish the TXT record") && page.body.contains("Pending"));
        let name = field_value(&page, "txt-name-1");
        let value = field_value(&page, "txt-value-1");
        assert_eq!(name, "_idbridge-verification.acme.test");
        assert!(value.starts_with("idbridge-verification="));

        let checked = browser.post("/admin/tenants/acme/domains/acme.test/verify", &[]).await;
        assert_eq!(checked.status, StatusCode::SEE_OTHER);
        let page = browser.get(checked.location()).await;
        assert!(page.body.contains("(nxdomain)") && page.body.contains("Pending"), "{}", page.body);

        dns.add_txt(&name, &[&value]).await;
        browser.post("/admin/tenants/acme/domains/acme.test/verify", &[]).await;
        let page = browser.get("/admin/tenants/acme/domains").await;
        assert!(page.body.contains("Verified 2026-"), "{}", page.body);
        assert_eq!(tenant_json(&app, "acme").await["domains"]["verified"], 1);

        let public = browser.post("/admin/tenants/acme/domains", &[("domain", "gmail.com")]).await;
        assert_eq!(public.status, StatusCode::BAD_REQUEST);
        assert!(public.body.contains("public mail provider") && public.body.contains(r#"value="gmail.com""#));

        let removed = browser.post("/admin/tenants/acme/domains/acme.test/remove", &[]).await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER);
        let page = browser.get(removed.location()).await;
        assert!(page.body.contains("Domain removed.") && page.body.contains("No domains yet."));
    }
}

both_backends! {
    async fn console_lists_and_searches_users_with_status_and_roles(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let scim = app.scim_tenant("acme").await;
        let response = app.admin(Method::PUT, "/api/v1/app-roles").json(&json!({"roles": ["Admin", "Member"]})).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        for i in 0..27 {
            scim.create_user(&format!("user{i:02}@acme.test")).await;
        }
        let ada = scim.send(Method::POST, "/Users", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@acme.test", "displayName": "Ada Lovelace", "active": false,
            "emails": [{"value": "ada.l@acme.test", "primary": true}],
            "roles": [{"value": "Admin", "primary": true}],
        }))).await;
        assert_eq!(ada.status(), StatusCode::CREATED);
        let mut browser = Browser::signed_in(&app).await;

        let first = browser.get("/admin/tenants/acme/users").await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.body.matches("<tr>").count(), 26, "25 users and the header");
        let next = first.body.split(r#"class="pager"><a class="button" href=""#).nth(1).and_then(|s| s.split('"').next()).expect("next").replace("&#38;", "&").replace("&amp;", "&");
        let second = browser.get(&next).await;
        assert!(second.body.contains("Ada Lovelace"), "{next}");

        for q in ["ada.l", "LOVELACE", "ada@acme"] {
            let found = browser.get(&format!("/admin/tenants/acme/users?q={q}")).await;
            assert!(found.body.contains("1 user match."), "{q}");
            assert!(found.body.contains("Ada Lovelace") && found.body.contains("Deactivated") && found.body.contains("Admin"), "{q}");
        }
        let many = browser.get("/admin/tenants/acme/users?q=user").await;
        assert!(many.body.contains("27 users match.") && many.body.contains("page=2"));
        let page_two = browser.get("/admin/tenants/acme/users?q=user&page=2").await;
        assert_eq!(page_two.body.matches("<tr>").count(), 3);
        let hostile = browser.get("/admin/tenants/acme/users?q=%22%20or%20userName%20pr%20or%20%22").await;
        assert!(hostile.body.contains("No user matches"), "the text is searched for, not run");
    }
}

both_backends! {
    async fn console_shows_the_sign_in_and_provisioning_logs_with_reasons(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let scim = app.scim_tenant("acme").await;
        scim.create_user("ada@acme.test").await;
        let refused = scim.send(Method::POST, "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}))).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let tenant = app.store.tenant_by_slug(&idbridge_core::TenantSlug::parse("acme").expect("slug")).await.expect("read").expect("tenant");
        let event = |success: bool, reason: Option<&str>, email: &str| idbridge_store::SignInEvent {
            id: uuid::Uuid::now_v7(),
            tenant_id: tenant.id,
            occurred_at: idbridge_core::Clock::now(app.clock.as_ref()),
            success,
            reason: reason.map(str::to_owned),
            detail: reason.map(|_| "<script>alert(4)</script> the audience was someone else".to_owned()),
            email: Some(email.to_owned()),
            user_id: None,
            test: !success,
            request_id: Some("req-1".into()),
        };
        app.store.record_sign_in(&event(false, Some("audience_mismatch"), "eve@acme.test"), None).await.expect("record");
        app.store.record_sign_in(&event(true, None, "ada@acme.test"), None).await.expect("record");
        let mut browser = Browser::signed_in(&app).await;

        let sign_ins = browser.get("/admin/tenants/acme/sign-ins").await;
        assert_eq!(sign_ins.status, StatusCode::OK);
        assert!(sign_ins.body.contains("audience_mismatch") && sign_ins.body.contains("Refused") && sign_ins.body.contains("Signed in"));
        assert!(sign_ins.body.contains("eve@acme.test") && sign_ins.body.contains("Test"));
        assert!(!sign_ins.body.contains("<script>alert(4)"));

        let provisioning = browser.get("/admin/tenants/acme/provisioning").await;
        assert_eq!(provisioning.status, StatusCode::OK);
        assert!(provisioning.body.contains("POST /scim/v2/acme/Users"), "{}", provisioning.body);
        assert!(provisioning.body.contains(">201<") && provisioning.body.contains(">400<"));
    }
}
