//! Webhook rules that need no I/O: how a delivery is signed (and how a receiver
//! checks it), how long to wait before the next attempt, and which event types an
//! endpoint asked for.
//!
//! The signature header is `Idbridge-Signature: t=<unix seconds>,v1=<hex>`, where
//! the hex is HMAC-SHA256 keyed with the endpoint's signing secret over
//! `"<t>.<raw body>"`. Signing the timestamp with the body lets a receiver refuse
//! old deliveries (replays) by time alone; it still de-duplicates by event id,
//! because delivery is at least once. During a secret rotation a delivery carries
//! one `v1=` per secret still in use, and a receiver accepts any that matches.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::Duration;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "idbridge-signature";
/// The header that carries the event id (the receiver's de-duplication key).
pub const EVENT_ID_HEADER: &str = "idbridge-event-id";
/// The header that says which attempt this is (1 for the first).
pub const ATTEMPT_HEADER: &str = "idbridge-delivery-attempt";

/// How long a failing event is retried before its endpoint stops for that tenant
/// (the dead-letter state), counted from the first failed attempt.
pub const RETRY_FOR: Duration = Duration::hours(24);
/// The wait after the first failure; it doubles per attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::seconds(10);
pub const MAX_BACKOFF: Duration = Duration::hours(1);

/// Computes the header value for `body` sent at `timestamp` (unix seconds), one
/// `v1=` per secret, in the given order.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a [u8]>,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex(&mac(secret, timestamp, body)));
    }
    header
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| {
        unreachable!("HMAC takes keys of any length");
    });
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Why a receiver refuses a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the delivery's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// What a receiver does with a delivery: parse the header, refuse a timestamp
/// further than `tolerance` from `now`, and accept if any `v1` matches `secret`
/// (compared in constant time). idbridge's tests use it as the receiver;
/// docs/integration-guide.md shows the same steps in other languages.
pub fn verify_signature(
    header: &str,
    secret: &[u8],
    body: &[u8],
    now_unix: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                );
            }
            "v1" => candidates.push(value),
            // Later schemes may be added beside v1; a receiver ignores what it does
            // not know.
            "t" => return Err(SignatureError::Malformed),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_unix - timestamp).abs() > tolerance.whole_seconds() {
        return Err(SignatureError::Stale);
    }
    let expected = hex(&mac(secret, timestamp, body));
    let matched = candidates.iter().fold(0u8, |acc, candidate| {
        acc | u8::from(bool::from(candidate.as_bytes().ct_eq(expected.as_bytes())))
    });
    if matched == 1 {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The wait before attempt `failures + 1`, after `failures` failed attempts
/// (`failures` ≥ 1): `FIRST_BACKOFF · 2^(failures−1)`, capped at [`MAX_BACKOFF`],
/// then scaled into its upper half by `jitter` ∈ [0, 1) so that many endpoints
/// failing at once (a receiver outage) do not retry in lockstep.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    let base = FIRST_BACKOFF
        .checked_mul(1 << exponent)
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    base * (0.5 + jitter / 2.0)
}

/// Which event types an endpoint receives: every type, or the listed ones, where
/// `user.*` stands for every type that starts with `user.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter(Option<Vec<String>>);

/// Event type patterns: lowercase letters, digits, `_` and `.`, optionally ending
/// in `.*`; at most 50 of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventFilterError {
    #[error("event type pattern {0:?} is not a type like user.created or a prefix like user.*")]
    BadPattern(String),
    #[error("at most 50 event type patterns")]
    TooMany,
    #[error("the list of event types is empty; leave it out to receive every type")]
    Empty,
}

impl EventFilter {
    pub const ALL: Self = Self(None);

    pub fn parse(patterns: Option<Vec<String>>) -> Result<Self, EventFilterError> {
        let Some(patterns) = patterns else {
            return Ok(Self::ALL);
        };
        if patterns.is_empty() {
            return Err(EventFilterError::Empty);
        }
        if patterns.len() > 50 {
            return Err(EventFilterError::TooMany);
        }
        for pattern in &patterns {
            let stem = pattern.strip_suffix(".*").unwrap_or(pattern);
            let valid = !stem.is_empty()
                && stem.len() <= 100
                && !stem.starts_with('.')
                && !stem.ends_with('.')
                && stem.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.'
                });
            if !valid {
                return Err(EventFilterError::BadPattern(pattern.clone()));
            }
        }
        Ok(Self(Some(patterns)))
    }

    pub fn patterns(&self) -> Option<&[String]> {
        self.0.as_deref()
    }

    pub fn matches(&self, kind: crate::EventKind) -> bool {
        self.matches_type(kind.as_str())
    }

    fn matches_type(&self, event_type: &str) -> bool {
        let Some(patterns) = &self.0 else {
            return true;
        };
        patterns
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => pattern == event_type,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"idb_whsec_test-secret";

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let body = br#"{"id":"e1","type":"user.created"}"#;
        let header = signature_header([SECRET], 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        let tolerance = Duration::minutes(5);
        assert_eq!(
            verify_signature(&header, SECRET, body, 1_700_000_010, tolerance),
            Ok(())
        );
        assert_eq!(
            verify_signature(&header, b"another", body, 1_700_000_010, tolerance),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, SECRET, b"{}", 1_700_000_010, tolerance),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = header.replacen("t=1700000000", "t=1700000001", 1);
        assert_eq!(
            verify_signature(&moved, SECRET, body, 1_700_000_010, tolerance),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, SECRET, body, 1_700_000_400, tolerance),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // A known answer computed outside this code:
        // printf '1.what do ya want for nothing?' | openssl dgst -sha256 -hmac Jefe
        let header = signature_header([b"Jefe".as_slice()], 1, b"what do ya want for nothing?");
        assert_eq!(
            header,
            "t=1,v1=a9049465ce89cfb8e9aac62333abda66f80e3403f51f57f6bae3c3a4485eca38"
        );
    }

    #[test]
    fn a_rotation_header_carries_both_and_either_secret_verifies() {
        let body = b"{}";
        let header = signature_header([SECRET, b"new-secret".as_slice()], 100, body);
        assert_eq!(header.matches("v1=").count(), 2);
        let tolerance = Duration::minutes(5);
        assert_eq!(
            verify_signature(&header, SECRET, body, 100, tolerance),
            Ok(())
        );
        assert_eq!(
            verify_signature(&header, b"new-secret", body, 100, tolerance),
            Ok(())
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let tolerance = Duration::minutes(5);
        for header in [
            "",
            "t=1",
            "v1=abc",
            "t=x,v1=abc",
            "t=1,t=1,v1=ab",
            "garbage",
        ] {
            assert_eq!(
                verify_signature(header, SECRET, b"", 1, tolerance),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_in_its_upper_half_and_is_capped() {
        assert_eq!(backoff(1, 0.0), Duration::seconds(5));
        assert_eq!(backoff(1, 1.0), Duration::seconds(10));
        assert_eq!(backoff(2, 1.0), Duration::seconds(20));
        assert_eq!(backoff(4, 1.0), Duration::seconds(80));
        assert_eq!(backoff(30, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, 0.0), MAX_BACKOFF / 2);
        assert_eq!(backoff(1, f64::NAN), Duration::seconds(5));
        // Attempts within a day: enough to ride out a long outage without hammering.
        let mut elapsed = Duration::ZERO;
        let mut attempts = 1;
        while elapsed < RETRY_FOR {
            elapsed += backoff(attempts, 0.5);
            attempts += 1;
        }
        // 9 doubling waits (about an hour in all), then about 31 at the cap.
        assert!(
            (35..=45).contains(&attempts),
            "{attempts} attempts in a day"
        );
    }

    #[test]
    fn event_filters_match_types_and_prefixes() {
        use crate::EventKind;
        assert!(EventFilter::ALL.matches(EventKind::UserCreated));
        let filter = EventFilter::parse(Some(vec!["user.*".into(), "sign_in.failed".into()]))
            .expect("valid");
        assert!(filter.matches(EventKind::UserCreated));
        assert!(filter.matches(EventKind::UserDeactivated));
        assert!(filter.matches(EventKind::SignInFailed));
        assert!(!filter.matches(EventKind::SignInSucceeded));
        assert!(!filter.matches(EventKind::GroupCreated));
        assert!(!filter.matches_type("userx.created"));
        for bad in [
            "",
            "*",
            ".*",
            "User.created",
            "user.",
            "user created",
            "user.**",
        ] {
            assert!(
                EventFilter::parse(Some(vec![bad.into()])).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert_eq!(
            EventFilter::parse(Some(vec![])),
            Err(EventFilterError::Empty)
        );
    }
}
