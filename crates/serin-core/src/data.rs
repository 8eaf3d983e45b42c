//! Raw metric values per scope, as sources deliver them (NaN allowed), before preprocessing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which side of the comparison a value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The current version (Kayenta's "control").
    #[serde(alias = "control")]
    Baseline,
    /// The new version under test (Kayenta's "experiment").
    #[serde(alias = "experiment")]
    Canary,
}

impl Scope {
    /// Parses `baseline`, `canary`, `control` or `experiment`, ignoring ASCII case.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("baseline") || text.eq_ignore_ascii_case("control") {
            Some(Self::Baseline)
        } else if text.eq_ignore_ascii_case("canary") || text.eq_ignore_ascii_case("experiment") {
            Some(Self::Canary)
        } else {
            None
        }
    }
}

/// The raw baseline and canary values of one metric. Values may be NaN.
///
/// A side's timestamps (milliseconds since the Unix epoch), when its source has them,
/// are one per value, in the same order; an empty list means the side has none, and
/// the Serin judge then pairs the sides by position (Kayenta's judge never reads them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricPair {
    /// Baseline (control) values.
    pub baseline: Vec<f64>,
    /// Canary (experiment) values.
    pub canary: Vec<f64>,
    /// Timestamps of the baseline values, or empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_times: Vec<i64>,
    /// Timestamps of the canary values, or empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canary_times: Vec<i64>,
}

impl MetricPair {
    /// A pair without timestamps.
    pub fn new(baseline: Vec<f64>, canary: Vec<f64>) -> Self {
        Self {
            baseline,
            canary,
            ..Self::default()
        }
    }

    /// A side's values and timestamps (empty when the side has none, or not one per value).
    pub fn side(&self, scope: Scope) -> TimedSeries<'_> {
        let (values, times) = match scope {
            Scope::Baseline => (&self.baseline, &self.baseline_times),
            Scope::Canary => (&self.canary, &self.canary_times),
        };
        TimedSeries {
            values,
            times: if times.len() == values.len() {
                times
            } else {
                &[]
            },
        }
    }

    /// Appends one value with its timestamp.
    pub fn push_at(&mut self, scope: Scope, at_millis: i64, value: f64) {
        let (values, times) = match scope {
            Scope::Baseline => (&mut self.baseline, &mut self.baseline_times),
            Scope::Canary => (&mut self.canary, &mut self.canary_times),
        };
        // A side keeps timestamps only while every value has one.
        if times.len() == values.len() {
            times.push(at_millis);
        }
        values.push(value);
    }

    /// The values of one scope.
    pub fn scope_mut(&mut self, scope: Scope) -> &mut Vec<f64> {
        match scope {
            Scope::Baseline => &mut self.baseline,
            Scope::Canary => &mut self.canary,
        }
    }
}

/// One side of a metric: its values and, when known, their timestamps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedSeries<'a> {
    /// The values, NaN allowed.
    pub values: &'a [f64],
    /// Milliseconds since the epoch, one per value; empty when not known.
    pub times: &'a [i64],
}

/// Raw values of every metric, by metric name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MetricSet {
    metrics: BTreeMap<String, MetricPair>,
}

impl MetricSet {
    /// Appends one value.
    pub fn push(&mut self, metric: &str, scope: Scope, value: f64) {
        // Look up before allocating: most rows belong to a metric already seen.
        if let Some(pair) = self.metrics.get_mut(metric) {
            pair.scope_mut(scope).push(value);
        } else {
            let mut pair = MetricPair::default();
            pair.scope_mut(scope).push(value);
            self.metrics.insert(metric.to_owned(), pair);
        }
    }

    /// Appends one value with its timestamp (milliseconds since the epoch).
    pub fn push_at(&mut self, metric: &str, scope: Scope, at_millis: i64, value: f64) {
        if let Some(pair) = self.metrics.get_mut(metric) {
            pair.push_at(scope, at_millis, value);
        } else {
            let mut pair = MetricPair::default();
            pair.push_at(scope, at_millis, value);
            self.metrics.insert(metric.to_owned(), pair);
        }
    }

    /// Inserts (or replaces) a metric's values.
    pub fn insert(&mut self, metric: impl Into<String>, pair: MetricPair) {
        self.metrics.insert(metric.into(), pair);
    }

    /// The values of one metric.
    pub fn get(&self, metric: &str) -> Option<&MetricPair> {
        self.metrics.get(metric)
    }

    /// Metric names in lexical order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.metrics.keys().map(String::as_str)
    }

    /// Number of metrics.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// True when no metric has values.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_kayenta_and_serin_names() {
        let cases = [
            ("baseline", Some(Scope::Baseline)),
            ("Control", Some(Scope::Baseline)),
            (" canary ", Some(Scope::Canary)),
            ("EXPERIMENT", Some(Scope::Canary)),
            ("prod", None),
        ];
        for (text, want) in cases {
            assert_eq!(Scope::parse(text), want, "{text}");
        }
    }

    #[test]
    fn push_groups_values_by_metric_and_scope() {
        let mut set = MetricSet::default();
        set.push("latency", Scope::Canary, 1.0);
        set.push("latency", Scope::Baseline, 2.0);
        set.push("errors", Scope::Canary, f64::NAN);
        assert_eq!(set.names().collect::<Vec<_>>(), ["errors", "latency"]);
        assert_eq!(set.get("latency").unwrap().baseline, [2.0]);
        assert!(set.get("errors").unwrap().canary[0].is_nan());
    }

    #[test]
    fn timestamps_stay_with_their_values_or_are_dropped_whole() {
        let mut set = MetricSet::default();
        set.push_at("latency", Scope::Canary, 1_000, 1.0);
        set.push_at("latency", Scope::Canary, 2_000, 2.0);
        set.push("latency", Scope::Baseline, 3.0);
        let pair = set.get("latency").unwrap();
        assert_eq!(pair.side(Scope::Canary).times, [1_000, 2_000]);
        assert!(pair.side(Scope::Baseline).times.is_empty());
        // A value without a timestamp drops the side's timestamps.
        let mut mixed = pair.clone();
        mixed.canary.push(4.0);
        assert!(mixed.side(Scope::Canary).times.is_empty());
    }
}
