//! Every refusal of the relying-party core, with keys made here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use time::macros::datetime;

use super::*;
use crate::keys::{SigningAlgorithm, SigningKey};

const ISSUER: &str = "https://login.example.com/tenant-1/v2.0";
const CLIENT: &str = "client-1";
const NOW: OffsetDateTime = datetime!(2026-12-06 12:00 UTC);

fn jwks(keys: &[&SigningKey]) -> JwkSet {
    let doc = json!({"keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>()});
    parse_jwks(doc.to_string().as_bytes()).unwrap()
}

fn claims() -> Value {
    let now = NOW.unix_timestamp();
    json!({
        "iss": ISSUER, "aud": CLIENT, "sub": "sub-1", "nonce": "n-1",
        "iat": now, "nbf": now, "exp": now + 3600,
        "email": "ann@acme.example", "name": "Ann Example",
        "oid": "00000000-0000-0000-0000-000000000001", "tid": "tenant-1",
        "roles": ["Admin"], "groups": ["g-1", "g-2"],
    })
}

fn expect(algs: &[Algorithm]) -> IdTokenExpectations<'_> {
    IdTokenExpectations {
        issuer: ISSUER,
        client_id: CLIENT,
        nonce: "n-1",
        algorithms: algs,
        now: NOW,
        skew: time::Duration::seconds(120),
    }
}

fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

fn rs() -> SigningKey {
    SigningKey::generate(SigningAlgorithm::Rs256).unwrap()
}

fn verify(token: &str, set: &JwkSet) -> Result<Map<String, Value>, IdTokenRefusal> {
    verify_id_token(token, set, &expect(&[Algorithm::RS256, Algorithm::ES256]))
}

#[test]
fn a_well_formed_token_verifies_and_its_identity_is_read() {
    let key = rs();
    let token = key.sign(&claims()).unwrap();
    let got = verify(&token, &jwks(&[&key])).unwrap();
    let id = Identity::from_claims(&got);
    assert_eq!(id.email.as_deref(), Some("ann@acme.example"));
    assert_eq!(id.roles, ["Admin"]);
    assert_eq!(id.groups, ["g-1", "g-2"]);
    assert_eq!(id.subject, "sub-1");
}

#[test]
fn es256_verifies_too() {
    let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
    let token = key.sign(&claims()).unwrap();
    assert!(verify(&token, &jwks(&[&key])).is_ok());
}

#[test]
fn each_claim_check_refuses() {
    let key = rs();
    let set = jwks(&[&key]);
    let now = NOW.unix_timestamp();
    let cases = [
        (
            json!({"iss": "https://evil.example"}),
            IdTokenRefusal::IssuerMismatch,
        ),
        (json!({"iss": null}), IdTokenRefusal::IssuerMismatch),
        (
            json!({"aud": "someone-else"}),
            IdTokenRefusal::AudienceMismatch,
        ),
        (json!({"aud": null}), IdTokenRefusal::MissingClaim("aud")),
        (
            json!({"aud": [CLIENT, "other"]}),
            IdTokenRefusal::AuthorizedPartyMismatch,
        ),
        (
            json!({"aud": [CLIENT, "other"], "azp": "other"}),
            IdTokenRefusal::AuthorizedPartyMismatch,
        ),
        (
            json!({"azp": "other"}),
            IdTokenRefusal::AuthorizedPartyMismatch,
        ),
        (json!({"exp": now - 121}), IdTokenRefusal::Expired),
        (json!({"exp": null}), IdTokenRefusal::MissingClaim("exp")),
        (json!({"iat": now + 121}), IdTokenRefusal::IssuedInFuture),
        (json!({"iat": null}), IdTokenRefusal::MissingClaim("iat")),
        (json!({"nbf": now + 600}), IdTokenRefusal::NotYetValid),
        (json!({"nonce": "n-2"}), IdTokenRefusal::NonceMismatch),
        (json!({"nonce": null}), IdTokenRefusal::NonceMismatch),
        (json!({"sub": null}), IdTokenRefusal::MissingClaim("sub")),
        (json!({"sub": ""}), IdTokenRefusal::MissingClaim("sub")),
        (
            json!({"name": "Ann\u{0}Admin"}),
            IdTokenRefusal::ClaimHoldsNul("name".into()),
        ),
        (
            json!({"groups": ["Staff", "\u{0}"]}),
            IdTokenRefusal::ClaimHoldsNul("groups".into()),
        ),
        (
            json!({"x\u{0}": 1}),
            IdTokenRefusal::ClaimHoldsNul("x\u{FFFD}".into()),
        ),
    ];
    for (change, refusal) in cases {
        let token = key.sign(&with(claims(), change.clone())).unwrap();
        assert_eq!(verify(&token, &set), Err(refusal), "{change}");
    }
    // Within the skew is fine.
    let token = key
        .sign(&with(claims(), json!({"exp": now - 60, "iat": now + 60})))
        .unwrap();
    assert!(verify(&token, &set).is_ok());
    // Several audiences with azp = us is fine.
    let token = key
        .sign(&with(
            claims(),
            json!({"aud": [CLIENT, "x"], "azp": CLIENT}),
        ))
        .unwrap();
    assert!(verify(&token, &set).is_ok());
}

fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[test]
fn alg_none_is_refused() {
    let key = rs();
    let token = format!("{}.{}.", part(&json!({"alg": "none"})), part(&claims()));
    assert!(matches!(
        verify(&token, &jwks(&[&key])),
        Err(IdTokenRefusal::AlgorithmNotAllowed(_))
    ));
}

#[test]
fn hmac_with_the_public_key_as_secret_is_refused() {
    use hmac::Mac;
    let key = rs();
    let jwk = key.public_jwk().clone();
    let header = json!({"alg": "HS256", "kid": key.kid()});
    let signing_input = format!("{}.{}", part(&header), part(&claims()));
    let secret = jwk.to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    assert!(matches!(
        verify(&token, &jwks(&[&key])),
        Err(IdTokenRefusal::AlgorithmNotAllowed(_))
    ));
    // Even a JWKS that carries a symmetric key never verifies with it.
    let set = parse_jwks(
        json!({"keys": [{"kty": "oct", "kid": key.kid(), "k": URL_SAFE_NO_PAD.encode(secret)}]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let hs = [Algorithm::HS256];
    assert!(matches!(
        verify_id_token(&token, &set, &expect(&hs)),
        Err(IdTokenRefusal::AlgorithmNotAllowed(_))
    ));
}

#[test]
fn an_algorithm_the_provider_does_not_advertise_is_refused() {
    let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
    let token = key.sign(&claims()).unwrap();
    let only_rs = [Algorithm::RS256];
    assert!(matches!(
        verify_id_token(&token, &jwks(&[&key]), &expect(&only_rs)),
        Err(IdTokenRefusal::AlgorithmNotAllowed(_))
    ));
}

#[test]
fn unknown_kid_wrong_key_and_tampering_are_refused() {
    let key = rs();
    let other = rs();
    let token = other.sign(&claims()).unwrap();
    assert!(matches!(
        verify(&token, &jwks(&[&key])),
        Err(IdTokenRefusal::UnknownKey(_))
    ));
    // Another key claiming the published kid.
    let mut forged_jwk = other.public_jwk().clone();
    forged_jwk["kid"] = json!(key.kid());
    let header = json!({"alg": "RS256", "kid": key.kid(), "typ": "JWT"});
    let good = key.sign(&claims()).unwrap();
    let forged = other.sign(&claims()).unwrap();
    let forged_sig = forged.rsplit('.').next().unwrap();
    let body = good.rsplit_once('.').unwrap().0;
    assert_eq!(
        verify(&format!("{body}.{forged_sig}"), &jwks(&[&key])),
        Err(IdTokenRefusal::SignatureInvalid)
    );
    // A changed payload under the original signature.
    let sig = good.rsplit('.').next().unwrap();
    let tampered = format!(
        "{}.{}.{sig}",
        part(&header),
        part(&with(claims(), json!({"email": "boss@acme.example"})))
    );
    assert_eq!(
        verify(&tampered, &jwks(&[&key])),
        Err(IdTokenRefusal::SignatureInvalid)
    );
    assert_eq!(
        verify("not a jwt", &jwks(&[&key])),
        Err(IdTokenRefusal::Malformed)
    );
}

#[test]
fn discovery_needs_the_configured_issuer_and_usable_algorithms() {
    let doc = |changes: Value| {
        with(
            json!({
                "issuer": ISSUER,
                "authorization_endpoint": "https://login.example.com/authorize",
                "token_endpoint": "https://login.example.com/token",
                "jwks_uri": "https://login.example.com/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            }),
            changes,
        )
        .to_string()
    };
    let meta = ProviderMetadata::parse(doc(json!({})).as_bytes(), ISSUER).unwrap();
    assert_eq!(meta.algorithms(), [Algorithm::RS256]);
    assert_eq!(meta.client_auth(), ClientAuthMethod::Basic);
    assert!(matches!(
        ProviderMetadata::parse(
            doc(json!({"issuer": "https://evil.example"})).as_bytes(),
            ISSUER
        ),
        Err(DiscoveryError::IssuerMismatch { .. })
    ));
    // A trailing slash is another issuer.
    assert!(ProviderMetadata::parse(doc(json!({})).as_bytes(), &format!("{ISSUER}/")).is_err());
    assert!(matches!(
        ProviderMetadata::parse(
            doc(json!({"id_token_signing_alg_values_supported": ["HS256", "none"]})).as_bytes(),
            ISSUER
        ),
        Err(DiscoveryError::NoUsableAlgorithm(_))
    ));
    assert!(matches!(
        ProviderMetadata::parse(
            doc(json!({"jwks_uri": "javascript:alert(1)"})).as_bytes(),
            ISSUER
        ),
        Err(DiscoveryError::BadEndpoint("jwks_uri"))
    ));
    assert!(matches!(
        ProviderMetadata::parse(
            doc(json!({"code_challenge_methods_supported": ["plain"]})).as_bytes(),
            ISSUER
        ),
        Err(DiscoveryError::NoPkce)
    ));
    assert!(matches!(
        ProviderMetadata::parse(b"<html>", ISSUER),
        Err(DiscoveryError::Malformed(_))
    ));
    let post_only = ProviderMetadata::parse(
        doc(json!({"token_endpoint_auth_methods_supported": ["client_secret_post"]})).as_bytes(),
        ISSUER,
    )
    .unwrap();
    assert_eq!(post_only.client_auth(), ClientAuthMethod::Post);
}

#[test]
fn the_authorization_url_carries_pkce_state_and_nonce() {
    let meta = ProviderMetadata {
        issuer: ISSUER.into(),
        authorization_endpoint: "https://login.example.com/authorize?p=1".into(),
        token_endpoint: "https://login.example.com/token".into(),
        jwks_uri: "https://login.example.com/keys".into(),
        userinfo_endpoint: None,
        id_token_signing_alg_values_supported: vec![],
        token_endpoint_auth_methods_supported: None,
        code_challenge_methods_supported: None,
        authorization_response_iss_parameter_supported: true,
    };
    let scopes = vec!["email".to_owned(), "openid".to_owned()];
    let url = authorization_url(
        &meta,
        &AuthorizationRequest {
            client_id: CLIENT,
            redirect_uri: "https://idb.example/oidc/acme/callback",
            scopes: &scopes,
            state: "s",
            nonce: "n",
            code_challenge: "c",
            login_hint: Some("ann@acme.example"),
            prompt: None,
        },
    )
    .unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["p"], "1");
    assert_eq!(q["scope"], "openid email");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], "s");
    assert_eq!(q["nonce"], "n");
    assert_eq!(q["login_hint"], "ann@acme.example");
    // RFC 9207: promised and missing, or different, is refused.
    let cb = Callback::parse(b"code=c&state=s").unwrap();
    assert_eq!(cb.check_issuer(&meta), Err(CallbackRefusal::IssuerMissing));
    let cb = Callback::parse(b"code=c&state=s&iss=https%3A%2F%2Fevil").unwrap();
    assert_eq!(cb.check_issuer(&meta), Err(CallbackRefusal::IssuerMismatch));
    let cb = Callback::parse(format!("code=c&state=s&iss={ISSUER}").as_bytes()).unwrap();
    assert_eq!(cb.check_issuer(&meta), Ok(()));
    assert_eq!(
        Callback::parse(b"code=a&code=b"),
        Err(CallbackRefusal::Malformed)
    );
}

#[test]
fn basic_auth_form_encodes_before_base64() {
    let (form, header) = token_request(ClientAuthMethod::Basic, "a b", Some("p:w"), "c", "r", "v");
    assert!(form.iter().all(|(k, _)| *k != "client_secret"));
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(header.unwrap().trim_start_matches("Basic "))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(decoded, "a+b:p%3Aw");
    let (form, header) = token_request(ClientAuthMethod::Post, "a", Some("s"), "c", "r", "v");
    assert!(header.is_none());
    assert!(form.contains(&("client_secret", "s".to_owned())));
}

#[test]
fn identity_reads_entra_okta_and_google_shapes() {
    // Entra ID without the optional email claim: the UPN.
    let entra = json!({"sub": "s", "preferred_username": "ann@acme.example", "roles": ["Admin"], "tid": "t"});
    let id = Identity::from_claims(entra.as_object().unwrap());
    assert_eq!(id.email.as_deref(), Some("ann@acme.example"));
    // Google.
    let google = json!({"sub": "s", "email": "ann@acme.example", "email_verified": true, "hd": "acme.example"});
    let id = Identity::from_claims(google.as_object().unwrap());
    assert_eq!(id.hosted_domain.as_deref(), Some("acme.example"));
    assert_eq!(id.email_verified, Some(true));
    // Okta with a single group as a string.
    let okta = json!({"sub": "s", "email": "a@b.example", "groups": "Everyone"});
    let mut id = Identity::from_claims(okta.as_object().unwrap());
    assert_eq!(id.groups, ["Everyone"]);
    // Userinfo holding U+0000 anywhere adds nothing.
    id.add_userinfo(
        json!({"sub": "s", "name": "Ann", "x": "\u{0}"})
            .as_object()
            .unwrap(),
    );
    assert_eq!(id.name, None);
    // Userinfo about someone else adds nothing.
    id.add_userinfo(
        json!({"sub": "other", "name": "Mallory"})
            .as_object()
            .unwrap(),
    );
    assert_eq!(id.name, None);
    id.add_userinfo(json!({"sub": "s", "name": "Ann"}).as_object().unwrap());
    assert_eq!(id.name.as_deref(), Some("Ann"));
}
