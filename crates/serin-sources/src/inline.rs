//! Series given inline as JSON: `{"<metric>": {"baseline": [...], "canary": [...]}}`.
//!
//! Each side may carry its timestamps, one per value: `baselineTimes` / `canaryTimes`
//! (Kayenta's names `controlTimes` / `experimentTimes` too), each a Unix time in
//! seconds (a number, fractions allowed) or an RFC 3339 string. Without them a side's
//! values are paired with the other side's by position.
//!
//! Values are JSON numbers; `null` and the strings `"NaN"`, `"Inf"`, `"+Inf"` and
//! `"-Inf"` stand for missing points and become NaN, which the metric's NaN strategy
//! then removes or replaces (JSON itself has no NaN). Anything else is an error naming
//! the metric, the side and the index.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serin_core::{MetricPair, MetricSet};
use thiserror::Error;

/// Inline series by metric name, as a request body carries them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct InlineData {
    /// Series by metric name.
    pub metrics: BTreeMap<String, InlineSeries>,
}

/// One metric's baseline and canary values.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineSeries {
    /// Baseline (control) values; Kayenta's name `control` is accepted too.
    #[serde(alias = "control")]
    pub baseline: InlineValues,
    /// Canary (experiment) values; Kayenta's name `experiment` is accepted too.
    #[serde(alias = "experiment")]
    pub canary: InlineValues,
    /// Baseline timestamps, one per value.
    #[serde(default, rename = "baselineTimes", alias = "controlTimes")]
    pub baseline_times: Option<InlineTimes>,
    /// Canary timestamps, one per value.
    #[serde(default, rename = "canaryTimes", alias = "experimentTimes")]
    pub canary_times: Option<InlineTimes>,
}

/// Timestamps in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InlineTimes(pub Vec<i64>);

/// A list of values, NaN where the JSON has `null` or a NaN/Inf string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InlineValues(pub Vec<f64>);

/// Why inline data is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InlineError {
    /// No metric at all.
    #[error("data holds no metrics")]
    Empty,
    /// A side's timestamps do not match its values one for one.
    #[error(
        "{metric}: {side}Times has {times} entries for {values} values (one timestamp per value)"
    )]
    TimesLength {
        /// The metric.
        metric: String,
        /// `baseline` or `canary`.
        side: &'static str,
        /// Timestamps given.
        times: usize,
        /// Values given.
        values: usize,
    },
}

impl InlineData {
    /// The metric set to judge.
    pub fn into_metric_set(self) -> Result<MetricSet, InlineError> {
        if self.metrics.is_empty() {
            return Err(InlineError::Empty);
        }
        let mut set = MetricSet::default();
        for (name, series) in self.metrics {
            let times = |side: &'static str, times: Option<InlineTimes>, values: usize| {
                let times = times.map(|times| times.0).unwrap_or_default();
                if times.is_empty() || times.len() == values {
                    Ok(times)
                } else {
                    Err(InlineError::TimesLength {
                        metric: name.clone(),
                        side,
                        times: times.len(),
                        values,
                    })
                }
            };
            let baseline_times = times("baseline", series.baseline_times, series.baseline.0.len())?;
            let canary_times = times("canary", series.canary_times, series.canary.0.len())?;
            set.insert(
                name,
                MetricPair {
                    baseline: series.baseline.0,
                    canary: series.canary.0,
                    baseline_times,
                    canary_times,
                },
            );
        }
        Ok(set)
    }
}

impl<'de> Deserialize<'de> for InlineValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ValuesVisitor)
    }
}

struct ValuesVisitor;

impl<'de> Visitor<'de> for ValuesVisitor {
    type Value = InlineValues;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of numbers (null or \"NaN\" for a missing point)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // serde_json gives no length hint; starting at a few hundred values spares
        // the usual series most of the doublings.
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(256).min(1 << 20));
        while let Some(InlineValue(value)) = seq.next_element()? {
            values.push(value);
        }
        Ok(InlineValues(values))
    }
}

struct InlineValue(f64);

impl<'de> Deserialize<'de> for InlineValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl Visitor<'_> for ValueVisitor {
    type Value = InlineValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, null, or one of \"NaN\", \"Inf\", \"+Inf\", \"-Inf\"")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(InlineValue(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(InlineValue(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(InlineValue(v as f64))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(InlineValue(f64::NAN))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(InlineValue(f64::NAN))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v {
            "NaN" | "nan" | "Inf" | "+Inf" | "-Inf" | "inf" | "+inf" | "-inf" => {
                Ok(InlineValue(f64::NAN))
            }
            other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
        }
    }
}

impl<'de> Deserialize<'de> for InlineTimes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(
            Vec::<InlineTime>::deserialize(deserializer)?
                .into_iter()
                .map(|time| time.0)
                .collect(),
        ))
    }
}

struct InlineTime(i64);

impl<'de> Deserialize<'de> for InlineTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimeVisitor)
    }
}

struct TimeVisitor;

impl TimeVisitor {
    fn seconds<E: de::Error>(self, seconds: f64) -> Result<InlineTime, E> {
        // Unix seconds within years 0..10000, like RFC 3339.
        if seconds.is_finite() && (-62_167_219_200.0..253_402_300_800.0).contains(&seconds) {
            Ok(InlineTime((seconds * 1000.0).round() as i64))
        } else {
            Err(E::invalid_value(de::Unexpected::Float(seconds), &self))
        }
    }
}

impl Visitor<'_> for TimeVisitor {
    type Value = InlineTime;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Unix time in seconds or an RFC 3339 timestamp")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.seconds(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.seconds(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.seconds(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        chrono::DateTime::parse_from_rfc3339(v)
            .map(|time| InlineTime(time.timestamp_millis()))
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<InlineData, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn values_and_missing_points() {
        let data = parse(r#"{"latency": {"baseline": [1], "canary": [2], "extra": 1}}"#);
        assert!(data.unwrap_err().contains("unknown field `extra`"));

        let data =
            parse(r#"{"latency": {"control": [1, 2.5, null, "NaN", "-Inf"], "experiment": [3]}}"#)
                .unwrap();
        let set = data.into_metric_set().unwrap();
        let pair = set.get("latency").unwrap();
        assert_eq!(&pair.baseline[..2], &[1.0, 2.5]);
        assert!(pair.baseline[2..].iter().all(|v| v.is_nan()));
        assert_eq!(pair.canary, vec![3.0]);
    }

    #[test]
    fn timestamps_are_seconds_or_rfc3339_one_per_value() {
        let data = parse(
            r#"{"m": {"baseline": [1, 2], "canary": [3, 4],
                      "baselineTimes": [1700000000, 1700000060.5],
                      "experimentTimes": ["2023-11-14T22:13:20Z", "2023-11-14T22:14:20+00:00"]}}"#,
        )
        .unwrap();
        let set = data.into_metric_set().unwrap();
        let pair = set.get("m").unwrap();
        assert_eq!(pair.baseline_times, [1_700_000_000_000, 1_700_000_060_500]);
        assert_eq!(pair.canary_times, [1_700_000_000_000, 1_700_000_060_000]);
        let short = parse(r#"{"m": {"baseline": [1, 2], "canary": [3], "baselineTimes": [1]}}"#)
            .unwrap()
            .into_metric_set()
            .unwrap_err();
        assert_eq!(
            short.to_string(),
            "m: baselineTimes has 1 entries for 2 values (one timestamp per value)"
        );
        for (text, want) in [
            (
                r#"{"m": {"baseline": [1], "canary": [1], "canaryTimes": ["yesterday"]}}"#,
                "yesterday",
            ),
            (
                r#"{"m": {"baseline": [1], "canary": [1], "canaryTimes": [1e300]}}"#,
                "Unix time",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(want), "{text}: {error}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (r#"{"m": {"baseline": [1, "fast"], "canary": []}}"#, "fast"),
            (
                r#"{"m": {"baseline": 1, "canary": []}}"#,
                "an array of numbers",
            ),
            (
                r#"{"m": {"baseline": [true], "canary": []}}"#,
                "a number, null",
            ),
            (r#"{"m": {"baseline": []}}"#, "missing field `canary`"),
        ];
        for (text, want) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(want), "{text}: {error}");
        }
        assert_eq!(
            parse("{}").unwrap().into_metric_set(),
            Err(InlineError::Empty)
        );
    }
}
