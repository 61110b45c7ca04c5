//! What the ID token and `/oauth/userinfo` say about the user, by scope.
//!
//! `openid` gives `sub` and idbridge's own claims (`tenant`, `roles`, `groups`, `idp`),
//! which the app needs to place the user whatever else it asked; `email` adds `email`
//! and `email_verified`; `profile` adds the names (OIDC Core §5.4).

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// A directory user as the app sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The directory user's id: stable for the user's lifetime, never reassigned,
    /// unlike an email address.
    pub sub: String,
    pub email: Option<String>,
    /// True only when the email's domain is verified by the user's tenant.
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The IdP's user name (SCIM `userName`).
    pub preferred_username: Option<String>,
    pub tenant: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    /// How the user signed in: `saml` or `oidc`.
    pub idp: String,
    /// The id of the connection the user signed in through, when known.
    pub connection: Option<String>,
}

fn put(map: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), Value::String(v.clone()));
    }
}

/// The user claims granted by `scopes`.
pub fn user_claims(profile: &Profile, scopes: &[String]) -> Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let mut map = Map::new();
    map.insert("sub".into(), json!(profile.sub));
    if has("email") {
        put(&mut map, "email", &profile.email);
        if profile.email.is_some() {
            map.insert("email_verified".into(), json!(profile.email_verified));
        }
    }
    if has("profile") {
        put(&mut map, "name", &profile.name);
        put(&mut map, "given_name", &profile.given_name);
        put(&mut map, "family_name", &profile.family_name);
        put(&mut map, "preferred_username", &profile.preferred_username);
    }
    map.insert("tenant".into(), json!(profile.tenant));
    map.insert("roles".into(), json!(profile.roles));
    map.insert("groups".into(), json!(profile.groups));
    map.insert("idp".into(), json!(profile.idp));
    put(&mut map, "connection", &profile.connection);
    map
}

/// The sign-in an ID token is about.
#[derive(Debug, Clone)]
pub struct IdTokenContext<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    pub auth_time: OffsetDateTime,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The ID token's claims (OIDC Core §2): the registered ones, then the user's.
pub fn id_token_claims(
    context: &IdTokenContext<'_>,
    profile: &Profile,
    scopes: &[String],
) -> Map<String, Value> {
    let mut map = user_claims(profile, scopes);
    map.insert("iss".into(), json!(context.issuer));
    map.insert("aud".into(), json!(context.client_id));
    map.insert("azp".into(), json!(context.client_id));
    map.insert("iat".into(), json!(context.issued_at.unix_timestamp()));
    map.insert("exp".into(), json!(context.expires_at.unix_timestamp()));
    map.insert(
        "auth_time".into(),
        json!(context.auth_time.unix_timestamp()),
    );
    if let Some(nonce) = context.nonce {
        map.insert("nonce".into(), json!(nonce));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            sub: "0190-user".into(),
            email: Some("ann@example.com".into()),
            email_verified: false,
            name: Some("Ann Lee".into()),
            given_name: Some("Ann".into()),
            family_name: None,
            preferred_username: Some("ann@example.com".into()),
            tenant: "acme".into(),
            roles: vec!["Admin".into()],
            groups: vec!["Sales".into()],
            idp: "saml".into(),
            connection: None,
        }
    }

    #[test]
    fn scopes_select_claims() {
        let only_openid = user_claims(&profile(), &["openid".into()]);
        assert!(only_openid.get("email").is_none());
        assert!(only_openid.get("name").is_none());
        assert_eq!(only_openid["tenant"], "acme");
        assert_eq!(only_openid["roles"], json!(["Admin"]));
        let all = user_claims(
            &profile(),
            &["openid".into(), "email".into(), "profile".into()],
        );
        assert_eq!(all["email"], "ann@example.com");
        assert_eq!(all["email_verified"], false);
        assert_eq!(all["given_name"], "Ann");
        assert!(all.get("family_name").is_none(), "absent, not null");
    }

    #[test]
    fn id_token_has_the_registered_claims() {
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let claims = id_token_claims(
            &IdTokenContext {
                issuer: "https://idb.example",
                client_id: "c1",
                nonce: Some("n-1"),
                auth_time: t,
                issued_at: t,
                expires_at: t + crate::TOKEN_TTL,
            },
            &profile(),
            &["openid".into()],
        );
        assert_eq!(claims["iss"], "https://idb.example");
        assert_eq!(claims["aud"], "c1");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["sub"], "0190-user");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            crate::TOKEN_TTL.whole_seconds()
        );
    }
}
