//! The scripted OpenID Provider: an authorization code flow with PKCE against it,
//! the shapes of its ID tokens, and a few of its refusals and hostile tokens.

use idbridge_testkit::oidc_idp::{self, Profile, ScriptedIdp, Tamper, decode_unverified};
use serde_json::Value;

const REDIRECT_URI: &str = "https://rp.acme.example/oidc/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client")
}

/// Runs /authorize; returns the redirect's query parameters.
async fn authorize(idp: &ScriptedIdp, nonce: &str) -> Vec<(String, String)> {
    let challenge = oidc_idp::s256_challenge(VERIFIER);
    let url = with_query(
        &idp.url("/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", idp.client.client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile email"),
            ("state", "st-1"),
            ("nonce", nonce),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("login_hint", "ada.lovelace@acme.example"),
        ],
    );
    let response = client().get(url).send().await.expect("/authorize answers");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("an ASCII Location")
        .to_owned();
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    let location = url::Url::parse(&location).expect("Location is a URL");
    location.query_pairs().into_owned().collect()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).expect("a URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn exchange(idp: &ScriptedIdp, code: &str, verifier: &str) -> reqwest::Response {
    client()
        .post(idp.url("/token"))
        .basic_auth(&idp.client.client_id, Some(&idp.client.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ]))
        .send()
        .await
        .expect("/token answers")
}

/// The whole flow; returns the token response.
async fn flow(idp: &ScriptedIdp, nonce: &str) -> Value {
    let params = authorize(idp, nonce).await;
    let code = param(&params, "code").expect("a code");
    let response = exchange(idp, code, VERIFIER).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response.json().await.expect("a JSON token response")
}

#[tokio::test]
async fn entra_flow_issues_an_entra_shaped_id_token() {
    let idp = oidc_idp::start(Profile::Entra).await;

    let discovery: Value = client()
        .get(idp.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery answers")
        .json()
        .await
        .expect("discovery is JSON");
    assert_eq!(discovery["issuer"], idp.issuer.as_str());
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(discovery["code_challenge_methods_supported"][0], "S256");

    let params = authorize(&idp, "n-entra").await;
    assert_eq!(param(&params, "state"), Some("st-1"));
    assert_eq!(param(&params, "iss"), Some(idp.issuer.as_str()));
    let request = idp
        .last_authorization_request()
        .expect("the request was recorded");
    assert_eq!(request.nonce.as_deref(), Some("n-entra"));
    assert_eq!(
        request.login_hint.as_deref(),
        Some("ada.lovelace@acme.example")
    );
    assert_eq!(request.code_challenge_method.as_deref(), Some("S256"));

    let code = param(&params, "code").expect("a code");
    let response = exchange(&idp, code, VERIFIER).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let tokens: Value = response.json().await.expect("a JSON token response");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);

    let (header, claims) = decode_unverified(tokens["id_token"].as_str().expect("an id_token"));
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], idp.current_kid().as_str());
    assert_eq!(idp.jwks()["keys"][0]["kid"], idp.current_kid().as_str());
    assert_eq!(claims["iss"], idp.issuer.as_str());
    assert_eq!(claims["aud"], idp.client.client_id.as_str());
    assert_eq!(claims["nonce"], "n-entra");
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["preferred_username"], "ada.lovelace@acme.example");
    for claim in ["oid", "tid", "uti", "rh", "aio", "nbf", "roles", "groups"] {
        assert!(claims.get(claim).is_some(), "Entra tokens carry {claim}");
    }
    let exp = claims["exp"].as_i64().expect("numeric exp");
    let iat = claims["iat"].as_i64().expect("numeric iat");
    assert_eq!(exp - iat, 3600);

    // The code is single use.
    let again = exchange(&idp, code, VERIFIER).await;
    assert_eq!(again.status(), reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(idp.token_requests(), 2);

    // Userinfo answers for the access token, with the ID token's sub.
    let info: Value = client()
        .get(idp.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().expect("an access token"))
        .send()
        .await
        .expect("userinfo answers")
        .json()
        .await
        .expect("userinfo is JSON");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(idp.userinfo_calls(), 1);
}

#[tokio::test]
async fn google_flow_issues_a_google_shaped_id_token() {
    let idp = oidc_idp::start(Profile::Google).await;
    let tokens = flow(&idp, "n-google").await;
    let (header, claims) = decode_unverified(tokens["id_token"].as_str().expect("an id_token"));
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], idp.current_kid().as_str());
    assert_eq!(claims["hd"], "acme.example");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["azp"], idp.client.client_id.as_str());
    assert_eq!(claims["nonce"], "n-google");
    assert!(
        claims["email"]
            .as_str()
            .is_some_and(|e| e.ends_with("@acme.example"))
    );
    // at_hash: the left half of SHA-256 of the access token.
    let access = tokens["access_token"].as_str().expect("an access token");
    let full = oidc_idp::s256_challenge(access);
    let at_hash = claims["at_hash"].as_str().expect("an at_hash");
    assert_eq!(at_hash.len(), 22);
    assert_ne!(at_hash, full);
}

#[tokio::test]
async fn overrides_tampering_and_es256() {
    let idp = oidc_idp::start(Profile::Okta).await;

    idp.override_claim("email", Value::Null);
    idp.override_claim("aud", Value::from("someone-else"));
    idp.set_tamper(Tamper::AlgNone);
    let tokens = flow(&idp, "n-okta").await;
    let id_token = tokens["id_token"].as_str().expect("an id_token");
    assert!(id_token.ends_with('.'), "alg none has an empty signature");
    let (header, claims) = decode_unverified(id_token);
    assert_eq!(header["alg"], "none");
    assert!(header.get("typ").is_none(), "Okta headers have no typ");
    assert!(claims.get("email").is_none());
    assert_eq!(claims["aud"], "someone-else");
    assert_eq!(claims["ver"], 1);

    idp.update(|b| b.signing_alg = oidc_idp::SigningAlg::Es256);
    idp.set_tamper(Tamper::UnknownKid);
    let (header, _) = decode_unverified(&idp.mint_id_token(None));
    assert_eq!(header["alg"], "ES256");
    assert_ne!(header["kid"], idp.current_kid().as_str());

    let old = idp.current_kid();
    let new = idp.rotate_key(false);
    assert_ne!(old, new);
    let kids: Vec<Value> = idp.jwks()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert!(kids.contains(&Value::from(new)) && !kids.contains(&Value::from(old)));
}

#[tokio::test]
async fn a_wrong_code_verifier_is_invalid_grant() {
    let idp = oidc_idp::start(Profile::Plain).await;
    let params = authorize(&idp, "n-plain").await;
    let code = param(&params, "code").expect("a code");
    let response = exchange(&idp, code, "not-the-verifier-not-the-verifier-not-the-ver").await;
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("a JSON error");
    assert_eq!(body["error"], "invalid_grant");

    let wrong_secret = client()
        .post(idp.url("/token"))
        .basic_auth(&idp.client.client_id, Some("wrong"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("grant_type", "authorization_code"), ("code", "x")]))
        .send()
        .await
        .expect("/token answers");
    assert_eq!(wrong_secret.status(), reqwest::StatusCode::UNAUTHORIZED);
}

/// Whether `jwt`'s signature verifies under the published key with its `kid`.
fn verifies_with_jwks(idp: &ScriptedIdp, jwt: &str) -> bool {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(idp.jwks()).expect("the JWKS parses");
    let (header, _) = decode_unverified(jwt);
    let Some(jwk) = header["kid"].as_str().and_then(|kid| jwks.find(kid)) else {
        return false;
    };
    let alg = match header["alg"].as_str() {
        Some("RS256") => jsonwebtoken::Algorithm::RS256,
        Some("ES256") => jsonwebtoken::Algorithm::ES256,
        _ => return false,
    };
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("a usable JWK");
    let (message, signature) = jwt.rsplit_once('.').expect("three parts");
    jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, alg).unwrap_or(false)
}

#[tokio::test]
async fn honest_tokens_verify_and_tampered_ones_do_not() {
    for profile in [
        Profile::Entra,
        Profile::Okta,
        Profile::Google,
        Profile::Plain,
    ] {
        let idp = oidc_idp::start(profile).await;
        for alg in [oidc_idp::SigningAlg::Rs256, oidc_idp::SigningAlg::Es256] {
            idp.update(|b| {
                b.signing_alg = alg;
                b.tamper = Tamper::None;
            });
            assert!(
                verifies_with_jwks(&idp, &idp.mint_id_token(None)),
                "{profile:?} {alg:?}"
            );
            for tamper in [
                Tamper::AlgNone,
                Tamper::HmacWithPublicKey,
                Tamper::UnknownKid,
                Tamper::WrongKeySameKid,
                Tamper::BadSignature,
                Tamper::NoKid,
                Tamper::EmbeddedJwk,
            ] {
                idp.set_tamper(tamper);
                let jwt = idp.mint_id_token(None);
                assert!(
                    !verifies_with_jwks(&idp, &jwt),
                    "{profile:?} {alg:?} {tamper:?}"
                );
            }
        }
        // The key-confusion token is a valid HS256 MAC under the public key's PEM.
        idp.set_tamper(Tamper::HmacWithPublicKey);
        let jwt = idp.mint_id_token(None);
        let (message, signature) = jwt.rsplit_once('.').expect("three parts");
        let secret = jsonwebtoken::DecodingKey::from_secret(idp.rsa_public_key_pem().as_bytes());
        assert!(
            jsonwebtoken::crypto::verify(
                signature,
                message.as_bytes(),
                &secret,
                jsonwebtoken::Algorithm::HS256
            )
            .expect("HS256 verification runs")
        );
    }
}
