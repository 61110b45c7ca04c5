//! `idbridge dev-idp` against the real service, over real HTTP: the dev IdP's
//! router on its own loopback port, a tenant configured with its metadata, and a
//! browser's trip through it (the sign-in form, the auto-posting page, the ACS, the
//! code, the ID token), for both flavors; IdP-initiated sign-in; each deliberate
//! failure refused and logged with its reason; the same through its OpenID
//! Provider, as a tenant's OIDC connection (idbridge's relying-party path:
//! discovery, the form, the callback, the token request, the ID token's checks),
//! for each flavor and each deliberate failure, and the provider's own protocol
//! rules (client authentication, single-use and short-lived codes, PKCE,
//! userinfo); the SCIM provisioner's directory read back through the admin API; and
//! the binary's refusal of a non-loopback address.

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
pub(crate) async fn spawn_idp(app: &TestApp) -> String {
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
        .admin_get(&format!("/api/v1/tenants/{slug}/sign-in-log"))
        .await;
    body["data"].as_array().expect("data").clone()
}

async fn admin_list(app: &TestApp, path: &str) -> Vec<Value> {
    let body: Value = app.admin_get(path).await;
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
    let mut kids = Vec::new();
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
        // The OpenID Provider's issuer is the address it listens on.
        let discovery: Value = reqwest::get(format!(
            "http://127.0.0.1:{port}/.well-known/openid-configuration"
        ))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
        let jwks: Value = reqwest::get(format!("http://127.0.0.1:{port}/oidc/jwks"))
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        let _ = child.kill().await;
        assert_eq!(discovery["issuer"], format!("http://127.0.0.1:{port}"));
        kids.push(jwks["keys"][0]["kid"].as_str().expect("kid").to_owned());
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
    assert_eq!(kids[0], kids[1], "the ID tokens' key is the same one");
}

// ---------------------------------------------------------------------------
// The OpenID Provider side: a tenant's OIDC connection whose issuer is the dev IdP.

/// The test server, allowed to reach the dev IdP on loopback (its outbound
/// fetcher refuses private addresses otherwise), and the dev IdP on its clock.
async fn spawn_oidc(db: idbridge_testkit::TestDb) -> (TestApp, String) {
    let app = TestApp::spawn_allowing_private_urls(db).await;
    let idp = spawn_idp(&app).await;
    (app, idp)
}

/// App roles, an OIDC client of the app, and tenant `slug` with an OpenID Connect
/// connection to the dev IdP (client `idbridge-{slug}`, the dev IdP's default
/// secret).
async fn configure_oidc(app: &TestApp, idp: &str, slug: &str) -> Client {
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
    app.create_tenant(slug).await;
    let response = app
        .admin(Method::POST, &format!("/api/v1/tenants/{slug}/connections"))
        .json(&json!({"type": "oidc", "name": "dev IdP", "issuer": idp,
                      "client_id": format!("idbridge-{slug}"),
                      "client_secret": idbridge_dev_idp::DEFAULT_CLIENT_SECRET,
                      "scopes": ["openid", "email", "profile", "groups"]}))
        .send()
        .await
        .expect("send");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["redirect_uri"],
        app.url(&format!("/oidc/{slug}/callback"))
    );
    Client {
        id: client["client_id"].as_str().expect("client_id").to_owned(),
        secret: client["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    }
}

/// Where the browser's trip through the OpenID Provider ended: idbridge's answer
/// at its callback.
struct Landing {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

/// A browser that keeps cookies (the dev IdP's form remembers) and shows redirects.
fn oidc_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client")
}

/// The app's authorization request → idbridge → the dev IdP's form (its fields
/// as shown) → the form posted with `typed` → idbridge's callback.
async fn oidc_sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    idp: &str,
    client: &Client,
    slug: &str,
    typed: &Typed<'_>,
) -> (HashMap<String, String>, Landing) {
    let authorize = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope=openid%20email%20profile&state=st-1&nonce=n-1&tenant={slug}",
        app.url("/oauth/authorize"),
        client.id,
        q(CALLBACK),
    );
    let response = browser.get(&authorize).send().await.expect("authorize");
    assert_eq!(response.status(), StatusCode::FOUND);
    let to_idp = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        to_idp.starts_with(&format!("{idp}/oidc/authorize?")),
        "{to_idp}"
    );
    let response = browser.get(&to_idp).send().await.expect("form");
    let status = response.status();
    let html = response.text().await.expect("html");
    assert_eq!(status, StatusCode::OK, "{html}");
    let (action, shown) = form(&html, None);
    assert_eq!(action, format!("{idp}/oidc/authorize"));
    assert_eq!(shown["client_id"], format!("idbridge-{slug}"));
    assert_eq!(
        shown["code_challenge_method"], "S256",
        "idbridge sends PKCE"
    );
    let mut fields = shown.clone();
    for (name, value) in [
        ("email", typed.email),
        ("first_name", typed.first_name),
        ("last_name", typed.last_name),
        ("roles", typed.roles),
        ("groups", typed.groups),
        ("flavor", typed.flavor),
        ("failure", typed.failure),
    ] {
        fields.insert(name.to_owned(), value.to_owned());
    }
    let response = browser
        .post(&action)
        .form(&fields)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to_callback = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        to_callback.starts_with(&app.url(&format!("/oidc/{slug}/callback?"))),
        "{to_callback}"
    );
    let back: HashMap<String, String> = url::Url::parse(&to_callback)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(back["iss"], idp, "RFC 9207");
    let response = browser.get(&to_callback).send().await.expect("callback");
    let landing = Landing {
        status: response.status(),
        location: response
            .headers()
            .get("location")
            .map(|l| l.to_str().expect("ascii").to_owned()),
        body: response.text().await.unwrap_or_default(),
    };
    (shown, landing)
}

both_backends! {
    async fn oidc_sign_ins_through_the_dev_idp_end_in_an_id_token(db: TestDb) {
        let (app, idp) = spawn_oidc(db).await;
        for (slug, flavor, email) in [
            ("acme", "entra", "ada@acme.example"),
            ("globex", "okta", "ada@globex.example"),
            // A consumer Google account: no `hd`, nothing for the tenant to verify.
            ("initech", "google", "ada.byron@gmail.com"),
        ] {
            let client = configure_oidc(&app, &idp, slug).await;
            let browser = oidc_browser();
            let typed = Typed { email, ..Typed::ada(flavor) };
            let (_, landing) = oidc_sign_in(&app, &browser, &idp, &client, slug, &typed).await;
            assert_eq!(landing.status, StatusCode::SEE_OTHER, "{flavor}: {}", landing.body);
            let location = landing.location.expect("to the app");
            assert!(location.starts_with(CALLBACK), "{location}");
            let back: HashMap<String, String> =
                url::Url::parse(&location).expect("url").query_pairs().into_owned().collect();
            assert_eq!(back["state"], "st-1");
            let claims = id_token(&app, &client, &back["code"]).await;
            assert_eq!(claims["email"], email, "{flavor}: {claims}");
            assert_eq!(claims["name"], "Ada Byron", "{flavor}: {claims}");
            assert_eq!(claims["tenant"], slug);
            assert_eq!(claims["idp"], "oidc");
            assert_eq!(claims["nonce"], "n-1");
            if flavor == "google" {
                // Google's ID tokens carry no roles or groups.
                assert!(claims["groups"].as_array().is_none_or(Vec::is_empty), "{claims}");
            } else {
                assert_eq!(claims["roles"], json!(["Admin"]), "{flavor}: {claims}");
                assert_eq!(claims["groups"], json!(["Engineering", "Night Shift"]), "{flavor}: {claims}");
            }
            let log = sign_ins(&app, slug).await;
            assert_eq!(log[0]["outcome"], "success", "{flavor}");

            // The form remembers what was typed, flavor included.
            let (shown, landing) = oidc_sign_in(&app, &browser, &idp, &client, slug, &typed).await;
            assert_eq!(shown["email"], email);
            assert_eq!(shown["groups"], "Engineering, Night Shift");
            assert_eq!(landing.status, StatusCode::SEE_OTHER, "{}", landing.body);
            assert_eq!(admin_list(&app, &format!("/api/v1/tenants/{slug}/users")).await.len(), 1, "the same user");
        }
    }

    async fn each_deliberate_oidc_failure_is_refused_and_logged(db: TestDb) {
        let (app, idp) = spawn_oidc(db).await;
        let client = configure_oidc(&app, &idp, "acme").await;
        for (flavor, failure, email, reason) in [
            ("entra", "expired", "ada@acme.example", "id_token_expired"),
            ("entra", "wrong_audience", "ada@acme.example", "id_token_audience_mismatch"),
            ("okta", "wrong_issuer", "ada@acme.example", "id_token_issuer_mismatch"),
            ("entra", "wrong_key", "ada@acme.example", "id_token_signature_invalid"),
            ("okta", "wrong_nonce", "ada@acme.example", "id_token_nonce_mismatch"),
            ("entra", "missing_email", "ada@acme.example", "email_missing"),
            ("google", "email_unverified", "ada.byron@gmail.com", "email_not_verified_by_idp"),
            ("okta", "access_denied", "ada@acme.example", "idp_error"),
            // A Google Workspace account whose domain the tenant has not verified.
            ("google", "none", "ada@acme.example", "hosted_domain_not_verified"),
        ] {
            let typed = Typed { email, failure, ..Typed::ada(flavor) };
            let (_, landing) = oidc_sign_in(&app, &oidc_browser(), &idp, &client, "acme", &typed).await;
            assert!(landing.status.is_client_error(), "{failure}: {} {}", landing.status, landing.body);
            assert!(landing.location.is_none(), "{failure}: no redirect to the app");
            assert!(landing.body.contains(reason), "{failure}: {}", landing.body);
            let log = sign_ins(&app, "acme").await;
            assert_eq!(log[0]["outcome"], "failure", "{failure}");
            assert_eq!(log[0]["reason"], reason, "{failure}");
        }
        assert!(admin_list(&app, "/api/v1/tenants/acme/users").await.is_empty(), "no user from a refused token");
        // The same form without a failure signs in.
        let (_, landing) = oidc_sign_in(&app, &oidc_browser(), &idp, &client, "acme", &Typed::ada("entra")).await;
        assert_eq!(landing.status, StatusCode::SEE_OTHER, "{}", landing.body);
    }
}

/// A clock a test moves by hand, as the dev IdP takes it.
fn manual_now() -> (
    Arc<std::sync::Mutex<time::OffsetDateTime>>,
    idbridge_dev_idp::Now,
) {
    let at = Arc::new(std::sync::Mutex::new(
        time::macros::datetime!(2026-11-01 09:00:00 UTC),
    ));
    let read = Arc::clone(&at);
    (at, Arc::new(move || *read.lock().expect("clock")))
}

/// The OpenID Provider's rules over HTTP, with nothing but a client: discovery,
/// the form's redirect, client authentication (basic and post, the wrong secret),
/// single-use and short-lived codes, PKCE, the ID token's header and key, userinfo.
#[tokio::test]
async fn the_dev_idps_openid_provider_keeps_the_protocol() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let idp = format!("http://{}", listener.local_addr().expect("addr"));
    let (clock, now) = manual_now();
    let dev = DevIdp::with_oidc_clients(
        Identity::generate().expect("keys"),
        &idp,
        now,
        idbridge_dev_idp::OidcClients {
            client_id: Some("my-app".into()),
            client_secret: "s3cret".into(),
        },
    )
    .expect("dev IdP");
    tokio::spawn(async move { dev.serve(listener, std::future::pending()).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let discovery: Value = http
        .get(format!("{idp}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["issuer"], idp.as_str());
    assert_eq!(discovery["token_endpoint"], format!("{idp}/oidc/token"));
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    let redirect_uri = "https://app.example/cb";
    let verifier = "a-verifier-of-enough-length-for-pkce-0123456789";
    let challenge = idbridge_dev_idp::oidc::s256(verifier);

    // Only the configured client_id: another is refused on a page, not redirected.
    let response = http
        .get(format!(
            "{idp}/oidc/authorize?response_type=code&client_id=other&redirect_uri={}&scope=openid",
            q(redirect_uri)
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
    // A bad request from the right client goes back with error=.
    let response = http
        .get(format!("{idp}/oidc/authorize?response_type=token&client_id=my-app&redirect_uri={}&scope=openid&state=s", q(redirect_uri)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.starts_with(redirect_uri)
            && location.contains("error=unsupported_response_type")
            && location.contains("state=s"),
        "{location}"
    );

    // A code, through the form.
    let code = |pkce: bool| {
        let http = http.clone();
        let idp = idp.clone();
        let challenge = challenge.clone();
        async move {
            let mut url = format!(
                "{idp}/oidc/authorize?response_type=code&client_id=my-app&redirect_uri={}&scope=openid%20email&state=s&nonce=n&login_hint=grace%40example.com",
                q(redirect_uri)
            );
            if pkce {
                url.push_str(&format!(
                    "&code_challenge={challenge}&code_challenge_method=S256"
                ));
            }
            let html = http
                .get(&url)
                .send()
                .await
                .expect("form")
                .text()
                .await
                .expect("html");
            let (action, mut fields) = form(&html, None);
            assert_eq!(fields["email"], "grace@example.com", "the login_hint");
            fields.insert("flavor".into(), "okta".into());
            let response = http.post(&action).form(&fields).send().await.expect("post");
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            let location = response.headers()["location"]
                .to_str()
                .expect("ascii")
                .to_owned();
            let back: HashMap<String, String> = url::Url::parse(&location)
                .expect("url")
                .query_pairs()
                .into_owned()
                .collect();
            assert_eq!(back["state"], "s");
            back["code"].clone()
        }
    };
    let token = |form: Vec<(&'static str, String)>, basic: Option<(&'static str, &'static str)>| {
        let mut request = http.post(format!("{idp}/oidc/token")).form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        async move {
            let response = request.send().await.expect("token");
            let status = response.status();
            (status, response.json::<Value>().await.expect("json"))
        }
    };
    let exchange = |code: &str, verifier: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_owned()));
        }
        form
    };

    // client_secret_basic, PKCE: an ID token signed with the published key.
    let first = code(true).await;
    let (status, answer) =
        token(exchange(&first, Some(verifier)), Some(("my-app", "s3cret"))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["token_type"], "Bearer");
    let id_token = answer["id_token"].as_str().expect("id_token");
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    let jwks: Value = http
        .get(format!("{idp}/oidc/jwks"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    let claims = jwt_payload(id_token);
    assert_eq!(claims["iss"], idp.as_str());
    assert_eq!(claims["aud"], "my-app");
    assert_eq!(claims["nonce"], "n");
    assert_eq!(claims["email"], "grace@example.com");
    assert!(
        claims["sub"].as_str().expect("sub").starts_with("00u"),
        "okta-shaped"
    );
    // Userinfo with the access token: the same subject.
    let access = answer["access_token"].as_str().expect("access_token");
    let info: Value = http
        .get(format!("{idp}/oidc/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["email"], "grace@example.com");
    let response = http
        .get(format!("{idp}/oidc/userinfo"))
        .bearer_auth("nope")
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The code is used: once.
    let (status, answer) =
        token(exchange(&first, Some(verifier)), Some(("my-app", "s3cret"))).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // PKCE: the wrong verifier, or none, is refused (and the code is spent).
    let second = code(true).await;
    let (status, answer) = token(
        exchange(
            &second,
            Some("another-verifier-of-enough-length-0123456789"),
        ),
        Some(("my-app", "s3cret")),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{answer}"
    );
    let (status, _) = token(
        exchange(&second, Some(verifier)),
        Some(("my-app", "s3cret")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "spent by the failed try");

    // The wrong secret: 401 invalid_client, the code not spent.
    let third = code(false).await;
    let (status, answer) = token(exchange(&third, None), Some(("my-app", "wrong"))).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // client_secret_post.
    let mut form = exchange(&third, None);
    form.push(("client_id", "my-app".into()));
    form.push(("client_secret", "s3cret".into()));
    let (status, answer) = token(form, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Codes live a minute.
    let fourth = code(false).await;
    *clock.lock().expect("clock") += time::Duration::seconds(61);
    let (status, answer) = token(exchange(&fourth, None), Some(("my-app", "s3cret"))).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}
