//! Preprocessing of raw series before judgement: NaN strategy, then IQR outlier removal, as Kayenta does.
#![allow(
    clippy::suboptimal_flops,
    reason = "plain multiply-then-add reproduces R's and Kayenta's rounding; a fused multiply-add would change the last bits"
)]

use serde::{Deserialize, Serialize};

/// What to do with NaN (and ±Inf) values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NanStrategy {
    /// Drop them (Kayenta's default).
    #[default]
    Remove,
    /// Replace them with 0, for counters where "no value" means "nothing happened".
    Replace,
}

/// Whether outliers are removed before the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutlierStrategy {
    /// Keep every value (Kayenta's default).
    #[default]
    Keep,
    /// Remove values outside the IQR fences.
    Remove,
}

/// Kayenta's default IQR fence factor.
pub const DEFAULT_OUTLIER_FACTOR: f64 = 3.0;

/// A series after preprocessing, with what was done to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessed {
    /// The values that remain, in their original order.
    pub values: Vec<f64>,
    /// NaN or infinite values removed or replaced.
    pub non_finite: usize,
    /// Values removed as outliers.
    pub outliers_removed: usize,
    /// Values in `values` that were never measured: non-finite values replaced by 0
    /// and kept through outlier removal. They are judged as Kayenta judges them, but
    /// never count as data (`minSamples`, "no data").
    pub replaced: usize,
}

impl Preprocessed {
    /// The values for [`crate::classify()`], with how many of them were measured.
    pub fn series(&self) -> crate::classify::JudgedSeries<'_> {
        crate::classify::JudgedSeries {
            values: &self.values,
            measured: self.values.len() - self.replaced,
        }
    }
}

/// Applies the NaN strategy, then (if asked) removes IQR outliers with Kayenta's
/// reduced-sensitivity fences.
pub fn preprocess(
    raw: &[f64],
    nan_strategy: NanStrategy,
    outliers: OutlierStrategy,
    outlier_factor: f64,
) -> Preprocessed {
    let non_finite = raw.iter().filter(|value| !value.is_finite()).count();
    let values: Vec<f64> = match nan_strategy {
        NanStrategy::Remove => raw
            .iter()
            .copied()
            .filter(|value| value.is_finite())
            .collect(),
        NanStrategy::Replace => raw
            .iter()
            .map(|&value| if value.is_finite() { value } else { 0.0 })
            .collect(),
    };
    let replaced_before = match nan_strategy {
        NanStrategy::Remove => 0,
        NanStrategy::Replace => non_finite,
    };
    let (values, outliers_removed, replaced) = match outliers {
        OutlierStrategy::Keep => (values, 0, replaced_before),
        OutlierStrategy::Remove => {
            let flags = iqr_outliers(&values, outlier_factor, true);
            let mut kept = Vec::with_capacity(values.len());
            let mut replaced = 0;
            // `values` is in `raw`'s order, so position i of `values` under Replace
            // is raw[i]; under Remove nothing was replaced.
            for (index, (&value, &outlier)) in values.iter().zip(&flags).enumerate() {
                if outlier {
                    continue;
                }
                if replaced_before > 0 && !raw[index].is_finite() {
                    replaced += 1;
                }
                kept.push(value);
            }
            let removed = values.len() - kept.len();
            (kept, removed, replaced)
        }
    };
    Preprocessed {
        values,
        non_finite,
        outliers_removed,
        replaced,
    }
}

/// The `p`-th percentile (0 < p <= 100) of ascending `sorted`, by R's type-7 rule
/// (linear interpolation between order statistics; numpy's "linear"). NaN when empty.
pub fn percentile_r7(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let position = p / 100.0 * (n - 1) as f64 + 1.0;
    if position < 1.0 {
        return sorted[0];
    }
    if position >= n as f64 {
        return sorted[n - 1];
    }
    let whole = position.floor();
    let fraction = position - whole;
    let lower = sorted[whole as usize - 1];
    let upper = sorted[whole as usize];
    lower + fraction * (upper - lower)
}

/// Flags values outside `[Q1 - factor·IQR, Q3 + factor·IQR]` (strictly outside).
///
/// With `reduce_sensitivity` (what Kayenta's judge always uses) the fences are
/// widened to at least the 1st and 99th percentiles, so at most the extreme 1 % on
/// each side can go.
pub fn iqr_outliers(values: &[f64], factor: f64, reduce_sensitivity: bool) -> Vec<bool> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let q1 = percentile_r7(&sorted, 25.0);
    let q3 = percentile_r7(&sorted, 75.0);
    let iqr = q3 - q1;
    let mut lower = q1 - factor * iqr;
    let mut upper = q3 + factor * iqr;
    if reduce_sensitivity {
        lower = lower.min(percentile_r7(&sorted, 1.0));
        upper = upper.max(percentile_r7(&sorted, 99.0));
    }
    values
        .iter()
        .map(|&value| value < lower || value > upper)
        .collect()
}

/// Flags values more than `k` population standard deviations from the mean
/// (Kayenta's KSigma detector; not used by the judge, kept for parity).
pub fn ksigma_outliers(values: &[f64], k: f64) -> Vec<bool> {
    if values.is_empty() {
        return Vec::new();
    }
    let mean = crate::stats::descriptive::mean(values);
    let variance =
        values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64;
    let limit = k * variance.sqrt();
    values
        .iter()
        .map(|value| (value - mean).abs() > limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_strategies_remove_or_zero_every_non_finite_value() {
        let raw = [1.0, f64::NAN, 2.0, f64::INFINITY, f64::NEG_INFINITY];
        let removed = preprocess(&raw, NanStrategy::Remove, OutlierStrategy::Keep, 3.0);
        assert_eq!((removed.values, removed.non_finite), (vec![1.0, 2.0], 3));
        assert_eq!(removed.replaced, 0);
        let replaced = preprocess(&raw, NanStrategy::Replace, OutlierStrategy::Keep, 3.0);
        assert_eq!(replaced.values, vec![1.0, 0.0, 2.0, 0.0, 0.0]);
        assert_eq!((replaced.replaced, replaced.series().measured), (3, 2));
    }

    #[test]
    fn replaced_values_removed_as_outliers_are_not_counted_as_replaced() {
        // 99 values near 100 and one NaN: replaced by 0, it is an outlier and goes.
        let mut raw: Vec<f64> = (0..99).map(|i| 100.0 + f64::from(i % 3)).collect();
        raw.push(f64::NAN);
        let result = preprocess(&raw, NanStrategy::Replace, OutlierStrategy::Remove, 3.0);
        assert_eq!((result.outliers_removed, result.replaced), (1, 0));
        assert_eq!(result.series().measured, 99);
    }

    #[test]
    fn reduced_sensitivity_keeps_the_tails_a_plain_fence_would_cut() {
        // 100 values 0..99 plus one far outlier: plain IQR with factor 0.1 cuts both
        // tails; the P1/P99 guard (P1 = 1, P99 = 99 here) keeps all but 0 and the outlier.
        let mut values: Vec<f64> = (0..100).map(f64::from).collect();
        values.push(10_000.0);
        let plain = iqr_outliers(&values, 0.1, false)
            .iter()
            .filter(|f| **f)
            .count();
        let guarded = iqr_outliers(&values, 0.1, true)
            .iter()
            .filter(|f| **f)
            .count();
        assert!(plain > 10, "{plain}");
        assert_eq!(guarded, 2);
        let result = preprocess(&values, NanStrategy::Remove, OutlierStrategy::Remove, 3.0);
        assert_eq!(result.outliers_removed, 1);
        assert_eq!(result.values.len(), 100);
    }
}
