//! Effect sizes of the canary against the baseline: mean ratio, CLES and Cohen's d, as Kayenta defines them.
#![allow(
    clippy::suboptimal_flops,
    reason = "plain multiply-then-add reproduces R's and Kayenta's rounding; a fused multiply-add would change the last bits"
)]

use serde::Serialize;

use crate::stats::descriptive::{Descriptive, mean};

/// Effect sizes of the canary against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectSizes {
    /// Canary mean divided by baseline mean; `None` (Kayenta: NaN) when either mean is 0.
    pub mean_ratio: Option<f64>,
    /// Common-language effect size: P(canary > baseline) + P(canary = baseline) / 2
    /// over all pairs, i.e. `U / (n · m)`.
    pub cles: f64,
    /// Cohen's d, `|mean difference| / pooled sample standard deviation`, as Kayenta
    /// reports it; `None` when the pooled deviation is 0 or undefined.
    pub cohens_d: Option<f64>,
}

/// Canary mean over baseline mean, or `None` when either mean is 0 (Kayenta gives NaN).
pub fn mean_ratio(canary: &[f64], baseline: &[f64]) -> Option<f64> {
    ratio_of_means(mean(canary), mean(baseline))
}

/// `canary_mean / baseline_mean`, or `None` when either is 0 or not finite.
pub fn ratio_of_means(canary_mean: f64, baseline_mean: f64) -> Option<f64> {
    (canary_mean != 0.0
        && baseline_mean != 0.0
        && canary_mean.is_finite()
        && baseline_mean.is_finite())
    .then(|| canary_mean / baseline_mean)
}

impl EffectSizes {
    /// Computes the effect sizes; `u_canary` is the Mann-Whitney U of the canary.
    pub fn new(canary: &[f64], baseline: &[f64], u_canary: f64) -> Self {
        Self::from_summaries(
            &Descriptive::of(canary),
            &Descriptive::of(baseline),
            u_canary,
        )
    }

    /// Computes the effect sizes from each side's summary statistics.
    pub fn from_summaries(x: &Descriptive, y: &Descriptive, u_canary: f64) -> Self {
        let (n, m) = (x.count as f64, y.count as f64);
        let pooled_variance =
            ((n - 1.0) * x.std * x.std + (m - 1.0) * y.std * y.std) / (n + m - 2.0);
        let cohens_d =
            (pooled_variance > 0.0).then(|| (x.mean - y.mean).abs() / pooled_variance.sqrt());
        Self {
            mean_ratio: ratio_of_means(x.mean, y.mean),
            cles: u_canary / (n * m),
            cohens_d,
        }
    }
}
