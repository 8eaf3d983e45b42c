//! One merge pass over two sorted samples: the Mann-Whitney U of `x - shift` against `y` and the tie term.
#![allow(
    clippy::float_cmp,
    reason = "ties and shortcuts are defined by exact equality, as in R and Kayenta"
)]

/// What one merge of `x - shift` with `y` tells: U for `x` and the ties of the pooled sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MergeSummary {
    /// Pairs with `x_i - shift > y_j`, plus half the pairs where they are equal.
    pub u_x: f64,
    /// Sum of `t^3 - t` over the tie groups of the pooled sample.
    pub tie_sum: f64,
}

/// Merges ascending `x` (each value minus `shift`, rounded as IEEE subtraction does)
/// with ascending `y` in O(n + m).
///
/// The shifted values are computed on the fly as `x_i - shift`, exactly as R's
/// `wilcox.test` computes `x - d`, so ties created by rounding are seen as R sees them.
pub(crate) fn merge_summary(x: &[f64], shift: f64, y: &[f64]) -> MergeSummary {
    let (n, m) = (x.len(), y.len());
    let (mut i, mut j) = (0usize, 0usize);
    // 2U as an integer keeps the sum exact for any size that fits in memory.
    let mut twice_u: u128 = 0;
    let mut tie_sum: u128 = 0;
    while i < n || j < m {
        let xv = if i < n { x[i] - shift } else { f64::INFINITY };
        let yv = if j < m { y[j] } else { f64::INFINITY };
        let value = if xv < yv { xv } else { yv };
        let y_below = j as u128;
        let mut in_x: u128 = 0;
        while i < n && x[i] - shift == value {
            i += 1;
            in_x += 1;
        }
        let mut in_y: u128 = 0;
        while j < m && y[j] == value {
            j += 1;
            in_y += 1;
        }
        twice_u += 2 * in_x * y_below + in_x * in_y;
        let group = in_x + in_y;
        tie_sum += group * group * group - group;
    }
    MergeSummary {
        u_x: twice_u as f64 / 2.0,
        tie_sum: tie_sum as f64,
    }
}

/// Sum of `t^3 - t` over the tie groups within one ascending sample.
pub(crate) fn within_tie_sum(sorted: &[f64]) -> f64 {
    let mut total: u128 = 0;
    let mut start = 0;
    while start < sorted.len() {
        let mut end = start + 1;
        while end < sorted.len() && sorted[end] == sorted[start] {
            end += 1;
        }
        let group = (end - start) as u128;
        total += group * group * group - group;
        start = end;
    }
    total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(x: &[f64], shift: f64, y: &[f64]) -> f64 {
        let mut u = 0.0;
        for a in x {
            for b in y {
                let d = a - shift;
                if d > *b {
                    u += 1.0;
                } else if d == *b {
                    u += 0.5;
                }
            }
        }
        u
    }

    #[test]
    fn u_and_ties_match_brute_force() {
        let cases: &[(&[f64], f64, &[f64])] = &[
            (&[1.0, 2.0, 3.0], 0.0, &[2.0, 4.0]),
            (&[1.0, 1.0, 2.0], 0.0, &[1.0, 3.0]),
            (&[5.0, 6.0], 10.0, &[-5.0, -4.0, 0.0]),
            (&[0.0], 0.0, &[0.0]),
            (&[0.1, 0.2, 0.3], 0.1, &[0.0, 0.1, 0.2]),
        ];
        for &(x, shift, y) in cases {
            let summary = merge_summary(x, shift, y);
            assert_eq!(summary.u_x, brute(x, shift, y), "x={x:?} y={y:?}");
        }
        // Tie groups: {1,1,1} and {2,2}: (27-3) + (8-2) = 30.
        assert_eq!(
            merge_summary(&[1.0, 1.0, 2.0], 0.0, &[1.0, 2.0]).tie_sum,
            30.0
        );
        assert_eq!(merge_summary(&[1.0, 3.0], 0.0, &[2.0]).tie_sum, 0.0);
        assert_eq!(within_tie_sum(&[1.0, 1.0, 2.0, 3.0, 3.0, 3.0]), 6.0 + 24.0);
    }
}
