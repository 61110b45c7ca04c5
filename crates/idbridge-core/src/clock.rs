use std::sync::Mutex;
use time::OffsetDateTime;

/// Where "now" comes from. Protocol and domain code take `now` as an argument or ask a
/// `Clock`; only [`SystemClock`] reads the wall clock, so tests move time forward
/// instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current instant in UTC, truncated to microseconds (the precision both
    /// databases store), so a value written and read back compares equal.
    fn now(&self) -> OffsetDateTime;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to. For tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Mutex::new(truncate_to_micros(start)))
    }

    pub fn advance(&self, by: time::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = truncate_to_micros(*now + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Drops sub-microsecond precision and normalises to UTC.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = time::macros::datetime!(2026-01-01 00:00:00.123456789 UTC);
        let clock = ManualClock::new(start);
        assert_eq!(
            clock.now(),
            time::macros::datetime!(2026-01-01 00:00:00.123456 UTC)
        );
        clock.advance(time::Duration::seconds(90));
        assert_eq!(
            clock.now(),
            time::macros::datetime!(2026-01-01 00:01:30.123456 UTC)
        );
    }

    #[test]
    fn system_clock_has_microsecond_precision() {
        let now = SystemClock.now();
        assert_eq!(now.nanosecond() % 1_000, 0);
        assert_eq!(now.offset(), time::UtcOffset::UTC);
    }
}
