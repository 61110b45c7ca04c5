//! Console operators: their accounts and passwords.
//!
//! Passwords are argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane),
//! stored as PHC strings. Hashing and verifying take tens of milliseconds of CPU on
//! purpose, so they run on the blocking pool, never on the async workers.

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use idbridge_store::{Operator, StoreError};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{App, Error};

/// Shortest password `operator create` accepts (NIST SP 800-63B asks for at least 8;
/// an operator account reaches every tenant, so more).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted: argon2 takes any length, but a megabyte "password" is a
/// denial-of-service attempt, not a credential.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("hashing the password failed: {0}")]
    Hashing(String),
    #[error("the password check did not finish: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1 for argon2id.
    #[allow(clippy::expect_used)]
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string with the same parameters as real ones, verified when the email is
/// unknown so that "no such operator" takes as long as "wrong password".
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash_now("idbridge dummy password for timing").ok());

fn hash_now(password: &str) -> Result<String, PasswordError> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Checks the password's length, then hashes it (on the blocking pool).
pub async fn hash(password: &SecretString) -> Result<String, PasswordError> {
    let chars = password.expose_secret().chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.expose_secret().len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    let password = password.clone();
    tokio::task::spawn_blocking(move || hash_now(password.expose_secret())).await?
}

/// Whether `password` matches `stored` (a PHC string). With `stored` absent (no such
/// operator) a dummy hash is verified instead and the answer is `false`, at the same
/// cost. An unparseable stored hash is a mismatch, never a panic.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = match stored {
            Some(phc) => phc,
            None => DUMMY_HASH.clone().unwrap_or_default(),
        };
        let bytes = password.expose_secret().as_bytes();
        // Refused before hashing, like at creation: length is not a timing secret.
        if bytes.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        let matches = PasswordHash::new(&phc)
            .map(|parsed| argon2().verify_password(bytes, &parsed).is_ok())
            .unwrap_or(false);
        known && matches
    })
    .await
    .map_err(PasswordError::from)
}

/// Email address of a console operator: trimmed, lowercased, one `@` with text on
/// both sides, no spaces or control characters, at most 254 bytes (RFC 5321's path
/// limit). Deliverability is not checked: the address is a sign-in name.
pub fn parse_email(raw: &str) -> Result<String, Error> {
    let email = raw.trim().to_lowercase();
    let well_formed = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if !well_formed {
        return Err(Error::Invalid(format!("{raw:?} is not an email address")));
    }
    Ok(email)
}

/// Creates a console operator who signs in with `email` and `password` (hashed
/// with argon2id off the async workers; the password itself is never stored or
/// logged).
pub async fn create(
    app: &App,
    raw_email: &str,
    password: &SecretString,
) -> Result<Operator, Error> {
    let email = parse_email(raw_email)?;
    let password_hash = hash(password).await.map_err(|e| match e {
        PasswordError::TooShort | PasswordError::TooLong => Error::Invalid(e.to_string()),
        other => Error::internal(other),
    })?;
    let operator = Operator {
        id: Uuid::now_v7(),
        email,
        password_hash,
        created_at: app.clock.now(),
        disabled_at: None,
    };
    match app.store.create_operator(&operator).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(Error::Invalid(format!(
                "an operator with the email {:?} already exists",
                operator.email
            )));
        }
        Err(other) => return Err(other.into()),
    }
    tracing::info!(operator = %operator.id, "console operator created");
    Ok(operator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = SecretString::from("correct horse battery staple");
        let phc = hash(&password).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify(password, Some(phc.clone())).await.expect("verify"));
        assert!(
            !verify(SecretString::from("wrong horse battery staple"), Some(phc))
                .await
                .expect("verify")
        );
        assert!(
            !verify(SecretString::from("correct horse battery staple"), None)
                .await
                .expect("verify")
        );
        assert!(
            !verify(SecretString::from("x"), Some("not a phc".into()))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn short_and_huge_passwords_are_refused() {
        assert!(matches!(
            hash(&SecretString::from("short")).await,
            Err(PasswordError::TooShort)
        ));
        let huge = SecretString::from("a".repeat(MAX_PASSWORD_BYTES + 1));
        assert!(matches!(hash(&huge).await, Err(PasswordError::TooLong)));
    }
}
