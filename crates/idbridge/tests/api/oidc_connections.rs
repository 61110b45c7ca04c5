//! OpenID Connect connections, over real HTTP: a tenant brings an OpenID provider
//! (a real, certified one, panva's oidc-provider, on loopback; and a scripted one
//! that issues Entra ID-, Okta- and Google-shaped tokens, and hostile ones), the app
//! signs its users in through it with `/oauth/authorize`, and every refusal leaves
//! no code for the app and no user in the directory.

use std::collections::HashMap;

use idbridge_core::Clock;
use idbridge_testkit::both_backends;
use idbridge_testkit::oidc_idp::{self, IssParameter, Profile, ScriptedIdp, Tamper};
use idbridge_testkit::oidc_op::{OidcOp, OpClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestOptions, expect_error};

const CALLBACK: &str = "https://app.example.com/auth/callback";

/// The test server on loopback, allowed to reach the providers on loopback, with
/// its clock set to now (the providers sign with the real time).
async fn spawn(db: idbridge_testkit::TestDb, secret_key: bool) -> TestApp {
    let mut options = TestOptions {
        allow_private_urls: true,
        ..TestOptions::default()
    };
    if !secret_key {
        options.secret_key = None;
    }
    let app = TestApp::spawn_with(db, options).await;
    let now = time::OffsetDateTime::now_utc();
    app.clock.advance(now - app.clock.now());
    app
}

struct AppClient {
    id: String,
    secret: String,
}

async fn register_app(app: &TestApp) -> AppClient {
    let response = app
        .admin(Method::POST, "/api/v1/clients")
        .json(&json!({"name": "app", "redirect_uris": [CALLBACK]}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    AppClient {
        id: body["client_id"].as_str().expect("client_id").to_owned(),
        secret: body["client_secret"].as_str().expect("secret").to_owned(),
    }
}

async fn add_connection(app: &TestApp, slug: &str, body: Value) -> Value {
    let response = app
        .admin(Method::POST, &format!("/api/v1/tenants/{slug}/connections"))
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn authorize_url(app: &TestApp, client: &AppClient, extra: &str) -> String {
    app.url(&format!(
        "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20email%20profile&state=app-state&nonce=app-nonce{extra}",
        client.id,
        crate::helpers::q(CALLBACK)
    ))
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// What the browser's trip ended with: idbridge's answer at its callback.
struct Landing {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

/// The browser: to idbridge's authorize, to the IdP (following its own redirects
/// and cookies), back to idbridge's callback.
async fn browse(app: &TestApp, start: &str) -> Landing {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    let mut url = start.to_owned();
    let callback_prefix = app.url("/oidc/");
    for _ in 0..20 {
        if url.starts_with(CALLBACK) {
            panic!("the trip ended at the app without passing idbridge's callback: {url}");
        }
        let response = browser.get(&url).send().await.expect("get");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().expect("ascii").to_owned());
        if url.starts_with(&callback_prefix) {
            return Landing {
                status,
                location,
                body: response.text().await.unwrap_or_default(),
            };
        }
        match location {
            Some(next) => {
                url = url::Url::parse(&url)
                    .expect("url")
                    .join(&next)
                    .expect("join")
                    .to_string()
            }
            None => panic!(
                "the trip stopped at {url} with {status}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
    panic!("too many redirects");
}

async fn redeem(app: &TestApp, client: &AppClient, code: &str) -> Value {
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&client_id={}&client_secret={}",
        crate::helpers::q(code),
        crate::helpers::q(CALLBACK),
        client.id,
        crate::helpers::q(&client.secret)
    );
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn claims_of(id_token: &str) -> Value {
    idbridge_testkit::oidc_idp::decode_unverified(id_token).1
}

async fn users(app: &TestApp, slug: &str) -> Vec<Value> {
    let response = app
        .admin(Method::GET, &format!("/api/v1/tenants/{slug}/users"))
        .send()
        .await
        .expect("send");
    let body: Value = response.json().await.expect("json");
    body["data"].as_array().cloned().unwrap_or_default()
}

async fn last_sign_in(app: &TestApp, slug: &str) -> Value {
    let response = app
        .admin(Method::GET, &format!("/api/v1/tenants/{slug}/sign-in-log"))
        .send()
        .await
        .expect("send");
    let body: Value = response.json().await.expect("json");
    body["data"][0].clone()
}

both_backends! {
    async fn a_real_openid_provider_signs_users_in(db: TestDb) {
    let app = spawn(db, true).await;
    let client = register_app(&app).await;
    app.create_tenant("acme").await;
    let redirect_uri = app.url("/oidc/acme/callback");
    let op = OidcOp::start(
        &[OpClient::new("idb-client", "op-secret-with-some-length", &redirect_uri)],
        json!({
            "ann@acme.example": {"email": "ann@acme.example", "email_verified": true, "name": "Ann Example",
                    "given_name": "Ann", "family_name": "Example", "groups": ["Engineering"]},
            "bob@acme.example": {"email": "bob@acme.example", "email_verified": true, "name": "Bob"},
        }),
    )
    .await;
    let connection = add_connection(
        &app,
        "acme",
        json!({"type": "oidc", "name": "Okta", "issuer": op.issuer, "client_id": "idb-client",
               "client_secret": "op-secret-with-some-length", "domains": ["acme.example"],
               "scopes": ["openid", "email", "profile", "groups"]}),
    )
    .await;
    assert_eq!(connection["type"], "oidc");
    assert_eq!(connection["redirect_uri"], redirect_uri);
    assert_eq!(connection["has_client_secret"], true);
    assert!(connection.get("client_secret").is_none(), "never returned");
    let id = connection["id"].as_str().expect("id").to_owned();

    // The login_hint's domain picks the connection; the hint goes on to the IdP
    // (which signs in that account).
    let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme&login_hint=bob%40acme.example")).await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER, "{}", landing.body);
    let location = landing.location.expect("to the app");
    assert!(location.starts_with(CALLBACK), "{location}");
    let back = query_of(&location);
    assert_eq!(back["state"], "app-state");
    let tokens = redeem(&app, &client, &back["code"]).await;
    let claims = claims_of(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(claims["email"], "bob@acme.example");
    assert_eq!(claims["idp"], "oidc");
    assert_eq!(claims["connection"], id);
    assert_eq!(claims["nonce"], "app-nonce");
    assert_eq!(claims["tenant"], "acme");
    // Userinfo says the same.
    let info: Value = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().expect("access_token"))
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("json");
    assert_eq!(info["idp"], "oidc");
    assert_eq!(info["connection"], id);

    // connection= picks it too; a second sign-in of the same person is the same user.
    let landing = browse(&app, &authorize_url(&app, &client, &format!("&tenant=acme&connection={id}&login_hint=ann%40acme.example"))).await;
    let back = query_of(&landing.location.expect("to the app"));
    let ann = claims_of(redeem(&app, &client, &back["code"]).await["id_token"].as_str().expect("t"));
    assert_eq!(ann["email"], "ann@acme.example");
    assert_eq!(ann["groups"], json!(["Engineering"]));
    assert_eq!(ann["name"], "Ann Example");
    let all = users(&app, "acme").await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(last_sign_in(&app, "acme").await["outcome"], "success");

    // The connection is listed, changed and read back; the secret stays hidden.
    let list: Value = app.admin_get("/api/v1/tenants/acme/connections").await;
    assert_eq!(list["data"].as_array().expect("data").len(), 1);
    let changed: Value = app
        .admin(Method::PATCH, &format!("/api/v1/tenants/acme/connections/{id}"))
        .json(&json!({"name": "Okta (staff)", "default": true}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(changed["name"], "Okta (staff)");
    assert_eq!(changed["default"], true);
    assert_eq!(changed["has_client_secret"], true);
}}

/// A tenant with a connection to a scripted IdP of `profile`, and the app.
async fn scripted(app: &TestApp, profile: Profile) -> (ScriptedIdp, AppClient, String) {
    let client = register_app(app).await;
    app.create_tenant("acme").await;
    let idp = oidc_idp::start(profile).await;
    let connection = add_connection(
        app,
        "acme",
        json!({"type": "oidc", "issuer": idp.issuer, "client_id": idp.client.client_id,
               "client_secret": idp.client.client_secret, "default": true}),
    )
    .await;
    (
        idp,
        client,
        connection["id"].as_str().expect("id").to_owned(),
    )
}

both_backends! {
    async fn entra_okta_and_google_shaped_tokens_sign_in(db: TestDb) {
    let app = spawn(db, true).await;
    let client = register_app(&app).await;
    for (slug, profile) in [("entra", Profile::Entra), ("okta", Profile::Okta)] {
        app.create_tenant(slug).await;
        let idp = oidc_idp::start(profile).await;
        add_connection(
            &app,
            slug,
            json!({"type": "oidc", "issuer": idp.issuer, "client_id": idp.client.client_id,
                   "client_secret": idp.client.client_secret}),
        )
        .await;
        let landing = browse(&app, &authorize_url(&app, &client, &format!("&tenant={slug}"))).await;
        assert_eq!(landing.status, StatusCode::SEE_OTHER, "{slug}: {}", landing.body);
        let sent = idp.last_authorization_request().expect("authorize");
        assert_eq!(sent.code_challenge_method.as_deref(), Some("S256"));
        assert!(sent.nonce.is_some() && sent.state.is_some());
        let back = query_of(&landing.location.expect("to the app"));
        let claims = claims_of(redeem(&app, &client, &back["code"]).await["id_token"].as_str().expect("t"));
        assert_eq!(claims["idp"], "oidc", "{slug}");
        assert!(claims["email"].as_str().expect("email").ends_with("@acme.example"));
    }
    // Google: `hd` must be a verified domain of the tenant. Not verified: refused.
    app.create_tenant("goog").await;
    let idp = oidc_idp::start(Profile::Google).await;
    add_connection(
        &app,
        "goog",
        json!({"type": "oidc", "issuer": idp.issuer, "client_id": idp.client.client_id,
               "client_secret": idp.client.client_secret}),
    )
    .await;
    let landing = browse(&app, &authorize_url(&app, &client, "&tenant=goog")).await;
    assert_eq!(landing.status, StatusCode::FORBIDDEN, "{}", landing.body);
    assert!(landing.location.is_none());
    assert_eq!(last_sign_in(&app, "goog").await["reason"], "hosted_domain_not_verified");
    assert!(users(&app, "goog").await.is_empty());
}}

// Each hostile answer: a refusal page at idbridge's callback, no code for the app,
// no user, and the reason in the sign-in log.
both_backends! {
    async fn hostile_tokens_and_callbacks_are_refused(db: TestDb) {
    let app = spawn(db, true).await;
    let (idp, client, connection_id) = scripted(&app, Profile::Entra).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    type Setup = Box<dyn Fn(&ScriptedIdp)>;
    let cases: Vec<(&str, Setup, &str)> = vec![
        ("alg none", Box::new(|i| i.set_tamper(Tamper::AlgNone)), "id_token_algorithm_not_allowed"),
        ("HS256 keyed with the public key", Box::new(|i| i.set_tamper(Tamper::HmacWithPublicKey)), "id_token_algorithm_not_allowed"),
        ("unknown kid", Box::new(|i| i.set_tamper(Tamper::UnknownKid)), "id_token_unknown_key"),
        ("another key, the published kid", Box::new(|i| i.set_tamper(Tamper::WrongKeySameKid)), "id_token_signature_invalid"),
        ("a flipped signature byte", Box::new(|i| i.set_tamper(Tamper::BadSignature)), "id_token_signature_invalid"),
        ("a key embedded in the header", Box::new(|i| i.set_tamper(Tamper::EmbeddedJwk)), "id_token_unknown_key"),
        ("another issuer", Box::new(|i| i.override_claim("iss", json!("https://login.evil.example/v2.0"))), "id_token_issuer_mismatch"),
        ("another audience", Box::new(|i| i.override_claim("aud", json!("someone-else"))), "id_token_audience_mismatch"),
        ("several audiences without azp", Box::new(|i| { let c = i.client.client_id.clone(); i.override_claim("aud", json!([c, "other"])) }), "id_token_azp_mismatch"),
        ("expired", Box::new(move |i| i.override_claim("exp", json!(now - 3600))), "id_token_expired"),
        ("issued in the future", Box::new(move |i| i.override_claim("iat", json!(now + 3600))), "id_token_issued_in_future"),
        ("another nonce", Box::new(|i| i.override_claim("nonce", json!("replayed-nonce"))), "id_token_nonce_mismatch"),
        ("no nonce", Box::new(|i| i.override_claim("nonce", Value::Null)), "id_token_nonce_mismatch"),
        ("iss parameter of another provider (RFC 9207)", Box::new(|i| i.update(|b| b.authorize_iss = IssParameter::Wrong("https://evil.example".into()))), "callback_issuer_mismatch"),
        ("the IdP's error", Box::new(|i| i.update(|b| b.authorize_error = Some(oidc_idp::AuthorizeError { error: "access_denied".into(), description: "The user is not assigned to the app".into() }))), "idp_error"),
        ("email_verified false", Box::new(|i| i.override_claim("email_verified", json!(false))), "email_not_verified_by_idp"),
        ("a claim holding U+0000", Box::new(|i| i.override_claim("name", json!("Ann\u{0}Admin"))), "id_token_claim_invalid"),
        ("a group holding U+0000", Box::new(|i| i.override_claim("groups", json!(["Staff", "\u{0}"]))), "id_token_claim_invalid"),
    ];
    for (what, setup, reason) in cases {
        idp.update(|b| *b = oidc_idp::Behaviour::for_profile(Profile::Entra));
        setup(&idp);
        let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme")).await;
        assert!(landing.status.is_client_error(), "{what}: {} {}", landing.status, landing.body);
        assert!(landing.location.is_none(), "{what}: no redirect to the app");
        assert!(landing.body.contains(reason), "{what}: {}", landing.body);
        let logged = last_sign_in(&app, "acme").await;
        assert_eq!(logged["outcome"], "failure", "{what}");
        assert_eq!(logged["connection_id"], connection_id.as_str(), "{what}");
        assert_eq!(logged["reason"], reason, "{what}");
        assert!(users(&app, "acme").await.is_empty(), "{what}: no user");
    }
    // A callback holding U+0000 (here in the IdP's error description) cannot be
    // read, its flow not even found: refused as malformed, nothing written.
    idp.update(|b| b.authorize_error = Some(oidc_idp::AuthorizeError {
        error: "access_denied".into(),
        description: "no\u{0}pe".into(),
    }));
    let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme")).await;
    assert_eq!(landing.status, StatusCode::BAD_REQUEST, "{}", landing.body);
    assert!(landing.location.is_none());
    assert!(landing.body.contains("callback_malformed"), "{}", landing.body);
    assert!(users(&app, "acme").await.is_empty());
    // And the honest token still signs in.
    idp.update(|b| *b = oidc_idp::Behaviour::for_profile(Profile::Entra));
    let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme")).await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER, "{}", landing.body);
}}

both_backends! {
    async fn a_flow_is_used_once_and_only_by_its_state(db: TestDb) {
    let app = spawn(db, true).await;
    let (idp, client, _) = scripted(&app, Profile::Okta).await;
    let browser = app.browser();
    let response = browser
        .get(authorize_url(&app, &client, "&tenant=acme"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::FOUND);
    let to_idp = response.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(to_idp.starts_with(&idp.issuer), "{to_idp}");
    let response = browser.get(&to_idp).send().await.expect("idp");
    let callback = response.headers()["location"].to_str().expect("ascii").to_owned();
    // A made-up state: refused, nothing consumed.
    let forged = callback.replace("state=", "state=x");
    let response = browser.get(&forged).send().await.expect("forged");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // The real one, once.
    let response = browser.get(&callback).send().await.expect("callback");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = browser.get(&callback).send().await.expect("again");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.expect("body").contains("unknown_request"));
}}

both_backends! {
    async fn the_jwks_is_fetched_again_for_a_new_key_at_most_once_a_minute(db: TestDb) {
    let app = spawn(db, true).await;
    let (idp, client, _) = scripted(&app, Profile::Entra).await;
    // The IdP rolls its key; idbridge's cached JWKS is fresh: no refetch yet.
    idp.rotate_key(false);
    idp.reset_counters();
    let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme")).await;
    assert_eq!(last_sign_in(&app, "acme").await["reason"], "id_token_unknown_key", "{}", landing.body);
    assert_eq!(idp.jwks_fetches(), 0);
    // A minute later, the unknown kid makes idbridge fetch the JWKS once, and the
    // sign-in goes through.
    app.clock.advance(time::Duration::seconds(61));
    let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme")).await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER, "{}", landing.body);
    assert_eq!(idp.jwks_fetches(), 1);
}}

both_backends! {
    async fn connections_are_checked_before_they_are_stored(db: TestDb) {
    let app = spawn(db, true).await;
    app.create_tenant("acme").await;
    let idp = oidc_idp::start(Profile::Plain).await;
    let bad = |body: Value| {
        let app = &app;
        async move {
            app.admin(Method::POST, "/api/v1/tenants/acme/connections")
                .json(&body)
                .send()
                .await
                .expect("send")
        }
    };
    // Discovery that names another issuer.
    idp.update(|b| b.discovery_issuer = Some("https://login.evil.example".into()));
    let body = expect_error(
        bad(json!({"type": "oidc", "issuer": idp.issuer, "client_id": "c", "client_secret": "s"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert!(body.to_string().contains("issuer"), "{body}");
    idp.update(|b| b.discovery_issuer = None);
    // Only HMAC advertised.
    idp.update(|b| b.id_token_signing_alg_values_supported = vec!["HS256".into()]);
    expect_error(
        bad(json!({"type": "oidc", "issuer": idp.issuer, "client_id": "c"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    idp.update(|b| b.id_token_signing_alg_values_supported = vec!["RS256".into()]);
    for body in [
        json!({"type": "oidc", "issuer": "ftp://x", "client_id": "c"}),
        json!({"type": "oidc", "issuer": idp.issuer}),
        json!({"type": "oidc", "issuer": idp.issuer, "client_id": "c", "scopes": ["bad scope"]}),
        json!({"type": "oidc", "issuer": idp.issuer, "client_id": "c", "extra": 1}),
        json!({"type": "ldap"}),
    ] {
        expect_error(bad(body.clone()).await, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    expect_error(
        bad(json!({"type": "oidc", "issuer": idp.issuer, "client_id": "c", "domains": ["not a domain"]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_domain",
    )
    .await;
    let list: Value = app.admin_get("/api/v1/tenants/acme/connections").await;
    assert_eq!(list["data"], json!([]), "nothing stored");
    // Two connections may not serve one domain.
    add_connection(&app, "acme", json!({"type": "oidc", "issuer": idp.issuer, "client_id": "c", "domains": ["acme.example"]})).await;
    expect_error(
        bad(json!({"type": "oidc", "issuer": idp.issuer, "client_id": "d", "domains": ["ACME.example"]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
}}

both_backends! {
    async fn without_a_secret_key_no_client_secret_is_stored(db: TestDb) {
    let app = spawn(db, false).await;
    app.create_tenant("acme").await;
    let idp = oidc_idp::start(Profile::Plain).await;
    let response = app
        .admin(Method::POST, "/api/v1/tenants/acme/connections")
        .json(&json!({"type": "oidc", "issuer": idp.issuer, "client_id": "c", "client_secret": "s3cret"}))
        .send()
        .await
        .expect("send");
    let body = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(body.to_string().contains("--secret-key"), "{body}");
}}

both_backends! {
    async fn the_saml_connection_is_listed_and_routing_picks_by_domain(db: TestDb) {
    let app = spawn(db, true).await;
    let client = register_app(&app).await;
    app.create_tenant("acme").await;
    let saml_idp = idbridge_testkit::saml::TestIdp::entra(idbridge_testkit::saml::Key::Rsa2048);
    let response = app
        .admin(Method::PUT, "/api/v1/tenants/acme/saml")
        .json(&json!({"idp_metadata_xml": saml_idp.metadata_xml()}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let list: Value = app.admin_get("/api/v1/tenants/acme/connections").await;
    let saml = &list["data"][0];
    assert_eq!(saml["type"], "saml");
    assert_eq!(saml["acs_url"], app.url("/saml/acme/acs"));
    let saml_id = saml["id"].as_str().expect("id").to_owned();

    let idp = oidc_idp::start(Profile::Okta).await;
    let oidc = add_connection(
        &app,
        "acme",
        json!({"type": "oidc", "issuer": idp.issuer, "client_id": idp.client.client_id,
               "client_secret": idp.client.client_secret, "domains": ["contractors.example"]}),
    )
    .await;
    let to = |extra: &str| {
        let url = authorize_url(&app, &client, extra);
        let browser = app.browser();
        async move {
            let response = browser.get(url).send().await.expect("authorize");
            assert_eq!(response.status(), StatusCode::FOUND);
            response.headers()["location"].to_str().expect("ascii").to_owned()
        }
    };
    // No hint: the SAML connection (no default set, the first SAML one).
    assert!(to("&tenant=acme").await.starts_with(&saml_idp.sso_url));
    // The contractors' domain: the OIDC connection.
    assert!(to("&tenant=acme&login_hint=kim%40contractors.example").await.starts_with(&idp.issuer));
    // connection= wins.
    assert!(to(&format!("&tenant=acme&connection={}", oidc["id"].as_str().expect("id"))).await.starts_with(&idp.issuer));
    assert!(to(&format!("&tenant=acme&login_hint=kim%40contractors.example&connection={saml_id}")).await.starts_with(&saml_idp.sso_url));
    // An unknown connection is refused at the app's redirect URI.
    let location = to(&format!("&tenant=acme&connection={}", uuid::Uuid::now_v7())).await;
    assert!(location.starts_with(CALLBACK) && location.contains("error=invalid_request"), "{location}");

    // The lookup names the connection.
    let lookup: Value = app.admin_get("/api/v1/lookup?email=kim%40contractors.example").await;
    assert_eq!(lookup["tenant"], Value::Null, "the domain is not verified");
    assert!(lookup.get("connection").is_none(), "{lookup}");

    // Removing the SAML connection removes its settings.
    let response = app
        .admin(Method::DELETE, &format!("/api/v1/tenants/acme/connections/{saml_id}"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let saml: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
    assert!(saml["connection"].is_null() || saml.get("idp_entity_id").is_none_or(Value::is_null), "{saml}");
    // Now the OIDC connection is the only one: the tenant's default.
    assert!(to("&tenant=acme").await.starts_with(&idp.issuer));
}}

both_backends! {
    async fn test_connection_shows_the_claims_and_issues_no_code(db: TestDb) {
    let app = spawn(db, true).await;
    let (idp, _client, id) = scripted(&app, Profile::Entra).await;
    let response = app
        .admin(Method::POST, &format!("/api/v1/tenants/acme/connections/{id}/test"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let started: Value = response.json().await.expect("json");
    let login_url = started["login_url"].as_str().expect("login_url");
    assert!(login_url.starts_with(&idp.issuer));
    assert!(login_url.contains("prompt=login"));
    let landing = browse(&app, login_url).await;
    assert_eq!(landing.status, StatusCode::OK, "{}", landing.body);
    assert!(landing.body.contains("@acme.example"), "{}", landing.body);
    assert!(users(&app, "acme").await.is_empty(), "a test creates no user");
    assert_eq!(last_sign_in(&app, "acme").await["test"], true);
}}

both_backends! {
    async fn a_refused_oidc_test_says_what_to_change_at_the_idp(db: TestDb) {
    let app = spawn(db, true).await;
    let (idp, _client, id) = scripted(&app, Profile::Entra).await;
    // The ID token is for another client. (On loopback the IdP cannot be told from
    // its issuer, so the advice is the generic one; the vendors' words are held by
    // idbridge-app's unit tests of `sign_in::fix`.)
    idp.override_claim("aud", json!("00000000-0000-0000-0000-00000000beef"));
    let response = app
        .admin(Method::POST, &format!("/api/v1/tenants/acme/connections/{id}/test"))
        .send()
        .await
        .expect("send");
    let started: Value = response.json().await.expect("json");
    let landing = browse(&app, started["login_url"].as_str().expect("login_url")).await;
    assert!(landing.body.contains("<title>Test connection failed</title>"), "{}", landing.body);
    assert!(landing.body.contains("How to fix it in your identity provider"), "{}", landing.body);
    assert!(landing.body.contains("The OAuth client at the IdP"), "{}", landing.body);
    assert!(landing.body.contains("id_token_audience_mismatch"));
    let logged = last_sign_in(&app, "acme").await;
    assert_eq!((logged["test"].as_bool(), logged["reason"].as_str()), (Some(true), Some("id_token_audience_mismatch")));
    assert!(users(&app, "acme").await.is_empty());
}}

both_backends! {
    async fn a_flow_started_on_one_process_finishes_on_another(db: TestDb) {
        use crate::helpers::{ADMIN_KEY, SECRET_KEY, ServerProcess};
        let idp = oidc_idp::start(Profile::Okta).await;
        let flags = [
            "--public-url",
            "http://idb.example",
            "--allow-private-urls",
            "--secret-key",
            SECRET_KEY,
        ];
        let a = ServerProcess::start(Some(db.url()), &flags, "warn").await;
        let b = ServerProcess::start(Some(db.url()), &flags, "warn").await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let admin = |method: Method, path: &str| {
            http.request(method, a.url(path)).bearer_auth(ADMIN_KEY)
        };
        let response = admin(Method::POST, "/api/v1/tenants")
            .json(&json!({"slug": "acme", "name": "Acme"}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let client: Value = admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app", "redirect_uris": [CALLBACK]}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        let response = admin(Method::POST, "/api/v1/tenants/acme/connections")
            .json(&json!({"type": "oidc", "issuer": idp.issuer, "client_id": idp.client.client_id,
                          "client_secret": idp.client.client_secret}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::CREATED, "{:?}", response.text().await);
        let client_id = client["client_id"].as_str().expect("client_id");
        let start = a.url(&format!(
            "/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20email&state=s&nonce=n&tenant=acme",
            crate::helpers::q(CALLBACK)
        ));
        // A starts the flow…
        let response = http.get(start).send().await.expect("authorize");
        assert_eq!(response.status(), StatusCode::FOUND, "{}", a.logs());
        let to_idp = response.headers()["location"].to_str().expect("ascii").to_owned();
        let response = http.get(&to_idp).send().await.expect("idp");
        let callback = response.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(callback.starts_with("http://idb.example/oidc/acme/callback?"), "{callback}");
        // …and B, behind the same public URL, receives the callback.
        let at_b = callback.replace("http://idb.example", &b.base);
        let response = http.get(&at_b).send().await.expect("callback");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", b.logs());
        let location = response.headers()["location"].to_str().expect("ascii").to_owned();
        let code = query_of(&location)["code"].clone();
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&client_id={client_id}&client_secret={}",
            crate::helpers::q(&code),
            crate::helpers::q(CALLBACK),
            crate::helpers::q(client["client_secret"].as_str().expect("secret"))
        );
        let tokens: Value = http
            .post(a.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        let claims = claims_of(tokens["id_token"].as_str().expect("id_token"));
        assert_eq!(claims["idp"], "oidc");
        // The client secret was sealed by A and opened by B: the same --secret-key.
        assert!(claims["email"].as_str().expect("email").ends_with("@acme.example"));
    }
}

both_backends! {
    async fn a_key_rotation_seals_every_client_secret_again(db: TestDb) {
        use idbridge_core::sealed::Keyring;
        use secrecy::ExposeSecret;
        let app = spawn(db, true).await;
        let (idp, _client, id) = scripted(&app, Profile::Okta).await;
        let id = uuid::Uuid::parse_str(&id).expect("id");
        let old = crate::helpers::SECRET_KEY;
        let new = Keyring::generate_key();
        // The operator restarts with NEW,OLD: housekeeping seals the secret again.
        let mut config = (*app.state.app.config).clone();
        config.secret_keys = Some(std::sync::Arc::new(
            Keyring::parse(&format!("{new},{old}")).expect("keys"),
        ));
        let rotated = idbridge_app::App::new(app.store.clone(), app.clock.clone(), config);
        assert_eq!(idbridge_app::idp_connections::reseal_secrets(&rotated).await.expect("reseal"), 1);
        assert_eq!(idbridge_app::idp_connections::reseal_secrets(&rotated).await.expect("again"), 0);
        // Now NEW alone opens it.
        let tenant = app.store.tenant_by_slug(&idbridge_core::TenantSlug::parse("acme").expect("slug")).await.expect("read").expect("tenant");
        let record = app.store.connection(tenant.id, id).await.expect("read").expect("connection");
        let sealed = record.oidc.expect("oidc").sealed_secret.expect("secret");
        let opened = Keyring::parse(&new).expect("key").open(&sealed, id.as_bytes()).expect("opens with NEW");
        assert_eq!(opened.expose_secret(), idp.client.client_secret);
        assert!(Keyring::parse(old).expect("key").open(&sealed, id.as_bytes()).is_err());
    }
}

both_backends! {
    async fn the_directory_and_the_tenant_policy_apply_to_oidc_sign_ins(db: TestDb) {
        let app = spawn(db, true).await;
        let (_idp, client, _) = scripted(&app, Profile::Entra).await;
        // SCIM provisioned the person, then deactivated them: refused, no code.
        let (_, token) = app.create_scim_token("acme").await;
        let scim = crate::helpers::ScimClient {
            app: &app,
            slug: "acme".into(),
            token,
        };
        let user = scim.create_user("ada.lovelace@acme.example").await;
        let id = user["id"].as_str().expect("id");
        scim.expect(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "value": {"active": false}}]})),
            StatusCode::OK,
        )
        .await;
        let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme")).await;
        assert_eq!(landing.status, StatusCode::FORBIDDEN, "{}", landing.body);
        assert_eq!(last_sign_in(&app, "acme").await["reason"], "user_inactive");
        // Active again: the SCIM user signs in, as SCIM wrote them (one user).
        scim.expect(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "value": {"active": true}}]})),
            StatusCode::OK,
        )
        .await;
        let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme")).await;
        assert_eq!(landing.status, StatusCode::SEE_OTHER, "{}", landing.body);
        let back = query_of(&landing.location.expect("to the app"));
        let claims = claims_of(redeem(&app, &client, &back["code"]).await["id_token"].as_str().expect("t"));
        assert_eq!(claims["sub"], id);
        assert_eq!(users(&app, "acme").await.len(), 1);
        // The tenant requires verified domains: acme.example is not verified.
        let response = app
            .admin(Method::PATCH, "/api/v1/tenants/acme")
            .json(&json!({"require_verified_domains": true}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let landing = browse(&app, &authorize_url(&app, &client, "&tenant=acme")).await;
        assert_eq!(landing.status, StatusCode::FORBIDDEN, "{}", landing.body);
        assert_eq!(last_sign_in(&app, "acme").await["reason"], "email_domain_not_verified");
    }
}

both_backends! {
    async fn a_saml_connection_is_patched_with_its_saml_settings_and_nothing_half_done(db: TestDb) {
        let app = spawn(db, true).await;
        app.create_tenant("acme").await;
        let first = idbridge_testkit::saml::TestIdp::entra(idbridge_testkit::saml::Key::Rsa2048);
        let created = add_connection(&app, "acme", json!({"type": "saml", "idp_metadata_xml": first.metadata_xml()})).await;
        let id = created["id"].as_str().expect("id").to_owned();
        let path = format!("/api/v1/tenants/acme/connections/{id}");
        let okta = idbridge_testkit::saml::TestIdp::okta(idbridge_testkit::saml::Key::P256);
        let response = app
            .admin(Method::PATCH, &path)
            .json(&json!({"name": "Okta", "idp_metadata_xml": okta.metadata_xml(), "allow_idp_initiated": false}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text().await);
        let saml: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
        assert_eq!(saml["allow_idp_initiated"], false, "{saml}");
        assert!(saml.to_string().contains(&okta.entity_id), "{saml}");
        // A refused part refuses the whole: the metadata stays Okta's.
        let response = app
            .admin(Method::PATCH, &path)
            .json(&json!({"domains": ["not a domain"], "idp_metadata_xml": first.metadata_xml()}))
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_domain").await;
        let response = app
            .admin(Method::PATCH, &path)
            .json(&json!({"issuer": "https://idp.example", "allow_idp_initiated": true}))
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        let saml: Value = app.admin_get("/api/v1/tenants/acme/saml").await;
        assert!(saml.to_string().contains(&okta.entity_id) && saml["allow_idp_initiated"] == false, "{saml}");
        // An OpenID Connect connection takes no SAML settings.
        let idp = oidc_idp::start(Profile::Plain).await;
        let oidc = add_connection(&app, "acme", json!({"type": "oidc", "issuer": idp.issuer, "client_id": "c"})).await;
        let response = app
            .admin(Method::PATCH, &format!("/api/v1/tenants/acme/connections/{}", oidc["id"].as_str().expect("id")))
            .json(&json!({"idp_metadata_xml": okta.metadata_xml()}))
            .send()
            .await
            .expect("send");
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }

    async fn one_tenant_cannot_see_or_use_another_tenants_connection(db: TestDb) {
        let app = spawn(db, true).await;
        let (idp, client, id) = scripted(&app, Profile::Okta).await;
        app.create_tenant("globex").await;
        let path = format!("/api/v1/tenants/globex/connections/{id}");
        for (method, body) in [
            (Method::GET, None),
            (Method::PATCH, Some(json!({"name": "mine now"}))),
            (Method::DELETE, None),
        ] {
            let mut request = app.admin(method.clone(), &path);
            if let Some(body) = body {
                request = request.json(&body);
            }
            expect_error(request.send().await.expect("send"), StatusCode::NOT_FOUND, "not_found").await;
        }
        let response = app.admin(Method::POST, &format!("{path}/test")).send().await.expect("send");
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        // Globex's sign-in cannot be routed through acme's connection.
        let browser = app.browser();
        let response = browser
            .get(authorize_url(&app, &client, &format!("&tenant=globex&connection={id}")))
            .send()
            .await
            .expect("authorize");
        let location = response.headers()["location"].to_str().expect("ascii").to_owned();
        assert!(location.starts_with(CALLBACK) && location.contains("unknown_connection"), "{location}");
        assert_eq!(idp.authorize_requests(), 0);
        // Acme's connection is as it was.
        let mine = app.admin(Method::GET, &format!("/api/v1/tenants/acme/connections/{id}")).send().await.expect("send");
        assert_eq!(mine.status(), StatusCode::OK);
        // A callback for acme's flow at globex's address is refused and the flow gone.
        let response = browser.get(authorize_url(&app, &client, "&tenant=acme")).send().await.expect("authorize");
        let to_idp = response.headers()["location"].to_str().expect("ascii").to_owned();
        let response = browser.get(&to_idp).send().await.expect("idp");
        let callback = response.headers()["location"].to_str().expect("ascii").to_owned();
        let elsewhere = callback.replace("/oidc/acme/", "/oidc/globex/");
        let response = browser.get(&elsewhere).send().await.expect("globex");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("location").is_none());
        assert!(users(&app, "globex").await.is_empty() && users(&app, "acme").await.is_empty());
    }
}
