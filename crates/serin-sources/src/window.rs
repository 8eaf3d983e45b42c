//! The time window of a judgement: start, end and step, validated once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;

/// Prometheus refuses range queries of more than 11,000 points per series.
pub const MAX_POINTS_PER_SERIES: u64 = 11_000;

/// Why a window is not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WindowError {
    /// A duration that does not parse.
    #[error(
        "invalid duration {text:?}: {reason} (expected e.g. 30s, 5m, 1h30m or a number of seconds)"
    )]
    Duration {
        /// The text given.
        text: String,
        /// Why it does not parse.
        reason: String,
    },
    /// End not after start.
    #[error("the window's end ({end}) must be after its start ({start})")]
    Empty {
        /// Start, RFC 3339.
        start: String,
        /// End, RFC 3339.
        end: String,
    },
    /// A zero step.
    #[error("step must be positive")]
    ZeroStep,
    /// A lookback reaching before the earliest time a window can start.
    #[error(
        "lookback {lookback} before {end} reaches outside the supported time range; use a shorter lookback"
    )]
    LookbackOutOfRange {
        /// The lookback, as a duration.
        lookback: String,
        /// The window's end, RFC 3339.
        end: String,
    },
    /// More points than Prometheus serves for one series.
    #[error(
        "window of {points} points per series exceeds Prometheus' limit of {MAX_POINTS_PER_SERIES}; use a larger step"
    )]
    TooManyPoints {
        /// Points the window would have.
        points: u64,
    },
}

/// A validated time window: `start < end`, `step > 0`, at most
/// [`MAX_POINTS_PER_SERIES`] points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
}

impl Window {
    /// A window from `start` to `end` sampled every `step`.
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Self, WindowError> {
        if end <= start {
            return Err(WindowError::Empty {
                start: start.to_rfc3339(),
                end: end.to_rfc3339(),
            });
        }
        if step.is_zero() {
            return Err(WindowError::ZeroStep);
        }
        let span_ms = (end - start).num_milliseconds().max(0) as u128;
        let points = span_ms / step.as_millis().max(1) + 1;
        let points = u64::try_from(points).unwrap_or(u64::MAX);
        if points > MAX_POINTS_PER_SERIES {
            return Err(WindowError::TooManyPoints { points });
        }
        Ok(Self { start, end, step })
    }

    /// The `lookback` before `end`; a lookback reaching outside chrono's time range
    /// is an error, never a panic.
    pub fn lookback(
        end: DateTime<Utc>,
        lookback: Duration,
        step: Duration,
    ) -> Result<Self, WindowError> {
        let out_of_range = || WindowError::LookbackOutOfRange {
            lookback: humantime::format_duration(lookback).to_string(),
            end: end.to_rfc3339(),
        };
        let signed = chrono::Duration::from_std(lookback).map_err(|_| out_of_range())?;
        let start = end.checked_sub_signed(signed).ok_or_else(out_of_range)?;
        Self::new(start, end, step)
    }

    /// Start of the window.
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// End of the window.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// Resolution step.
    pub fn step(&self) -> Duration {
        self.step
    }
}

/// Parses a duration as Prometheus and Kubernetes users write it (`30s`, `5m`,
/// `1h30m`, `2d`) or a plain number of seconds (`60`, `0.5`), as Kayenta's `step`.
pub fn parse_duration(text: &str) -> Result<Duration, WindowError> {
    let trimmed = text.trim();
    let error = |reason: String| WindowError::Duration {
        text: text.to_owned(),
        reason,
    };
    if let Ok(seconds) = trimmed.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|e| error(e.to_string()));
    }
    humantime::parse_duration(trimmed).map_err(|e| error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_users_write_them() {
        let cases: &[(&str, Option<u64>)] = &[
            ("30s", Some(30_000)),
            ("5m", Some(300_000)),
            ("1h30m", Some(5_400_000)),
            ("2d", Some(172_800_000)),
            ("60", Some(60_000)),
            ("0.5", Some(500)),
            ("", None),
            ("-5", None),
            ("5 parsecs", None),
        ];
        for (text, expected) in cases {
            let got = parse_duration(text).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, *expected, "{text:?}");
        }
    }

    #[test]
    fn windows_are_validated() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .to_utc();
        let t1 = t0 + chrono::Duration::minutes(10);
        let s30 = Duration::from_secs(30);
        assert!(Window::new(t0, t1, s30).is_ok());
        assert!(matches!(
            Window::new(t1, t0, s30),
            Err(WindowError::Empty { .. })
        ));
        assert!(matches!(
            Window::new(t0, t1, Duration::ZERO),
            Err(WindowError::ZeroStep)
        ));
        assert_eq!(
            Window::new(t0, t0 + chrono::Duration::hours(24), Duration::from_secs(1)),
            Err(WindowError::TooManyPoints { points: 86_401 })
        );
        let back = Window::lookback(t1, Duration::from_secs(600), s30).unwrap();
        assert_eq!(back.start(), t0);
    }

    /// Lookbacks past chrono's range (about 262,000 years) are errors, not panics.
    #[test]
    fn huge_lookbacks_are_errors() {
        let end = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .to_utc();
        let year = 365 * 24 * 3600;
        let cases: &[(&str, Duration, Duration, bool)] = &[
            // (what, lookback, step, out of range)
            (
                "the issue's 300000y",
                Duration::from_secs(300_000 * year),
                Duration::from_secs(1_000_000 * 3600),
                true,
            ),
            (
                "past chrono's Duration",
                Duration::MAX,
                Duration::from_secs(1),
                true,
            ),
            (
                "just inside",
                Duration::from_secs(100_000 * year),
                Duration::from_secs(10 * year),
                false,
            ),
        ];
        for (what, lookback, step, out_of_range) in cases {
            let got = Window::lookback(end, *lookback, *step);
            assert_eq!(
                matches!(got, Err(WindowError::LookbackOutOfRange { .. })),
                *out_of_range,
                "{what}: {got:?}"
            );
        }
        let parsed = parse_duration("300000y").unwrap();
        let message = Window::lookback(end, parsed, Duration::from_secs(3600))
            .unwrap_err()
            .to_string();
        assert!(message.contains("300000years"), "{message}");
    }
}
