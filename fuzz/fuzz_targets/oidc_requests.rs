//! Any bytes as an authorization request (a query string) and as a token request
//! (form body and `Authorization` header): never a panic; what validates asked for
//! `openid`, and never yields a `state` longer than idbridge will echo.
#![no_main]

use idbridge_oidc::TokenRequest;
use idbridge_oidc::authorize::{self, AuthorizeRequest, MAX_STATE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let (head, body) = input.split_at(input.len().min(64));
    if let Ok(request) = AuthorizeRequest::parse(input) {
        let _ = request.client_id();
        let _ = request.check_client(["https://app.example.com/cb"]);
        assert!(request.state().is_none_or(|s| s.len() <= MAX_STATE_LEN));
        for public in [false, true] {
            if let Ok(valid) = authorize::validate(&request, public) {
                assert!(valid.scopes.iter().any(|s| s == "openid"));
                assert!(!public || valid.code_challenge.is_some());
            }
        }
    }
    let header = String::from_utf8_lossy(head);
    let _ = TokenRequest::parse(body, Some(&header));
    let _ = TokenRequest::parse(input, None);
});
