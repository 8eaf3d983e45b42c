//! The Serin judge's classification of one metric: the sides paired in time bins, anytime-valid e-processes, a decision with its evidence.
#![allow(
    clippy::float_cmp,
    reason = "ties (equal values, zero baselines) are defined by exact equality"
)]

use serde::Serialize;

use crate::classify::{Classification, Evidence, finite_or_null};
use crate::config::{Direction, MetricKind};
use crate::data::{MetricPair, Scope, TimedSeries};
use crate::stats::IntervalMethod;
use crate::stats::eprocess::{Betting, EState, RateBin, RateRatio, sign_threshold};

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

/// A side as (time, value) points: averaged per timestamp when it has timestamps
/// (several series of one scope share a bin), in order of position otherwise.
fn points(series: TimedSeries<'_>) -> Vec<(Option<i64>, f64)> {
    if series.times.is_empty() {
        return series.values.iter().map(|&value| (None, value)).collect();
    }
    let mut timed: Vec<(i64, f64)> = series
        .times
        .iter()
        .zip(series.values)
        .filter(|(_, value)| value.is_finite())
        .map(|(&at, &value)| (at, value))
        .collect();
    // Sources deliver points in time order, where this sort is a linear pass.
    timed.sort_by_key(|&(at, _)| at);
    let mut out: Vec<(Option<i64>, f64)> = Vec::with_capacity(timed.len());
    let mut index = 0;
    while index < timed.len() {
        let at = timed[index].0;
        let (mut sum, mut count) = (0.0, 0.0);
        while index < timed.len() && timed[index].0 == at {
            sum += timed[index].1;
            count += 1.0;
            index += 1;
        }
        out.push((Some(at), sum / count));
    }
    out
}

/// Two point lists joined bin by bin.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Joined<T, U> {
    at: Option<i64>,
    left: T,
    right: U,
}

/// Pairs two point lists: by equal timestamp when both have timestamps, by position
/// otherwise; a pair that `keep` refuses (a value that is not finite) is dropped.
fn join<T: Copy, U: Copy>(
    a: &[(Option<i64>, T)],
    b: &[(Option<i64>, U)],
    keep: impl Fn(T, U) -> bool,
) -> Vec<Joined<T, U>> {
    let timed = a.iter().all(|(at, _)| at.is_some()) && b.iter().all(|(at, _)| at.is_some());
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    if timed && !a.is_empty() && !b.is_empty() {
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    if keep(a[i].1, b[j].1) {
                        out.push(Joined {
                            at: a[i].0,
                            left: a[i].1,
                            right: b[j].1,
                        });
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
    } else {
        for (left, right) in a.iter().zip(b) {
            if keep(left.1, right.1) {
                out.push(Joined {
                    at: None,
                    left: left.1,
                    right: right.1,
                });
            }
        }
    }
    out
}

/// The canary and baseline values of a metric, paired bin by bin.
fn value_bins(data: &MetricPair) -> Vec<Bin<f64>> {
    let canary = points(data.side(Scope::Canary));
    let baseline = points(data.side(Scope::Baseline));
    join(&canary, &baseline, |x: f64, y: f64| {
        x.is_finite() && y.is_finite()
    })
    .into_iter()
    .map(|joined| Bin {
        at: joined.at,
        canary: joined.left,
        baseline: joined.right,
    })
    .collect()
}

/// Events and requests of both sides, paired bin by bin: `(events, requests)` a side.
fn rate_bins(events: &MetricPair, requests: &MetricPair) -> Vec<Bin<(f64, f64)>> {
    let counts = |e: f64, n: f64| e.is_finite() && n.is_finite() && e >= 0.0 && n >= 0.0;
    let side = |scope| {
        join(
            &points(events.side(scope)),
            &points(requests.side(scope)),
            counts,
        )
        .into_iter()
        .map(|joined| (joined.at, (joined.left, joined.right)))
        .collect::<Vec<_>>()
    };
    let (canary, baseline) = (side(Scope::Canary), side(Scope::Baseline));
    join(&canary, &baseline, |_, _| true)
        .into_iter()
        .map(|joined| Bin {
            at: joined.at,
            canary: joined.left,
            baseline: joined.right,
        })
        .collect()
}

/// The baseline moved by the margin: `y + (c - 1)·|y|`, so that negative values move
/// the same way as positive ones.
fn margin_of(baseline: f64, ratio: f64) -> f64 {
    (ratio - 1.0).mul_add(baseline.abs(), baseline)
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

/// One direction's e-processes (each at its Bonferroni share of the direction's alpha).
struct Tests {
    processes: Vec<(SequentialTest, EState)>,
}

impl Tests {
    /// The first crossing: (test, bin).
    fn crossing(&self) -> Option<(SequentialTest, usize)> {
        self.processes
            .iter()
            .filter_map(|(test, state)| state.crossed_at.map(|at| (*test, at)))
            .min_by_key(|&(_, at)| at)
    }

    /// The strongest evidence, scaled for the number of tests: (test, ln e).
    fn strongest(&self) -> (SequentialTest, f64) {
        let scale = (self.processes.len() as f64).ln();
        self.processes
            .iter()
            .map(|(test, state)| (*test, state.max_log_e - scale))
            .fold((SequentialTest::Level, f64::NEG_INFINITY), |best, next| {
                if next.1 > best.1 { next } else { best }
            })
    }
}

/// Level, tail and spread tests of "the canary is not worse than `margin` times the
/// baseline"; `worse` orients a difference so that positive means worse.
fn continuous_tests(bins: &[Bin<f64>], margin: f64, worse: f64, spread: bool, alpha: f64) -> Tests {
    let count = if spread { 3.0 } else { 2.0 };
    let log_threshold = (count / alpha).ln();
    let mut level = Betting::new(log_threshold);
    let mut tail = Betting::new(log_threshold);
    let mut spread_test = Betting::new(log_threshold);
    let mut scale = LogRatioScale::default();
    // Spread: bins in consecutive pairs; its observation j is taken at bin 2j + 1.
    let mut spread_at = Vec::new();
    for (index, bin) in bins.iter().enumerate() {
        let moved = margin_of(bin.baseline, margin);
        level.observe(worse * sign(bin.canary - moved));
        tail.observe(worse * scale.statistic(bin.canary, moved));
        if spread && index % 2 == 1 {
            let previous = bins[index - 1];
            let canary = (bin.canary - previous.canary).abs();
            let baseline = (bin.baseline - previous.baseline).abs();
            spread_test.observe(sign(canary - margin_of(baseline, margin)));
            spread_at.push(index);
        }
    }
    let mut processes = vec![
        (SequentialTest::Level, level.state()),
        (SequentialTest::Tail, tail.state()),
    ];
    if spread {
        let mut state = spread_test.state();
        // Report the spread test's crossing in bins, like the others.
        state.crossed_at = state.crossed_at.and_then(|j| spread_at.get(j).copied());
        processes.push((SequentialTest::Spread, state));
    }
    Tests { processes }
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

/// A small probability as written in a config (`0.01`, `0.0025`).
fn number_exact(value: f64) -> String {
    format!("{}", (value * 1e9).round() / 1e9)
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
            let share = Directions::of(settings).share;
            let tests = if settings.direction == Direction::Decrease {
                2.0
            } else {
                3.0
            };
            if sign_threshold(bins.len(), (tests / share).ln()).is_none() {
                let reachable = (bins.len()..)
                    .find(|&n| sign_threshold(n, (tests / share).ln()).is_some())
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
    let increase = up.then(|| continuous_tests(bins, settings.allowed_increase, 1.0, true, share));
    let decrease =
        down.then(|| continuous_tests(bins, settings.allowed_decrease, -1.0, false, share));
    let (ratio, ratio_lower, ratio_upper) = ratio_sequence(bins, settings.alpha);
    let crossing = |tests: &Option<Tests>| tests.as_ref().and_then(Tests::crossing);
    let detected = match (crossing(&increase), crossing(&decrease)) {
        (Some(a), Some(b)) => Some(if a.1 <= b.1 { (a, true) } else { (b, false) }),
        (Some(a), None) => Some((a, true)),
        (None, Some(b)) => Some((b, false)),
        (None, None) => None,
    };
    let strongest = [&increase, &decrease]
        .into_iter()
        .flatten()
        .map(Tests::strongest)
        .fold((SequentialTest::Level, f64::NEG_INFINITY), |best, next| {
            if next.1 > best.1 { next } else { best }
        });
    // Scaled for the split between directions, so that it reaches 1/alpha exactly
    // when a test crosses its threshold.
    let e_value = (strongest.1 - (settings.alpha / share).ln()).exp();
    let p_value = (1.0 / e_value).min(1.0);
    let margin = if detected.is_some_and(|(_, up)| !up) {
        settings.allowed_decrease
    } else if up {
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
    let test = detected.map_or(strongest.0, |((test, _), _)| test);
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
            "median canary/baseline ratio {} ({:.0} % confidence sequence {}…{})",
            number(ratio),
            100.0 * (1.0 - settings.alpha),
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
        let rate_bin = RateBin {
            canary_events: bin.canary.0,
            canary_requests: bin.canary.1,
            baseline_events: bin.baseline.0,
            baseline_requests: bin.baseline.1,
        };
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
        ratio_lower: None,
        ratio_upper: None,
        canary_rate: Some(canary_rate),
        baseline_rate: Some(baseline_rate),
    };
    let rates = format!(
        "rate {:.2} % vs {:.2} % ({} of {} requests against {} of {})",
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
