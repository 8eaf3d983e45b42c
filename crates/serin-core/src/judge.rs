//! The whole judgement: preprocess, classify and score every metric of a canary config; Kayenta's `judgeResult` plus Serin's verdict and evidence.

use serde::Serialize;
use thiserror::Error;

use crate::classify::{
    Classification, ClassifierSettings, Evidence, MetricClassification, classify, finite_or_null,
};
use crate::config::{
    CanaryConfig, EffectMeasure, JudgeKind, JudgeSettings, KNOWN_JUDGES, MetricConfig,
    ScoreThresholds,
};
use crate::data::{MetricPair, MetricSet};
use crate::preprocess::preprocess;
use crate::score::{ScoredMetric, Verdict, score};
use crate::serin_judge::{SerinSettings, classify_serin};
use crate::stats::Descriptive;

/// Why a judgement could not be made at all (as opposed to a "cannot decide" verdict).
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum JudgeError {
    /// The data holds metrics the config does not define.
    #[error("unknown metric name(s) in data: {} (the config defines: {})", .unknown.join(", "), .known.join(", "))]
    UnknownMetrics {
        /// Names in the data but not in the config.
        unknown: Vec<String>,
        /// Names in the config.
        known: Vec<String>,
    },
    /// The config names a judge Serin does not have.
    #[error("Unable to resolve canary judge '{name}' (known judges: {})", .known.join(", "))]
    UnknownJudge {
        /// The name given.
        name: String,
        /// The names Serin knows.
        known: Vec<String>,
    },
    /// The thresholds are out of order or range.
    #[error(
        "score thresholds must satisfy 0 <= marginal <= pass <= 100 (got pass {pass}, marginal {marginal})"
    )]
    Thresholds {
        /// Pass threshold.
        pass: f64,
        /// Marginal threshold.
        marginal: f64,
    },
}

/// `{"stats": {...}}`, Kayenta's metadata wrapper.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideMetadata {
    /// Statistics of the preprocessed series.
    pub stats: Descriptive,
}

/// `resultMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultMetadata {
    /// Canary mean over baseline mean; null where Kayenta writes NaN.
    #[serde(serialize_with = "finite_or_null")]
    pub ratio: Option<f64>,
}

/// What preprocessing did to a metric's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreprocessingReport {
    /// Raw baseline values received.
    pub baseline_raw: usize,
    /// Raw canary values received.
    pub canary_raw: usize,
    /// Baseline NaN/Inf values removed or replaced.
    pub baseline_non_finite: usize,
    /// Canary NaN/Inf values removed or replaced.
    pub canary_non_finite: usize,
    /// Baseline outliers removed.
    pub baseline_outliers_removed: usize,
    /// Canary outliers removed.
    pub canary_outliers_removed: usize,
}

/// One metric's result, in Kayenta's shape plus Serin's evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    /// Metric name.
    pub name: String,
    /// Classification label.
    pub classification: Classification,
    /// Reason, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification_reason: Option<String>,
    /// Groups.
    pub groups: Vec<String>,
    /// Canary statistics.
    pub experiment_metadata: SideMetadata,
    /// Baseline statistics.
    pub control_metadata: SideMetadata,
    /// Ratio of means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_metadata: Option<ResultMetadata>,
    /// Whether it failed the canary outright.
    pub critical: bool,
    /// Whether it was left out of the score.
    pub muted: bool,
    /// The numbers behind the classification.
    pub evidence: Evidence,
    /// What preprocessing did.
    pub preprocessing: PreprocessingReport,
}

/// A group's score in Kayenta's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupScoreResult {
    /// Group name.
    pub name: String,
    /// Score, unrounded.
    pub score: f64,
    /// Always empty, as in Kayenta.
    pub classification: String,
    /// Always empty, as in Kayenta.
    pub classification_reason: String,
    /// True when no metric of the group could be judged.
    pub no_data: bool,
}

/// The summary score in Kayenta's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreResult {
    /// 0 to 100.
    pub score: f64,
    /// `Pass`, `Marginal` or `Fail`.
    pub classification: String,
    /// Why the score was overridden, or empty.
    pub classification_reason: String,
}

/// A whole judgement: Kayenta's `judgeResult` with Serin's `verdict` and `reasons`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeResult {
    /// Judge name.
    pub judge_name: String,
    /// `pass`, `marginal` or `fail`.
    pub verdict: Verdict,
    /// The summary score.
    pub score: ScoreResult,
    /// Human-readable reasons behind the verdict, most important first.
    pub reasons: Vec<String>,
    /// Thresholds applied.
    pub thresholds: ScoreThresholds,
    /// Group scores.
    pub group_scores: Vec<GroupScoreResult>,
    /// Per-metric results, in config order.
    pub results: Vec<MetricResult>,
}

/// Which judge, and the Serin judge's false-fail share for each metric.
#[derive(Debug, Clone, Copy, PartialEq)]
struct JudgePlan {
    kind: JudgeKind,
    /// `alpha` over the number of scored metrics (Bonferroni).
    metric_alpha: f64,
}

/// Preprocesses, classifies and summarises one metric.
fn judge_metric(
    metric: &MetricConfig,
    data: &MetricSet,
    settings: &JudgeSettings,
    plan: JudgePlan,
) -> MetricResult {
    let empty = Vec::new();
    let canary_config = &metric.analysis_configurations.canary;
    let pair = data.get(&metric.name);
    let raw_baseline = pair.map_or(&empty, |pair| &pair.baseline);
    let raw_canary = pair.map_or(&empty, |pair| &pair.canary);
    let outliers = &canary_config.outliers;
    let prep = |raw: &[f64]| {
        preprocess(
            raw,
            canary_config.nan_strategy,
            outliers.strategy,
            outliers.outlier_factor,
        )
    };
    let (baseline, canary) = (prep(raw_baseline), prep(raw_canary));
    let classifier = ClassifierSettings {
        tolerance: settings.tolerance,
        confidence: settings.conf_level,
        interval_method: settings.interval_method,
        min_samples: canary_config.min_samples.unwrap_or(settings.min_samples),
        direction: canary_config.direction,
        nan_strategy: canary_config.nan_strategy,
        effect: canary_config.effect_size.thresholds(),
        critical: canary_config.critical,
        must_have_data: canary_config.must_have_data,
    };
    let outcome = match plan.kind {
        JudgeKind::Kayenta => classify(
            &metric.name,
            baseline.series(),
            canary.series(),
            &classifier,
        ),
        JudgeKind::Serin => {
            let serin = &canary_config.serin;
            let requests = serin.requests.as_deref().and_then(|name| data.get(name));
            let effect = canary_config.effect_size.thresholds();
            let ratio_gate = effect.measure == EffectMeasure::MeanRatio;
            let serin_settings = SerinSettings {
                alpha: plan.metric_alpha,
                direction: canary_config.direction,
                allowed_increase: if ratio_gate {
                    effect.allowed_increase.max(1.0)
                } else {
                    1.0
                },
                allowed_decrease: if ratio_gate {
                    effect.allowed_decrease.clamp(0.0, 1.0)
                } else {
                    1.0
                },
                min_samples: classifier.min_samples,
                kind: serin.kind,
                critical: canary_config.critical,
                must_have_data: canary_config.must_have_data,
            };
            let empty_pair = MetricPair::default();
            let judged = classify_serin(
                &metric.name,
                pair.unwrap_or(&empty_pair),
                requests,
                &serin_settings,
            );
            MetricClassification {
                classification: judged.classification,
                reason: judged.reason,
                ratio: judged.evidence.sequential.and_then(|e| e.ratio),
                critical: judged.critical,
                evidence: judged.evidence,
                canary_stats: Descriptive::of(&canary.values),
                baseline_stats: Descriptive::of(&baseline.values),
            }
        }
    };
    MetricResult {
        name: metric.name.clone(),
        classification: outcome.classification,
        classification_reason: outcome.reason,
        groups: metric.groups.clone(),
        experiment_metadata: SideMetadata {
            stats: outcome.canary_stats,
        },
        control_metadata: SideMetadata {
            stats: outcome.baseline_stats,
        },
        result_metadata: (outcome.classification != Classification::Error).then_some(
            ResultMetadata {
                ratio: outcome.ratio,
            },
        ),
        critical: outcome.critical,
        muted: canary_config.muted,
        evidence: outcome.evidence,
        preprocessing: PreprocessingReport {
            baseline_raw: raw_baseline.len(),
            canary_raw: raw_canary.len(),
            baseline_non_finite: baseline.non_finite,
            canary_non_finite: canary.non_finite,
            baseline_outliers_removed: baseline.outliers_removed,
            canary_outliers_removed: canary.outliers_removed,
        },
    }
}

/// Judges every metric, on up to `threads` threads, keeping config order.
fn judge_metrics(
    config: &CanaryConfig,
    data: &MetricSet,
    threads: usize,
    plan: JudgePlan,
) -> Vec<MetricResult> {
    let settings = &config.judge.judge_configurations;
    let metrics = &config.metrics;
    if threads <= 1 || metrics.len() < 2 {
        return metrics
            .iter()
            .map(|metric| judge_metric(metric, data, settings, plan))
            .collect();
    }
    // Metric i goes to thread i % threads, which spreads unlike metrics evenly.
    let threads = threads.min(metrics.len());
    let mut lanes: Vec<std::vec::IntoIter<MetricResult>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|lane| {
                scope.spawn(move || {
                    metrics
                        .iter()
                        .skip(lane)
                        .step_by(threads)
                        .map(|metric| judge_metric(metric, data, settings, plan))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle.join() {
                Ok(results) => results.into_iter(),
                // A panic in a worker is a bug; re-raise it on the caller's thread.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    (0..metrics.len())
        .filter_map(|index| lanes[index % threads].next())
        .collect()
}

/// Judges `data` against `config`. Thresholds come from the caller, else from the
/// config's `classifier.scoreThresholds`, else 95 / 75.
///
/// A metric of the config with no data in `data` is judged with empty series (so it
/// is Nodata, never a pass); a metric in `data` that the config does not define is
/// an error, since a typo would otherwise silently drop a metric.
///
/// # Examples
///
/// A latency metric judged by Kayenta's judge and by the Serin judge, on a canary
/// 30 % slower than its baseline at every minute:
///
/// ```
/// use serin_core::{CanaryConfig, MetricSet, Scope, Verdict, judge};
///
/// let config = |judge_name: &str| {
///     CanaryConfig::from_json(&format!(
///         r#"{{"judge": {{"name": "{judge_name}"}},
///             "metrics": [{{"name": "latency_ms", "groups": ["latency"],
///                          "analysisConfigurations": {{"canary": {{"direction": "increase"}}}}}}]}}"#
///     ))
///     .unwrap()
/// };
/// let mut data = MetricSet::default();
/// for minute in 0..60 {
///     let at = 1_795_428_000_000 + 60_000 * minute;
///     let load = 100.0 + (minute % 7) as f64;
///     data.push_at("latency_ms", Scope::Baseline, at, load);
///     data.push_at("latency_ms", Scope::Canary, at, 1.3 * load);
/// }
/// for judge_name in ["NetflixACAJudge-v1.0", "SerinJudge-v1.0"] {
///     let result = judge(&config(judge_name), &data, None).unwrap();
///     assert_eq!(result.verdict, Verdict::Fail, "{judge_name}: {:?}", result.reasons);
/// }
/// ```
pub fn judge(
    config: &CanaryConfig,
    data: &MetricSet,
    thresholds: Option<ScoreThresholds>,
) -> Result<JudgeResult, JudgeError> {
    judge_on_threads(config, data, thresholds, 1)
}

/// [`judge()`], classifying the metrics on up to `threads` threads; the result is
/// the same as `judge`'s, in the same order (every metric is judged independently).
pub fn judge_on_threads(
    config: &CanaryConfig,
    data: &MetricSet,
    thresholds: Option<ScoreThresholds>,
    threads: usize,
) -> Result<JudgeResult, JudgeError> {
    let thresholds = thresholds
        .or(config.classifier.score_thresholds)
        .unwrap_or_default();
    if !(0.0..=100.0).contains(&thresholds.marginal)
        || !(0.0..=100.0).contains(&thresholds.pass)
        || thresholds.marginal > thresholds.pass
    {
        return Err(JudgeError::Thresholds {
            pass: thresholds.pass,
            marginal: thresholds.marginal,
        });
    }
    let unknown: Vec<String> = data
        .names()
        .filter(|name| config.metric(name).is_none())
        .map(str::to_owned)
        .collect();
    if !unknown.is_empty() {
        return Err(JudgeError::UnknownMetrics {
            unknown,
            known: config
                .metrics
                .iter()
                .map(|metric| metric.name.clone())
                .collect(),
        });
    }

    let kind =
        JudgeKind::from_name(&config.judge.name).ok_or_else(|| JudgeError::UnknownJudge {
            name: config.judge.name.clone(),
            known: KNOWN_JUDGES.iter().map(|name| (*name).to_owned()).collect(),
        })?;
    let scored_metrics = config
        .metrics
        .iter()
        .filter(|metric| !metric.analysis_configurations.canary.muted)
        .count()
        .max(1);
    let plan = JudgePlan {
        kind,
        metric_alpha: config.judge.judge_configurations.alpha / scored_metrics as f64,
    };
    let results = judge_metrics(config, data, threads, plan);

    let scored: Vec<ScoredMetric<'_>> = results
        .iter()
        .map(|result| ScoredMetric {
            classification: result.classification,
            reason: result.classification_reason.as_deref(),
            groups: &result.groups,
            critical: result.critical,
            muted: result.muted,
            undecided: result.evidence.min_samples > 0
                && matches!(
                    result.classification,
                    Classification::Nodata | Classification::Error
                ),
        })
        .collect();
    let summary = score(&scored, &config.classifier.group_weights, thresholds);

    let mut reasons = Vec::new();
    if let Some(reason) = &summary.reason {
        reasons.push(reason.clone());
    } else {
        reasons.push(format!(
            "score {:.2} against pass {} and marginal {}",
            summary.score, thresholds.pass, thresholds.marginal
        ));
    }
    for result in &results {
        if result.classification == Classification::Pass {
            continue;
        }
        let text = result.classification_reason.clone().unwrap_or_else(|| {
            format!(
                "{} was classified as {}",
                result.name,
                result.classification.as_str()
            )
        });
        if summary
            .reason
            .as_deref()
            .is_some_and(|reason| reason.ends_with(&text))
        {
            continue; // Already the first reason.
        }
        reasons.push(if result.muted {
            format!("{text} (muted)")
        } else {
            text
        });
    }
    for group in summary.groups.iter().filter(|group| group.no_data) {
        reasons.push(format!(
            "group {} had no metric that could be judged; it counts as 100, as in Kayenta",
            group.name
        ));
    }

    Ok(JudgeResult {
        judge_name: if config.judge.name.trim().is_empty() {
            kind.name().to_owned()
        } else {
            config.judge.name.clone()
        },
        verdict: summary.verdict,
        score: ScoreResult {
            score: summary.score,
            classification: summary.verdict.kayenta_label().to_owned(),
            classification_reason: summary.reason.clone().unwrap_or_default(),
        },
        reasons,
        thresholds,
        group_scores: summary
            .groups
            .into_iter()
            .map(|group| GroupScoreResult {
                name: group.name,
                score: group.score,
                classification: String::new(),
                classification_reason: String::new(),
                no_data: group.no_data,
            })
            .collect(),
        results,
    })
}
