//! Whatever a browser or a client sends, the parsers answer with a value or an
//! error, never a panic, and never echo an oversized `state`.

use idbridge_oidc::TokenRequest;
use idbridge_oidc::authorize::{self, AuthorizeRequest, MAX_STATE_LEN};
use proptest::prelude::*;

fn query_like() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("response_type".to_owned()),
        Just("client_id".to_owned()),
        Just("redirect_uri".to_owned()),
        Just("scope".to_owned()),
        Just("state".to_owned()),
        Just("nonce".to_owned()),
        Just("code_challenge".to_owned()),
        Just("code_challenge_method".to_owned()),
        Just("tenant".to_owned()),
        Just("login_hint".to_owned()),
        Just("prompt".to_owned()),
        Just("grant_type".to_owned()),
        Just("code".to_owned()),
        Just("code_verifier".to_owned()),
        Just("client_secret".to_owned()),
        "[a-z_%]{0,12}",
    ];
    let value = prop_oneof![
        Just("code".to_owned()),
        Just("openid email".to_owned()),
        Just("S256".to_owned()),
        Just("authorization_code".to_owned()),
        "[ -~]{0,80}",
        "\\PC{0,40}",
        "x{2040,2100}",
    ];
    prop::collection::vec((key, value), 0..12).prop_map(|pairs| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            s.append_pair(k, v);
        }
        s.finish()
    })
}

proptest! {
    #[test]
    fn authorize_never_panics(query in query_like(), public in any::<bool>()) {
        if let Ok(request) = AuthorizeRequest::parse(query.as_bytes()) {
            let _ = request.client_id();
            let _ = request.check_client(["https://app.example.com/cb"]);
            if let Some(state) = request.state() {
                prop_assert!(state.len() <= MAX_STATE_LEN);
            }
            if let Ok(valid) = authorize::validate(&request, public) {
                prop_assert!(valid.scopes.iter().any(|s| s == "openid"));
                prop_assert!(!public || valid.code_challenge.is_some());
            }
        }
    }

    #[test]
    fn raw_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = AuthorizeRequest::parse(&bytes).map(|r| authorize::validate(&r, false));
        let _ = TokenRequest::parse(&bytes, None);
    }

    #[test]
    fn token_requests_never_panic(body in query_like(), header in "\\PC{0,60}") {
        let _ = TokenRequest::parse(body.as_bytes(), Some(&header));
        let _ = TokenRequest::parse(body.as_bytes(), Some(&format!("Basic {header}")));
    }
}
