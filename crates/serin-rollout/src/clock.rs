//! Time, injected: the system clock in production, a manual clock in tests (no real sleeps).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, in milliseconds since the Unix epoch; persisted as RFC 3339 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub fn from_millis(millis: u64) -> Self {
        Timestamp(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// This time plus `duration` (saturating).
    pub fn plus(self, duration: Duration) -> Self {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(millis))
    }

    /// The time from `earlier` to this one (zero if `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// RFC 3339 text with milliseconds, UTC.
    pub fn rfc3339(self) -> String {
        humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(self.0)).to_string()
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let time = humantime::parse_rfc3339_weak(&text)
            .map_err(|error| serde::de::Error::custom(format!("bad time {text:?}: {error}")))?;
        let since_epoch = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| serde::de::Error::custom(format!("time {text:?} is before 1970")))?;
        Ok(Timestamp(
            u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
        ))
    }
}

/// A source of time that can also wait.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Waits until `deadline` (returns at once if it has passed).
    fn sleep_until(&self, deadline: Timestamp) -> impl Future<Output = ()> + Send;
}

/// The real clock: `SystemTime` and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        let wait = deadline.since(self.now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A clock that only moves when something sleeps on it (or [`ManualClock::advance`] is
/// called): sleeping jumps straight to the deadline. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    millis: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            millis: Arc::new(AtomicU64::new(start.0)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, duration: Duration) {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.millis.load(Ordering::SeqCst))
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        self.millis.fetch_max(deadline.0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let cases = [0, 1_700_000_000_123, 1_764_000_000_000];
        for millis in cases {
            let text = serde_json::to_string(&Timestamp(millis)).unwrap();
            let back: Timestamp = serde_json::from_str(&text).unwrap();
            assert_eq!(back, Timestamp(millis), "{text}");
        }
        assert_eq!(
            Timestamp(1_700_000_000_123).rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[tokio::test]
    async fn manual_clock_jumps_to_deadlines_and_never_goes_back() {
        let clock = ManualClock::new(Timestamp(1_000));
        clock.sleep_until(Timestamp(5_000)).await;
        assert_eq!(clock.now(), Timestamp(5_000));
        clock.sleep_until(Timestamp(2_000)).await;
        assert_eq!(clock.now(), Timestamp(5_000));
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Timestamp(6_000));
    }
}
