//! The discovery document (OpenID Connect Discovery 1.0 §3): only what idbridge
//! really does, so a library configured from it never tries what will be refused.

use serde_json::{Value, json};

use crate::keys::SigningAlgorithm;

/// The document for the provider at `issuer` (the public URL, no trailing slash).
pub fn document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "jwks_uri": format!("{issuer}/oauth/jwks"),
        "scopes_supported": crate::SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported":
            SigningAlgorithm::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp",
            "email", "email_verified", "name", "given_name", "family_name",
            "preferred_username", "tenant", "roles", "groups", "idp"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_hang_off_the_issuer() {
        let d = super::document("https://idb.example");
        assert_eq!(d["jwks_uri"], "https://idb.example/oauth/jwks");
        assert_eq!(d["id_token_signing_alg_values_supported"][0], "RS256");
        assert_eq!(
            d["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
    }
}
