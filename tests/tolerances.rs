//! Every numeric tolerance the tests use, with the reason for each.

/// p-values against R and scipy: the bar, relative.
pub const P_VALUE_RELATIVE: f64 = 1e-9;
/// Below this, p-values are compared absolutely (the 1e-300 floor).
pub const P_VALUE_ABSOLUTE_FLOOR: f64 = 1e-300;
/// The `kayenta` interval ends against R's `wilcox.test`: both run Brent's method to
/// an absolute tolerance of 1e-4 on the same step function, so each lands within
/// that of the same jump point.
pub const KAYENTA_ROOT: f64 = 1e-4;
/// Exact distribution probabilities against R's pwilcox, relative.
pub const EXACT_DISTRIBUTION_RELATIVE: f64 = 1e-12;

/// `|got - want| <= max(relative · |want|, floor)`.
pub fn close_relative(got: f64, want: f64, relative: f64, floor: f64) -> bool {
    (got - want).abs() <= (relative * want.abs()).max(floor)
}

/// ln e-values against scipy, relative (absolute below 1): both sum logarithms of
/// the same factors in double precision, Serin as products on a shared scale, scipy
/// as sums of log1p terms, so they differ by rounding over up to 20,000 steps.
pub const E_PROCESS_LOG: f64 = 1e-9;

/// The exact interval's ends against R's re-run with `tol.root = 1e-13`:
/// relative, absolute below 1.
pub const EXACT_ROOT_RELATIVE: f64 = 1e-9;
/// A cumulative probability counts as exactly on a quantile's boundary within this:
/// R and Serin sum the same terms in different orders.
pub const CDF_BOUNDARY: f64 = 1e-14;
/// p-values of swapped samples (greater vs less), relative: the same sums in mirrored
/// order.
pub const MIRRORED_P_RELATIVE: f64 = 1e-12;
/// A score of all-passing metrics against 100: the weighted sum of group scores.
pub const SCORE_SUM: f64 = 1e-9;
