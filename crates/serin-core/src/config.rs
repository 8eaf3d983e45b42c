//! Kayenta canary-config JSON, read as it is: typed where Serin needs it, every other field kept.
//!
//! Invalid values fail with the JSON path of the offending field, e.g.
//! `metrics[2].analysisConfigurations.canary.direction: expected increase, decrease or either, found "up"`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::preprocess::{DEFAULT_OUTLIER_FACTOR, NanStrategy, OutlierStrategy};
use crate::stats::IntervalMethod;

/// Kayenta's judge name, written into results.
pub const JUDGE_NAME: &str = "NetflixACAJudge-v1.0";
/// The Serin judge's name.
pub const SERIN_JUDGE_NAME: &str = "SerinJudge-v1.0";
/// The judges Serin knows, by the names a config gives them.
pub const KNOWN_JUDGES: [&str; 2] = [JUDGE_NAME, SERIN_JUDGE_NAME];
/// The Serin judge's default false-fail bound for a whole judgement, over every look.
pub const DEFAULT_ALPHA: f64 = 0.01;

/// Which judge a config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JudgeKind {
    /// Kayenta's NetflixACAJudge, reproduced exactly (also for an absent or empty name).
    Kayenta,
    /// Serin's anytime-valid judge.
    Serin,
}

impl JudgeKind {
    /// The judge of `name` (ASCII case ignored); an empty name is Kayenta's.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.is_empty() || name.eq_ignore_ascii_case(JUDGE_NAME) {
            Some(Self::Kayenta)
        } else if name.eq_ignore_ascii_case(SERIN_JUDGE_NAME) {
            Some(Self::Serin)
        } else {
            None
        }
    }

    /// The name written into results.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kayenta => JUDGE_NAME,
            Self::Serin => SERIN_JUDGE_NAME,
        }
    }
}
/// Kayenta's tolerance: the interval must clear `tolerance · |estimate|`.
pub const DEFAULT_TOLERANCE: f64 = 0.25;
/// Kayenta's confidence level.
pub const DEFAULT_CONFIDENCE: f64 = 0.98;
/// Serin's default minimum number of values per side before a metric is judged.
///
/// At 98 % two-sided confidence the Mann-Whitney test cannot reject at all below 5
/// values per side (the smallest exact p-value with n = m = 4 is 2/70 = 0.029 > 0.02),
/// so fewer than 5 would be a guaranteed pass whatever the canary does. Twice that
/// floor gives the test real power: ten one-minute points, the shortest analysis
/// window that Argo Rollouts and Flagger users commonly configure.
pub const DEFAULT_MIN_SAMPLES: usize = 10;

/// Why a canary config could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not valid JSON or a field has an invalid value; `path` locates it.
    #[error("{path}: {message}")]
    Invalid {
        /// JSON path of the offending field (`.` for the document itself).
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A Kayenta canary config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryConfig {
    /// Config name.
    #[serde(default)]
    pub name: String,
    /// Optional id (Kayenta's storage id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Judge name and settings.
    #[serde(default)]
    pub judge: JudgeConfig,
    /// The metrics to compare.
    pub metrics: Vec<MetricConfig>,
    /// Named query templates (used by metric sources).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, String>,
    /// Group weights and legacy thresholds.
    #[serde(default)]
    pub classifier: ClassifierConfig,
    /// The document as it was read, unknown fields included.
    #[serde(skip)]
    pub raw: Value,
}

/// `judge`: the judge's name and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeConfig {
    /// Judge name.
    #[serde(default = "default_judge_name")]
    pub name: String,
    /// Settings; Kayenta ignores them, Serin reads them.
    #[serde(default)]
    pub judge_configurations: JudgeSettings,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        Self {
            name: default_judge_name(),
            judge_configurations: JudgeSettings::default(),
        }
    }
}

fn default_judge_name() -> String {
    JUDGE_NAME.to_owned()
}

/// `judge.judgeConfigurations`: statistical settings for the whole judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeSettings {
    /// Relative tolerance around the estimate (default 0.25).
    #[serde(default = "default_tolerance", deserialize_with = "non_negative")]
    pub tolerance: f64,
    /// Two-sided confidence level of the interval (default 0.98).
    #[serde(default = "default_confidence", deserialize_with = "probability")]
    pub conf_level: f64,
    /// `kayenta` (default) or `exact`.
    #[serde(default)]
    pub interval_method: IntervalMethod,
    /// Minimum values per side to judge a metric (default 10; 0 reproduces Kayenta).
    #[serde(default = "default_min_samples", deserialize_with = "count")]
    pub min_samples: usize,
    /// Serin judge: the chance that a healthy canary fails any metric, over any number
    /// of judgements of a growing window, is at most this (default 0.01; Kayenta's
    /// judge ignores it).
    #[serde(default = "default_alpha", deserialize_with = "probability")]
    pub alpha: f64,
}

impl Default for JudgeSettings {
    fn default() -> Self {
        Self {
            tolerance: DEFAULT_TOLERANCE,
            conf_level: DEFAULT_CONFIDENCE,
            interval_method: IntervalMethod::default(),
            min_samples: DEFAULT_MIN_SAMPLES,
            alpha: DEFAULT_ALPHA,
        }
    }
}

fn default_alpha() -> f64 {
    DEFAULT_ALPHA
}

fn default_tolerance() -> f64 {
    DEFAULT_TOLERANCE
}
fn default_confidence() -> f64 {
    DEFAULT_CONFIDENCE
}
fn default_min_samples() -> usize {
    DEFAULT_MIN_SAMPLES
}

/// `classifier`: group weights and (legacy) score thresholds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassifierConfig {
    /// Weight per group, in percent; unweighted groups share what is left of 100.
    #[serde(default, deserialize_with = "weights")]
    pub group_weights: BTreeMap<String, f64>,
    /// Thresholds used when the caller gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_thresholds: Option<ScoreThresholds>,
}

/// Score thresholds: at or above `pass` passes, at or above `marginal` is marginal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreThresholds {
    /// Lowest passing score.
    #[serde(deserialize_with = "lenient_f64")]
    pub pass: f64,
    /// Lowest marginal score.
    #[serde(deserialize_with = "lenient_f64")]
    pub marginal: f64,
}

impl Default for ScoreThresholds {
    /// 95 / 75, Spinnaker's defaults for canary analysis.
    fn default() -> Self {
        Self {
            pass: 95.0,
            marginal: 75.0,
        }
    }
}

/// One metric of a canary config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricConfig {
    /// Metric name; must be unique in the config.
    pub name: String,
    /// The metric-source query, kept as JSON for the source to interpret.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub query: Value,
    /// Groups the metric scores in.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Analysis settings; only `canary` is read.
    #[serde(default)]
    pub analysis_configurations: AnalysisConfigurations,
    /// Scope name (Kayenta's `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_name: Option<String>,
}

/// `analysisConfigurations`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisConfigurations {
    /// The canary analysis settings.
    #[serde(default)]
    pub canary: CanaryAnalysis,
}

/// Which way a metric may not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only an increase is bad (latency, errors).
    Increase,
    /// Only a decrease is bad (throughput, success rate).
    Decrease,
    /// Either way is bad.
    #[default]
    Either,
}

/// The effect-size measure gating High/Low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum EffectMeasure {
    /// Canary mean over baseline mean (thresholds default to 1.0).
    #[default]
    #[serde(rename = "meanRatio")]
    MeanRatio,
    /// Common-language effect size (thresholds default to 0.5).
    #[serde(rename = "cles")]
    Cles,
}

impl EffectMeasure {
    /// The neutral value, used when a threshold is not configured.
    pub fn neutral(self) -> f64 {
        match self {
            Self::MeanRatio => 1.0,
            Self::Cles => 0.5,
        }
    }

    /// Every threshold at the neutral value, as Kayenta when none is configured.
    pub fn default_thresholds(self) -> EffectThresholds {
        let neutral = self.neutral();
        EffectThresholds {
            measure: self,
            allowed_increase: neutral,
            allowed_decrease: neutral,
            critical_increase: neutral,
            critical_decrease: neutral,
        }
    }
}

/// `analysisConfigurations.canary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryAnalysis {
    /// Which way the metric may not move.
    #[serde(default)]
    pub direction: Direction,
    /// NaN handling.
    #[serde(default, deserialize_with = "nan_strategy")]
    pub nan_strategy: NanStrategy,
    /// A High/Low here fails the whole canary.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub critical: bool,
    /// No data here fails the metric.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub must_have_data: bool,
    /// Reported but not scored.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub muted: bool,
    /// Effect-size gates.
    #[serde(default)]
    pub effect_size: EffectSizeConfig,
    /// Outlier handling.
    #[serde(default)]
    pub outliers: OutlierConfig,
    /// Per-metric override of `judge.judgeConfigurations.minSamples`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_count"
    )]
    pub min_samples: Option<usize>,
    /// What the Serin judge needs to know of the metric (Kayenta ignores it).
    #[serde(default, skip_serializing_if = "SerinMetric::is_default")]
    pub serin: SerinMetric,
}

/// `analysisConfigurations.canary.serin`: the Serin judge's view of a metric.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SerinMetric {
    /// What the values are.
    #[serde(default)]
    pub kind: MetricKind,
    /// For a `rate`: the metric (of the same config) holding the requests the
    /// events are counted out of, bin by bin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<String>,
}

impl SerinMetric {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// What a metric's values are, for the Serin judge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Measurements (latency, CPU, memory): compared bin by bin, in level, tail and spread.
    #[default]
    Continuous,
    /// Event counts per bin (errors), judged against the requests of `requests`.
    Rate,
}

/// `effectSize`: thresholds a significant change must also reach.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectSizeConfig {
    /// The measure.
    #[serde(default)]
    pub measure: EffectMeasure,
    /// A High needs the effect at or above this.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_f64"
    )]
    pub allowed_increase: Option<f64>,
    /// A Low needs the effect at or below this.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_f64"
    )]
    pub allowed_decrease: Option<f64>,
    /// A critical High needs the effect at or above this.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_f64"
    )]
    pub critical_increase: Option<f64>,
    /// A critical Low needs the effect at or below this.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_f64"
    )]
    pub critical_decrease: Option<f64>,
}

/// The effect-size thresholds with the measure's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectThresholds {
    /// The measure.
    pub measure: EffectMeasure,
    /// A High needs the effect at or above this.
    pub allowed_increase: f64,
    /// A Low needs the effect at or below this.
    pub allowed_decrease: f64,
    /// A critical High needs the effect at or above this.
    pub critical_increase: f64,
    /// A critical Low needs the effect at or below this.
    pub critical_decrease: f64,
}

impl EffectSizeConfig {
    /// Fills unset thresholds with the measure's neutral value, as Kayenta does.
    pub fn thresholds(&self) -> EffectThresholds {
        let neutral = self.measure.neutral();
        EffectThresholds {
            measure: self.measure,
            allowed_increase: self.allowed_increase.unwrap_or(neutral),
            allowed_decrease: self.allowed_decrease.unwrap_or(neutral),
            critical_increase: self.critical_increase.unwrap_or(neutral),
            critical_decrease: self.critical_decrease.unwrap_or(neutral),
        }
    }
}

/// `outliers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutlierConfig {
    /// `keep` (default) or `remove`.
    #[serde(default, deserialize_with = "outlier_strategy")]
    pub strategy: OutlierStrategy,
    /// IQR fence factor, greater than 0 (default 3).
    #[serde(default = "default_outlier_factor", deserialize_with = "positive")]
    pub outlier_factor: f64,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        Self {
            strategy: OutlierStrategy::Keep,
            outlier_factor: DEFAULT_OUTLIER_FACTOR,
        }
    }
}

fn default_outlier_factor() -> f64 {
    DEFAULT_OUTLIER_FACTOR
}

impl CanaryConfig {
    /// Parses and validates a canary config from JSON text.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|error| ConfigError::Invalid {
            path: ".".to_owned(),
            message: error.to_string(),
        })?;
        Self::from_value(value)
    }

    /// Parses and validates a canary config from a JSON value. Unknown fields are
    /// ignored by the typed view and kept in [`CanaryConfig::raw`].
    pub fn from_value(value: Value) -> Result<Self, ConfigError> {
        let mut config: Self = serde_path_to_error::deserialize(&value).map_err(|error| {
            let path = error.path().to_string();
            ConfigError::Invalid {
                path: if path.is_empty() {
                    ".".to_owned()
                } else {
                    path
                },
                message: error.into_inner().to_string(),
            }
        })?;
        config.validate()?;
        config.raw = value;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = BTreeSet::new();
        for (index, metric) in self.metrics.iter().enumerate() {
            if metric.name.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    path: format!("metrics[{index}].name"),
                    message: "metric name is empty".to_owned(),
                });
            }
            if !seen.insert(metric.name.as_str()) {
                return Err(ConfigError::Invalid {
                    path: format!("metrics[{index}].name"),
                    message: format!("duplicate metric name '{}'", metric.name),
                });
            }
        }
        for (index, metric) in self.metrics.iter().enumerate() {
            let serin = &metric.analysis_configurations.canary.serin;
            let path = format!("metrics[{index}].analysisConfigurations.canary.serin.requests");
            match (serin.kind, &serin.requests) {
                (MetricKind::Rate, None) => {
                    return Err(ConfigError::Invalid {
                        path,
                        message: "a rate needs the metric that counts its requests".to_owned(),
                    });
                }
                (MetricKind::Rate, Some(requests)) if !seen.contains(requests.as_str()) => {
                    return Err(ConfigError::Invalid {
                        path,
                        message: format!("no metric named '{requests}' in this config"),
                    });
                }
                (MetricKind::Rate, Some(requests)) if *requests == metric.name => {
                    return Err(ConfigError::Invalid {
                        path,
                        message: "a rate cannot count its own requests".to_owned(),
                    });
                }
                (MetricKind::Continuous, Some(_)) => {
                    return Err(ConfigError::Invalid {
                        path,
                        message: "only a metric of kind rate has requests".to_owned(),
                    });
                }
                _ => {}
            }
        }
        let weight_total: f64 = self.classifier.group_weights.values().sum();
        if weight_total > 100.0 {
            return Err(ConfigError::Invalid {
                path: "classifier.groupWeights".to_owned(),
                message: format!("weights add up to {weight_total}, more than 100"),
            });
        }
        if self.metrics.is_empty() {
            return Err(ConfigError::Invalid {
                path: "metrics".to_owned(),
                message: "expected at least one metric".to_owned(),
            });
        }
        Ok(())
    }

    /// The metric config with this name.
    pub fn metric(&self, name: &str) -> Option<&MetricConfig> {
        self.metrics.iter().find(|metric| metric.name == name)
    }
}

// --- Lenient scalar readers: Kayenta accepts integers where doubles are expected,
// --- and configs in the wild carry "true" or "1.5" as strings.

struct Expected(&'static str);

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn found(value: &Value) -> String {
    match value {
        Value::String(text) => format!("\"{text}\""),
        other => other.to_string(),
    }
}

fn lenient_f64_value(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

fn lenient_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    let value = Value::deserialize(deserializer)?;
    lenient_f64_value(&value)
        .ok_or_else(|| de::Error::custom(format!("expected a number, found {}", found(&value))))
}

fn optional_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    if value.is_null() {
        return Ok(None);
    }
    lenient_f64_value(&value)
        .map(Some)
        .ok_or_else(|| de::Error::custom(format!("expected a number, found {}", found(&value))))
}

fn checked_f64<'de, D: Deserializer<'de>>(
    deserializer: D,
    accept: impl Fn(f64) -> bool,
    expected: Expected,
) -> Result<f64, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match lenient_f64_value(&value) {
        Some(number) if accept(number) => Ok(number),
        _ => Err(de::Error::custom(format!(
            "expected {expected}, found {}",
            found(&value)
        ))),
    }
}

fn non_negative<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    checked_f64(
        deserializer,
        |v| v >= 0.0,
        Expected("a number of at least 0"),
    )
}

fn positive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    checked_f64(
        deserializer,
        |v| v > 0.0,
        Expected("a number greater than 0"),
    )
}

fn probability<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    checked_f64(
        deserializer,
        |v| v > 0.0 && v < 1.0,
        Expected("a number between 0 and 1 (exclusive)"),
    )
}

fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let number = checked_f64(
        deserializer,
        |v| v >= 0.0 && v.fract() == 0.0 && v <= 1e12,
        Expected("a whole number of at least 0"),
    )?;
    Ok(number as usize)
}

fn optional_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    count(deserializer).map(Some)
}

fn weights<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let raw = BTreeMap::<String, Value>::deserialize(deserializer)?;
    raw.into_iter()
        .map(|(group, value)| match lenient_f64_value(&value) {
            Some(weight) if weight >= 0.0 => Ok((group, weight)),
            _ => Err(de::Error::custom(format!(
                "weight of group '{group}': expected a number of at least 0, found {}",
                found(&value)
            ))),
        })
        .collect()
}

fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match &value {
        Value::Bool(flag) => Ok(*flag),
        Value::Null => Ok(false),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(de::Error::custom(format!(
            "expected true or false, found {}",
            found(other)
        ))),
    }
}

fn keyword<'de, D: Deserializer<'de>, T: Copy>(
    deserializer: D,
    choices: &[(&str, T)],
    expected: &'static str,
) -> Result<T, D::Error> {
    let value = Value::deserialize(deserializer)?;
    if let Value::String(text) = &value
        && let Some((_, choice)) = choices
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
    {
        return Ok(*choice);
    }
    Err(de::Error::custom(format!(
        "expected {expected}, found {}",
        found(&value)
    )))
}

impl<'de> Deserialize<'de> for Direction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        keyword(
            deserializer,
            &[
                ("increase", Self::Increase),
                ("decrease", Self::Decrease),
                ("either", Self::Either),
            ],
            "increase, decrease or either",
        )
    }
}

impl<'de> Deserialize<'de> for EffectMeasure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        keyword(
            deserializer,
            &[("meanRatio", Self::MeanRatio), ("cles", Self::Cles)],
            "meanRatio or cles",
        )
    }
}

fn nan_strategy<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NanStrategy, D::Error> {
    keyword(
        deserializer,
        &[
            ("remove", NanStrategy::Remove),
            ("replace", NanStrategy::Replace),
        ],
        "remove or replace",
    )
}

fn outlier_strategy<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<OutlierStrategy, D::Error> {
    keyword(
        deserializer,
        &[
            ("keep", OutlierStrategy::Keep),
            ("remove", OutlierStrategy::Remove),
        ],
        "keep or remove",
    )
}

#[cfg(test)]
mod tests;
