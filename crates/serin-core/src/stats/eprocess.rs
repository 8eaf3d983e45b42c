//! Anytime-valid e-processes: betting on bounded statistics, and the conditional binomial test of a rate ratio.
//!
//! Both are nonnegative supermartingales under their null, so by Ville's inequality
//! the chance that one ever reaches `1/alpha` is at most `alpha`, however often it is
//! looked at (derivation: `docs/statistics.md`, "The Serin judge").

/// The bets of the betting mixture: each wagers a fraction `lambda` on every
/// observation; the mixture is their average, weights equal.
pub const BETS: [f64; 7] = [0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9];

/// Ratios (over the null's margin) of the rate-ratio mixture: the alternatives a
/// regression of a count metric is measured against, weights equal.
pub const RATE_RATIOS: [f64; 8] = [1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0];

/// Where an e-process stands after its last observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EState {
    /// Observations taken.
    pub observations: usize,
    /// Natural log of the e-value now.
    pub log_e: f64,
    /// Natural log of the largest e-value so far (the anytime p-value is `exp(-max_log_e)`).
    pub max_log_e: f64,
    /// The first observation (0-based) at which the e-value reached the threshold.
    pub crossed_at: Option<usize>,
}

impl EState {
    fn new() -> Self {
        Self {
            observations: 0,
            log_e: 0.0,
            max_log_e: 0.0,
            crossed_at: None,
        }
    }

    fn record(&mut self, log_e: f64, log_threshold: f64) {
        self.log_e = log_e;
        if log_e > self.max_log_e {
            self.max_log_e = log_e;
        }
        if self.crossed_at.is_none() && log_e >= log_threshold {
            self.crossed_at = Some(self.observations);
        }
        self.observations += 1;
    }

    /// The anytime-valid p-value: `min(1, 1 / max e-value)`.
    pub fn p_value(&self) -> f64 {
        (-self.max_log_e).exp().min(1.0)
    }
}

/// Betting mixtures on one or more statistics, advanced bin by bin: row `r` is the
/// mixture `mean_λ Π_{j≤t} (1 + λ·s_{r,j})` over [`BETS`] for statistics `s_{r,j}` in
/// `[-1, 1]` whose conditional mean is at most 0 under the null, and the process
/// tested is the mean of the rows (a mean of e-processes on one filtration is one).
///
/// Every product is kept on one shared binary scale, so 10⁶ observations neither
/// overflow nor underflow, and the threshold and the running maximum are compared on
/// that scale: an observation costs a multiply and an add per bet, and no logarithm.
/// A row that falls below 10⁻¹⁵⁰ of the total is flushed towards 0, which can only
/// lower the process (the test stays valid).
#[derive(Debug, Clone)]
pub struct Betting {
    products: Vec<[f64; BETS.len()]>,
    /// ln of the factor every product is divided by.
    log_scale: f64,
    /// The threshold and the largest sum so far, on the current scale.
    threshold: f64,
    max_sum: f64,
    sum: f64,
    observations: usize,
    crossed_at: Option<usize>,
}

impl Betting {
    /// One statistic's mixture, which records when it first reaches `exp(log_threshold)`.
    pub fn new(log_threshold: f64) -> Self {
        Self::with_rows(1, log_threshold)
    }

    /// The mean of `rows` mixtures, which records when it first reaches `exp(log_threshold)`.
    pub fn with_rows(rows: usize, log_threshold: f64) -> Self {
        let count = (rows * BETS.len()) as f64;
        Self {
            products: vec![[1.0; BETS.len()]; rows],
            log_scale: 0.0,
            threshold: log_threshold.exp() * count,
            max_sum: count,
            sum: count,
            observations: 0,
            crossed_at: None,
        }
    }

    /// Takes one statistic of a one-row process and closes the bin.
    pub fn observe(&mut self, statistic: f64) {
        self.bet(0, statistic);
        self.close();
    }

    /// Takes one statistic of row `row`; values outside `[-1, 1]` are clamped to it
    /// (NaN: 0). A row that skips a bin bets nothing on it.
    #[expect(
        clippy::suboptimal_flops,
        reason = "mul_add is a library call without FMA in the target, on the hot path"
    )]
    pub fn bet(&mut self, row: usize, statistic: f64) {
        let s = if statistic.is_nan() {
            0.0
        } else {
            statistic.clamp(-1.0, 1.0)
        };
        for (product, bet) in self.products[row].iter_mut().zip(BETS) {
            *product *= 1.0 + bet * s;
        }
    }

    /// Closes a bin; returns whether the process reached a new maximum in it.
    pub fn close(&mut self) -> bool {
        let mut sum: f64 = self.products.iter().flatten().sum();
        if !(1e-150..=1e150).contains(&sum) {
            let factor = sum;
            for product in self.products.iter_mut().flatten() {
                *product /= factor;
            }
            self.log_scale += factor.ln();
            self.threshold /= factor;
            self.max_sum /= factor;
            sum = 1.0;
        }
        self.sum = sum;
        let new_max = sum > self.max_sum;
        if new_max {
            self.max_sum = sum;
        }
        if self.crossed_at.is_none() && sum >= self.threshold {
            self.crossed_at = Some(self.observations);
        }
        self.observations += 1;
        new_max
    }

    fn log_of(&self, sum: f64, count: usize) -> f64 {
        (sum / count as f64).ln() + self.log_scale
    }

    /// ln of row `row`'s mixture now.
    pub fn row_log_e(&self, row: usize) -> f64 {
        let sum: f64 = self.products[row].iter().sum();
        self.log_of(sum, BETS.len())
    }

    /// The first bin (0-based) at which the process reached its threshold.
    pub fn crossed_at(&self) -> Option<usize> {
        self.crossed_at
    }

    /// Where the process (the mean of the rows) stands.
    pub fn state(&self) -> EState {
        let count = self.products.len() * BETS.len();
        EState {
            observations: self.observations,
            log_e: self.log_of(self.sum, count),
            max_log_e: self.log_of(self.max_sum, count).max(0.0),
            crossed_at: self.crossed_at,
        }
    }
}

/// ln of the betting mixture after `above` statistics of +1 and `below` of -1 (the
/// sign test's e-value at one time; ties are 0 and change nothing).
pub fn sign_log_e(above: usize, below: usize) -> f64 {
    let logs: Vec<f64> = BETS
        .iter()
        .map(|bet| (above as f64).mul_add(bet.ln_1p(), below as f64 * (-bet).ln_1p()))
        .collect();
    log_mean_exp(&logs)
}

/// The fewest statistics of +1 out of `n` (the rest -1) at which the sign test's
/// e-value reaches `exp(log_threshold)`; `None` when even `n` of `n` do not.
pub fn sign_threshold(n: usize, log_threshold: f64) -> Option<usize> {
    if sign_log_e(n, 0) < log_threshold {
        return None;
    }
    // sign_log_e(k, n - k) increases with k.
    let (mut low, mut high) = (0, n);
    while low < high {
        let middle = (low + high) / 2;
        if sign_log_e(middle, n - middle) >= log_threshold {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Some(low)
}

/// ln(mean(exp(values))), computed without overflow.
pub fn log_mean_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = values.iter().map(|value| (value - max).exp()).sum();
    max + (sum / values.len() as f64).ln()
}

/// One time bin of a count metric: events and exposure (requests) of each side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateBin {
    /// Canary events (errors).
    pub canary_events: f64,
    /// Canary requests.
    pub canary_requests: f64,
    /// Baseline events.
    pub baseline_events: f64,
    /// Baseline requests.
    pub baseline_requests: f64,
}

/// The conditional binomial e-process of a rate ratio.
///
/// In a bin with canary share `w = n/(n+m)` of the requests, the canary's events out
/// of all `e + f` events are binomial with `θ(R) = R·n / (R·n + m)` when the canary's
/// rate is `R` times the baseline's. The e-process is the average over `R` in a grid of
/// the likelihood ratios `Π_j (θ_j(R)/θ_j(R0))^e_j ((1-θ_j(R))/(1-θ_j(R0)))^f_j`: with
/// the grid above `R0` it tests "the ratio is at most `R0`" (a regression when it is
/// rejected); with the grid below, "the ratio is at least `R0`".
#[derive(Debug, Clone)]
pub struct RateRatio {
    ratios: Vec<f64>,
    null_ratio: f64,
    log_ratios: Vec<f64>,
    log_threshold: f64,
    state: EState,
}

impl RateRatio {
    /// Tests `ratio <= null_ratio` against the alternatives `null_ratio · RATE_RATIOS`.
    pub fn above(null_ratio: f64, log_threshold: f64) -> Self {
        Self::with_ratios(
            RATE_RATIOS.iter().map(|r| r * null_ratio).collect(),
            null_ratio,
            log_threshold,
        )
    }

    /// Tests `ratio >= null_ratio` against the alternatives `null_ratio / RATE_RATIOS`.
    pub fn below(null_ratio: f64, log_threshold: f64) -> Self {
        Self::with_ratios(
            RATE_RATIOS.iter().map(|r| null_ratio / r).collect(),
            null_ratio,
            log_threshold,
        )
    }

    fn with_ratios(ratios: Vec<f64>, null_ratio: f64, log_threshold: f64) -> Self {
        Self {
            log_ratios: vec![0.0; ratios.len()],
            ratios,
            null_ratio,
            log_threshold,
            state: EState::new(),
        }
    }

    /// Takes one bin; a bin without requests on either side, or without events, changes
    /// nothing (the binomial has no trials) but still counts as an observation.
    #[expect(
        clippy::suboptimal_flops,
        reason = "mul_add is a library call without FMA in the target, on the hot path"
    )]
    pub fn observe(&mut self, bin: RateBin) {
        let events = bin.canary_events + bin.baseline_events;
        if bin.canary_requests > 0.0 && bin.baseline_requests > 0.0 && events > 0.0 {
            let theta = |ratio: f64| {
                let weighted = ratio * bin.canary_requests;
                weighted / (weighted + bin.baseline_requests)
            };
            let null = theta(self.null_ratio);
            for (log, &ratio) in self.log_ratios.iter_mut().zip(&self.ratios) {
                let alternative = theta(ratio);
                *log += bin.canary_events * (alternative / null).ln()
                    + bin.baseline_events * ((1.0 - alternative) / (1.0 - null)).ln();
            }
        }
        let log_e = log_mean_exp(&self.log_ratios);
        self.state.record(log_e, self.log_threshold);
    }

    /// Where the process stands.
    pub fn state(&self) -> EState {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn betting_matches_its_closed_form_and_never_overflows() {
        let mut betting = Betting::new(f64::INFINITY);
        let statistics = [1.0, -1.0, 0.5, 0.0, 1.0];
        for s in statistics {
            betting.observe(s);
        }
        let direct: f64 = BETS
            .iter()
            .map(|bet| statistics.iter().map(|s| 1.0 + bet * s).product::<f64>())
            .sum::<f64>()
            / BETS.len() as f64;
        assert!((betting.state().log_e - direct.ln()).abs() < 1e-12);
        // A million +1: ln E grows by ln(1.9) each, far beyond f64's range.
        let mut long = Betting::new(f64::INFINITY);
        for _ in 0..1_000_000 {
            long.observe(1.0);
        }
        let want = 1e6f64.mul_add(1.9f64.ln(), -(BETS.len() as f64).ln());
        assert!((long.state().log_e - want).abs() / want < 1e-9);
        for _ in 0..2_000_000 {
            long.observe(-1.0);
        }
        assert!(long.state().log_e.is_finite() && long.state().log_e < 0.0);
    }

    #[test]
    fn sign_threshold_is_the_first_count_that_reaches_it() {
        let log_threshold = 100f64.ln();
        for n in [5, 10, 50, 144, 1440] {
            match sign_threshold(n, log_threshold) {
                Some(k) => {
                    assert!(sign_log_e(k, n - k) >= log_threshold, "{n}");
                    assert!(
                        k == 0 || sign_log_e(k - 1, n - k + 1) < log_threshold,
                        "{n}"
                    );
                }
                None => assert!(sign_log_e(n, 0) < log_threshold, "{n}"),
            }
        }
        assert_eq!(sign_threshold(5, log_threshold), None);
    }

    #[test]
    fn rate_ratio_sees_errors_only_the_canary_has() {
        // 3 errors in 500 canary requests against none in 10,000.
        let mut test = RateRatio::above(1.0, 100f64.ln());
        test.observe(RateBin {
            canary_events: 3.0,
            canary_requests: 500.0,
            baseline_events: 0.0,
            baseline_requests: 10_000.0,
        });
        assert!(test.state().crossed_at == Some(0), "{:?}", test.state());
        // Errors in proportion to traffic: evidence falls.
        let mut healthy = RateRatio::above(1.0, 100f64.ln());
        healthy.observe(RateBin {
            canary_events: 5.0,
            canary_requests: 1_000.0,
            baseline_events: 50.0,
            baseline_requests: 10_000.0,
        });
        assert!(healthy.state().log_e < 0.0);
    }
}
