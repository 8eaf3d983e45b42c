//! The exact null distribution of the Mann-Whitney U statistic for small samples without ties.
#![allow(
    clippy::suboptimal_flops,
    reason = "plain multiply-then-add reproduces R's and Kayenta's rounding; a fused multiply-add would change the last bits"
)]

/// Per-side size below which the automatic rule uses the exact distribution.
///
/// R's `wilcox.test` uses the exact distribution when both samples have fewer than 50
/// values and there are no ties; Serin follows that rule.
pub const EXACT_SIZE_LIMIT: usize = 50;

/// The null distribution of U for sample sizes `n` and `m`: `counts[u]` is the number
/// of the C(n+m, n) equally likely rank arrangements that give U = u.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactDistribution {
    n: usize,
    m: usize,
    counts: Vec<f64>,
    total: f64,
}

impl ExactDistribution {
    /// Builds the distribution with the recurrence
    /// `f(n, m; u) = f(n - 1, m; u - m) + f(n, m - 1; u)`, which only adds
    /// non-negative numbers and so loses no precision in the tails.
    ///
    /// Costs O(n · m · n · m) time; meant for `n, m < EXACT_SIZE_LIMIT`.
    pub fn new(n: usize, m: usize) -> Self {
        // rows[j] holds f(i, j; ·) for the current i; f(0, j) = [1].
        let mut rows: Vec<Vec<f64>> = (0..=m).map(|_| vec![1.0]).collect();
        for i in 1..=n {
            let mut next: Vec<Vec<f64>> = Vec::with_capacity(m + 1);
            next.push(vec![1.0]); // f(i, 0) = [1]
            for j in 1..=m {
                let mut counts = vec![0.0; i * j + 1];
                // The largest value is an x: it exceeds all j y-values.
                for (u, count) in rows[j].iter().enumerate() {
                    counts[u + j] += count;
                }
                // The largest value is a y: it adds nothing to U.
                for (u, count) in next[j - 1].iter().enumerate() {
                    counts[u] += count;
                }
                next.push(counts);
            }
            rows = next;
        }
        let counts = rows.pop().unwrap_or_else(|| vec![1.0]);
        let total = counts.iter().sum();
        Self {
            n,
            m,
            counts,
            total,
        }
    }

    /// Size of the first sample.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Size of the second sample.
    pub fn m(&self) -> usize {
        self.m
    }

    /// P(U <= q), as R's `pwilcox(q, n, m)`.
    pub fn cdf(&self, q: f64) -> f64 {
        let q = q.floor();
        let nm = self.n * self.m;
        if q < 0.0 {
            return 0.0;
        }
        if q >= nm as f64 {
            return 1.0;
        }
        let q = q as usize;
        // Sum the smaller tail directly; the distribution is symmetric, so
        // P(U <= q) = 1 - P(U <= nm - q - 1).
        if 2 * q <= nm {
            self.lower_tail_sum(q) / self.total
        } else {
            1.0 - self.lower_tail_sum(nm - q - 1) / self.total
        }
    }

    /// P(U > q), as R's `pwilcox(q, n, m, lower.tail = FALSE)`.
    pub fn sf(&self, q: f64) -> f64 {
        let q = q.floor();
        let nm = self.n * self.m;
        if q < 0.0 {
            return 1.0;
        }
        if q >= nm as f64 {
            return 0.0;
        }
        let q = q as usize;
        // P(U > q) = P(U <= nm - q - 1) by symmetry.
        let mirrored = nm - q - 1;
        if 2 * mirrored <= nm {
            self.lower_tail_sum(mirrored) / self.total
        } else {
            1.0 - self.lower_tail_sum(q) / self.total
        }
    }

    /// The smallest q with P(U <= q) >= p, as R's `qwilcox(p, n, m)`.
    pub fn quantile(&self, p: f64) -> usize {
        // R nudges p down by 10 machine epsilons so that rounding in the running
        // sum cannot step past an exact boundary.
        let target = p - 10.0 * f64::EPSILON;
        let mut cumulative = 0.0;
        for (q, count) in self.counts.iter().enumerate() {
            cumulative += count / self.total;
            if cumulative >= target {
                return q;
            }
        }
        self.n * self.m
    }

    fn lower_tail_sum(&self, q: usize) -> f64 {
        self.counts[..=q].iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binomial(n: usize, k: usize) -> f64 {
        (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
    }

    #[test]
    fn totals_are_binomial_coefficients_and_symmetric() {
        for (n, m) in [(1, 1), (3, 4), (5, 5), (10, 7), (20, 20)] {
            let dist = ExactDistribution::new(n, m);
            let want = binomial(n + m, n);
            assert!((dist.total - want).abs() / want < 1e-12, "{n}x{m}");
            let nm = n * m;
            for u in 0..=nm {
                assert_eq!(dist.counts[u], dist.counts[nm - u], "{n}x{m} u={u}");
            }
        }
    }

    #[test]
    fn small_case_by_hand() {
        // n = m = 2: the six arrangements give U in {0, 1, 2, 2, 3, 4}.
        let dist = ExactDistribution::new(2, 2);
        assert_eq!(dist.counts, vec![1.0, 1.0, 2.0, 1.0, 1.0]);
        assert!((dist.cdf(1.0) - 2.0 / 6.0).abs() < 1e-15);
        assert!((dist.sf(2.0) - 2.0 / 6.0).abs() < 1e-15);
        assert!((dist.cdf(3.0) - 5.0 / 6.0).abs() < 1e-15);
        assert_eq!(dist.quantile(0.1), 0);
        assert_eq!(dist.quantile(0.2), 1);
    }
}
