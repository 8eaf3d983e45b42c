//! The Hodges-Lehmann shift estimate (canary minus baseline) and its confidence interval.
#![allow(
    clippy::suboptimal_flops,
    reason = "plain multiply-then-add reproduces R's and Kayenta's rounding; a fused multiply-add would change the last bits"
)]

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::sample::Sample;
use crate::stats::exact_distribution::ExactDistribution;
use crate::stats::mann_whitney::{PValueMethod, exact_is_used, sign, u_sigma};
use crate::stats::merge::{BracketPositions, MergeSummary, ShiftCounter, within_tie_sum};
use crate::stats::normal;
use crate::stats::selection::PairwiseDifferences;
use crate::stats::zeroin::zeroin;

/// Absolute root tolerance of the `kayenta` method: Kayenta's (and R's `uniroot` in `wilcox.test`).
pub const KAYENTA_ROOT_TOLERANCE: f64 = 1e-4;
/// Iteration budget of the `kayenta` root finder: Kayenta's (and R's `uniroot`).
pub const KAYENTA_MAX_ITERATIONS: usize = 1000;

/// How the shift estimate and interval are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntervalMethod {
    /// Kayenta's (and R's) asymptotic method: the interval ends are the shifts at
    /// which the continuity-corrected normal statistic of `x - d` against `y` crosses
    /// `±z`, found with Brent's method; the estimate is where it crosses 0.
    #[default]
    Kayenta,
    /// The median of all pairwise differences and the distribution-free interval
    /// between two of their order statistics.
    Exact,
}

/// A Hodges-Lehmann estimate with its two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HodgesLehmann {
    /// The estimated shift, canary minus baseline.
    pub estimate: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
    /// The confidence level asked for.
    pub confidence: f64,
    /// The method used.
    pub method: IntervalMethod,
    /// For the exact method: the 1-based ranks of the order statistics that bound the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranks: Option<IntervalRanks>,
}

/// The order statistics (1-based ranks among the `n · m` differences) bounding an exact interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IntervalRanks {
    /// Rank of the lower end.
    pub lower: u64,
    /// Rank of the upper end.
    pub upper: u64,
}

/// Why no interval could be computed.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum IntervalError {
    /// Every value of both samples is the same, so the asymptotic method has no spread.
    #[error("cannot compute a confidence interval when all observations are tied")]
    AllTied,
    /// The confidence level is not strictly between 0 and 1.
    #[error("confidence level {0} is not between 0 and 1")]
    Confidence(f64),
}

/// Estimates the shift of canary `x` over baseline `y` with a two-sided interval.
pub fn hodges_lehmann(
    x: &Sample,
    y: &Sample,
    confidence: f64,
    method: IntervalMethod,
) -> Result<HodgesLehmann, IntervalError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(IntervalError::Confidence(confidence));
    }
    match method {
        IntervalMethod::Kayenta => kayenta_interval(x, y, confidence),
        IntervalMethod::Exact => Ok(exact_interval(x, y, confidence)),
    }
}

/// The standardised, continuity-corrected rank statistic of `x - shift` against `y`,
/// minus `z_target`: R's and Kayenta's `wdiff`. Non-increasing in `shift`.
struct ShiftedStatistic<'a> {
    x: &'a [f64],
    y: &'a [f64],
    /// Shared counting state (tie sums, gaps), computed once per interval.
    counter: ShiftCounter<'a>,
}

/// Positions recorded at the root finder's bracket ends (the low end is where the
/// statistic is still positive), so a window can be listed without walking them
/// again; a count that recorded none leaves its end without.
struct EndPositions {
    scratch: Vec<u32>,
    low: Option<Vec<u32>>,
    high: Option<Vec<u32>>,
}

impl EndPositions {
    fn new(n: usize) -> Self {
        Self {
            scratch: vec![0; n],
            low: None,
            high: None,
        }
    }

    /// The last count became the low end.
    fn keep_as_low(&mut self, recorded: bool) {
        Self::keep(&mut self.scratch, &mut self.low, recorded);
    }

    /// The last count became the high end.
    fn keep_as_high(&mut self, recorded: bool) {
        Self::keep(&mut self.scratch, &mut self.high, recorded);
    }

    fn keep(scratch: &mut Vec<u32>, end: &mut Option<Vec<u32>>, recorded: bool) {
        let previous = end.take();
        if recorded {
            let spare = previous.unwrap_or_else(|| vec![0; scratch.len()]);
            *end = Some(std::mem::replace(scratch, spare));
        } else if let Some(previous) = previous {
            // Keep the allocation for the next count.
            *scratch = previous;
        }
    }

    fn both(&self) -> Option<BracketPositions<'_>> {
        Some(BracketPositions {
            low: self.low.as_deref()?,
            high: self.high.as_deref()?,
        })
    }
}

/// The search bracket (smallest and largest pairwise difference) and the counts
/// there, shared by the three roots.
struct Ends {
    low: f64,
    high: f64,
    low_summary: MergeSummary,
    high_summary: MergeSummary,
}

impl<'a> ShiftedStatistic<'a> {
    fn new(x: &'a [f64], y: &'a [f64]) -> Self {
        Self {
            x,
            y,
            counter: ShiftCounter::new(x, y),
        }
    }

    #[cfg(test)]
    fn evaluate(&self, shift: f64, z_target: f64) -> Result<f64, IntervalError> {
        Self::standardise(
            self.x.len(),
            self.y.len(),
            self.counter.count(shift),
            z_target,
        )
    }

    fn standardise(
        n: usize,
        m: usize,
        summary: MergeSummary,
        z_target: f64,
    ) -> Result<f64, IntervalError> {
        let centred = summary.u_x - (n * m) as f64 / 2.0;
        let sigma = u_sigma(n, m, summary.tie_sum);
        if sigma == 0.0 {
            return Err(IntervalError::AllTied);
        }
        Ok((centred - 0.5 * sign(centred)) / sigma - z_target)
    }

    /// Brent's method on the bracket, given the counts at both ends; inside it sigma
    /// cannot be 0 (ties between the samples appear only at isolated shifts), so an
    /// evaluation error cannot happen there; it maps to NaN defensively rather than
    /// panicking.
    ///
    /// The statistic is non-increasing in the shift, so every evaluation narrows the
    /// bracket; the [`ShiftCounter`] uses that to compare only undecided pairs.
    fn solve(&self, ends: &Ends, z_target: f64) -> Result<f64, IntervalError> {
        let (n, m) = (self.x.len(), self.y.len());
        let f_low = Self::standardise(n, m, ends.low_summary, z_target)?;
        let f_high = Self::standardise(n, m, ends.high_summary, z_target)?;
        let mut counter = self.counter.clone();
        let mut above = (ends.low, ends.low_summary.u_x);
        let mut below = (ends.high, ends.high_summary.u_x);
        let mut positions = EndPositions::new(n);
        let root = zeroin(
            |shift| {
                let counted = counter.count_recording(shift, &mut positions.scratch);
                let summary = counted.summary;
                let value = Self::standardise(n, m, summary, z_target).unwrap_or(f64::NAN);
                if value > 0.0 && shift > above.0 {
                    above = (shift, summary.u_x);
                    positions.keep_as_low(counted.positions_recorded);
                } else if value < 0.0 && shift < below.0 {
                    below = (shift, summary.u_x);
                    positions.keep_as_high(counted.positions_recorded);
                }
                counter.narrow(above.0, below.0, above.1, below.1, positions.both());
                value
            },
            ends.low,
            ends.high,
            f_low,
            f_high,
            KAYENTA_ROOT_TOLERANCE,
            KAYENTA_MAX_ITERATIONS,
        );
        Ok(root.value)
    }

    /// An interval end: the bracket end itself when the statistic does not cross
    /// `z_target` inside it, else the root.
    fn interval_end(&self, ends: &Ends, z_target: f64) -> Result<f64, IntervalError> {
        let (n, m) = (self.x.len(), self.y.len());
        if Self::standardise(n, m, ends.low_summary, z_target)? <= 0.0 {
            return Ok(ends.low);
        }
        if Self::standardise(n, m, ends.high_summary, z_target)? >= 0.0 {
            return Ok(ends.high);
        }
        self.solve(ends, z_target)
    }
}

/// Kayenta's interval and estimate. Unlike R, whose estimate drops the continuity
/// correction, Kayenta solves the corrected statistic for 0, without the end-point
/// shortcuts; Serin does what Kayenta does so that its published cases reproduce.
fn kayenta_interval(
    x: &Sample,
    y: &Sample,
    confidence: f64,
) -> Result<HodgesLehmann, IntervalError> {
    let alpha = 1.0 - confidence;
    let low = x.min() - y.max();
    let high = x.max() - y.min();
    let statistic = ShiftedStatistic::new(x.sorted(), y.sorted());
    let ends = Ends {
        low,
        high,
        low_summary: statistic.counter.count_tied(low),
        high_summary: statistic.counter.count_tied(high),
    };
    let z = normal::quantile(1.0 - alpha / 2.0);
    let lower = statistic.interval_end(&ends, z)?;
    let upper = statistic.interval_end(&ends, -z)?;
    let estimate = statistic.solve(&ends, 0.0)?;
    Ok(HodgesLehmann {
        estimate,
        lower,
        upper,
        confidence,
        method: IntervalMethod::Kayenta,
        ranks: None,
    })
}

/// The ranks of the order statistics bounding the distribution-free interval.
///
/// Small samples without ties inside either sample use the exact null distribution,
/// as `wilcox.test(exact = TRUE)`: `qu = qwilcox(alpha / 2)` (at least 1) and
/// `nm - qu + 1`. R also falls back to the normal approximation when the two samples
/// tie *each other*; Serin does not, because those ties depend on where the canary
/// sits, and an interval must move with the canary (shift equivariance).
/// Otherwise the normal approximation: `ceil(nm/2 - 1/2 - z·sigma)` and
/// `ceil(nm/2 + 1/2 + z·sigma)`, clamped to `[1, nm]`, which are the differences at
/// which R's asymptotic interval jumps. Sigma is tie-corrected for the ties *within*
/// each sample: between two pairwise differences no `x_i - d` equals a `y_j`, so
/// those are the only ties R's statistic sees where it crosses `±z`.
fn exact_ranks(x: &[f64], y: &[f64], confidence: f64) -> IntervalRanks {
    let (n, m) = (x.len(), y.len());
    let alpha = 1.0 - confidence;
    let count = (n * m) as u64;
    let within_ties = (within_tie_sum(x) + within_tie_sum(y)) as f64;
    if exact_is_used(PValueMethod::Auto, n, m, within_ties > 0.0) {
        let lower = (ExactDistribution::new(n, m).quantile(alpha / 2.0) as u64).max(1);
        return IntervalRanks {
            lower,
            upper: count - lower + 1,
        };
    }
    let z = normal::quantile(1.0 - alpha / 2.0);
    let sigma = u_sigma(n, m, within_ties);
    let half = count as f64 / 2.0;
    let clamp = |rank: f64| (rank.max(1.0) as u64).clamp(1, count);
    IntervalRanks {
        lower: clamp((half - 0.5 - z * sigma).ceil()),
        upper: clamp((half + 0.5 + z * sigma).ceil()),
    }
}

fn exact_interval(x: &Sample, y: &Sample, confidence: f64) -> HodgesLehmann {
    let ranks = exact_ranks(x.sorted(), y.sorted(), confidence);
    let diffs = PairwiseDifferences::new(x.sorted(), y.sorted());
    let count = diffs.len();
    let mut wanted = vec![ranks.lower, ranks.upper, count.div_ceil(2)];
    if count.is_multiple_of(2) {
        wanted.push(count / 2 + 1);
    }
    let values = diffs.select(&wanted);
    let estimate = if count.is_multiple_of(2) {
        // Halving first makes the one rounding the sum's: the correctly rounded
        // midpoint, as R's long-double `median` gives.
        values[2].mul_add(0.5, values[3] * 0.5)
    } else {
        values[2]
    };
    HodgesLehmann {
        estimate,
        lower: values[0],
        upper: values[1],
        confidence,
        method: IntervalMethod::Exact,
        ranks: Some(ranks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_confidence_and_all_tied_samples() {
        let a = Sample::new(&[1.0, 1.0]).unwrap();
        assert_eq!(
            hodges_lehmann(&a, &a, 1.0, IntervalMethod::Exact),
            Err(IntervalError::Confidence(1.0))
        );
        assert_eq!(
            hodges_lehmann(&a, &a, 0.98, IntervalMethod::Kayenta),
            Err(IntervalError::AllTied)
        );
        let exact = hodges_lehmann(&a, &a, 0.98, IntervalMethod::Exact).unwrap();
        assert_eq!((exact.estimate, exact.lower, exact.upper), (0.0, 0.0, 0.0));
    }

    #[test]
    fn exact_method_on_a_hand_checked_case() {
        // Differences are {1, 2, 3}: median 2; qwilcox(0.01, 3, 1) = 0, so rank 1 to 3.
        let x = Sample::new(&[1.0, 2.0, 3.0]).unwrap();
        let y = Sample::new(&[0.0]).unwrap();
        let result = hodges_lehmann(&x, &y, 0.98, IntervalMethod::Exact).unwrap();
        assert_eq!(
            (result.estimate, result.lower, result.upper),
            (2.0, 1.0, 3.0)
        );
        assert_eq!(result.ranks, Some(IntervalRanks { lower: 1, upper: 3 }));
    }

    /// The counter's shortcuts (interleaved merges, the window of undecided pairs,
    /// the grouped merge at ties) must not move a root by a single bit: the same
    /// root finder on plain merges is the reference.
    #[test]
    fn kayenta_roots_equal_plain_merge_roots() {
        use crate::stats::merge::merge_summary;
        use crate::stats::selection::tests::lcg_values;
        let reference = |x: &[f64], y: &[f64], confidence: f64| -> [f64; 3] {
            let (n, m) = (x.len(), y.len());
            let (low, high) = (x[0] - y[m - 1], x[n - 1] - y[0]);
            let statistic = |shift: f64, target: f64| {
                ShiftedStatistic::standardise(n, m, merge_summary(x, shift, y), target).unwrap()
            };
            let root = |target: f64| {
                let (f_low, f_high) = (statistic(low, target), statistic(high, target));
                if f_low <= 0.0 {
                    return low;
                }
                if f_high >= 0.0 {
                    return high;
                }
                zeroin(
                    |shift| statistic(shift, target),
                    low,
                    high,
                    f_low,
                    f_high,
                    KAYENTA_ROOT_TOLERANCE,
                    KAYENTA_MAX_ITERATIONS,
                )
                .value
            };
            let z = normal::quantile(1.0 - (1.0 - confidence) / 2.0);
            let estimate = zeroin(
                |shift| statistic(shift, 0.0),
                low,
                high,
                statistic(low, 0.0),
                statistic(high, 0.0),
                KAYENTA_ROOT_TOLERANCE,
                KAYENTA_MAX_ITERATIONS,
            )
            .value;
            [root(z), root(-z), estimate]
        };
        let offset =
            |values: Vec<f64>, by: f64| values.into_iter().map(|v| v + by).collect::<Vec<_>>();
        // (canary, baseline): spread values, heavy ties, and a large offset where
        // `x_i - shift` rounds.
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (lcg_values(1, 1000, 1 << 30), lcg_values(2, 900, 1 << 30)),
            (lcg_values(3, 400, 40), lcg_values(4, 500, 37)),
            (
                offset(lcg_values(5, 700, 1 << 20), 1.0e6),
                offset(lcg_values(6, 800, 1 << 20), 1.0e6 + 2.5),
            ),
            (lcg_values(7, 60, 1000), lcg_values(8, 3000, 1100)),
        ];
        for (case, (x, y)) in cases.iter().enumerate() {
            let (xs, ys) = (Sample::new(x).unwrap(), Sample::new(y).unwrap());
            let got = hodges_lehmann(&xs, &ys, 0.98, IntervalMethod::Kayenta).unwrap();
            let want = reference(xs.sorted(), ys.sorted(), 0.98);
            assert_eq!(
                [got.lower, got.upper, got.estimate].map(f64::to_bits),
                want.map(f64::to_bits),
                "case {case}: got {got:?}, want {want:?}"
            );
        }
    }

    /// Kayenta's MannWhitneySuite, ported as data (fixtures/kayenta/mann_whitney.json).
    /// Private pieces (the statistic, the bracket values) are checked here; the
    /// public interval is also checked from the workspace tests.
    #[test]
    fn kayenta_mann_whitney_suite() {
        let suite: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../fixtures/kayenta/mann_whitney.json"
        ))
        .unwrap();
        let values = |case: &serde_json::Value, key: &str| -> Vec<f64> {
            case[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let close = |got: f64, want: f64, tolerance: f64, what: &str| {
            assert!(
                (got - want).abs() <= tolerance,
                "{what}: got {got}, want {want} (±{tolerance})"
            );
        };
        let mut checked = 0;
        for case in suite["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let expected = &case["expected"];
            match case["kind"].as_str().unwrap() {
                "wilcoxon_diff" => {
                    let (x, y) = (
                        Sample::new(&values(case, "x")).unwrap(),
                        Sample::new(&values(case, "y")).unwrap(),
                    );
                    let statistic = ShiftedStatistic::new(x.sorted(), y.sorted());
                    for evaluation in case["evaluations"].as_array().unwrap() {
                        let got = statistic
                            .evaluate(
                                evaluation["mu"].as_f64().unwrap(),
                                evaluation["quantile"].as_f64().unwrap(),
                            )
                            .unwrap();
                        close(
                            got,
                            evaluation["expected"].as_f64().unwrap(),
                            case["tolerance"].as_f64().unwrap(),
                            name,
                        );
                    }
                }
                "normal_quantile" => {
                    let got = normal::quantile(case["p"].as_f64().unwrap());
                    close(
                        got,
                        case["expected"].as_f64().unwrap(),
                        case["tolerance"].as_f64().unwrap(),
                        name,
                    );
                }
                "mann_whitney" | "intermediate_values" => {
                    let (x, y) = (
                        Sample::new(&values(case, "x")).unwrap(),
                        Sample::new(&values(case, "y")).unwrap(),
                    );
                    let confidence = case["conf_level"].as_f64().unwrap();
                    let result =
                        hodges_lehmann(&x, &y, confidence, IntervalMethod::Kayenta).unwrap();
                    let ci_tolerance = expected["ci_tolerance"]
                        .as_f64()
                        .or(expected["tolerance"].as_f64())
                        .unwrap();
                    let estimate_tolerance = expected["estimate_tolerance"]
                        .as_f64()
                        .or(expected["tolerance"].as_f64())
                        .unwrap();
                    close(
                        result.lower,
                        expected["ci_lower"].as_f64().unwrap(),
                        ci_tolerance,
                        name,
                    );
                    close(
                        result.upper,
                        expected["ci_upper"].as_f64().unwrap(),
                        ci_tolerance,
                        name,
                    );
                    close(
                        result.estimate,
                        expected["estimate"].as_f64().unwrap(),
                        estimate_tolerance,
                        name,
                    );
                    if case["kind"] == "intermediate_values" {
                        let statistic = ShiftedStatistic::new(x.sorted(), y.sorted());
                        let (low, high) = (x.min() - y.max(), x.max() - y.min());
                        close(low, expected["mumin"].as_f64().unwrap(), 1e-12, "mumin");
                        close(high, expected["mumax"].as_f64().unwrap(), 1e-12, "mumax");
                        let z = normal::quantile(1.0 - (1.0 - confidence) / 2.0);
                        close(z, expected["zq_lower"].as_f64().unwrap(), 1e-15, "z");
                        for (shift, target, key) in [
                            (low, z, "f_lower1"),
                            (high, z, "f_upper1"),
                            (low, -z, "f_lower2"),
                            (high, -z, "f_upper2"),
                        ] {
                            let got = statistic.evaluate(shift, target).unwrap();
                            close(got, expected[key].as_f64().unwrap(), 1e-9, key);
                        }
                    }
                }
                other => panic!("unknown case kind {other}"),
            }
            checked += 1;
        }
        assert_eq!(checked, 7);
    }
}
