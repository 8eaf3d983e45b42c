//! Series given inline as JSON: `{"<metric>": {"baseline": [...], "canary": [...]}}`.
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
}

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
}

impl InlineData {
    /// The metric set to judge.
    pub fn into_metric_set(self) -> Result<MetricSet, InlineError> {
        if self.metrics.is_empty() {
            return Err(InlineError::Empty);
        }
        let mut set = MetricSet::default();
        for (name, series) in self.metrics {
            set.insert(
                name,
                MetricPair {
                    baseline: series.baseline.0,
                    canary: series.canary.0,
                    ..MetricPair::default()
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
