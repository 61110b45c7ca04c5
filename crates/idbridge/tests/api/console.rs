//! The operator console (`/admin`) over real HTTP, as a browser would drive it: the
//! sign-in, the session cookie and its expiry, CSRF refusals, escaping of hostile
//! names, and each page's forms.

use idbridge_testkit::both_backends;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;

use crate::form_client::{FormClient as Browser, Page};
use crate::helpers::TestApp;

const EMAIL: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// A form, the Origin it is sent with, and what is wrong with it.
type Attempt<'f> = (Vec<(&'f str, &'f str)>, Option<&'f str>, &'f str);

async fn create_operator(app: &TestApp) {
    idbridge_app::operators::create(
        &app.state.app,
        EMAIL,
        &SecretString::from(PASSWORD),
        &idbridge_app::audit::Audit::cli(None),
    )
    .await
    .expect("operator");
}

/// The console's sign-in, on the shared form client.
trait Operator<'a>: Sized {
    async fn sign_in(&mut self, email: &str, password: &str) -> Page;
    async fn signed_in(app: &'a TestApp) -> Self;
}

impl<'a> Operator<'a> for Browser<'a> {
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

    async fn console_refuses_a_form_holding_nul_and_changes_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;
        for (path, fields) in [
            ("/admin/tenants/acme/users", vec![("email", "a\u{0}@acme.test"), ("given_name", "A"), ("family_name", "B")]),
            ("/admin/tenants", vec![("slug", "globex"), ("name", "Glo\u{0}bex")]),
            ("/admin/tenants/acme", vec![("name", "Renamed\u{0}")]),
        ] {
            let page = browser.post(path, &fields).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}: {}", page.body);
            assert!(page.body.contains("U+0000"), "{path}: {}", page.body);
        }
        // A page's query too (the directory's search).
        let page = browser.get("/admin/tenants/acme/users?q=a%00").await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(page.body.contains("U+0000"), "{}", page.body);
        assert_eq!(app.tenant_count().await, 1);
        let tenant: serde_json::Value = app.admin_get("/api/v1/tenants/acme").await;
        assert_eq!(tenant["name"], "acme Inc");
        let users: serde_json::Value = app.admin_get("/api/v1/tenants/acme/users").await;
        assert_eq!(users["data"], json!([]));
        // The same forms without it go through.
        let page = browser.post("/admin/tenants/acme/users", &[("email", "a@acme.test"), ("given_name", "A"), ("family_name", "B")]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
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
        let webhook: serde_json::Value = app.admin(Method::POST, "/api/v1/webhooks")
            .json(&json!({"url": "https://hooks.example.com/in", "description": "before"}))
            .send().await.expect("send").json().await.expect("json");
        let webhook_id = webhook["id"].as_str().expect("id").to_owned();
        let webhook_path = format!("/admin/webhooks/{webhook_id}");
        let rotate = format!("{webhook_path}/rotate-secret");
        let replay = format!("{webhook_path}/replay");
        let delete = format!("{webhook_path}/delete");
        let link: serde_json::Value = app.admin(Method::POST, "/api/v1/tenants/acme/setup-links")
            .json(&json!({"provider": "okta"}))
            .send().await.expect("send").json().await.expect("json");
        let link_revoke = format!("/admin/tenants/acme/setup-links/{}/revoke", link["id"].as_str().expect("id"));
        let posts: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("/admin/webhooks", vec![("url", "https://other.example.com/in"), ("enabled", "on")]),
            (&webhook_path, vec![("url", "https://hooks.example.com/in"), ("description", "after")]),
            (&rotate, vec![]),
            (&replay, vec![("mode", "resume")]),
            (&delete, vec![]),
            ("/admin/tenants/acme/setup-links", vec![("provider", "entra"), ("expires_in_hours", "1")]),
            (&link_revoke, vec![]),
            ("/admin/tenants/acme/roles/app-roles", vec![("roles", "Admin")]),
            ("/admin/tenants/acme/roles/mappings", vec![("source_0", "role"), ("value_0", "X"), ("role_0", "Admin")]),
            ("/admin/tenants/acme/roles/default", vec![("default_role", "Admin")]),
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
        let tenant: serde_json::Value = app.admin_get("/api/v1/tenants/acme").await;
        assert_eq!(tenant["name"], "acme Inc");
        assert_eq!(tenant["scim"]["active_tokens"], 1);
        assert_eq!(tenant["saml"]["configured"], false);
        assert_eq!(tenant["domains"]["total"], 1);
        assert!(tenant["default_role"].is_null());
        // One webhook, its description and secret as they were; the setup link still
        // active; no app roles, no mappings.
        let webhooks: serde_json::Value = app.admin_get("/api/v1/webhooks").await;
        assert_eq!(webhooks["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(webhooks["data"][0]["description"], "before");
        assert!(webhooks["data"][0]["previous_secret_expires_at"].is_null());
        let links: serde_json::Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        assert_eq!(links["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(links["data"][0]["state"], "active");
        let roles: serde_json::Value = app.admin_get("/api/v1/app-roles").await;
        assert_eq!(roles["roles"], json!([]));
        let mappings: serde_json::Value = app.admin_get("/api/v1/tenants/acme/role-mappings").await;
        assert_eq!(mappings["mappings"], json!([]));
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
        let group = scim.create_group("<svg onload=alert(6)>Admins", &[user.json::<serde_json::Value>().await.expect("json")["id"].as_str().expect("id")]).await;
        let group_path = format!("/admin/tenants/acme/groups/{}", group["id"].as_str().expect("id"));
        let description = r#""><script>alert(3)</script>"#;
        let mut browser = Browser::signed_in(&app).await;
        let generated = browser.post_and_follow("/admin/tenants/acme/scim/tokens", &[("description", description)]).await;
        assert_eq!(generated.status, StatusCode::OK);
        let hook = browser.post_and_follow("/admin/webhooks", &[("url", "https://hooks.example.com/in"), ("description", description), ("enabled", "on")]).await;
        assert_eq!(hook.status, StatusCode::OK, "{}", hook.body);
        let hook_path = format!("/admin/webhooks/{}", app.admin(Method::GET, "/api/v1/webhooks").send().await.expect("send").json::<serde_json::Value>().await.expect("json")["data"][0]["id"].as_str().expect("id"));
        let hook_delete = format!("{hook_path}/delete");
        let link = browser.post_and_follow("/admin/tenants/acme/setup-links", &[("provider", "entra"), ("expires_in_hours", "24"), ("note", "<iframe src=javascript:alert(7)>")]).await;
        assert_eq!(link.status, StatusCode::OK, "{}", link.body);
        let roles = browser.post("/admin/tenants/acme/roles/mappings", &[("source_0", "group"), ("value_0", "<svg onload=alert(6)>Admins"), ("role_0", "<i>Admin</i>")]).await;
        assert_eq!(roles.status, StatusCode::SEE_OTHER, "{}", roles.body);
        let search = format!("/admin/tenants?q={}", "%3Cimg%20src");
        for path in ["/admin/tenants", search.as_str(), "/admin/tenants/acme", "/admin/tenants/acme/saml",
                     "/admin/tenants/acme/scim", "/admin/tenants/acme/domains", "/admin/tenants/acme/users",
                     "/admin/tenants/acme/users?q=mallory", "/admin/tenants/acme/groups",
                     "/admin/tenants/acme/groups?q=svg", group_path.as_str(), "/admin/webhooks",
                     hook_path.as_str(), hook_delete.as_str(), "/admin/tenants/acme/setup-links",
                     "/admin/tenants/acme/roles"] {
            let page = browser.get(path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}");
            for raw in ["<img src=x", "<script>alert", "<b onmouseover", "\"><script>", "<svg onload", "<iframe", "<i>Admin"] {
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
        for (path, shown) in [("/admin/tenants/acme/groups", "alert(6)"), ("/admin/webhooks", "alert(3)"),
                              ("/admin/tenants/acme/setup-links", "alert(7)"), ("/admin/tenants/acme/roles", "alert(6)")] {
            assert!(browser.get(path).await.body.contains(shown), "{path} shows the text, escaped");
        }
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
    app.admin_get(&format!("/api/v1/tenants/{slug}")).await
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
        // A web page pasted as metadata is said beside its field, in the admin's words.
        let html = browser.post("/admin/tenants/acme/saml", &[("metadata_xml", "<html><body>Sign in</body></html>"), ("want_assertions_signed", "on")]).await;
        assert_eq!(html.status, StatusCode::BAD_REQUEST);
        assert!(html.body.contains("aria-invalid=\"true\" aria-describedby=\"metadata_xml-error"), "{}", html.body);
        assert!(html.body.contains("id=\"metadata_xml-error\" class=\"field-error\">This is a web page, not Federation Metadata XML."), "{}", html.body);
        assert!(html.body.contains("see its field below") && !html.body.contains("root element"));
        assert_eq!(tenant_json(&app, "acme").await["saml"]["configured"], false);

        let saved = browser.post("/admin/tenants/acme/saml", &[
            ("metadata_xml", &metadata), ("want_assertions_signed", "on"), ("want_response_signed", "on"),
            ("clock_skew_seconds", "120"), ("email_attributes", "email\nhttp://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\nuser.email\nmail"),
        ]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let saml: serde_json::Value = app.admin_get("/api/v1/tenants/acme/saml").await;
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
        let saml: serde_json::Value = app.admin_get("/api/v1/tenants/acme/saml").await;
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

        // Post/redirect/get: the POST answers with a redirect, never the token, so a
        // reload cannot make a second one; the page it leads to shows the token once.
        let posted = browser.post("/admin/tenants/acme/scim/tokens", &[("description", "Entra ID")]).await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
        assert!(!posted.body.contains("idb_scim_"));
        let shown_at = posted.location().to_owned();
        assert!(shown_at.starts_with("/admin/tenants/acme/scim?shown="), "{shown_at}");
        let generated = browser.get(&shown_at).await;
        assert_eq!(generated.status, StatusCode::OK);
        assert_eq!(generated.headers["cache-control"], "no-store");
        assert!(generated.body.contains("it is shown only this once"));
        let token = field_value(&generated, "new-token");
        assert!(token.starts_with("idb_scim_"));
        assert_eq!(app.scim_get("acme", "/Users", &token).await.status(), StatusCode::OK);

        // A reload of that page: the token is gone, and saying so; no second token.
        let reloaded = browser.get(&shown_at).await;
        assert!(!reloaded.body.contains(&token) && reloaded.body.contains("already shown once"), "{}", reloaded.body);
        let tokens: serde_json::Value = app.admin_get("/api/v1/tenants/acme/scim-tokens").await;
        assert_eq!(tokens["data"].as_array().map(Vec::len), Some(1), "one token made");
        // Another operator's session cannot open it (sealed with the session's own key).
        let again = browser.post("/admin/tenants/acme/scim/tokens", &[("description", "second")]).await;
        let mut other = Browser::signed_in(&app).await;
        let stolen = other.get(again.location()).await;
        assert!(!stolen.body.contains("idb_scim_") && stolen.body.contains("already shown once"));
        // ... nor spoil it: the session it was kept for still gets it, once.
        let owned = browser.get(again.location()).await;
        assert!(field_value(&owned, "new-token").starts_with("idb_scim_"), "{}", owned.body);
        assert!(browser.get(again.location()).await.body.contains("already shown once"));
        // What the database keeps for that page is sealed: no token in it.
        let third = browser.post("/admin/tenants/acme/scim/tokens", &[("description", "third")]).await;
        let id: uuid::Uuid = third.location().rsplit('=').next().expect("id").parse().expect("uuid");
        let sealed = app.store.take_shown_once(id, idbridge_core::Clock::now(&*app.clock)).await.expect("read").expect("kept");
        assert!(!sealed.windows(9).any(|w| w == b"idb_scim_"));

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
            connection_id: None,
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

/// The `href` of the pager's button (`Next page`, `Older attempts`, …), unescaped.
fn pager_link(page: &Page, label: &str) -> Option<String> {
    let end = page.body.find(&format!("\">{label}</a>"))?;
    let start = page.body[..end].rfind("href=\"")? + "href=\"".len();
    Some(
        page.body[start..end]
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

both_backends! {
    async fn console_manages_webhooks_shows_secrets_once_and_replays_dead_letters(db: TestDb) {
        use crate::webhooks::{Receiver, deliver_all};
        let app = TestApp::spawn_allowing_private_urls(db).await;
        create_operator(&app).await;
        let scim = app.scim_tenant("acme").await;
        let receiver = Receiver::start().await;
        let mut browser = Browser::signed_in(&app).await;
        let list = browser.get("/admin/webhooks").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("No endpoints yet.") && list.body.contains(r#"href="/admin/webhooks">Webhooks</a>"#));

        // A refusal keeps what was typed.
        let refused = browser.post("/admin/webhooks", &[("url", "ftp://hooks.example.com/x"), ("description", "kept")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains(r#"value="ftp://hooks.example.com/x""#) && refused.body.contains(r#"value="kept""#));
        let unknown = browser.post("/admin/webhooks", &[("url", &receiver.url()), ("tenant", "nobody")]).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert!(unknown.body.contains("nobody") && unknown.body.contains("New endpoint"));

        let created = browser.post_and_follow("/admin/webhooks", &[("url", &receiver.url()), ("description", "the app"),
            ("event_types", "user.*\r\ngroup.created"), ("tenant", "acme"), ("enabled", "on")]).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        assert_eq!(created.headers["cache-control"], "no-store");
        assert!(created.body.contains("it is shown only this once"));
        let secret = field_value(&created, "new-secret");
        assert!(secret.starts_with("idb_whsec_"), "{secret}");
        let id = app.admin_get("/api/v1/webhooks").await["data"][0]["id"].as_str().expect("id").to_owned();
        let view = app.admin_get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!((view["tenant"].as_str(), view["enabled"].as_bool()), (Some("acme"), Some(true)));
        assert_eq!(view["event_types"], json!(["user.*", "group.created"]));
        let page_path = format!("/admin/webhooks/{id}");
        // An address that only says "created" (no kept secret) claims no secret.
        let bare = browser.get(&format!("{page_path}?done=created")).await;
        assert!(!bare.body.contains("shown only this once") && !bare.body.contains("new-secret"), "{}", bare.body);
        let page = browser.get(&page_path).await;
        assert!(!page.body.contains(&secret), "never shown again");
        assert!(page.body.contains("the app") && page.body.contains("group.created"));
        let list = browser.get("/admin/webhooks").await;
        assert!(!list.body.contains(&secret) && list.body.contains(&receiver.url()) && list.body.contains("Enabled"));

        // A receiver that fails for a day: the tenant is dead-lettered, with its error.
        scim.create_user("a@acme.test").await;
        scim.create_user("b@acme.test").await;
        receiver.answer_always(Some(500));
        // Rounds every ten minutes, so early retries (seconds and minutes apart) each
        // happen: more attempts than one page holds.
        for _ in 0..300 {
            deliver_all(&app).await;
            if app.admin_get(&format!("/api/v1/webhooks/{id}/tenants")).await["data"][0]["state"] == "dead" {
                break;
            }
            app.clock.advance(time::Duration::minutes(10));
        }
        // A day went by: the session ended long ago.
        let mut browser = Browser::signed_in(&app).await;
        let page = browser.get(&page_path).await;
        assert!(page.body.contains("Dead") && page.body.contains("500"), "{}", page.body);
        assert!(page.body.contains("0 of 2"), "position: nothing delivered of two events");
        assert!(browser.get("/admin/webhooks").await.body.contains("1 dead"), "the list says which endpoint needs a look");

        // Attempts page, filtered by tenant; the next page keeps the filter.
        let filtered = browser.get(&format!("{page_path}?tenant=acme")).await;
        assert_eq!(filtered.status, StatusCode::OK);
        let attempts = app.admin_get(&format!("/api/v1/webhooks/{id}/attempts?limit=200")).await["data"].as_array().map(Vec::len).expect("attempts");
        assert!(attempts > 25, "{attempts} attempts in a day");
        let older = pager_link(&filtered, "Older attempts").expect("a second page of attempts");
        assert!(older.contains("tenant=acme") && older.contains("attempts="), "{older}");
        let second = browser.get(&older).await;
        assert_eq!(second.status, StatusCode::OK);
        assert_eq!(second.body.matches("\"Tenant\"><code>acme</code></td>").count(), (attempts - 25).min(25), "{older}");
        let nobody = browser.get(&format!("{page_path}?tenant=nobody")).await;
        assert_eq!(nobody.status, StatusCode::NOT_FOUND);

        // Replay: the three forms.
        let bad = browser.post(&format!("{page_path}/replay"), &[("mode", "rewind"), ("tenant", "acme"), ("from_seq", "zero")]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("whole number"));
        let no_tenant = browser.post(&format!("{page_path}/replay"), &[("mode", "rewind"), ("from_seq", "1")]).await;
        assert_eq!(no_tenant.status, StatusCode::BAD_REQUEST);
        assert!(no_tenant.body.contains("needs a tenant"));
        receiver.answer_always(None);
        let resumed = browser.post(&format!("{page_path}/replay"), &[("mode", "resume"), ("tenant", "acme")]).await;
        assert_eq!(resumed.status, StatusCode::SEE_OTHER);
        let page = browser.get(resumed.location()).await;
        assert!(page.body.contains("Replay started: 1 tenant feed will be delivered again."), "{}", page.body);
        deliver_all(&app).await;
        let seqs = || receiver.accepted().iter().map(|r| r.json()["seq"].as_i64().expect("seq")).collect::<Vec<_>>();
        assert_eq!(seqs(), vec![1, 2]);
        let rewound = browser.post(&format!("{page_path}/replay"), &[("mode", "rewind"), ("tenant", "acme"), ("from_seq", "2")]).await;
        assert_eq!(rewound.status, StatusCode::SEE_OTHER);
        deliver_all(&app).await;
        assert_eq!(seqs(), vec![1, 2, 2]);
        let skipped = browser.post(&format!("{page_path}/replay"), &[("mode", "skip")]).await;
        assert_eq!(skipped.status, StatusCode::SEE_OTHER);
        assert!(browser.get(skipped.location()).await.body.contains("Replay started: 0 tenant feeds"));
        assert!(browser.get(&page_path).await.body.contains("Delivering"));
        assert!(browser.get("/admin/webhooks").await.body.contains("No failures"));

        // Edit: every field, and an unticked box disables.
        let saved = browser.post(&page_path, &[("url", &receiver.url()), ("description", "renamed"), ("event_types", "")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER);
        let view = app.admin_get(&format!("/api/v1/webhooks/{id}")).await;
        assert_eq!((view["description"].as_str(), view["enabled"].as_bool()), (Some("renamed"), Some(false)));
        assert!(view["event_types"].is_null());
        assert!(browser.get(saved.location()).await.body.contains("Endpoint saved."));
        let refused = browser.post(&page_path, &[("url", "ftp://hooks.example.com/x"), ("description", "x")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

        // Rotation: the new secret once, and the overlap said.
        let rotated = browser.post_and_follow(&format!("{page_path}/rotate-secret"), &[]).await;
        assert_eq!(rotated.status, StatusCode::OK);
        let new_secret = field_value(&rotated, "new-secret");
        assert!(new_secret.starts_with("idb_whsec_") && new_secret != secret);
        assert!(rotated.body.contains("keeps signing beside the new one for 24 hours"), "{}", rotated.body);
        let page = browser.get(&page_path).await;
        assert!(!page.body.contains(&new_secret) && !page.body.contains(&secret));
        assert!(page.body.contains("The previous secret still signs beside the current one until"));

        // Deletion takes a confirmation page, then the post.
        let confirm = browser.get(&format!("{page_path}/delete")).await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(confirm.body.contains("Delete this endpoint?") && confirm.body.contains("cannot be undone"));
        let deleted = browser.post(&format!("{page_path}/delete"), &[]).await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        assert_eq!(deleted.location(), "/admin/webhooks?done=deleted");
        assert!(browser.get(deleted.location()).await.body.contains("Endpoint deleted."));
        assert_eq!(app.admin(Method::GET, &format!("/api/v1/webhooks/{id}")).send().await.expect("send").status(), StatusCode::NOT_FOUND);
        assert_eq!(browser.get(&page_path).await.status, StatusCode::NOT_FOUND);
    }

    async fn console_issues_setup_links_shown_once_lists_their_state_and_revokes(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;
        let page = browser.get("/admin/tenants/acme/setup-links").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("No setup links yet.") && page.body.contains(r#"aria-current="page">Setup links"#));

        for (fields, message) in [
            (vec![("provider", "entra"), ("expires_in_hours", "0")], "between 1 and 720"),
            (vec![("provider", "entra"), ("expires_in_hours", "721")], "between 1 and 720"),
            (vec![("provider", "entra"), ("expires_in_hours", "soon")], "between 1 and 720"),
            (vec![("provider", "ping"), ("expires_in_hours", "1")], "one of entra, okta, google, onelogin, jumpcloud, pingone, adfs, generic"),
        ] {
            let refused = browser.post("/admin/tenants/acme/setup-links", &fields).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{fields:?}");
            assert!(refused.body.contains(message), "{fields:?}: {}", refused.body);
        }
        assert!(browser.get("/admin/tenants/acme/setup-links").await.body.contains("No setup links yet."));

        let created = browser.post_and_follow("/admin/tenants/acme/setup-links", &[("provider", "okta"), ("expires_in_hours", "2"), ("note", "Jane, Acme IT")]).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        assert_eq!(created.headers["cache-control"], "no-store");
        assert!(created.body.contains("it is shown only this once") && created.body.contains("Link created."));
        let url = field_value(&created, "new-url");
        assert!(url.starts_with(&format!("{}/setup?token=idb_setup_", app.base)), "{url}");
        let token = url.split("token=").nth(1).expect("token").to_owned();
        let later = browser.get("/admin/tenants/acme/setup-links").await;
        assert!(!later.body.contains(&token), "never shown again");
        assert!(later.body.contains("Jane, Acme IT") && later.body.contains("Okta") && later.body.contains("Active"));
        browser.post("/admin/tenants/acme/setup-links", &[("provider", "generic"), ("expires_in_hours", "1"), ("note", "short")]).await;

        app.clock.advance(time::Duration::minutes(90));
        let mut browser = Browser::signed_in(&app).await;
        let page = browser.get("/admin/tenants/acme/setup-links").await;
        assert!(page.body.contains("Expired") && page.body.contains("Active"), "{}", page.body);
        let action = page.body.split("action=\"").find(|s| s.contains("/revoke\"")).and_then(|s| s.split('"').next()).expect("one revoke form, for the active link").to_owned();
        assert_eq!(page.body.matches("/revoke\"").count(), 1);
        let revoked = browser.post(&action, &[]).await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        let page = browser.get(revoked.location()).await;
        assert!(page.body.contains("Link revoked.") && page.body.contains("Revoked 2026-") && page.body.contains("Expired"));
        let mut states: Vec<String> = app.admin_get("/api/v1/tenants/acme/setup-links").await["data"].as_array().expect("data")
            .iter().map(|l| l["state"].as_str().expect("state").to_owned()).collect();
        states.sort();
        assert_eq!(states, ["expired", "revoked"]);
    }

    async fn console_edits_app_roles_mappings_and_the_default_role_like_the_api(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;
        let page = browser.get("/admin/tenants/acme/roles").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("SingleAppRoleAssignment([appRoleAssignments])")
            && page.body.contains(r#"roles[primary eq "True"].value"#), "{}", page.body);

        let twice = browser.post("/admin/tenants/acme/roles/app-roles", &[("roles", "Admin\nadmin")]).await;
        assert_eq!(twice.status, StatusCode::BAD_REQUEST);
        assert!(twice.body.contains("listed twice") && twice.body.contains("Admin\nadmin"));
        let saved = browser.post("/admin/tenants/acme/roles/app-roles", &[("roles", "Admin\r\nAppAdmin\r\n\r\nMember\r\n")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER);
        assert_eq!(app.admin_get("/api/v1/app-roles").await["roles"], json!(["Admin", "AppAdmin", "Member"]));

        // A mapping to a role the app does not have is refused as the API refuses it,
        // and nothing is written.
        let refused = browser.post("/admin/tenants/acme/roles/mappings", &[
            ("source_0", "role"), ("value_0", "Owner"), ("role_0", "Owner"), ("policy", "highest")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains("is not an app role") && refused.body.contains(r#"value="Owner""#));
        assert_eq!(app.admin_get("/api/v1/tenants/acme/role-mappings").await["mappings"], json!([]));

        let saved = browser.post("/admin/tenants/acme/roles/mappings", &[
            ("source_0", "group"), ("value_0", "Acme Admins"), ("role_0", "admin"),
            ("source_1", "role"), ("value_1", "Viewer"), ("role_1", "Member"),
            ("source_2", "role"), ("value_2", ""), ("role_2", "Admin"),
            ("policy", "all")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let mappings = app.admin_get("/api/v1/tenants/acme/role-mappings").await;
        assert_eq!(mappings["mappings"], json!([
            {"source": "group", "value": "Acme Admins", "role": "Admin"},
            {"source": "role", "value": "Viewer", "role": "Member"},
        ]));
        assert_eq!(mappings["policy"], "all");
        let page = browser.get(saved.location()).await;
        assert!(page.body.contains("Role mappings saved.") && page.body.contains(r#"value="Acme Admins""#));
        assert_eq!(page.body.matches(r#"name="value_"#).count(), 5, "two mappings and three empty rows");

        // Removing one keeps the other.
        let removed = browser.post("/admin/tenants/acme/roles/mappings", &[
            ("source_0", "group"), ("value_0", "Acme Admins"), ("role_0", "Admin"), ("remove_0", "on"),
            ("source_1", "role"), ("value_1", "Viewer"), ("role_1", "Member"), ("policy", "all")]).await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER);
        assert_eq!(app.admin_get("/api/v1/tenants/acme/role-mappings").await["mappings"].as_array().map(Vec::len), Some(1));

        let default = browser.post("/admin/tenants/acme/roles/default", &[("default_role", "Member")]).await;
        assert_eq!(default.status, StatusCode::SEE_OTHER);
        assert_eq!(tenant_json(&app, "acme").await["default_role"], "Member");
        let page = browser.get(default.location()).await;
        assert!(page.body.contains("Default role saved.") && page.body.contains(r#"<option value="Member" selected>"#), "{}", page.body);
        let cleared = browser.post("/admin/tenants/acme/roles/default", &[("default_role", "")]).await;
        assert_eq!(cleared.status, StatusCode::SEE_OTHER);
        assert!(tenant_json(&app, "acme").await["default_role"].is_null());
    }

    async fn console_lists_searches_and_opens_groups(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let scim = app.scim_tenant("acme").await;
        let ada = scim.create_user("ada@acme.test").await;
        let bob = scim.create_user("bob@acme.test").await;
        for i in 0..26 {
            scim.create_group(&format!("Team {i:02}"), &[]).await;
        }
        let admins = scim.create_group("Acme Admins", &[ada["id"].as_str().expect("id"), bob["id"].as_str().expect("id")]).await;
        let mut browser = Browser::signed_in(&app).await;

        let first = browser.get("/admin/tenants/acme/groups").await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.body.matches("<tr>").count(), 26, "25 groups and the header");
        let next = pager_link(&first, "Next page").expect("next");
        let second = browser.get(&next).await;
        assert!(second.body.contains("Acme Admins") && second.body.contains("Team 25"), "{next}");
        assert!(pager_link(&second, "Next page").is_none());

        let found = browser.get("/admin/tenants/acme/groups?q=admins").await;
        assert!(found.body.contains("1 group match.") && found.body.contains("Acme Admins"));
        let many = browser.get("/admin/tenants/acme/groups?q=team").await;
        assert!(many.body.contains("26 groups match."));
        let page_two = pager_link(&many, "Next page").expect("next");
        assert!(page_two.contains("q=team") && page_two.contains("page=2"), "{page_two}");
        assert_eq!(browser.get(&page_two).await.body.matches("<tr>").count(), 2);
        let hostile = browser.get("/admin/tenants/acme/groups?q=%22%20or%20displayName%20pr%20or%20%22").await;
        assert!(hostile.body.contains("No group matches"));

        let group = browser.get(&format!("/admin/tenants/acme/groups/{}", admins["id"].as_str().expect("id"))).await;
        assert_eq!(group.status, StatusCode::OK);
        assert!(group.body.contains("2 members") && group.body.contains("ada@acme.test") && group.body.contains("bob@acme.test"), "{}", group.body);
        let missing = browser.get(&format!("/admin/tenants/acme/groups/{}", uuid::Uuid::now_v7())).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
}

both_backends! {
    async fn console_and_api_filter_the_logs_and_pages_keep_the_filter(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let scim = app.scim_tenant("acme").await;
        let tenant = app.store.tenant_by_slug(&idbridge_core::TenantSlug::parse("acme").expect("slug")).await.expect("read").expect("tenant");
        let record = |success: bool, reason: Option<&str>, email: &str| {
            let event = idbridge_store::SignInEvent {
                id: uuid::Uuid::now_v7(),
                tenant_id: tenant.id,
                occurred_at: idbridge_core::Clock::now(app.clock.as_ref()),
                success,
                reason: reason.map(str::to_owned),
                detail: None,
                email: Some(email.to_owned()),
                user_id: None,
                test: false,
                request_id: None,
                connection_id: None,
            };
            let store = app.store.clone();
            async move { store.record_sign_in(&event, None).await.expect("record") }
        };
        for i in 0..55 {
            record(false, Some("expired"), if i % 2 == 0 { "Ada@acme.test" } else { "bob@acme.test" }).await;
            record(true, None, "ada@acme.test").await;
        }
        record(false, Some("audience_mismatch"), "eve@acme.test").await;
        let mut browser = Browser::signed_in(&app).await;

        let expired = browser.get("/admin/tenants/acme/sign-ins?outcome=failure&reason=expired&email=").await;
        assert_eq!(expired.status, StatusCode::OK);
        assert_eq!(expired.body.matches("<code>expired</code>").count(), 50);
        assert!(!expired.body.contains("audience_mismatch</code>") && !expired.body.contains("Signed in</span>"));
        assert!(expired.body.contains(r#"<option value="failure" selected>"#) && expired.body.contains(r#"value="expired""#));
        let next = pager_link(&expired, "Next page").expect("a second page");
        assert!(next.contains("outcome=failure") && next.contains("reason=expired") && !next.contains("email="), "{next}");
        let second = browser.get(&next).await;
        assert_eq!(second.body.matches("<code>expired</code>").count(), 5);
        assert!(pager_link(&second, "Next page").is_none());

        let ada = browser.get("/admin/tenants/acme/sign-ins?outcome=failure&email=ADA%40acme.test").await;
        assert_eq!(ada.body.matches("<code>expired</code>").count(), 28, "case-insensitive email");
        let none = browser.get("/admin/tenants/acme/sign-ins?reason=nothing_like_it").await;
        assert!(none.body.contains("No sign-in attempt matches these filters."));
        let bad = browser.get("/admin/tenants/acme/sign-ins?outcome=maybe").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("neither success nor failure"));

        // The admin API takes the same filters, and its cursor keeps them too.
        let api: serde_json::Value = app.admin_get("/api/v1/tenants/acme/sign-in-log?outcome=failure&reason=expired&limit=30").await;
        assert_eq!(api["data"].as_array().map(Vec::len), Some(30));
        let cursor = api["next_cursor"].as_str().expect("cursor");
        let rest = app.admin_get(&format!("/api/v1/tenants/acme/sign-in-log?outcome=failure&reason=expired&limit=30&cursor={cursor}")).await;
        assert_eq!(rest["data"].as_array().map(Vec::len), Some(25));
        assert!(rest["data"].as_array().expect("data").iter().all(|e| e["reason"] == "expired" && e["outcome"] == "failure"));
        let refused = app.admin(Method::GET, "/api/v1/tenants/acme/sign-in-log?method=POST").send().await.expect("send");
        crate::helpers::expect_error(refused, StatusCode::BAD_REQUEST, "invalid_request").await;

        // Provisioning: by operation and by outcome.
        let ada_user = scim.create_user("ada@acme.test").await;
        scim.create_user("bob@acme.test").await;
        let invalid = scim.send(Method::POST, "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}))).await;
        assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
        let deleted = scim.send(Method::DELETE, &format!("/Users/{}", ada_user["id"].as_str().expect("id")), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let deletes = browser.get("/admin/tenants/acme/provisioning?method=delete").await;
        assert_eq!(deletes.status, StatusCode::OK);
        assert_eq!(deletes.body.matches("<code class=\"wrap\">DELETE ").count(), 1);
        assert!(!deletes.body.contains("<code class=\"wrap\">POST ") && deletes.body.contains(r#"<option value="DELETE" selected>"#));
        let failures = browser.get("/admin/tenants/acme/provisioning?outcome=failure").await;
        assert!(failures.body.contains(">400<") && !failures.body.contains(">201<") && !failures.body.contains(">204<"), "{}", failures.body);
        let posts_ok = app.admin_get("/api/v1/tenants/acme/provisioning-log?method=POST&outcome=success").await;
        assert_eq!(posts_ok["data"].as_array().map(Vec::len), Some(2));
        let bad = browser.get("/admin/tenants/acme/provisioning?method=TRACE").await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("not one SCIM uses"));
    }
}

both_backends! {
    async fn an_operator_adds_deactivates_and_deletes_users_and_reads_the_audit_log(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        let scim = app.scim_tenant("acme").await;
        scim.create_user("scim@acme.example").await;
        let mut browser = Browser::signed_in(&app).await;

        let added = browser.post("/admin/tenants/acme/users", &[
            ("email", "ada@acme.example"), ("given_name", "Ada"), ("family_name", "Lovelace"), ("role", ""),
        ]).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER);
        assert_eq!(added.location(), "/admin/tenants/acme/users?done=created");
        let page = browser.get(added.location()).await;
        assert!(page.body.contains("User created.") && page.body.contains("Ada Lovelace"));

        // A refusal keeps what was typed and says why next to the form.
        let taken = browser.post("/admin/tenants/acme/users", &[("email", "ADA@acme.example"), ("given_name", "Second")]).await;
        assert_eq!(taken.status, StatusCode::CONFLICT);
        assert!(taken.body.contains("ada@acme.example") && taken.body.contains(r#"value="Second""#), "{}", taken.body);
        assert!(taken.body.contains(r#"aria-invalid="true""#));

        let users: serde_json::Value = app.admin_get("/api/v1/tenants/acme/users").await;
        let ada = users["data"].as_array().expect("data").iter().find(|u| u["user_name"] == "ada@acme.example").expect("ada").clone();
        let scim_user = users["data"].as_array().expect("data").iter().find(|u| u["source"] == "scim").expect("scim").clone();
        let id = ada["id"].as_str().expect("id");
        // Only the user made by hand has a deactivate button; every row can be deleted.
        assert!(page.body.contains(&format!("/users/{id}/deactivate")));
        assert!(!page.body.contains(&format!("/users/{}/deactivate", scim_user["id"].as_str().expect("id"))));

        let off = browser.post(&format!("/admin/tenants/acme/users/{id}/deactivate"), &[]).await;
        assert_eq!(off.location(), "/admin/tenants/acme/users?done=deactivated");
        let refused = browser.post(&format!("/admin/tenants/acme/users/{}/deactivate", scim_user["id"].as_str().expect("id")), &[]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(refused.body.contains("provisioned by the tenant"), "{}", refused.body);
        let gone = browser.post(&format!("/admin/tenants/acme/users/{id}/delete"), &[]).await;
        assert_eq!(gone.location(), "/admin/tenants/acme/users?done=deleted");

        let audit = browser.get("/admin/audit-log?tenant=acme").await;
        assert_eq!(audit.status, StatusCode::OK);
        for action in ["user.created", "user.updated", "user.deleted", "tenant.created"] {
            assert!(audit.body.contains(action), "{action} missing");
        }
        assert!(audit.body.contains(&format!("operator {EMAIL}")));
        let filtered = browser.get("/admin/audit-log?action=user.deleted").await;
        assert_eq!(filtered.body.matches("<tr>").count(), 2, "the header and one change");
        let bad = browser.get("/admin/audit-log?action=nonsense").await;
        assert!(bad.body.contains("is not one of"));
    }
}

both_backends! {
    async fn invite_it_admin_e_mails_the_setup_link_and_says_when_it_could_not(db: TestDb) {
        use idbridge_testkit::smtp::{SmtpOptions, SmtpServer, free_port};
        let port = free_port();
        let options = crate::helpers::TestOptions {
            smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
            ..crate::helpers::TestOptions::default()
        };
        let app = TestApp::spawn_with(db, options).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;
        let overview = browser.get("/admin/tenants/acme").await;
        assert!(overview.body.contains("Their e-mail (optional)") && overview.body.contains("Create and send invitation"));

        // The mail server is down: the link is made all the same, shown once, and
        // the page says it was not sent.
        let down = browser.post_and_follow("/admin/tenants/acme/setup-links", &[
            ("provider", "entra"), ("note", "Jane"), ("email_to", "jane@acme.example"),
        ]).await;
        assert!(down.body.contains("could not be e-mailed"), "{}", down.body);
        assert!(down.body.contains("/setup?token=idb_setup_"));

        // Up: the IT admin gets the link, in the setup guide's words, and it works.
        let smtp = SmtpServer::start_with(SmtpOptions { port: Some(port), ..SmtpOptions::default() }).await;
        let sent = browser.post_and_follow("/admin/tenants/acme/setup-links", &[
            ("provider", "okta"), ("email_to", " jane@acme.example "),
        ]).await;
        assert!(sent.body.contains("Link created and e-mailed"), "{}", sent.body);
        let shown = field_value(&sent, "new-url");
        let received = smtp.received();
        assert_eq!(received.len(), 1);
        let mail = &received[0];
        assert_eq!(mail.rcpt_tos, ["jane@acme.example"]);
        assert!(mail.subject.starts_with("Connect acme Inc's Okta to "), "{}", mail.subject);
        let text = mail.text.as_deref().expect("text part");
        assert!(text.contains(&shown), "the mail carries the very link shown: {text}");
        let html = mail.html.as_deref().expect("html part");
        assert!(html.contains(&format!("href=\"{shown}\"")));
        let opened = app.browser().get(&shown).send().await.expect("open");
        assert_eq!(opened.status(), StatusCode::SEE_OTHER, "the mailed link opens the portal");

        // The audit log names the recipient, never the link.
        let audit: serde_json::Value = app.admin_get("/api/v1/audit-log?action=setup_link.created").await;
        let records = audit["data"].as_array().expect("data");
        assert!(records.iter().any(|r| r["changes"]["email_to"] == "jane@acme.example"), "{audit}");
        assert!(!audit.to_string().contains("idb_setup_"));

        // A bad address is refused beside the form, and nothing is made.
        let before: serde_json::Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        let refused = browser.post("/admin/tenants/acme/setup-links", &[("provider", "okta"), ("email_to", "jane at acme")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.body.contains("not an e-mail address") && refused.body.contains("jane at acme"), "{}", refused.body);
        let after: serde_json::Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        assert_eq!(before["data"].as_array().map(Vec::len), after["data"].as_array().map(Vec::len));

        // The API takes the same field and answers what happened.
        let api: serde_json::Value = app.admin(Method::POST, "/api/v1/tenants/acme/setup-links")
            .json(&json!({"provider": "generic", "email_to": "ops@acme.example"})).send().await.expect("send").json().await.expect("json");
        assert_eq!(api["email"], json!({"to": "ops@acme.example", "sent": true}));
        assert_eq!(smtp.received().len(), 2);
    }

    async fn without_mail_the_setup_link_cannot_be_e_mailed(db: TestDb) {
        let app = TestApp::spawn(db).await;
        create_operator(&app).await;
        app.create_tenant("acme").await;
        let mut browser = Browser::signed_in(&app).await;
        let overview = browser.get("/admin/tenants/acme").await;
        assert!(!overview.body.contains("Their e-mail") && overview.body.contains("Create invitation link"));
        let response = app.admin(Method::POST, "/api/v1/tenants/acme/setup-links")
            .json(&json!({"provider": "okta", "email_to": "jane@acme.example"})).send().await.expect("send");
        let body = crate::helpers::expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(body.to_string().contains("--smtp-url"), "{body}");
        let listed: serde_json::Value = app.admin_get("/api/v1/tenants/acme/setup-links").await;
        assert_eq!(listed["data"], json!([]), "nothing was made");
    }
}
