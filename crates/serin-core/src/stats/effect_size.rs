//! Effect sizes of the canary against the baseline: mean ratio, CLES, Cohen's d.

use serde::Serialize;

use crate::sample::Sample;

/// Effect sizes of canary `x` against baseline `y`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectSizes {
    /// Canary mean divided by baseline mean; `None` when the baseline mean is 0.
    pub mean_ratio: Option<f64>,
    /// Common-language effect size: P(canary > baseline) + P(canary = baseline) / 2
    /// over all pairs, i.e. `U / (n · m)`.
    pub cles: f64,
    /// Cohen's d with the pooled standard deviation; `None` when both samples are constant.
    pub cohens_d: Option<f64>,
}

impl EffectSizes {
    /// Computes the effect sizes given U for the canary (from the Mann-Whitney test).
    pub fn new(x: &Sample, y: &Sample, u_x: f64) -> Self {
        let (n, m) = (x.len() as f64, y.len() as f64);
        let (mean_x, mean_y) = (x.mean(), y.mean());
        let mean_ratio = (mean_y != 0.0).then(|| mean_x / mean_y);
        let sum_squares = |sample: &Sample, mean: f64| -> f64 {
            sample
                .sorted()
                .iter()
                .map(|v| (v - mean) * (v - mean))
                .sum()
        };
        let pooled_variance = if n + m > 2.0 {
            (sum_squares(x, mean_x) + sum_squares(y, mean_y)) / (n + m - 2.0)
        } else {
            0.0
        };
        let cohens_d = (pooled_variance > 0.0).then(|| (mean_x - mean_y) / pooled_variance.sqrt());
        Self {
            mean_ratio,
            cles: u_x / (n * m),
            cohens_d,
        }
    }
}
