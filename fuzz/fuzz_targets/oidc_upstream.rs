//! Any bytes as what an upstream OpenID provider sends back: a discovery document, a
//! JWKS, a callback query, a token response and an ID token. Never a panic, and an ID
//! token checked against a JWKS of one RSA key is never accepted unless it carries
//! the expected nonce (it cannot be signed by that key without the private one).
#![no_main]

use idbridge_oidc::upstream::{
    self, Algorithm, Callback, IdTokenExpectations, Identity, ProviderMetadata, TokenResponse,
};
use libfuzzer_sys::fuzz_target;

const JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}]}"#;

fuzz_target!(|input: &[u8]| {
    let _ = ProviderMetadata::parse(input, "https://idp.example");
    let _ = upstream::parse_jwks(input);
    if let Ok(callback) = Callback::parse(input) {
        let _ = callback.code.as_deref();
    }
    if let Some(tokens) = TokenResponse::parse(input) {
        let _ = tokens.id_token.as_deref();
    }
    let Ok(token) = std::str::from_utf8(input) else {
        return;
    };
    let _ = upstream::key_id(token);
    let Some(jwks) = upstream::parse_jwks(JWKS.as_bytes()) else {
        return;
    };
    let algorithms = [Algorithm::RS256];
    let expect = IdTokenExpectations {
        issuer: "https://idp.example",
        client_id: "client",
        nonce: "n",
        algorithms: &algorithms,
        now: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        skew: time::Duration::minutes(3),
    };
    if let Ok(claims) = upstream::verify_id_token(token, &jwks, &expect) {
        assert_eq!(claims.get("nonce").and_then(|n| n.as_str()), Some("n"));
        let _ = Identity::from_claims(&claims);
    }
});
