//! Console operators: their accounts, passwords and console sessions.
//!
//! A session is a random `idb_sess_` token in the browser and only its digest in
//! the database, ending after [`IDLE_TIMEOUT`] without a request or
//! [`ABSOLUTE_LIFETIME`] after sign-in, whichever comes first; it is looked up on
//! every request (so sign-out acts at once on every process).
//!
//! Passwords are argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane),
//! stored as PHC strings. Hashing and verifying take tens of milliseconds of CPU on
//! purpose, so they run on the blocking pool, never on the async workers.

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use idbridge_core::secret::{SecretHash, SessionToken};
use idbridge_store::{ConsoleSession, Operator, StoreError};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::credentials::LAST_USED_GRANULARITY;
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
    audit: &crate::audit::Audit,
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
    let audited = audit.record(
        operator.created_at,
        idbridge_core::audit::AuditAction::OperatorCreated,
        None,
        Some(operator.email.clone()),
        serde_json::json!({"email": operator.email}),
    );
    match app.store.create_operator(&operator, Some(&audited)).await {
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

/// A session ends after this long without a request (NIST SP 800-63B's limit for
/// AAL2 is 30 minutes of inactivity).
pub const IDLE_TIMEOUT: time::Duration = time::Duration::minutes(30);
/// A session ends this long after sign-in, however active: a working day.
pub const ABSOLUTE_LIFETIME: time::Duration = time::Duration::hours(12);

/// A signed-in operator's session, as a request presents it.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub session_id: Uuid,
    pub operator_email: String,
    /// The digest of the presented token (what sign-out deletes).
    pub token_hash: SecretHash,
}

/// The session `presented` names, if it is still going; refreshes its last-seen
/// time (at most once a minute, so most requests only read).
pub async fn session(app: &App, presented: &SessionToken) -> Result<Option<ActiveSession>, Error> {
    let now = app.clock.now();
    let token_hash = presented.hash();
    let Some(active) = app
        .store
        .active_console_session(&token_hash, now, now - IDLE_TIMEOUT)
        .await?
    else {
        return Ok(None);
    };
    if now - active.session.last_seen_at >= LAST_USED_GRANULARITY {
        app.store
            .touch_console_session(active.session.id, now)
            .await?;
    }
    Ok(Some(ActiveSession {
        session_id: active.session.id,
        operator_email: active.operator_email,
        token_hash,
    }))
}

/// Signs an operator in: checks the password (verified even when the operator is
/// unknown or disabled, against a dummy hash, so the answer's timing does not tell
/// which addresses are operators), ends the session the browser had (rotation),
/// and starts a new one. `None`: wrong email or password, or a disabled operator.
pub async fn sign_in(
    app: &App,
    raw_email: &str,
    password: SecretString,
    previous: Option<&SessionToken>,
) -> Result<Option<SessionToken>, Error> {
    let email = raw_email.trim().to_lowercase();
    let operator = if email.is_empty() || email.len() > 254 {
        None
    } else {
        app.store.operator_by_email(&email).await?
    };
    let stored = operator.as_ref().map(|o| o.password_hash.clone());
    let password_ok = verify(password, stored).await.map_err(Error::internal)?;
    let operator = match operator {
        Some(o) if password_ok && o.disabled_at.is_none() => o,
        _ => {
            tracing::info!("console sign-in refused");
            return Ok(None);
        }
    };
    // Rotation: whatever session the browser had ends here.
    if let Some(old) = previous {
        app.store.delete_console_session(&old.hash()).await?;
    }
    let now = app.clock.now();
    let token = SessionToken::generate();
    let session = ConsoleSession {
        id: Uuid::now_v7(),
        operator_id: operator.id,
        created_at: now,
        expires_at: now + ABSOLUTE_LIFETIME,
        last_seen_at: now,
    };
    app.store
        .create_console_session(&session, &token.hash())
        .await?;
    // Ended sessions are swept here, off every other request's path.
    if let Err(e) = app
        .store
        .delete_ended_console_sessions(now, now - IDLE_TIMEOUT)
        .await
    {
        tracing::warn!(error = %e, "sweeping ended console sessions failed");
    }
    tracing::info!(operator = %operator.id, session = %session.id, "console sign-in");
    Ok(Some(token))
}

/// Ends the session in the database, so on every process at once.
pub async fn sign_out(app: &App, session: &ActiveSession) -> Result<(), Error> {
    app.store
        .delete_console_session(&session.token_hash)
        .await?;
    tracing::info!(session = %session.session_id, "console sign-out");
    Ok(())
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
