//! Per-metric classification (Pass / High / Low / Nodata / NodataFailMetric / Error), as Kayenta's Mann-Whitney classifier, with evidence.
#![allow(
    clippy::float_cmp,
    reason = "ties and shortcuts are defined by exact equality, as in R and Kayenta"
)]

use serde::{Serialize, Serializer};

use crate::config::{Direction, EffectMeasure, EffectThresholds};
use crate::preprocess::NanStrategy;
use crate::sample::Sample;
use crate::stats::Descriptive;
use crate::stats::effect_size::EffectSizes;
use crate::stats::{
    Alternative, HodgesLehmann, IntervalMethod, PValueMethod, hodges_lehmann, mann_whitney_u,
};

/// A metric's classification; the strings are Kayenta's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Classification {
    /// No significant change in a bad direction.
    Pass,
    /// Significantly higher than the baseline.
    High,
    /// Significantly lower than the baseline.
    Low,
    /// No data (or too few values) to judge.
    Nodata,
    /// No data on a metric that must have data.
    NodataFailMetric,
    /// The classification itself failed.
    Error,
}

impl Classification {
    /// Kayenta's label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "Pass",
            Self::High => "High",
            Self::Low => "Low",
            Self::Nodata => "Nodata",
            Self::NodataFailMetric => "NodataFailMetric",
            Self::Error => "Error",
        }
    }
}

/// Everything that decides how one metric is classified.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifierSettings {
    /// Relative tolerance: the interval must clear `tolerance · |estimate|`.
    pub tolerance: f64,
    /// Two-sided confidence level of the interval.
    pub confidence: f64,
    /// How the interval is computed.
    pub interval_method: IntervalMethod,
    /// Minimum values per side; 0 disables the check (Kayenta's behaviour).
    pub min_samples: usize,
    /// Which way the metric may not move.
    pub direction: Direction,
    /// NaN strategy the series went through (decides what "no data" means).
    pub nan_strategy: NanStrategy,
    /// Effect-size gates.
    pub effect: EffectThresholds,
    /// Whether a High/Low past the critical thresholds fails the canary.
    pub critical: bool,
    /// Whether no data fails the metric.
    pub must_have_data: bool,
}

/// Why a metric got its classification without (or before) a rank test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shortcut {
    /// A side had no values.
    NoData,
    /// A side had fewer than `minSamples` values.
    TooFewSamples,
    /// Both sides hold the same values.
    Identical,
    /// Every value on both sides is the same.
    SingleValue,
    /// Each side is constant (with different values): the shift is known exactly.
    ConstantShift,
}

/// The numbers behind a classification: Serin's documented evidence contract.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// Interval method (`kayenta` or `exact`).
    pub method: IntervalMethod,
    /// Confidence level of the interval.
    pub confidence: f64,
    /// Baseline values judged (after preprocessing).
    pub baseline_count: usize,
    /// Canary values judged (after preprocessing).
    pub canary_count: usize,
    /// Minimum values per side that applied.
    pub min_samples: usize,
    /// Set when the rank test was not (fully) needed; absent when it decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortcut: Option<Shortcut>,
    /// Mann-Whitney U of the canary.
    #[serde(serialize_with = "finite_or_null")]
    pub u: Option<f64>,
    /// p-value of the Mann-Whitney test in the metric's direction
    /// (increase: greater, decrease: less, either: two-sided).
    #[serde(serialize_with = "finite_or_null")]
    pub p_value: Option<f64>,
    /// `exact` or `asymptotic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value_method: Option<PValueMethod>,
    /// Lower end of the shift interval (canary minus baseline).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_lower: Option<f64>,
    /// Upper end of the shift interval.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_upper: Option<f64>,
    /// Hodges-Lehmann shift estimate.
    #[serde(serialize_with = "finite_or_null")]
    pub estimate: Option<f64>,
    /// `tolerance · |estimate|`: the interval must clear this to call High or Low.
    #[serde(serialize_with = "finite_or_null")]
    pub tolerance_bound: Option<f64>,
    /// The gating effect size (by `effectSizeMeasure`); null when undefined.
    #[serde(serialize_with = "finite_or_null")]
    pub effect_size: Option<f64>,
    /// The effect-size measure.
    pub effect_size_measure: EffectMeasure,
    /// Canary mean over baseline mean; null when either mean is 0.
    #[serde(serialize_with = "finite_or_null")]
    pub mean_ratio: Option<f64>,
    /// Common-language effect size.
    #[serde(serialize_with = "finite_or_null")]
    pub cles: Option<f64>,
    /// Cohen's d (information only).
    #[serde(serialize_with = "finite_or_null")]
    pub cohens_d: Option<f64>,
    /// The Serin judge's evidence (absent for Kayenta's judge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential: Option<crate::serin_judge::SequentialEvidence>,
}

/// Writes non-finite or absent numbers as `null`, which JSON can carry.
pub(crate) fn finite_or_null<S: Serializer>(
    value: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(number) if number.is_finite() => serializer.serialize_f64(*number),
        _ => serializer.serialize_none(),
    }
}

/// The outcome for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricClassification {
    /// The classification.
    pub classification: Classification,
    /// Kayenta's reason text, when it gives one.
    pub reason: Option<String>,
    /// Kayenta's `resultMetadata.ratio`: canary mean over baseline mean (None for NaN).
    pub ratio: Option<f64>,
    /// Whether this result fails the canary outright.
    pub critical: bool,
    /// The numbers behind it.
    pub evidence: Evidence,
    /// Summary statistics of the canary values judged.
    pub canary_stats: Descriptive,
    /// Summary statistics of the baseline values judged.
    pub baseline_stats: Descriptive,
}

/// One side's preprocessed values, with how many of them were measured.
///
/// Under `nanStrategy: replace` a value that was never finite is judged as 0, as in
/// Kayenta, but it is not data: only `measured` values count towards `minSamples`,
/// so a canary that received no traffic (0/0 everywhere) is "no data", never a pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JudgedSeries<'a> {
    /// The values judged.
    pub values: &'a [f64],
    /// How many of `values` were finite when received (the rest were replaced).
    pub measured: usize,
}

impl<'a> From<&'a [f64]> for JudgedSeries<'a> {
    /// Values that were all measured.
    fn from(values: &'a [f64]) -> Self {
        Self {
            values,
            measured: values.len(),
        }
    }
}

impl<'a, const N: usize> From<&'a [f64; N]> for JudgedSeries<'a> {
    fn from(values: &'a [f64; N]) -> Self {
        Self::from(values.as_slice())
    }
}

impl<'a> From<&'a Vec<f64>> for JudgedSeries<'a> {
    fn from(values: &'a Vec<f64>) -> Self {
        Self::from(values.as_slice())
    }
}

/// Classifies one metric from its preprocessed values.
pub fn classify<'a>(
    name: &str,
    baseline: impl Into<JudgedSeries<'a>>,
    canary: impl Into<JudgedSeries<'a>>,
    settings: &ClassifierSettings,
) -> MetricClassification {
    let (baseline_series, canary_series) = (baseline.into(), canary.into());
    let (baseline, canary) = (baseline_series.values, canary_series.values);
    let canary_stats = Descriptive::of(canary);
    let baseline_stats = Descriptive::of(baseline);
    let decision = decide(
        name,
        baseline_series,
        canary_series,
        &canary_stats,
        &baseline_stats,
        settings,
    );
    MetricClassification {
        classification: decision.classification,
        reason: decision.reason,
        ratio: decision.ratio,
        critical: decision.critical,
        evidence: decision.evidence,
        canary_stats,
        baseline_stats,
    }
}

/// [`classify`] without the summaries it passes through.
struct Decision {
    classification: Classification,
    reason: Option<String>,
    ratio: Option<f64>,
    critical: bool,
    evidence: Evidence,
}

fn decide(
    name: &str,
    baseline_series: JudgedSeries<'_>,
    canary_series: JudgedSeries<'_>,
    canary_stats: &Descriptive,
    baseline_stats: &Descriptive,
    settings: &ClassifierSettings,
) -> Decision {
    let (baseline, canary) = (baseline_series.values, canary_series.values);
    let mut evidence = Evidence {
        method: settings.interval_method,
        confidence: settings.confidence,
        baseline_count: baseline.len(),
        canary_count: canary.len(),
        min_samples: settings.min_samples,
        shortcut: None,
        u: None,
        p_value: None,
        p_value_method: None,
        ci_lower: None,
        ci_upper: None,
        estimate: None,
        tolerance_bound: None,
        effect_size: None,
        effect_size_measure: settings.effect.measure,
        mean_ratio: None,
        cles: None,
        cohens_d: None,
        sequential: None,
    };
    let pass = |reason: Option<String>, evidence: Evidence| Decision {
        classification: Classification::Pass,
        reason,
        ratio: Some(1.0),
        critical: false,
        evidence,
    };
    let no_data = |reason: String, evidence: Evidence| {
        let fail_metric = settings.must_have_data && !settings.critical;
        Decision {
            classification: if fail_metric {
                Classification::NodataFailMetric
            } else {
                Classification::Nodata
            },
            reason: Some(reason),
            ratio: Some(1.0),
            critical: settings.critical && !fail_metric,
            evidence,
        }
    };

    // 1. No data: Kayenta passes it under NaN replacement; Serin only when minSamples is 0.
    if baseline.is_empty() || canary.is_empty() {
        evidence.shortcut = Some(Shortcut::NoData);
        if settings.nan_strategy == NanStrategy::Replace && settings.min_samples == 0 {
            return pass(None, evidence);
        }
        return no_data(format!("Missing data for {name}"), evidence);
    }
    // 2. Too few values to judge: never a silent pass. Values replaced because they
    //    were never finite are not samples (a canary without traffic is all 0/0).
    if baseline_series.measured < settings.min_samples
        || canary_series.measured < settings.min_samples
    {
        evidence.shortcut = Some(Shortcut::TooFewSamples);
        let side = |label: &str, series: JudgedSeries<'_>| {
            let replaced = series.values.len() - series.measured;
            if replaced == 0 {
                format!("{label} {}", series.measured)
            } else {
                format!(
                    "{label} {} ({replaced} of its {} values were not numbers, replaced by 0)",
                    series.measured,
                    series.values.len()
                )
            }
        };
        return no_data(
            format!(
                "Too few samples for {name}: {}, {}, at least {} per side needed",
                side("canary", canary_series),
                side("baseline", baseline_series),
                settings.min_samples
            ),
            evidence,
        );
    }
    // Kayenta's Error; Serin keeps a critical metric critical, so that a metric
    // that cannot be classified never quietly drops out of a critical check.
    let failed = |evidence: Evidence| Decision {
        classification: Classification::Error,
        reason: Some("Metric Classification Failed".to_owned()),
        ratio: None,
        critical: settings.critical,
        evidence,
    };
    let (Ok(x), Ok(y)) = (Sample::new(canary), Sample::new(baseline)) else {
        // Preprocessing removes non-finite values, so this is a caller error.
        return failed(evidence);
    };
    let mann_whitney = mann_whitney_u(
        &x,
        &y,
        alternative_for(settings.direction),
        PValueMethod::Auto,
    );
    let effect_sizes = EffectSizes::from_summaries(canary_stats, baseline_stats, mann_whitney.u);
    evidence.u = Some(mann_whitney.u);
    evidence.p_value = Some(mann_whitney.p_value);
    evidence.p_value_method = Some(mann_whitney.method);
    evidence.mean_ratio = effect_sizes.mean_ratio;
    evidence.cles = Some(effect_sizes.cles);
    evidence.cohens_d = effect_sizes.cohens_d;

    // 3. Identical samples (as multisets) and 4. one value everywhere: Kayenta's shortcuts.
    if x.sorted() == y.sorted() {
        evidence.shortcut = Some(Shortcut::Identical);
        return pass(
            Some("The Canary and Baseline data are identical".to_owned()),
            evidence,
        );
    }
    if x.is_constant() && y.is_constant() && x.min() == y.min() {
        evidence.shortcut = Some(Shortcut::SingleValue);
        return pass(None, evidence);
    }

    // 5. The interval. Kayenta jitters two constant samples with unseeded noise so its
    //    root finder has ranks to work with; the shift is in fact known exactly, so
    //    Serin uses it: deterministic, and what the noise converges to.
    let interval = if x.is_constant() && y.is_constant() {
        evidence.shortcut = Some(Shortcut::ConstantShift);
        let shift = x.min() - y.min();
        Ok(HodgesLehmann {
            estimate: shift,
            lower: shift,
            upper: shift,
            confidence: settings.confidence,
            method: settings.interval_method,
            ranks: None,
        })
    } else {
        hodges_lehmann(&x, &y, settings.confidence, settings.interval_method)
    };
    // Differences that overflow (values near ±f64::MAX) leave nothing to compare.
    let Some(interval) = interval.ok().filter(|interval| {
        interval.lower.is_finite() && interval.upper.is_finite() && interval.estimate.is_finite()
    }) else {
        return failed(evidence);
    };
    let effect = match settings.effect.measure {
        EffectMeasure::MeanRatio => effect_sizes.mean_ratio,
        EffectMeasure::Cles => Some(effect_sizes.cles),
    };
    let bound = settings.tolerance * interval.estimate.abs();
    evidence.ci_lower = Some(interval.lower);
    evidence.ci_upper = Some(interval.upper);
    evidence.estimate = Some(interval.estimate);
    evidence.tolerance_bound = Some(bound);
    evidence.effect_size = effect;

    // An undefined effect size (a zero mean) skips the gates, as in Kayenta.
    let at_least = |threshold: f64| effect.is_none_or(|value| value >= threshold);
    let at_most = |threshold: f64| effect.is_none_or(|value| value <= threshold);
    let watches_increase = matches!(settings.direction, Direction::Increase | Direction::Either);
    let watches_decrease = matches!(settings.direction, Direction::Decrease | Direction::Either);
    let high =
        watches_increase && interval.lower > bound && at_least(settings.effect.allowed_increase);
    let low =
        watches_decrease && interval.upper < -bound && at_most(settings.effect.allowed_decrease);
    let ratio = effect_sizes.mean_ratio;
    let (classification, label) = if high {
        (Classification::High, "High")
    } else if low {
        (Classification::Low, "Low")
    } else {
        return Decision {
            classification: Classification::Pass,
            reason: None,
            ratio,
            critical: false,
            evidence,
        };
    };
    let critical_reached = match classification {
        Classification::High => at_least(settings.effect.critical_increase),
        _ => at_most(settings.effect.critical_decrease),
    };
    if settings.critical && critical_reached {
        return Decision {
            classification,
            reason: Some(format!(
                "The metric {name} was classified as {label} (Critical)"
            )),
            ratio,
            critical: true,
            evidence,
        };
    }
    Decision {
        classification,
        reason: Some(format!("{name} was classified as {label}")),
        ratio,
        critical: false,
        evidence,
    }
}

/// The p-value's alternative for a direction.
fn alternative_for(direction: Direction) -> Alternative {
    match direction {
        Direction::Increase => Alternative::Greater,
        Direction::Decrease => Alternative::Less,
        Direction::Either => Alternative::TwoSided,
    }
}
