//! Secrets a page shows once (a new SCIM token, setup link or webhook secret), kept
//! between the POST that made them and the GET it redirects to: post/redirect/get,
//! so a reload or "back" never makes a second token, and the secret is not in the
//! answer to a POST that the browser would offer to send again.
//!
//! The secret is sealed with a [`ShownOnceKey`] derived from the visitor's cookie
//! token (the console session's, or the setup link's), which the database holds
//! only as a digest: the row opens for that browser alone, on any process, with or
//! without `--secret-key`. Taking it deletes it; it lasts [`LIFETIME`] at most, and
//! housekeeping sweeps what was never taken.

use idbridge_core::sealed::Keyring;
use secrecy::SecretString;
use time::Duration;
use uuid::Uuid;

use crate::{App, Error};

/// How long the redirect may take to be followed.
pub const LIFETIME: Duration = Duration::minutes(5);

/// Keeps the console's and the portal's sealed secrets apart from everything else
/// their cookie tokens derive.
const LABEL: &[u8] = b"idbridge shown-once secret\0";

/// The key a visitor's secrets are sealed with, derived from their cookie token.
pub struct ShownOnceKey(Keyring);

impl ShownOnceKey {
    /// From the raw cookie token (never stored).
    pub fn derive(cookie_token: &str) -> Self {
        Self(Keyring::derived(LABEL, cookie_token.as_bytes()))
    }
}

impl std::fmt::Debug for ShownOnceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShownOnceKey(..)")
    }
}

/// Keeps `secret` for the page the visitor is redirected to; returns the id that
/// page's address carries.
pub async fn keep(app: &App, key: &ShownOnceKey, secret: &str) -> Result<Uuid, Error> {
    let id = Uuid::new_v4();
    let sealed = key.0.seal(secret.as_bytes(), id.as_bytes());
    let now = app.clock.now();
    app.store
        .keep_shown_once(id, &sealed, now + LIFETIME, now)
        .await?;
    Ok(id)
}

/// The secret kept under `id`, once: `None` when it was already shown, expired, or
/// was kept for another visitor. Another visitor's key does not open it, and then
/// it stays for its own visitor: someone who learnt the page's address cannot spoil
/// it. Of two requests that open it, the one whose take removes it shows it.
pub async fn take(app: &App, key: &ShownOnceKey, id: Uuid) -> Result<Option<SecretString>, Error> {
    let now = app.clock.now();
    let Some(sealed) = app.store.peek_shown_once(id, now).await? else {
        return Ok(None);
    };
    let Ok(secret) = key.0.open(&sealed, id.as_bytes()) else {
        return Ok(None);
    };
    Ok(app.store.take_shown_once(id, now).await?.map(|_| secret))
}
