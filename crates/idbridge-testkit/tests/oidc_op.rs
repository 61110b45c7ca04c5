//! The real OpenID Provider harness (oidc-provider under Node.js): discovery, then
//! the authorization code flow with PKCE S256 as a browser would run it (cookies,
//! redirects followed by hand while they stay on the OP), the token exchange with
//! client_secret_basic, the ID token's claims, userinfo, and `login_hint`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_testkit::oidc_op::{OidcOp, OpClient};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";
const CLIENT_ID: &str = "idbridge-test";
const CLIENT_SECRET: &str = "a-client-secret-long-enough-for-hs256-0123456789";

fn accounts() -> Value {
    json!({
        "alice": {
            "email": "alice@acme.example",
            "email_verified": true,
            "name": "Alice Liddell",
            "given_name": "Alice",
            "family_name": "Liddell",
            "groups": ["engineering", "admins"],
            "department": "R&D",
        },
        "bob": {
            "email": "bob@acme.example",
            "email_verified": false,
            "name": "Bob Builder",
            "given_name": "Bob",
            "family_name": "Builder",
            "groups": ["sales"],
        },
    })
}

async fn start() -> OidcOp {
    OidcOp::start(
        &[OpClient::new(CLIENT_ID, CLIENT_SECRET, REDIRECT_URI)],
        accounts(),
    )
    .await
}

/// A fresh browser: its own cookie jar, redirects left to the test.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client")
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn decode_segment(segment: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .expect("a JWS segment is base64url");
    serde_json::from_slice(&bytes).expect("a JWS segment is JSON")
}

async fn discovery(op: &OidcOp, http: &reqwest::Client) -> Value {
    let response = http
        .get(op.discovery_url())
        .send()
        .await
        .expect("discovery answers");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response.json().await.expect("discovery is JSON")
}

struct Signed {
    id_token_header: Value,
    id_token_claims: Value,
    userinfo: Value,
}

/// Runs the whole flow in a fresh browser; returns the ID token's header and claims
/// and what userinfo says.
async fn sign_in(op: &OidcOp, login_hint: Option<&str>, scope: &str) -> Signed {
    let http = browser();
    let meta = discovery(op, &http).await;
    let endpoint = |name: &str| {
        meta[name]
            .as_str()
            .unwrap_or_else(|| panic!("discovery has no {name}: {meta}"))
            .to_owned()
    };

    let verifier = "pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG";
    let state = "state-8f2c";
    let nonce = "nonce-41d7";
    let challenge = s256(verifier);
    let mut authorize = url::Url::parse(&endpoint("authorization_endpoint"))
        .expect("authorization_endpoint is a URL");
    {
        let mut query = authorize.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("scope", scope)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(hint) = login_hint {
            query.append_pair("login_hint", hint);
        }
    }

    // Follow the OP's redirects (sign-in, consent) until one leaves its host.
    let op_origin = url::Url::parse(&op.issuer)
        .expect("the issuer is a URL")
        .origin();
    let mut next = authorize;
    let callback = loop {
        assert_eq!(next.origin(), op_origin, "left the OP for {next}");
        let response = http
            .get(next.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {next}: {e}"));
        let status = response.status();
        assert!(
            status == reqwest::StatusCode::FOUND || status == reqwest::StatusCode::SEE_OTHER,
            "GET {next}: {status}, {}\n--- OP log ---\n{}",
            response.text().await.unwrap_or_default(),
            op.log()
        );
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .expect("a redirect has a Location")
            .to_str()
            .expect("an ASCII Location");
        let location = next.join(location).expect("Location is a URL reference");
        if location.as_str().starts_with(REDIRECT_URI) {
            break location;
        }
        next = location;
    };

    let params: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("the redirect to the client has no {name}: {callback}"))
    };
    assert_eq!(param("state"), state);
    assert_eq!(param("iss"), op.issuer, "RFC 9207 iss");
    let code = param("code");

    let token = http
        .post(endpoint("token_endpoint"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ]))
        .send()
        .await
        .expect("the token endpoint answers");
    assert_eq!(token.status(), reqwest::StatusCode::OK, "{}", op.log());
    let token: Value = token.json().await.expect("the token response is JSON");
    assert_eq!(token["token_type"], "Bearer", "{token}");

    let id_token = token["id_token"].as_str().expect("an id_token");
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS in compact form: {id_token}");
    assert!(!parts[2].is_empty(), "a signed JWS");
    let id_token_header = decode_segment(parts[0]);
    let id_token_claims = decode_segment(parts[1]);
    assert_eq!(id_token_claims["iss"], op.issuer);
    assert_eq!(id_token_claims["aud"], CLIENT_ID);
    assert_eq!(id_token_claims["nonce"], nonce);

    let access_token = token["access_token"].as_str().expect("an access_token");
    let userinfo = http
        .get(endpoint("userinfo_endpoint"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo answers");
    assert_eq!(userinfo.status(), reqwest::StatusCode::OK, "{}", op.log());
    let userinfo = userinfo.json().await.expect("userinfo is JSON");

    Signed {
        id_token_header,
        id_token_claims,
        userinfo,
    }
}

#[tokio::test]
async fn discovery_and_keys() {
    let op = start().await;
    let http = browser();
    let meta = discovery(&op, &http).await;
    assert_eq!(meta["issuer"], op.issuer);
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    for scope in ["openid", "email", "profile", "groups"] {
        let scopes = meta["scopes_supported"].as_array().expect("scopes");
        assert!(scopes.iter().any(|s| s == scope), "{scope}: {meta}");
    }

    let jwks_uri = meta["jwks_uri"].as_str().expect("a jwks_uri");
    let jwks: Value = http
        .get(jwks_uri)
        .send()
        .await
        .expect("the JWKS answers")
        .json()
        .await
        .expect("the JWKS is JSON");
    let keys = jwks["keys"].as_array().expect("keys");
    let algs: Vec<&str> = keys.iter().filter_map(|k| k["alg"].as_str()).collect();
    assert_eq!(algs, ["RS256", "ES256"], "{jwks}");
    for key in keys {
        assert!(key.get("d").is_none(), "a private part is published: {key}");
        assert!(key["kid"].is_string(), "{key}");
    }
}

#[tokio::test]
async fn code_flow_with_pkce_signs_in_the_first_account() {
    let op = start().await;
    let signed = sign_in(&op, None, "openid email profile groups").await;

    assert_eq!(signed.id_token_header["alg"], "RS256");
    let claims = &signed.id_token_claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@acme.example");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["given_name"], "Alice");
    assert_eq!(claims["family_name"], "Liddell");
    assert_eq!(claims["groups"], json!(["engineering", "admins"]));
    assert_eq!(claims["department"], "R&D", "extra claims go with profile");

    let userinfo = &signed.userinfo;
    assert_eq!(userinfo["sub"], "alice");
    assert_eq!(userinfo["email"], "alice@acme.example");
    assert_eq!(userinfo["groups"], json!(["engineering", "admins"]));
}

#[tokio::test]
async fn login_hint_picks_the_account_and_scopes_pick_the_claims() {
    let op = start().await;
    let signed = sign_in(&op, Some("bob"), "openid email").await;

    let claims = &signed.id_token_claims;
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["email"], "bob@acme.example");
    assert_eq!(claims["email_verified"], false);
    // Neither profile nor groups was asked for.
    assert!(claims.get("name").is_none(), "{claims}");
    assert!(claims.get("groups").is_none(), "{claims}");
    assert!(
        signed.userinfo.get("groups").is_none(),
        "{}",
        signed.userinfo
    );

    // An unknown hint falls back to the first account.
    let signed = sign_in(&op, Some("mallory"), "openid").await;
    assert_eq!(signed.id_token_claims["sub"], "alice");
}

#[tokio::test]
async fn pkce_is_required() {
    let op = start().await;
    let http = browser();
    let meta = discovery(&op, &http).await;
    let mut authorize = url::Url::parse(
        meta["authorization_endpoint"]
            .as_str()
            .expect("an authorization_endpoint"),
    )
    .expect("a URL");
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid")
        .append_pair("state", "s");
    let response = http.get(authorize).send().await.expect("an answer");
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("a redirect back to the client")
        .to_str()
        .expect("ASCII");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert!(location.contains("error=invalid_request"), "{location}");
    assert!(location.contains("PKCE"), "{location}");
}
