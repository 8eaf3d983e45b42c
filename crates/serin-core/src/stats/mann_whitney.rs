//! The Mann-Whitney U test (Wilcoxon rank-sum test) with R's choice of exact or normal p-values.

use serde::{Deserialize, Serialize};

use crate::sample::Sample;
use crate::stats::exact_distribution::{EXACT_SIZE_LIMIT, ExactDistribution};
use crate::stats::merge::ShiftCounter;
use crate::stats::normal;

/// The alternative hypothesis about the canary's location relative to the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternative {
    /// The canary differs from the baseline in either direction.
    #[default]
    TwoSided,
    /// The canary is lower than the baseline.
    Less,
    /// The canary is higher than the baseline.
    Greater,
}

/// How the p-value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PValueMethod {
    /// R's rule: exact when both samples have fewer than 50 values and there are
    /// no ties in the pooled sample, the normal approximation otherwise.
    #[default]
    Auto,
    /// The exact permutation distribution of U (ignores ties, as scipy's `method="exact"`).
    Exact,
    /// The normal approximation with tie and continuity correction.
    Asymptotic,
}

/// Outcome of a Mann-Whitney U test of canary `x` against baseline `y`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MannWhitney {
    /// U for the canary: pairs where the canary value is larger, plus half the ties.
    /// Equal to R's `W` for `wilcox.test(canary, baseline)` and scipy's `U1`.
    pub u: f64,
    /// The p-value for the requested alternative.
    pub p_value: f64,
    /// The method actually used: `Exact` or `Asymptotic`, never `Auto`.
    pub method: PValueMethod,
    /// The continuity-corrected z statistic (asymptotic method only).
    pub z: Option<f64>,
    /// The tie-corrected standard deviation of U under the null hypothesis.
    pub sigma: f64,
    /// Whether the pooled sample contains tied values.
    pub has_ties: bool,
}

/// The tie-corrected standard deviation of U under the null hypothesis.
pub(crate) fn u_sigma(n: usize, m: usize, tie_sum: f64) -> f64 {
    let (n, m) = (n as f64, m as f64);
    let pooled = n + m;
    let variance = n * m / 12.0 * ((pooled + 1.0) - tie_sum / (pooled * (pooled - 1.0)));
    variance.max(0.0).sqrt()
}

/// Whether R's rule picks the exact distribution.
pub(crate) fn exact_is_used(method: PValueMethod, n: usize, m: usize, has_ties: bool) -> bool {
    match method {
        PValueMethod::Exact => true,
        PValueMethod::Asymptotic => false,
        PValueMethod::Auto => n < EXACT_SIZE_LIMIT && m < EXACT_SIZE_LIMIT && !has_ties,
    }
}

/// Runs the Mann-Whitney U test of canary `x` against baseline `y`.
///
/// The asymptotic p-value uses `z = (U - nm/2 - c) / sigma`, with the continuity
/// correction `c` = ±0.5 toward the null (two-sided: `sign(U - nm/2) / 2`), exactly
/// as R's `wilcox.test(correct = TRUE)` and scipy's `mannwhitneyu(use_continuity=True)`.
/// When every value in both samples is the same, sigma is 0 and the p-value is 1:
/// there is no evidence of a difference (R reports NaN there).
pub fn mann_whitney_u(
    x: &Sample,
    y: &Sample,
    alternative: Alternative,
    method: PValueMethod,
) -> MannWhitney {
    let (n, m) = (x.len(), y.len());
    let summary = ShiftCounter::new(x.sorted(), y.sorted()).count(0.0);
    let has_ties = summary.tie_sum > 0.0;
    let sigma = u_sigma(n, m, summary.tie_sum);
    let u = summary.u_x;
    if exact_is_used(method, n, m, has_ties) {
        let distribution = ExactDistribution::new(n, m);
        let p_value = exact_p_value(&distribution, u, alternative);
        return MannWhitney {
            u,
            p_value,
            method: PValueMethod::Exact,
            z: None,
            sigma,
            has_ties,
        };
    }
    let centred = u - (n * m) as f64 / 2.0;
    let correction = match alternative {
        Alternative::TwoSided => 0.5 * sign(centred),
        Alternative::Greater => 0.5,
        Alternative::Less => -0.5,
    };
    let (z, p_value) = if sigma > 0.0 {
        let z = (centred - correction) / sigma;
        let p_value = match alternative {
            Alternative::TwoSided => (2.0 * normal::cdf(z).min(normal::sf(z))).min(1.0),
            Alternative::Greater => normal::sf(z),
            Alternative::Less => normal::cdf(z),
        };
        (z, p_value)
    } else {
        (0.0, 1.0)
    };
    MannWhitney {
        u,
        p_value,
        method: PValueMethod::Asymptotic,
        z: Some(z),
        sigma,
        has_ties,
    }
}

/// -1, 0 or 1, with 0 for 0 (unlike `f64::signum`).
pub(crate) fn sign(value: f64) -> f64 {
    if value > 0.0 {
        1.0
    } else if value < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn exact_p_value(distribution: &ExactDistribution, u: f64, alternative: Alternative) -> f64 {
    let nm = (distribution.n() * distribution.m()) as f64;
    // P(U >= u) = P(U > u - 1).
    let upper = |u: f64| distribution.sf(u.ceil() - 1.0);
    let lower = |u: f64| distribution.cdf(u);
    match alternative {
        Alternative::TwoSided => {
            let one_sided = if u > nm / 2.0 { upper(u) } else { lower(u) };
            (2.0 * one_sided).min(1.0)
        }
        Alternative::Greater => upper(u),
        Alternative::Less => lower(u),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values).unwrap()
    }

    #[test]
    fn picks_exact_only_for_small_tie_free_samples() {
        let small = sample(&[1.0, 2.0, 3.0]);
        let other = sample(&[4.0, 5.0]);
        let tied = sample(&[3.0, 9.0]);
        let auto = PValueMethod::Auto;
        let two = Alternative::TwoSided;
        assert_eq!(
            mann_whitney_u(&small, &other, two, auto).method,
            PValueMethod::Exact
        );
        assert_eq!(
            mann_whitney_u(&small, &tied, two, auto).method,
            PValueMethod::Asymptotic
        );
        let big = Sample::from_vec((0..50).map(f64::from).collect()).unwrap();
        assert_eq!(
            mann_whitney_u(&big, &other, two, auto).method,
            PValueMethod::Asymptotic
        );
    }

    #[test]
    fn all_identical_values_give_p_one() {
        let a = sample(&[2.0, 2.0, 2.0]);
        let result = mann_whitney_u(&a, &a, Alternative::TwoSided, PValueMethod::Auto);
        assert_eq!(result.u, 4.5);
        assert_eq!(result.sigma, 0.0);
        assert_eq!(result.p_value, 1.0);
    }
}
