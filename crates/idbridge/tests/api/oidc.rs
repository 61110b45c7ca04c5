//! The app's side of sign-in, over real HTTP: a stock OpenID Connect relying-party
//! library (`openidconnect`, as an app would use it) runs discovery, the
//! authorization code flow with PKCE through a SAML sign-in at the test IdP, the
//! token exchange, ID token verification against JWKS, and userinfo. Then every
//! refusal the token endpoint and userinfo owe an attacker.

use std::collections::HashMap;

use base64::Engine as _;
use idbridge_core::Clock;
use idbridge_saml::authn_request::inflate_redirect_payload;
use idbridge_testkit::both_backends;
use idbridge_testkit::saml::{Key, ResponseSpec, TestIdp};
use openidconnect::core::{CoreClient, CoreIdToken, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

const CALLBACK: &str = "https://app.example.com/auth/callback";

/// openidconnect's HTTP, carried by the suite's reqwest. Redirects are not followed
/// (the OIDC spec forbids it for these requests).
async fn http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client
        .request(request.method().clone(), request.uri().to_string())
        .headers(request.headers().clone())
        .body(request.body().clone())
        .send()
        .await?;
    let mut out = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    Ok(out
        .body(response.bytes().await?.to_vec())
        .expect("response"))
}

struct App {
    client_id: String,
    secret: Option<String>,
}

async fn register_app(app: &TestApp, public: bool) -> App {
    let response = app
        .admin(Method::POST, "/api/v1/clients")
        .json(&json!({"name": "app", "redirect_uris": [CALLBACK], "public": public}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    App {
        client_id: body["client_id"].as_str().expect("client_id").to_owned(),
        secret: body["client_secret"].as_str().map(str::to_owned),
    }
}

/// A tenant `slug` whose IdP is the test IdP (Entra-shaped).
async fn tenant_with_idp(app: &TestApp, slug: &str) -> TestIdp {
    let idp = TestIdp::entra(Key::Rsa2048);
    app.create_tenant(slug).await;
    let response = app
        .admin(Method::PUT, &format!("/api/v1/tenants/{slug}/saml"))
        .json(&json!({"idp_metadata_xml": idp.metadata_xml()}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    idp
}

/// The browser's trip from an authorization URL through the IdP back to the app:
/// returns the callback's query parameters.
async fn browse(
    app: &TestApp,
    idp: &TestIdp,
    slug: &str,
    authorize_url: &str,
    email: &str,
) -> HashMap<String, String> {
    browse_with(app, idp, slug, authorize_url, email, |_| {}).await
}

/// [`browse`], with the IdP's response changed by `edit` (claims, mostly).
async fn browse_with(
    app: &TestApp,
    idp: &TestIdp,
    slug: &str,
    authorize_url: &str,
    email: &str,
    edit: impl FnOnce(&mut ResponseSpec),
) -> HashMap<String, String> {
    let browser = app.browser();
    let response = browser.get(authorize_url).send().await.expect("authorize");
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "{:?}",
        response.text().await
    );
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.starts_with(&idp.sso_url),
        "into SAML at the IdP: {location}"
    );
    let query: HashMap<String, String> = url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    let request_xml = inflate_redirect_payload(&query["SAMLRequest"]).expect("inflate");
    let id = request_xml
        .split(" ID=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("ID");
    let mut spec = idp.response_spec(
        &app.url(&format!("/saml/{slug}")),
        &app.url(&format!("/saml/{slug}/acs")),
        Some(id),
        email,
        app.clock.now(),
    );
    edit(&mut spec);
    let response = browser
        .post(app.url(&format!("/saml/{slug}/acs")))
        .form(&[
            ("SAMLResponse", idp.post_value(&spec).as_str()),
            ("RelayState", query["RelayState"].as_str()),
        ])
        .send()
        .await
        .expect("acs");
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        response.text().await
    );
    let location = response.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with(CALLBACK), "{location}");
    url::Url::parse(location)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// The authorization URL a simple app would build by hand.
fn authorize_url(app: &TestApp, client_id: &str, extra: &str) -> String {
    format!(
        "{}?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20email%20profile&state=st-1&nonce=n-1{extra}",
        app.url("/oauth/authorize"),
        crate::helpers::q(CALLBACK),
    )
}

/// A code for `client` by way of a full sign-in of `email` at tenant `slug`.
async fn code_for(app: &TestApp, idp: &TestIdp, slug: &str, client: &App, extra: &str) -> String {
    let url = authorize_url(app, &client.client_id, &format!("&tenant={slug}{extra}"));
    let callback = browse(app, idp, slug, &url, "ada@example.com").await;
    assert_eq!(callback["state"], "st-1");
    assert_eq!(callback["iss"], app.base);
    callback["code"].clone()
}

async fn token_request(app: &TestApp, client: &App, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = app.http.post(app.url("/oauth/token")).form(form);
    if let Some(secret) = &client.secret {
        request = request.basic_auth(&client.client_id, Some(secret));
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.expect("json"))
}

async fn exchange(app: &TestApp, client: &App, code: &str) -> (StatusCode, Value) {
    token_request(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await
}

async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("send")
}

fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

both_backends! {
    async fn a_stock_oidc_library_signs_in_through_saml(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let registered = register_app(&app, false).await;

        let metadata = CoreProviderMetadata::discover_async(
            IssuerUrl::new(app.base.clone()).expect("issuer"),
            &http,
        )
        .await
        .expect("discovery and JWKS");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(registered.client_id.clone()),
            registered.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).expect("redirect"));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .add_extra_param("tenant", "acme")
            .set_pkce_challenge(challenge)
            .url();

        let callback = browse(&app, &idp, "acme", url.as_str(), "ada@example.com").await;
        assert_eq!(&callback["state"], csrf.secret());

        let tokens = client
            .exchange_code(AuthorizationCode::new(callback["code"].clone()))
            .expect("token endpoint known")
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("token exchange");
        let id_token = tokens.id_token().expect("id_token");
        let now = app.clock.now();
        let verifier = client
            .id_token_verifier()
            .set_time_fn(move || {
                chrono::DateTime::from_timestamp(now.unix_timestamp(), 0).expect("time")
            });
        let claims = id_token.claims(&verifier, &nonce).expect("ID token verifies against JWKS");
        assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));
        assert_eq!(claims.email_verified(), Some(false), "the domain is not verified");
        assert_eq!(claims.issuer().as_str(), app.base);

        let raw = jwt_payload(&id_token.to_string());
        assert_eq!(raw["tenant"], "acme");
        assert_eq!(raw["idp"], "saml");
        assert_eq!(raw["name"], "Ada Lovelace");
        assert!(raw["roles"].is_array() && raw["groups"].is_array());
        let users: Value = app.admin_get("/api/v1/tenants/acme/users").await;
        assert_eq!(raw["sub"], users["data"][0]["id"], "sub is the directory user's id");
        assert_ne!(raw["sub"], "ada@example.com");

        let info: Value = client
            .user_info(tokens.access_token().clone(), None)
            .expect("userinfo endpoint known")
            .request_async::<openidconnect::EmptyAdditionalClaims, _, openidconnect::core::CoreGenderClaim>(&http)
            .await
            .map(|c| serde_json::to_value(c).expect("json"))
            .expect("userinfo");
        assert_eq!(info["sub"], raw["sub"]);
        assert_eq!(info["email"], "ada@example.com");

        // A tampered ID token (one claim changed, signature kept) is refused.
        let text = id_token.to_string();
        let mut parts: Vec<String> = text.split('.').map(str::to_owned).collect();
        let mut payload = jwt_payload(&text);
        payload["email"] = json!("eve@example.com");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&payload).expect("json"));
        let tampered: CoreIdToken = parts.join(".").parse().expect("still a JWT");
        assert!(tampered.claims(&verifier, &nonce).is_err(), "tampered token accepted");
    }

    async fn saml_role_and_group_claims_reach_the_id_token(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;
        let response = app.admin(Method::PUT, "/api/v1/app-roles")
            .json(&json!({"roles": ["admin", "editor", "viewer"]})).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let response = app.admin(Method::PUT, "/api/v1/tenants/acme/role-mappings")
            .json(&json!({"mappings": [{"source": "group", "value": "Engineering", "role": "editor"}], "policy": "all"}))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        let url = authorize_url(&app, &client.client_id, "&tenant=acme");
        let callback = browse_with(&app, &idp, "acme", &url, "ada@example.com", |s| {
            s.set_attribute(idbridge_saml::claims::MS_ROLE, &["Admin"]);
            s.set_attribute(idbridge_saml::claims::MS_GROUPS, &["Engineering"]);
        })
        .await;
        let (status, tokens) = exchange(&app, &client, &callback["code"]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let id_token = jwt_payload(tokens["id_token"].as_str().expect("id_token"));
        assert_eq!(id_token["roles"], json!(["admin", "editor"]));
        assert_eq!(id_token["groups"], json!(["Engineering"]));
        assert_eq!(id_token["given_name"], "Ada");
    }

    async fn login_hint_finds_the_tenant_by_its_verified_domain(db: TestDb) {
        let dns = crate::dns_server::TestDns::start().await;
        let app = TestApp::spawn_with_dns_resolver(db, dns.addr).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;

        // Before the domain is verified, the hint leads nowhere.
        let url = authorize_url(&app, &client.client_id, "&login_hint=ada%40ACME.test");
        let response = app.browser().get(&url).send().await.expect("send");
        assert!(response.headers()["location"].to_str().expect("ascii").contains("error=invalid_request"));

        let response = app
            .admin(Method::POST, "/api/v1/tenants/acme/domains")
            .json(&json!({"domain": "acme.test"}))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let claim: Value = response.json().await.expect("json");
        dns.add_txt(
            claim["txt_record"]["name"].as_str().expect("name"),
            &[claim["txt_record"]["value"].as_str().expect("value")],
        )
        .await;
        let verified: Value = app
            .admin(Method::POST, "/api/v1/tenants/acme/domains/acme.test/verify")
            .send().await.expect("send").json().await.expect("json");
        assert_eq!(verified["verified"], true, "{verified}");

        let callback = browse(&app, &idp, "acme", &url, "ada@acme.test").await;
        let (status, tokens) = exchange(&app, &client, &callback["code"]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let claims = jwt_payload(tokens["id_token"].as_str().expect("id_token"));
        assert_eq!(claims["email"], "ada@acme.test");
        assert_eq!(claims["email_verified"], true, "the tenant verified acme.test");
        assert_eq!(claims["tenant"], "acme");
    }

    async fn an_es256_client_gets_es256_id_tokens(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let response = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app", "redirect_uris": [CALLBACK], "id_token_signed_response_alg": "ES256"}))
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["id_token_signed_response_alg"], "ES256");
        let registered = App {
            client_id: body["client_id"].as_str().expect("client_id").to_owned(),
            secret: body["client_secret"].as_str().map(str::to_owned),
        };
        let code = code_for(&app, &idp, "acme", &registered, "").await;
        let (status, tokens) = exchange(&app, &registered, &code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let text = tokens["id_token"].as_str().expect("id_token");

        let metadata = CoreProviderMetadata::discover_async(
            IssuerUrl::new(app.base.clone()).expect("issuer"),
            &http,
        )
        .await
        .expect("discovery");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(registered.client_id.clone()),
            registered.secret.clone().map(ClientSecret::new),
        );
        let now = app.clock.now();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256])
            .set_time_fn(move || chrono::DateTime::from_timestamp(now.unix_timestamp(), 0).expect("time"));
        let id_token: CoreIdToken = text.parse().expect("JWT");
        let claims = id_token
            .claims(&verifier, &Nonce::new("n-1".into()))
            .expect("ES256 ID token verifies against JWKS");
        assert_eq!(claims.email().map(|e| e.as_str()), Some("ada@example.com"));

        let bad = app
            .admin(Method::POST, "/api/v1/clients")
            .json(&json!({"name": "app", "redirect_uris": [CALLBACK], "id_token_signed_response_alg": "HS256"}))
            .send().await.expect("send");
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }

    async fn discovery_and_jwks_tell_the_truth(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let doc: Value = app.http.get(app.url("/.well-known/openid-configuration"))
            .send().await.expect("send").json().await.expect("json");
        assert_eq!(doc["issuer"], app.base);
        assert_eq!(doc["token_endpoint"], app.url("/oauth/token"));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        let jwks: Value = app.http.get(app.url("/oauth/jwks"))
            .send().await.expect("send").json().await.expect("json");
        let keys = jwks["keys"].as_array().expect("keys");
        let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().expect("alg")).collect();
        assert!(algs.contains(&"RS256") && algs.contains(&"ES256"), "{algs:?}");
        for key in keys {
            assert!(key.get("d").is_none(), "private key material published");
        }
    }

    async fn rotated_keys_stay_published_for_tokens_they_signed(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;
        let code = code_for(&app, &idp, "acme", &client, "").await;
        let (status, tokens) = exchange(&app, &client, &code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let old_kid = jsonwebtoken_kid(tokens["id_token"].as_str().expect("id_token"));

        let new_kid = idbridge_app::keys::rotate(
            &app.state.app,
            idbridge_oidc::SigningAlgorithm::Rs256,
            &idbridge_app::audit::Audit::cli(Some("test".into())),
        )
        .await
        .expect("rotate");
        assert_ne!(new_kid, old_kid);
        let kids = || async {
            let jwks: Value = app.http.get(app.url("/oauth/jwks"))
                .send().await.expect("send").json().await.expect("json");
            jwks["keys"].as_array().expect("keys").iter()
                .map(|k| k["kid"].as_str().expect("kid").to_owned()).collect::<Vec<_>>()
        };
        let published = kids().await;
        assert!(published.contains(&old_kid) && published.contains(&new_kid));

        let code = code_for(&app, &idp, "acme", &client, "").await;
        let (_, tokens) = exchange(&app, &client, &code).await;
        assert_eq!(jsonwebtoken_kid(tokens["id_token"].as_str().expect("id_token")), new_kid);

        // A day later the retired key is gone from JWKS.
        app.clock.advance(time::Duration::hours(25));
        assert!(!kids().await.contains(&old_kid));
    }

    async fn unregistered_redirect_uri_is_a_page_never_a_redirect(db: TestDb) {
        let app = TestApp::spawn(db).await;
        tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;
        let url = authorize_url(&app, &client.client_id, "&tenant=acme")
            .replace(&crate::helpers::q(CALLBACK), &crate::helpers::q("https://evil.example/cb"));
        let response = app.browser().get(url).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("location").is_none());
        assert!(response.text().await.expect("page").contains("invalid_redirect_uri"));

        let unknown = authorize_url(&app, "0190aaaa-0000-7000-8000-000000000000", "&tenant=acme");
        let response = app.browser().get(unknown).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get("location").is_none());
    }

    async fn request_errors_go_back_to_the_app_with_state(db: TestDb) {
        let app = TestApp::spawn(db).await;
        tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;
        let public = register_app(&app, true).await;
        for (client_id, extra, error) in [
            (&client.client_id, "", "invalid_request"), // no tenant, no login_hint
            (&client.client_id, "&tenant=acme&code_challenge=abc&code_challenge_method=plain", "invalid_request"),
            (&client.client_id, "&tenant=nobody", "invalid_request"),
            (&client.client_id, "&tenant=acme&prompt=none", "login_required"),
            (&client.client_id, "&login_hint=ada%40unverified.example", "invalid_request"),
            (&public.client_id, "&tenant=acme", "invalid_request"), // public: PKCE required
        ] {
            let url = authorize_url(&app, client_id, extra);
            let response = app.browser().get(url).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::FOUND, "{extra}");
            let location = response.headers()["location"].to_str().expect("ascii");
            assert!(location.starts_with(CALLBACK), "{location}");
            let query: HashMap<String, String> =
                url::Url::parse(location).expect("url").query_pairs().into_owned().collect();
            assert_eq!(query["error"], error, "{extra}: {query:?}");
            assert_eq!(query["state"], "st-1");
            assert_eq!(query["iss"], app.base);
        }
        let url = authorize_url(&app, &client.client_id, "&tenant=acme")
            .replace("response_type=code", "response_type=token");
        let response = app.browser().get(url).send().await.expect("send");
        assert!(response.headers()["location"].to_str().expect("ascii")
            .contains("error=unsupported_response_type"));
    }

    async fn a_nul_in_an_authorization_or_token_request_is_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;
        // U+0000 in any parameter: a page, never a redirect, and no sign-in started
        // (PostgreSQL would store none of it; SQLite would have sent it on).
        for (from, to) in [
            ("state=st-1", "state=st%00"),
            ("nonce=n-1", "nonce=n%00-1"),
            ("scope=openid", "scope=openid%00"),
            ("&state=", "&x%00=1&state="),
        ] {
            let url = authorize_url(&app, &client.client_id, "&tenant=acme").replace(from, to);
            let response = app.browser().get(url).send().await.expect("send");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{to}");
            assert!(response.headers().get("location").is_none(), "{to}");
            let page = response.text().await.expect("page");
            assert!(page.contains("invalid_request") && page.contains("U+0000"), "{to}: {page}");
        }
        // At the token endpoint: invalid_request, and the code is still good.
        let code = code_for(&app, &idp, "acme", &client, "").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", "v\u{0}"),
        ];
        let (status, body) = token_request(&app, &client, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        let (status, tokens) = exchange(&app, &client, &code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
    }

    async fn a_code_is_good_once_and_reuse_revokes_its_tokens(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;
        let code = code_for(&app, &idp, "acme", &client, "").await;
        let (status, tokens) = exchange(&app, &client, &code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert_eq!(tokens["token_type"], "Bearer");
        let access = tokens["access_token"].as_str().expect("access_token");
        assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK);

        let (status, again) = exchange(&app, &client, &code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(again["error"], "invalid_grant");
        let refused = userinfo(&app, access).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "the first exchange's token is revoked");
        assert!(refused.headers()["www-authenticate"].to_str().expect("ascii").contains("invalid_token"));
    }

    async fn an_expired_code_is_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;
        let code = code_for(&app, &idp, "acme", &client, "").await;
        app.clock.advance(time::Duration::seconds(61));
        let (status, body) = exchange(&app, &client, &code).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    }

    async fn wrong_secret_and_other_clients_codes_are_refused(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let client_a = register_app(&app, false).await;
        let client_b = register_app(&app, false).await;
        let code = code_for(&app, &idp, "acme", &client_a, "").await;

        let wrong = App { client_id: client_a.client_id.clone(), secret: client_b.secret.clone() };
        let response = app.http.post(app.url("/oauth/token"))
            .basic_auth(&wrong.client_id, wrong.secret.as_ref())
            .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK)])
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get("www-authenticate").is_some());
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "invalid_client");

        // Client B, authenticated, presents A's code.
        let (status, body) = exchange(&app, &client_b, &code).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

        // client_secret_post works too (with a fresh code).
        let code = code_for(&app, &idp, "acme", &client_a, "").await;
        let response = app.http.post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CALLBACK),
                ("client_id", client_a.client_id.as_str()),
                ("client_secret", client_a.secret.as_deref().expect("secret")),
            ])
            .send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
    }

    async fn pkce_binds_the_code_to_its_verifier(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let public = register_app(&app, true).await;
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
        let form = |code: &str, verifier: Option<&'static str>| {
            let mut f = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code.to_owned()),
                ("redirect_uri", CALLBACK.to_owned()),
                ("client_id", public.client_id.clone()),
            ];
            if let Some(v) = verifier {
                f.push(("code_verifier", v.to_owned()));
            }
            f
        };
        let app = &app;
        let post = |form: Vec<(&'static str, String)>| async move {
            let response = app.http.post(app.url("/oauth/token")).form(&form).send().await.expect("send");
            (response.status(), response.json::<Value>().await.expect("json"))
        };
        let code = code_for(app, &idp, "acme", &public, challenge).await;
        let (status, body) = post(form(&code, Some("eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
        let code = code_for(app, &idp, "acme", &public, challenge).await;
        let (status, _) = post(form(&code, None)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let code = code_for(app, &idp, "acme", &public, challenge).await;
        let (status, body) = post(form(&code, Some(verifier))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["id_token"].is_string());
    }

    async fn a_deactivated_user_loses_userinfo(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let idp = tenant_with_idp(&app, "acme").await;
        let client = register_app(&app, false).await;
        let code = code_for(&app, &idp, "acme", &client, "").await;
        let (_, tokens) = exchange(&app, &client, &code).await;
        let access = tokens["access_token"].as_str().expect("access_token");
        let sub = jwt_payload(tokens["id_token"].as_str().expect("id_token"))["sub"]
            .as_str().expect("sub").to_owned();

        let (_, token) = app.create_scim_token("acme").await;
        let scim = crate::helpers::ScimClient { app: &app, slug: "acme".into(), token };
        scim.expect(
            Method::PATCH,
            &format!("/Users/{sub}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            })),
            StatusCode::OK,
        )
        .await;
        let response = userinfo(&app, access).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "invalid_token");
        // Garbage and missing tokens are refused the same way.
        assert_eq!(userinfo(&app, "idb_at_nope").await.status(), StatusCode::UNAUTHORIZED);
        let bare = app.http.get(app.url("/oauth/userinfo")).send().await.expect("send");
        assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    }
}

fn jsonwebtoken_kid(jwt: &str) -> String {
    let header = jwt.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("base64url");
    let header: Value = serde_json::from_slice(&bytes).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}
