//! `idbridge dev-idp` against the real service, over real HTTP: the dev IdP's
//! router on its own loopback port, a tenant configured with its metadata, and a
//! browser's trip through it (the sign-in form, the auto-posting page, the ACS, the
//! code, the ID token), for both flavors; IdP-initiated sign-in; each deliberate
//! failure refused and logged with its reason; the SCIM provisioner's directory read
//! back through the admin API; and the binary's refusal of a non-loopback address.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use idbridge_core::Clock;
use idbridge_dev_idp::provision::{ENTERPRISE_USER, deactivated_users, sample_user, updated_users};
use idbridge_dev_idp::{DevIdp, Identity, ProvisionOptions};
use idbridge_testkit::both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, idbridge_bin, q};

const CALLBACK: &str = "https://app.example.com/auth/callback";

/// The dev IdP on a loopback port, its assertion times from the app's clock.
async fn spawn_idp(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let clock = Arc::clone(&app.clock);
    let idp = DevIdp::new(
        Identity::generate().expect("keys"),
        &base,
        Arc::new(move || clock.now()),
    )
    .expect("dev IdP");
    tokio::spawn(async move { idp.serve(listener, std::future::pending()).await });
    base
}

struct Client {
    id: String,
    secret: String,
}

/// App roles, an OIDC client, and tenant `slug` configured with the dev IdP's
/// metadata of `flavor` (fetched over HTTP), landing IdP-initiated sign-ins at the
/// app's callback.
async fn configure(app: &TestApp, idp: &str, slug: &str, flavor: &str) -> Client {
    let response = app
        .admin(Method::PUT, "/api/v1/app-roles")
        .json(&json!({"roles": ["Admin", "AppAdmin", "Member"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .admin(Method::POST, "/api/v1/clients")
        .json(&json!({"name": "app", "redirect_uris": [CALLBACK]}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let client: Value = response.json().await.expect("json");
    let metadata = app
        .http
        .get(format!("{idp}/metadata?flavor={flavor}"))
        .send()
        .await
        .expect("metadata");
    assert_eq!(metadata.status(), StatusCode::OK);
    let metadata = metadata.text().await.expect("xml");
    assert!(
        metadata.contains(&format!("entityID=\"{idp}/{flavor}\"")),
        "{metadata}"
    );
    app.create_tenant(slug).await;
    let response = app
        .admin(Method::PUT, &format!("/api/v1/tenants/{slug}/saml"))
        .json(&json!({"idp_metadata_xml": metadata, "default_redirect_uri": CALLBACK}))
        .send()
        .await
        .expect("send");
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        response.text().await.unwrap_or_default()
    );
    Client {
        id: client["client_id"].as_str().expect("client_id").to_owned(),
        secret: client["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

/// A page's form with `id` (or the first form): its action and its inputs' values.
fn form(html: &str, id: Option<&str>) -> (String, HashMap<String, String>) {
    let start = match id {
        Some(id) => html.find(&format!("<form id=\"{id}\"")).expect("the form"),
        None => html.find("<form").expect("a form"),
    };
    let end = start + html[start..].find("</form>").expect("form end");
    let body = &html[start..end];
    let open = &body[..body.find('>').expect("tag end")];
    let action = attribute(open, "action").expect("action");
    let mut inputs = HashMap::new();
    for piece in body.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
        if let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value")) {
            inputs.insert(name, value);
        }
    }
    (action, inputs)
}

/// What the developer types into the form.
struct Typed<'a> {
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    roles: &'a str,
    groups: &'a str,
    flavor: &'a str,
    failure: &'a str,
}

impl Typed<'_> {
    fn ada(flavor: &str) -> Typed<'_> {
        Typed {
            email: "ada@example.com",
            first_name: "Ada",
            last_name: "Byron",
            roles: "Admin",
            groups: "Engineering, Night Shift",
            flavor,
            failure: "none",
        }
    }
}

/// The browser at the dev IdP: opens the sign-in form at `form_url`, submits what
/// was typed, and returns the auto-posting page's action and fields.
async fn sign_in_at_idp(
    browser: &reqwest::Client,
    form_url: &str,
    typed: &Typed<'_>,
) -> (String, HashMap<String, String>) {
    let response = browser.get(form_url).send().await.expect("form");
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    let (action, mut fields) = form(&html, None);
    for (name, value) in [
        ("email", typed.email),
        ("first_name", typed.first_name),
        ("last_name", typed.last_name),
        ("roles", typed.roles),
        ("groups", typed.groups),
        ("flavor", typed.flavor),
        ("failure", typed.failure),
        ("name_id_format", "email"),
    ] {
        fields.insert(name.to_owned(), value.to_owned());
    }
    let response = browser
        .post(&action)
        .form(&fields)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = response.text().await.expect("html");
    assert!(html.contains("<script src=\"/static/autopost.js\"></script>"));
    assert!(
        html.contains("<button type=\"submit\">"),
        "a visible fallback"
    );
    form(&html, Some("saml-response"))
}

fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// The code in a redirect to the app's callback (with the query's other values).
fn callback(response: &reqwest::Response) -> HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with(CALLBACK), "{location}");
    url::Url::parse(location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

async fn id_token(app: &TestApp, client: &Client, code: &str) -> Value {
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.expect("json");
    jwt_payload(tokens["id_token"].as_str().expect("id_token"))
}

/// The whole SP-initiated trip for `flavor`: authorize → dev IdP form → auto-post
/// → ACS → code → ID token.
async fn sp_initiated(app: &TestApp, idp: &str, slug: &str, flavor: &str) {
    let client = configure(app, idp, slug, flavor).await;
    let browser = app.browser();
    let authorize = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope=openid%20email%20profile&state=st-1&nonce=n-1&tenant={slug}",
        app.url("/oauth/authorize"),
        client.id,
        q(CALLBACK),
    );
    let response = browser.get(&authorize).send().await.expect("authorize");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.starts_with(&format!("{idp}/sso?flavor={flavor}&SAMLRequest=")),
        "{location}"
    );
    let idp_browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let (action, fields) = sign_in_at_idp(&idp_browser, &location, &Typed::ada(flavor)).await;
    assert_eq!(action, app.url(&format!("/saml/{slug}/acs")));
    assert!(fields.contains_key("RelayState"));
    let response = browser
        .post(&action)
        .form(&fields)
        .send()
        .await
        .expect("acs");
    let query = callback(&response);
    assert_eq!(query["state"], "st-1");
    let claims = id_token(app, &client, &query["code"]).await;
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["name"], "Ada Byron");
    assert_eq!(claims["given_name"], "Ada");
    assert_eq!(claims["tenant"], slug);
    assert_eq!(claims["idp"], "saml");
    assert_eq!(claims["roles"], json!(["Admin"]), "{claims}");
    assert_eq!(
        claims["groups"],
        json!(["Engineering", "Night Shift"]),
        "{claims}"
    );

    // The form remembers what was typed (a cookie of the dev IdP's).
    let (_, again) = form(
        &idp_browser
            .get(&location)
            .send()
            .await
            .expect("form")
            .text()
            .await
            .expect("html"),
        None,
    );
    assert_eq!(again["email"], "ada@example.com");
    assert_eq!(again["groups"], "Engineering, Night Shift");
}

async fn sign_ins(app: &TestApp, slug: &str) -> Vec<Value> {
    let body: Value = app
        .admin(Method::GET, &format!("/api/v1/tenants/{slug}/sign-in-log"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    body["data"].as_array().expect("data").clone()
}

async fn admin_list(app: &TestApp, path: &str) -> Vec<Value> {
    let body: Value = app
        .admin(Method::GET, path)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    body["data"].as_array().expect("data").clone()
}

both_backends! {
    async fn an_entra_shaped_sign_in_ends_in_an_id_token(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = spawn_idp(&app).await;
        sp_initiated(&app, &idp, "acme", "entra").await;
    }

    async fn an_okta_shaped_sign_in_ends_in_an_id_token(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = spawn_idp(&app).await;
        sp_initiated(&app, &idp, "globex", "okta").await;
    }

    async fn an_idp_initiated_sign_in_lands_at_the_default_redirect(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = spawn_idp(&app).await;
        let client = configure(&app, &idp, "acme", "entra").await;
        let url = format!(
            "{idp}/sso/initiate?acs={}&audience={}&flavor=entra",
            q(&app.url("/saml/acme/acs")),
            q(&app.url("/saml/acme")),
        );
        let browser = reqwest::Client::new();
        let (action, fields) = sign_in_at_idp(&browser, &url, &Typed::ada("entra")).await;
        assert!(!fields.contains_key("RelayState"), "no request, no RelayState");
        let response = app.browser().post(&action).form(&fields).send().await.expect("acs");
        let query = callback(&response);
        let claims = id_token(&app, &client, &query["code"]).await;
        assert_eq!(claims["email"], "ada@example.com");
        assert_eq!(claims["roles"], json!(["Admin"]));
        let log = sign_ins(&app, "acme").await;
        assert_eq!(log[0]["outcome"], "success");
    }

    async fn each_deliberate_failure_is_refused_and_logged(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = spawn_idp(&app).await;
        configure(&app, &idp, "acme", "okta").await;
        let browser = app.browser();
        for (failure, reason) in [
            ("expired", "expired"),
            ("wrong_audience", "audience_mismatch"),
            ("unsigned", "signature_missing"),
            ("wrong_key", "signature_invalid"),
        ] {
            let response = browser.get(app.url("/saml/acme/login")).send().await.expect("login");
            assert_eq!(response.status(), StatusCode::FOUND);
            let location = response.headers()["location"].to_str().expect("ascii").to_owned();
            let typed = Typed { failure, ..Typed::ada("okta") };
            let (action, fields) = sign_in_at_idp(&reqwest::Client::new(), &location, &typed).await;
            let response = browser.post(&action).form(&fields).send().await.expect("acs");
            let status = response.status();
            assert!(status.is_client_error(), "{failure}: {status}");
            assert!(response.headers().get("location").is_none(), "{failure}: no code");
            let page = response.text().await.expect("page");
            assert!(page.contains(reason), "{failure}: {page}");
            let log = sign_ins(&app, "acme").await;
            assert_eq!(log[0]["outcome"], "failure", "{failure}");
            assert_eq!(log[0]["reason"], reason, "{failure}");
        }
        assert!(admin_list(&app, "/api/v1/tenants/acme/users").await.is_empty(), "no user from a refused response");
        // The same form without a failure signs in.
        let response = browser.get(app.url("/saml/acme/login")).send().await.expect("login");
        let location = response.headers()["location"].to_str().expect("ascii").to_owned();
        let (action, fields) = sign_in_at_idp(&reqwest::Client::new(), &location, &Typed::ada("okta")).await;
        let response = browser.post(&action).form(&fields).send().await.expect("acs");
        callback(&response);
    }

    async fn the_provisioner_pushes_an_entra_shaped_directory(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let scim = app.scim_tenant("contoso").await;
        let options = ProvisionOptions {
            scim_url: app.url("/scim/v2/contoso"),
            token: scim.token.clone(),
            users: 12,
            groups: 3,
            domain: "contoso.test".into(),
        };
        let mut out = Vec::new();
        let summary = idbridge_dev_idp::provision(&options, &mut out).await.expect("provision");
        let report = String::from_utf8(out).expect("utf-8");
        assert_eq!(summary.users_created, 12, "{report}");
        assert_eq!(summary.groups_created, 3, "{report}");
        assert!(report.contains("GET /Users?filter=userName eq \"dana.okafor@contoso.test\" → 200"), "{report}");
        assert!(report.contains("POST /Users (dana.okafor@contoso.test) → 201"), "{report}");
        assert!(report.contains("PATCH /Groups/"), "{report}");

        let users = admin_list(&app, "/api/v1/tenants/contoso/users?limit=100").await;
        assert_eq!(users.len(), 12);
        let by_name: HashMap<String, &Value> = users
            .iter()
            .map(|u| (u["user_name"].as_str().expect("user_name").to_owned(), u))
            .collect();
        let user = |i: usize| by_name[&sample_user(i, "contoso.test").user_name];
        assert_eq!(user(0)["email"], "dana.okafor@contoso.test");
        assert_eq!(user(0)["idp_roles"], json!(["Admin"]));
        assert_eq!(user(1)["idp_roles"], json!(["AppAdmin"]));
        assert_eq!(user(0)["external_id"], "dana.okafor");
        assert_eq!(user(0)["attributes"][ENTERPRISE_USER]["employeeNumber"], "E01001");
        assert_eq!(user(0)["groups"].as_array().expect("groups").len(), 3, "user 0 is in every group");
        assert_eq!(user(4)["groups"].as_array().expect("groups").len(), 1);
        assert_eq!(
            user(7)["attributes"][ENTERPRISE_USER]["manager"]["value"],
            user(1)["id"],
            "the department's first user manages it"
        );
        for i in updated_users(12) {
            assert!(user(i)["attributes"]["title"].as_str().expect("title").starts_with("Senior "), "{i}");
        }
        for i in 0..12 {
            assert_eq!(user(i)["active"], !deactivated_users(12).contains(&i), "{i}");
        }
        let groups = admin_list(&app, "/api/v1/tenants/contoso/groups").await;
        let mut names: Vec<&str> = groups.iter().map(|g| g["display_name"].as_str().expect("name")).collect();
        names.sort_unstable();
        assert_eq!(names, ["Engineering", "Finance", "Sales Team"]);

        // A second run finds everything and creates nothing.
        let summary = idbridge_dev_idp::provision(&options, &mut std::io::sink()).await.expect("again");
        assert_eq!((summary.users_created, summary.users_found), (0, 12));
        assert_eq!((summary.groups_created, summary.groups_found), (0, 3));
        assert_eq!(admin_list(&app, "/api/v1/tenants/contoso/users?limit=100").await.len(), 12);

        // A wrong token stops it at the first request, saying why.
        let wrong = ProvisionOptions { token: "nope".into(), ..options };
        let err = idbridge_dev_idp::provision(&wrong, &mut std::io::sink()).await.expect_err("401");
        assert!(err.to_string().contains("401"), "{err}");
    }
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

#[tokio::test]
async fn the_binary_refuses_a_non_loopback_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = tokio::process::Command::new(idbridge_bin())
        .env_clear()
        .args(["dev-idp", "--listen", "0.0.0.0:0", "--state-dir"])
        .arg(dir.path())
        .output()
        .await
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("never use it in production")
            || stderr.contains("Never use it in production"),
        "{stderr}"
    );
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-non-loopback"), "{stderr}");
    assert!(
        !dir.path().join("signing-key.pem").exists(),
        "refused before making keys"
    );
}

#[tokio::test]
async fn the_binary_keeps_its_certificate_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut metadata = Vec::new();
    for _ in 0..2 {
        let port = free_port();
        let mut child = tokio::process::Command::new(idbridge_bin())
            .env_clear()
            .args([
                "dev-idp",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--state-dir",
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn");
        let url = format!("http://127.0.0.1:{port}/metadata?flavor=entra");
        let mut body = None;
        for _ in 0..300 {
            if let Ok(response) = reqwest::get(&url).await
                && response.status() == StatusCode::OK
            {
                body = Some(response.text().await.expect("xml"));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = child.kill().await;
        let body = body.expect("the dev IdP answered within 30 s");
        // The SSO URL names the port, which differs; the certificate must not.
        let certificate = body
            .split("<ds:X509Certificate>")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .expect("certificate")
            .to_owned();
        metadata.push(certificate);
    }
    assert_eq!(metadata[0], metadata[1]);
}
