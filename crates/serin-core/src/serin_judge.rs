//! The Serin judge's classification of one metric: the sides paired in time bins, anytime-valid e-processes, a decision with its evidence.
#![allow(
    clippy::float_cmp,
    reason = "ties (equal values, zero baselines) are defined by exact equality"
)]

use serde::Serialize;

use crate::classify::{Classification, Evidence, finite_or_null};
use crate::config::{Direction, MetricKind};
use crate::data::{MetricPair, Scope};
use crate::stats::IntervalMethod;
use crate::stats::eprocess::{Betting, RateBin, RateRatio, sign_threshold};

/// What the Serin judge concluded about one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The canary is worse than the margin allows (the metric fails).
    Regression,
    /// The canary is shown within the margin: safe to promote early.
    NoRegression,
    /// Neither yet: no evidence of a regression so far.
    Undecided,
}

impl Decision {
    /// The decision as serialized (`regression`, `no-regression`, `undecided`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regression => "regression",
            Self::NoRegression => "no-regression",
            Self::Undecided => "undecided",
        }
    }
}

/// The e-process that decided (or came closest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SequentialTest {
    /// Signs of canary minus margin times baseline, bin by bin: a shift of the level.
    Level,
    /// Log ratios `ln(x / m)` scaled by their past size and clipped to `[-1, 1]`: the
    /// size of a change, and large excursions in the upper tail.
    Tail,
    /// Signs of successive-bin spreads: variability.
    Spread,
    /// Events out of requests, conditional binomial: a rate ratio.
    Rate,
}

impl SequentialTest {
    fn as_str(self) -> &'static str {
        match self {
            Self::Level => "level",
            Self::Tail => "tail",
            Self::Spread => "spread",
            Self::Rate => "rate",
        }
    }
}

/// The Serin judge's evidence for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SequentialEvidence {
    /// The decision.
    pub decision: Decision,
    /// The test that decided, or the one with the most evidence.
    pub test: SequentialTest,
    /// The metric's share of the judgement's false-fail bound.
    pub alpha: f64,
    /// The allowed ratio the null hypothesis is stated with (1: no change allowed).
    pub margin: f64,
    /// Time bins with both sides measured.
    pub bins: usize,
    /// The largest e-value reached, scaled for the number of tests (fail at `1/alpha`).
    pub e_value: f64,
    /// The anytime-valid p-value, `min(1, 1/eValue)`.
    pub p_value: f64,
    /// The bin (0-based) at which the regression was first detected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_bin: Option<usize>,
    /// Its time, milliseconds since the epoch, when the bins have timestamps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<i64>,
    /// Canary over baseline: the median of bin ratios, or the ratio of rates.
    #[serde(serialize_with = "finite_or_null")]
    pub ratio: Option<f64>,
    /// Lower end of the `1 - alpha` confidence sequence on the median bin ratio.
    #[serde(serialize_with = "finite_or_null")]
    pub ratio_lower: Option<f64>,
    /// Upper end of it.
    #[serde(serialize_with = "finite_or_null")]
    pub ratio_upper: Option<f64>,
    /// Rates: canary events per request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_rate: Option<f64>,
    /// Rates: baseline events per request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_rate: Option<f64>,
}

/// What the Serin judge needs to classify one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SerinSettings {
    /// The metric's share of the false-fail bound.
    pub alpha: f64,
    /// Which way the metric may not move.
    pub direction: Direction,
    /// Allowed canary/baseline ratio upwards (at least 1).
    pub allowed_increase: f64,
    /// Allowed canary/baseline ratio downwards (at most 1).
    pub allowed_decrease: f64,
    /// Fewest bins to judge.
    pub min_samples: usize,
    /// Continuous or rate.
    pub kind: MetricKind,
    /// Whether a regression fails the canary outright.
    pub critical: bool,
    /// Whether no data fails the metric.
    pub must_have_data: bool,
}

/// The outcome for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct SerinClassification {
    /// The classification (High or Low for a regression, Pass otherwise).
    pub classification: Classification,
    /// Why, in words and numbers.
    pub reason: Option<String>,
    /// Whether it fails the canary outright.
    pub critical: bool,
    /// The numbers behind it.
    pub evidence: Evidence,
}

/// One time bin with both sides measured.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bin<T> {
    at: Option<i64>,
    canary: T,
    baseline: T,
}

/// A side's finite values at each of its timestamps, in time order, several values at
/// one timestamp (several series of one scope) combined into one.
fn instants<T: Copy>(
    times: &[i64],
    values: &[T],
    keep: impl Fn(&T) -> bool,
    combine: impl Fn(&[T]) -> T,
) -> Vec<(i64, T)> {
    let mut timed: Vec<(i64, T)> = times
        .iter()
        .zip(values)
        .filter(|(_, value)| keep(value))
        .map(|(&at, &value)| (at, value))
        .collect();
    // Sources deliver points in time order, where this stable sort is a linear pass.
    timed.sort_by_key(|&(at, _)| at);
    let mut out = Vec::with_capacity(timed.len());
    let mut group = Vec::new();
    for (index, &(at, value)) in timed.iter().enumerate() {
        group.push(value);
        if timed.get(index + 1).is_none_or(|next| next.0 != at) {
            out.push((at, combine(&group)));
            group.clear();
        }
    }
    out
}

/// Pairs two sides in time. An instant both sides have is a bin of its own. Where the
/// sides were sampled at different instants, a bin is a run of points of one side and
/// the first point of the other side after it (the run's values combined): a run left
/// open when the next instant has both sides is dropped (a gap on the other side).
///
/// Bins are cut where the side changes, so swapping the sides' labels from any bin on
/// leaves every bin where it was and swaps the sides within it: when the sides are two
/// random halves of one stream, an antisymmetric statistic of a bin has mean 0 given
/// everything before it, which is what the e-processes need (docs/statistics.md).
fn pair_in_time<T: Copy>(
    canary: &[(i64, T)],
    baseline: &[(i64, T)],
    combine: impl Fn(&[T]) -> T,
) -> Vec<Bin<T>> {
    let mut out = Vec::with_capacity(canary.len().min(baseline.len()));
    let (mut i, mut j) = (0, 0);
    let mut run = Run {
        canary: false,
        values: Vec::new(),
    };
    loop {
        match (canary.get(i), baseline.get(j)) {
            (Some(&(c, x)), Some(&(b, y))) if c == b => {
                out.push(Bin {
                    at: Some(c),
                    canary: x,
                    baseline: y,
                });
                run.values.clear();
                i += 1;
                j += 1;
            }
            (Some(&(c, x)), next) if next.is_none_or(|&(b, _)| c < b) => {
                i += 1;
                out.extend(run.take(true, c, x, &combine));
            }
            (_, Some(&(b, y))) => {
                j += 1;
                out.extend(run.take(false, b, y, &combine));
            }
            (_, None) => break,
        }
    }
    out
}

/// The open run of one side's points while the sides are paired in time.
struct Run<T> {
    /// Whose points they are (true: the canary's).
    canary: bool,
    values: Vec<T>,
}

impl<T: Copy> Run<T> {
    /// Takes one side's point: it closes a run of the other side into a bin, else it
    /// extends (or starts) a run of its own.
    fn take(
        &mut self,
        canary: bool,
        at: i64,
        value: T,
        combine: &impl Fn(&[T]) -> T,
    ) -> Option<Bin<T>> {
        if self.values.is_empty() || self.canary == canary {
            self.canary = canary;
            self.values.push(value);
            return None;
        }
        let run = combine(&self.values);
        self.values.clear();
        let (canary_value, baseline_value) = if canary { (value, run) } else { (run, value) };
        Some(Bin {
            at: Some(at),
            canary: canary_value,
            baseline: baseline_value,
        })
    }
}

/// Pairs two sides by position (when either has no timestamps).
fn pair_by_position<T: Copy>(
    canary: &[T],
    baseline: &[T],
    keep: impl Fn(&T) -> bool,
) -> Vec<Bin<T>> {
    canary
        .iter()
        .zip(baseline)
        .filter(|(c, b)| keep(c) && keep(b))
        .map(|(&canary, &baseline)| Bin {
            at: None,
            canary,
            baseline,
        })
        .collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn finite(value: &f64) -> bool {
    value.is_finite()
}

/// The canary and baseline values of a metric, paired bin by bin.
fn value_bins(data: &MetricPair) -> Vec<Bin<f64>> {
    let (canary, baseline) = (data.side(Scope::Canary), data.side(Scope::Baseline));
    if canary.times.is_empty() || baseline.times.is_empty() {
        return pair_by_position(canary.values, baseline.values, finite);
    }
    pair_in_time(
        &instants(canary.times, canary.values, finite, mean),
        &instants(baseline.times, baseline.values, finite, mean),
        mean,
    )
}

/// Events and requests of both sides, paired bin by bin: `(events, requests)` a side;
/// counts in one bin add up.
fn rate_bins(events: &MetricPair, requests: &MetricPair) -> Vec<Bin<(f64, f64)>> {
    let count = |value: &f64| value.is_finite() && *value >= 0.0;
    let sum = |values: &[f64]| values.iter().sum::<f64>();
    let add = |values: &[(f64, f64)]| {
        values.iter().fold((0.0, 0.0), |total, value| {
            (total.0 + value.0, total.1 + value.1)
        })
    };
    let sides =
        [Scope::Canary, Scope::Baseline].map(|scope| (events.side(scope), requests.side(scope)));
    if sides
        .iter()
        .any(|(events, requests)| events.times.is_empty() || requests.times.is_empty())
    {
        let [canary, baseline] = sides.map(|(events, requests)| {
            pair_by_position(events.values, requests.values, count)
                .into_iter()
                .map(|bin| (bin.canary, bin.baseline))
                .collect::<Vec<_>>()
        });
        return pair_by_position(&canary, &baseline, |_| true);
    }
    let [canary, baseline] = sides.map(|(events, requests)| {
        pair_in_time(
            &instants(events.times, events.values, count, sum),
            &instants(requests.times, requests.values, count, sum),
            sum,
        )
        .into_iter()
        .filter_map(|bin| Some((bin.at?, (bin.canary, bin.baseline))))
        .collect::<Vec<_>>()
    });
    pair_in_time(&canary, &baseline, add)
}

/// The baseline moved by the margin: `y + (c - 1)·|y|`, so that negative values move
/// the same way as positive ones.
#[expect(
    clippy::suboptimal_flops,
    reason = "mul_add is a library call without FMA in the target, on the hot path"
)]
fn margin_of(baseline: f64, ratio: f64) -> f64 {
    baseline + (ratio - 1.0) * baseline.abs()
}

/// The tail test's statistic: `ln(x / m)` over twice the mean size of the log ratios
/// of earlier bins, clipped to `[-1, 1]`. The scale depends on the past only, so the
/// statistic stays an antisymmetric, decreasing-in-`m` function of the bin's values
/// (what the null needs); zeros and negative values use [`bounded_difference`].
#[derive(Debug, Clone, Copy)]
struct LogRatioScale {
    /// Sum of past |ln(x/m)|, with a prior of 0.5 counted once.
    sum: f64,
    count: f64,
}

impl Default for LogRatioScale {
    fn default() -> Self {
        Self {
            sum: 0.5,
            count: 1.0,
        }
    }
}

impl LogRatioScale {
    fn statistic(&mut self, canary: f64, moved: f64) -> f64 {
        if canary > 0.0 && moved > 0.0 {
            let ratio = (canary / moved).ln();
            let statistic = (ratio / (2.0 * self.sum / self.count)).clamp(-1.0, 1.0);
            self.sum += ratio.abs();
            self.count += 1.0;
            statistic
        } else if canary >= 0.0 && moved >= 0.0 {
            sign(canary - moved)
        } else {
            bounded_difference(canary, moved)
        }
    }
}

/// `(a - b) / (|a| + |b|)`, 0 when both are 0: in `[-1, 1]`, antisymmetric.
fn bounded_difference(a: f64, b: f64) -> f64 {
    let scale = a.abs() + b.abs();
    if scale == 0.0 { 0.0 } else { (a - b) / scale }
}

fn sign(value: f64) -> f64 {
    if value > 0.0 {
        1.0
    } else if value < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Where the regression mixture first reached its threshold, or came closest.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Regression {
    /// The first bin at which the mixture reached `1/alpha`.
    detected_bin: Option<usize>,
    /// ln of the largest value the mixture reached.
    max_log_e: f64,
    /// The test and direction (true: up) that weighed most at the detection, or at the
    /// largest value when there was none.
    test: SequentialTest,
    up: bool,
}

/// One e-process of the mixture: its test and direction (true: up).
#[derive(Debug, Clone, Copy)]
struct Watch {
    test: SequentialTest,
    up: bool,
}

/// The regression tests of a continuous metric, in one e-process: the mean of the
/// level, tail and spread e-processes of every watched direction. A mean of
/// e-processes on one filtration is an e-process, so the mixture fails at `1/alpha`
/// with the whole alpha, where a Bonferroni split would need one test at `k/alpha`.
fn regression_tests(
    bins: &[Bin<f64>],
    settings: &SerinSettings,
    up: bool,
    down: bool,
) -> Regression {
    let mut watches = Vec::with_capacity(5);
    for (on, is_up) in [(up, true), (down, false)] {
        if on {
            for test in [SequentialTest::Level, SequentialTest::Tail] {
                watches.push(Watch { test, up: is_up });
            }
        }
    }
    if up {
        watches.push(Watch {
            test: SequentialTest::Spread,
            up: true,
        });
    }
    let mut mixture = Betting::with_rows(watches.len(), (1.0 / settings.alpha).ln());
    let mut scales = [LogRatioScale::default(); 2];
    let mut out = Regression {
        detected_bin: None,
        max_log_e: 0.0,
        test: SequentialTest::Level,
        up,
    };
    // Rows in `watches` order: level and tail up, level and tail down, spread up.
    let (level_up, tail_up) = (0, 1);
    let (level_down, tail_down) = if up { (2, 3) } else { (0, 1) };
    let spread = watches.len() - 1;
    for (index, bin) in bins.iter().enumerate() {
        if up {
            let moved = margin_of(bin.baseline, settings.allowed_increase);
            mixture.bet(level_up, sign(bin.canary - moved));
            mixture.bet(tail_up, scales[0].statistic(bin.canary, moved));
            // Spread: bins in consecutive pairs, observed at the second of each.
            if index % 2 == 1 {
                let previous = bins[index - 1];
                let canary = (bin.canary - previous.canary).abs();
                let baseline = (bin.baseline - previous.baseline).abs();
                mixture.bet(
                    spread,
                    sign(canary - margin_of(baseline, settings.allowed_increase)),
                );
            }
        }
        if down {
            let moved = margin_of(bin.baseline, settings.allowed_decrease);
            mixture.bet(level_down, -sign(bin.canary - moved));
            mixture.bet(tail_down, -scales[1].statistic(bin.canary, moved));
        }
        let new_max = mixture.close();
        if out.detected_bin.is_none() && new_max {
            // The row that weighs most at the new maximum names the test.
            let heaviest = (0..watches.len())
                .map(|row| mixture.row_log_e(row))
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (row, log)| {
                    if log > best.1 { (row, log) } else { best }
                })
                .0;
            out.test = watches[heaviest].test;
            out.up = watches[heaviest].up;
        }
        if out.detected_bin.is_none() {
            out.detected_bin = mixture.crossed_at();
        }
    }
    out.max_log_e = mixture.state().max_log_e;
    out
}

/// The "no regression" test: the level test of "the canary is worse than `margin`
/// times the baseline"; it crosses when the canary is shown within the margin.
fn within_margin(bins: &[Bin<f64>], margin: f64, worse: f64, alpha: f64) -> bool {
    let mut level = Betting::new((1.0 / alpha).ln());
    for bin in bins {
        level.observe(-worse * sign(bin.canary - margin_of(bin.baseline, margin)));
    }
    level.state().crossed_at.is_some()
}

/// The median bin ratio and its `1 - alpha` confidence sequence (sign-test inversion,
/// on bins with a positive baseline).
fn ratio_sequence(bins: &[Bin<f64>], alpha: f64) -> (Option<f64>, Option<f64>, Option<f64>) {
    let mut ratios: Vec<f64> = bins
        .iter()
        .filter(|bin| bin.baseline > 0.0)
        .map(|bin| bin.canary / bin.baseline)
        .collect();
    let n = ratios.len();
    if n == 0 {
        return (None, None, None);
    }
    let mut nth = |index: usize| {
        let (_, value, _) = ratios.select_nth_unstable_by(index, f64::total_cmp);
        *value
    };
    let median = if n % 2 == 1 {
        nth(n / 2)
    } else {
        0.5 * (nth(n / 2 - 1) + nth(n / 2))
    };
    match sign_threshold(n, (2.0 / alpha).ln()) {
        // Every c below the (n - k + 1)-th smallest ratio has k or more ratios above it.
        Some(k) if k >= 1 => (Some(median), Some(nth(n - k)), Some(nth(k - 1))),
        _ => (Some(median), None, None),
    }
}

fn evidence(bins: usize, min_samples: usize, sequential: SequentialEvidence) -> Evidence {
    Evidence {
        method: IntervalMethod::default(),
        confidence: 1.0 - sequential.alpha,
        baseline_count: bins,
        canary_count: bins,
        min_samples,
        shortcut: None,
        u: None,
        p_value: Some(sequential.p_value),
        p_value_method: None,
        ci_lower: None,
        ci_upper: None,
        estimate: sequential.ratio,
        tolerance_bound: None,
        effect_size: sequential.ratio,
        effect_size_measure: crate::config::EffectMeasure::MeanRatio,
        mean_ratio: None,
        cles: None,
        cohens_d: None,
        sequential: Some(sequential),
    }
}

/// A time for a reason: ISO 8601 when known, else the bin's number.
fn when(bin: usize, at: Option<i64>) -> String {
    match at.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(time) => format!(
            "since {} (bin {})",
            time.format("%Y-%m-%dT%H:%M:%SZ"),
            bin + 1
        ),
        None => format!("since bin {}", bin + 1),
    }
}

/// A number as a person writes it, to at most 6 decimals (`0.01`, `0.0025`, `99.6667`
/// for a percentage).
fn number_exact(value: f64) -> String {
    let digits = if value.abs() >= 1.0 { 1e4 } else { 1e9 };
    format!("{}", (value * digits).round() / digits)
}

fn number(value: f64) -> String {
    if value >= 1e6 {
        format!("{value:.2e}")
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Classifies one metric with the Serin judge. `requests` is the requests metric of a
/// rate (required for [`MetricKind::Rate`]).
pub fn classify_serin(
    name: &str,
    data: &MetricPair,
    requests: Option<&MetricPair>,
    settings: &SerinSettings,
) -> SerinClassification {
    let no_data = |reason: String, bins: usize| {
        let fail_metric = settings.must_have_data && !settings.critical;
        let mut evidence = evidence(
            bins,
            settings.min_samples,
            SequentialEvidence {
                decision: Decision::Undecided,
                test: match settings.kind {
                    MetricKind::Rate => SequentialTest::Rate,
                    MetricKind::Continuous => SequentialTest::Level,
                },
                alpha: settings.alpha,
                margin: settings.allowed_increase,
                bins,
                e_value: 1.0,
                p_value: 1.0,
                detected_bin: None,
                detected_at: None,
                ratio: None,
                ratio_lower: None,
                ratio_upper: None,
                canary_rate: None,
                baseline_rate: None,
            },
        );
        evidence.shortcut = Some(if bins == 0 {
            crate::classify::Shortcut::NoData
        } else {
            crate::classify::Shortcut::TooFewSamples
        });
        SerinClassification {
            classification: if fail_metric {
                Classification::NodataFailMetric
            } else {
                Classification::Nodata
            },
            reason: Some(reason),
            critical: settings.critical && !fail_metric,
            evidence,
        }
    };
    let needed = settings.min_samples.max(1);
    match settings.kind {
        MetricKind::Continuous => {
            let bins = value_bins(data);
            if bins.len() < needed {
                return no_data(
                    format!(
                        "Too few samples for {name}: {} time bins with both sides measured, at least {needed} needed",
                        bins.len()
                    ),
                    bins.len(),
                );
            }
            // Too few bins for any stream to reach the threshold: cannot decide, never a pass.
            // The mixture is at most its largest e-process, which is at most the sign
            // test's after all n signs went one way.
            let log_threshold = (1.0 / settings.alpha).ln();
            if sign_threshold(bins.len(), log_threshold).is_none() {
                let reachable = (bins.len()..)
                    .find(|&n| sign_threshold(n, log_threshold).is_some())
                    .unwrap_or(usize::MAX);
                return no_data(
                    format!(
                        "Too few samples for {name}: {} time bins cannot show a regression at alpha {} (at least {reachable} needed)",
                        bins.len(),
                        number_exact(settings.alpha)
                    ),
                    bins.len(),
                );
            }
            classify_continuous(name, &bins, settings)
        }
        MetricKind::Rate => {
            let empty = MetricPair::default();
            let bins = rate_bins(data, requests.unwrap_or(&empty));
            let canary_requests: f64 = bins.iter().map(|bin| bin.canary.1).sum();
            let baseline_requests: f64 = bins.iter().map(|bin| bin.baseline.1).sum();
            if canary_requests == 0.0 || baseline_requests == 0.0 {
                let side = if canary_requests == 0.0 {
                    "canary"
                } else {
                    "baseline"
                };
                return no_data(
                    format!(
                        "No traffic for {name}: the {side} served no requests in {} time bins",
                        bins.len()
                    ),
                    bins.len(),
                );
            }
            if bins.len() < needed {
                return no_data(
                    format!(
                        "Too few samples for {name}: {} time bins with both sides measured, at least {needed} needed",
                        bins.len()
                    ),
                    bins.len(),
                );
            }
            classify_rate(name, &bins, settings)
        }
    }
}

/// Which ways a metric is watched, and each way's share of its alpha.
#[derive(Debug, Clone, Copy)]
struct Directions {
    up: bool,
    down: bool,
    share: f64,
}

impl Directions {
    fn of(settings: &SerinSettings) -> Self {
        let up = matches!(settings.direction, Direction::Increase | Direction::Either);
        let down = matches!(settings.direction, Direction::Decrease | Direction::Either);
        let share = if up && down {
            settings.alpha / 2.0
        } else {
            settings.alpha
        };
        Self { up, down, share }
    }
}

fn classify_continuous(
    name: &str,
    bins: &[Bin<f64>],
    settings: &SerinSettings,
) -> SerinClassification {
    let Directions { up, down, share } = Directions::of(settings);
    let regression = regression_tests(bins, settings, up, down);
    let (ratio, ratio_lower, ratio_upper) = ratio_sequence(bins, settings.alpha);
    let detected = regression
        .detected_bin
        .map(|bin| ((regression.test, bin), regression.up));
    let e_value = regression.max_log_e.exp();
    let p_value = (1.0 / e_value).min(1.0);
    let margin = if regression.up {
        settings.allowed_increase
    } else {
        settings.allowed_decrease
    };
    let shown_within = detected.is_none()
        && (!up || within_margin(bins, settings.allowed_increase, 1.0, share))
        && (!down || within_margin(bins, settings.allowed_decrease, -1.0, share));
    let decision = if detected.is_some() {
        Decision::Regression
    } else if shown_within {
        Decision::NoRegression
    } else {
        Decision::Undecided
    };
    let test = regression.test;
    let sequential = SequentialEvidence {
        decision,
        test,
        alpha: settings.alpha,
        margin,
        bins: bins.len(),
        e_value,
        p_value,
        detected_bin: detected.map(|((_, bin), _)| bin),
        detected_at: detected.and_then(|((_, bin), _)| bins[bin].at),
        ratio,
        ratio_lower,
        ratio_upper,
        canary_rate: None,
        baseline_rate: None,
    };
    let interval = match (ratio, ratio_lower, ratio_upper) {
        (Some(ratio), Some(lower), Some(upper)) => format!(
            "median canary/baseline ratio {} ({} % confidence sequence {}…{})",
            number(ratio),
            number_exact(100.0 * (1.0 - settings.alpha)),
            number(lower),
            number(upper)
        ),
        (Some(ratio), _, _) => format!("median canary/baseline ratio {}", number(ratio)),
        _ => "no bin with a positive baseline to take a ratio of".to_owned(),
    };
    let (classification, reason) = match detected {
        Some(((test, bin), up)) => (
            if up {
                Classification::High
            } else {
                Classification::Low
            },
            Some(format!(
                "{name}: regression {} the {margin}× margin ({} test, e-value {} ≥ {}) {}; {interval}",
                if up { "above" } else { "below" },
                test.as_str(),
                number(e_value),
                number(1.0 / settings.alpha),
                when(bin, bins[bin].at),
            )),
        ),
        None if decision == Decision::NoRegression => (
            Classification::Pass,
            Some(format!(
                "{name}: no regression, shown within the {margin}× margin over {} bins; {interval}",
                bins.len()
            )),
        ),
        None => (Classification::Pass, None),
    };
    SerinClassification {
        classification,
        reason,
        critical: settings.critical && classification != Classification::Pass,
        evidence: evidence(bins.len(), settings.min_samples, sequential),
    }
}

/// A bin of a rate metric as the rate-ratio test takes it.
fn rate_bin(bin: &Bin<(f64, f64)>) -> RateBin {
    RateBin {
        canary_events: bin.canary.0,
        canary_requests: bin.canary.1,
        baseline_events: bin.baseline.0,
        baseline_requests: bin.baseline.1,
    }
}

/// The ends of a confidence sequence on a rate ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RateBounds {
    lower: Option<f64>,
    upper: Option<f64>,
}

/// The `1 - alpha` confidence sequence on the rate ratio: the ratios `R0` that neither
/// one-sided test (each at `alpha / 2`) has rejected at any bin so far. "Ratio at most
/// `R0`" is rejected for every `R0` below the lower end, "at least `R0`" for every one
/// above the upper end; each end is found by bisection on `ln R0` over 10⁻³…10³ (an end
/// beyond that range is `None`: unbounded there).
fn rate_ratio_sequence(bins: &[Bin<(f64, f64)>], alpha: f64) -> RateBounds {
    let log_threshold = (2.0 / alpha).ln();
    let rejected = |null_ratio: f64, above: bool| {
        let mut test = if above {
            RateRatio::above(null_ratio, log_threshold)
        } else {
            RateRatio::below(null_ratio, log_threshold)
        };
        bins.iter().any(|bin| {
            test.observe(rate_bin(bin));
            test.state().crossed_at.is_some()
        })
    };
    // `rejected(R0, above)` holds for small R0 and fails for large ones; the other
    // way round for `below`. Bisection on the boundary, to 0.1 % in the ratio.
    let boundary = |above: bool| -> Option<f64> {
        let (mut low, mut high) = (1e-3f64.ln(), 1e3f64.ln());
        let inside = |log_ratio: f64| rejected(log_ratio.exp(), above) == above;
        match (inside(low), inside(high)) {
            // The lower end is below the range: unbounded there; the upper end is
            // below it too: at most the range's bottom.
            (false, _) => return (!above).then_some(low.exp()),
            // Both ends above the range: the lower end at least its top; the upper
            // end unbounded.
            (true, true) => return above.then_some(high.exp()),
            (true, false) => {}
        }
        while high - low > 1e-3 {
            let middle = 0.5 * (low + high);
            if inside(middle) {
                low = middle;
            } else {
                high = middle;
            }
        }
        Some(if above { low.exp() } else { high.exp() })
    };
    RateBounds {
        lower: boundary(true),
        upper: boundary(false),
    }
}

fn classify_rate(
    name: &str,
    bins: &[Bin<(f64, f64)>],
    settings: &SerinSettings,
) -> SerinClassification {
    let Directions { up, down, share } = Directions::of(settings);
    let threshold = (1.0 / share).ln();
    let mut above = RateRatio::above(settings.allowed_increase, threshold);
    let mut below = RateRatio::below(settings.allowed_decrease, threshold);
    let mut within_up = RateRatio::below(settings.allowed_increase, threshold);
    let mut within_down = RateRatio::above(settings.allowed_decrease, threshold);
    let (mut e, mut n, mut f, mut m) = (0.0, 0.0, 0.0, 0.0);
    for bin in bins {
        let rate_bin = rate_bin(bin);
        above.observe(rate_bin);
        below.observe(rate_bin);
        within_up.observe(rate_bin);
        within_down.observe(rate_bin);
        e += bin.canary.0;
        n += bin.canary.1;
        f += bin.baseline.0;
        m += bin.baseline.1;
    }
    let up_state = above.state();
    let down_state = below.state();
    let detected = [(up, up_state, true), (down, down_state, false)]
        .into_iter()
        .filter(|(on, _, _)| *on)
        .filter_map(|(_, state, is_up)| state.crossed_at.map(|bin| (bin, is_up)))
        .min_by_key(|&(bin, _)| bin);
    let max_log_e = [(up, up_state), (down, down_state)]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, state)| state.max_log_e)
        .fold(f64::NEG_INFINITY, f64::max);
    let e_value = (max_log_e - (settings.alpha / share).ln()).exp();
    let p_value = (1.0 / e_value).min(1.0);
    let shown_within = detected.is_none()
        && (!up || within_up.state().crossed_at.is_some())
        && (!down || within_down.state().crossed_at.is_some());
    let decision = if detected.is_some() {
        Decision::Regression
    } else if shown_within {
        Decision::NoRegression
    } else {
        Decision::Undecided
    };
    let (canary_rate, baseline_rate) = (e / n, f / m);
    let bounds = rate_ratio_sequence(bins, settings.alpha);
    let ratio = canary_rate / baseline_rate;
    let margin = match detected {
        Some((_, false)) => settings.allowed_decrease,
        _ if up => settings.allowed_increase,
        _ => settings.allowed_decrease,
    };
    let sequential = SequentialEvidence {
        decision,
        test: SequentialTest::Rate,
        alpha: settings.alpha,
        margin,
        bins: bins.len(),
        e_value,
        p_value,
        detected_bin: detected.map(|(bin, _)| bin),
        detected_at: detected.and_then(|(bin, _)| bins[bin].at),
        ratio: Some(ratio),
        ratio_lower: bounds.lower,
        ratio_upper: bounds.upper,
        canary_rate: Some(canary_rate),
        baseline_rate: Some(baseline_rate),
    };
    let confidence = number_exact(100.0 * (1.0 - settings.alpha));
    let sequence = match (bounds.lower, bounds.upper) {
        (Some(lower), Some(upper)) => {
            format!(
                ", rate ratio {}…{} with {confidence} % confidence",
                number(lower),
                number(upper)
            )
        }
        (Some(lower), None) => format!(
            ", rate ratio ≥ {} with {confidence} % confidence",
            number(lower)
        ),
        (None, Some(upper)) => format!(
            ", rate ratio ≤ {} with {confidence} % confidence",
            number(upper)
        ),
        (None, None) => String::new(),
    };
    let rates = format!(
        "rate {:.2} % vs {:.2} % ({} of {} requests against {} of {}{sequence})",
        100.0 * canary_rate,
        100.0 * baseline_rate,
        number(e),
        number(n),
        number(f),
        number(m)
    );
    let (classification, reason) = match detected {
        Some((bin, is_up)) => (
            if is_up {
                Classification::High
            } else {
                Classification::Low
            },
            Some(format!(
                "{name}: {rates}: rate ratio {} the {margin}× margin (rate test, e-value {} ≥ {}) {}",
                if is_up { "above" } else { "below" },
                number(e_value),
                number(1.0 / settings.alpha),
                when(bin, bins[bin].at)
            )),
        ),
        None if decision == Decision::NoRegression => (
            Classification::Pass,
            Some(format!(
                "{name}: {rates}: no regression, shown within the {margin}× margin"
            )),
        ),
        None => (Classification::Pass, None),
    };
    SerinClassification {
        classification,
        reason,
        critical: settings.critical && classification != Classification::Pass,
        evidence: evidence(bins.len(), settings.min_samples, sequential),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(baseline: &[(i64, f64)], canary: &[(i64, f64)]) -> MetricPair {
        let mut pair = MetricPair::default();
        for &(at, value) in baseline {
            pair.push_at(Scope::Baseline, at, value);
        }
        for &(at, value) in canary {
            pair.push_at(Scope::Canary, at, value);
        }
        pair
    }

    #[test]
    fn sides_pair_in_time() {
        // Table: baseline points, canary points, the (time, canary, baseline) bins.
        type Case = (
            &'static str,
            Vec<(i64, f64)>,
            Vec<(i64, f64)>,
            Vec<(Option<i64>, f64, f64)>,
        );
        let cases: Vec<Case> = vec![
            (
                "same instants pair point for point",
                vec![(0, 1.0), (60, 2.0), (120, 3.0)],
                vec![(0, 4.0), (60, 5.0), (120, 6.0)],
                vec![
                    (Some(0), 4.0, 1.0),
                    (Some(60), 5.0, 2.0),
                    (Some(120), 6.0, 3.0),
                ],
            ),
            (
                "alternate scrapes pair with the next point of the other side",
                vec![(0, 1.0), (10, 2.0), (20, 3.0)],
                vec![(5, 4.0), (15, 5.0), (25, 6.0)],
                vec![
                    (Some(5), 4.0, 1.0),
                    (Some(15), 5.0, 2.0),
                    (Some(25), 6.0, 3.0),
                ],
            ),
            (
                "a run of one side pairs, combined, with the next point of the other",
                vec![(0, 1.0), (10, 3.0), (30, 5.0)],
                vec![(20, 4.0), (40, 6.0), (50, 7.0)],
                vec![(Some(20), 4.0, 2.0), (Some(40), 6.0, 5.0)],
            ),
            (
                "points of a finer side between shared instants are dropped",
                vec![(0, 1.0), (60, 2.0)],
                vec![(0, 4.0), (20, 5.0), (40, 9.0), (60, 6.0)],
                vec![(Some(0), 4.0, 1.0), (Some(60), 6.0, 2.0)],
            ),
            (
                "a gap on one side drops the bin",
                vec![(0, 1.0), (60, 2.0), (120, 3.0), (180, 4.0)],
                vec![(0, 4.0), (60, 5.0), (180, 6.0)],
                vec![
                    (Some(0), 4.0, 1.0),
                    (Some(60), 5.0, 2.0),
                    (Some(180), 6.0, 4.0),
                ],
            ),
        ];
        for (name, baseline, canary, want) in cases {
            let bins: Vec<(Option<i64>, f64, f64)> = value_bins(&pair(&baseline, &canary))
                .into_iter()
                .map(|bin| (bin.at, bin.canary, bin.baseline))
                .collect();
            assert_eq!(bins, want, "{name}");
        }
        // Without timestamps on one side: by position.
        let untimed = MetricPair::new(vec![1.0, 2.0], vec![3.0, 4.0, 5.0]);
        let bins: Vec<(Option<i64>, f64, f64)> = value_bins(&untimed)
            .into_iter()
            .map(|bin| (bin.at, bin.canary, bin.baseline))
            .collect();
        assert_eq!(bins, [(None, 3.0, 1.0), (None, 4.0, 2.0)]);
    }

    #[test]
    fn counts_in_one_bin_add_up() {
        let events = pair(&[(0, 1.0), (30, 2.0)], &[(0, 3.0), (60, 1.0)]);
        let requests = pair(
            &[(0, 10.0), (30, 20.0), (60, 30.0)],
            &[(0, 40.0), (60, 50.0)],
        );
        let bins: Vec<_> = rate_bins(&events, &requests)
            .into_iter()
            .map(|bin| (bin.at, bin.canary, bin.baseline))
            .collect();
        // Each side's events pair with its requests at t = 0 and 30 (baseline) and 0 and
        // 60 (canary); the baseline's bin at 30 is a run the canary's point at 60 closes.
        assert_eq!(
            bins,
            [
                (Some(0), (3.0, 40.0), (1.0, 10.0)),
                (Some(60), (1.0, 50.0), (2.0, 20.0))
            ]
        );
    }
}
