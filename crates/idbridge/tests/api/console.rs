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
                     "/admin/tenants/acme/scim", "/admin/tenants/acme/domains"] {
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
