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

/// Counts U and ties of `x - shift` against `y` for the many shifts a root finder
/// tries, exactly as [`merge_summary`] would, but cheaper once the root is bracketed.
///
/// For shifts inside a band `[low, high]`, every `x_i - shift` lies between
/// `x_i - high` and `x_i - low` (IEEE subtraction is monotone), so each pair whose
/// `y_j` falls outside that range is decided for the whole band; only the pairs in
/// between are compared per shift. Every shortcut is taken only when it provably
/// gives the same answer: no two distinct `x` values can round together after the
/// shift, and (for the band and the interleaved count) no `x_i - shift` equals a
/// `y_j`; a grouped merge handles such ties, and the plain merge everything else.
#[derive(Clone)]
pub(crate) struct ShiftCounter<'a> {
    x: &'a [f64],
    y: &'a [f64],
    within_ties: f64,
    /// `within_ties` before rounding.
    within_ties_exact: u128,
    /// Smallest gap between distinct consecutive `x` values.
    x_gap: f64,
    band: Option<Band>,
    /// Bracket width at the last attempt to build a band.
    attempted_width: f64,
}

/// Pairs decided for every shift in `[low, high]`, and the rows still to compare.
#[derive(Clone)]
struct Band {
    low: f64,
    high: f64,
    /// 2U from the pairs counted for the whole band.
    base_twice_u: u128,
    /// (row, first undecided y, end of undecided y).
    rows: Vec<(usize, usize, usize)>,
}

impl<'a> ShiftCounter<'a> {
    pub(crate) fn new(x: &'a [f64], y: &'a [f64]) -> Self {
        let x_gap = x
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .filter(|gap| *gap > 0.0)
            .fold(f64::INFINITY, f64::min);
        let within_ties_exact = within_tie_sum(x) + within_tie_sum(y);
        Self {
            x,
            y,
            // Summed exactly and rounded once, as `merge_summary` does.
            within_ties: within_ties_exact as f64,
            within_ties_exact,
            x_gap,
            band: None,
            attempted_width: f64::INFINITY,
        }
    }

    /// U and the tie sum at `shift`, identical to `merge_summary(x, shift, y)`.
    pub(crate) fn count(&self, shift: f64) -> MergeSummary {
        if let Some(band) = &self.band
            && band.low <= shift
            && shift <= band.high
            && let Some(twice_u) = band.twice_u(self.x, self.y, shift)
        {
            return MergeSummary {
                u_x: twice_u as f64 / 2.0,
                tie_sum: self.within_ties,
            };
        }
        self.interleaved(shift)
            .or_else(|| self.tie_aware(shift))
            .unwrap_or_else(|| merge_summary(self.x, shift, self.y))
    }

    /// A merge by groups of equal `x` for shifts where the samples tie each other
    /// (the bracket ends always do): with distinct `x` values staying distinct, a
    /// group of `a` shifted `x` values meeting `b` equal `y` values turns their
    /// separate tie terms into one of `a + b`.
    fn tie_aware(&self, shift: f64) -> Option<MergeSummary> {
        if !self.shift_keeps_x_distinct(shift, shift) {
            return None;
        }
        let (x, y) = (self.x, self.y);
        let m = y.len();
        let (mut below, mut at_or_below) = (0usize, 0usize);
        let mut twice_u: u128 = 0;
        let mut tie_sum = self.within_ties_exact;
        let mut start = 0;
        while start < x.len() {
            let mut end = start + 1;
            while end < x.len() && x[end] == x[start] {
                end += 1;
            }
            let value = x[start] - shift;
            while below < m && y[below] < value {
                below += 1;
            }
            at_or_below = at_or_below.max(below);
            while at_or_below < m && y[at_or_below] <= value {
                at_or_below += 1;
            }
            let (a, b) = ((end - start) as u128, (at_or_below - below) as u128);
            twice_u += a * (2 * below as u128 + b);
            if b > 0 {
                let t = a + b;
                tie_sum += (t * t * t - t) - (a * a * a - a) - (b * b * b - b);
            }
            start = end;
        }
        Some(MergeSummary {
            u_x: twice_u as f64 / 2.0,
            tie_sum: tie_sum as f64,
        })
    }

    /// [`count_below`]'s interleaved merges; `None` when some `x_i - shift` equals a
    /// `y_j` (tie groups then span both samples) or when rounding could merge
    /// distinct shifted `x` values.
    fn interleaved(&self, shift: f64) -> Option<MergeSummary> {
        let (x, y) = (self.x, self.y);
        if !self.shift_keeps_x_distinct(shift, shift) {
            return None;
        }
        let (u_below, cross_tie) = count_below(x, y, shift);
        if cross_tie {
            return None;
        }
        Some(MergeSummary {
            u_x: u_below as f64,
            tie_sum: self.within_ties,
        })
    }

    /// Whether distinct `x` values stay distinct after subtracting any shift in
    /// `[low, high]`: each rounding moves a value by at most `EPSILON · |value| / 2`.
    fn shift_keeps_x_distinct(&self, low: f64, high: f64) -> bool {
        let (first, last) = (self.x[0], self.x[self.x.len() - 1]);
        let largest = [first - low, first - high, last - low, last - high]
            .into_iter()
            .fold(0.0f64, |acc, v| acc.max(v.abs()));
        self.x_gap > 4.0 * f64::EPSILON * largest
    }

    /// Tells the counter that the shifts still to come lie in `[low, high]`, where
    /// U is `u_low` and `u_high`; it builds a band once the pairs whose order can
    /// still change (about `u_low - u_high`) are few, and narrows it as the bracket
    /// shrinks eightfold, each time from the previous band's rows only.
    pub(crate) fn narrow(&mut self, low: f64, high: f64, u_low: f64, u_high: f64) {
        let width = high - low;
        let limit = (self.x.len() + self.y.len()) as f64;
        if width.is_nan()
            || width < 0.0
            || width > self.attempted_width / 8.0
            || u_low - u_high > limit
        {
            return;
        }
        if !self.shift_keeps_x_distinct(low, high) {
            return;
        }
        self.attempted_width = width;
        let band = match &self.band {
            Some(band) if band.low <= low && high <= band.high => {
                Some(band.narrowed(self.x, self.y, low, high))
            }
            _ => Band::build(self.x, self.y, low, high),
        };
        if band.is_some() {
            self.band = band;
        }
    }
}

impl Band {
    fn build(x: &[f64], y: &[f64], low: f64, high: f64) -> Option<Self> {
        let (n, m) = (x.len(), y.len());
        let limit = n + m;
        let (mut start, mut end) = (0usize, 0usize);
        let mut base_twice_u: u128 = 0;
        let mut undecided = 0usize;
        let mut rows = Vec::new();
        for (row, &xi) in x.iter().enumerate() {
            let (smallest, largest) = (xi - high, xi - low);
            while start < m && y[start] < smallest {
                start += 1;
            }
            end = end.max(start);
            while end < m && y[end] <= largest {
                end += 1;
            }
            base_twice_u += 2 * start as u128;
            if end > start {
                undecided += end - start;
                if undecided > limit {
                    return None;
                }
                rows.push((row, start, end));
            }
        }
        Some(Self {
            low,
            high,
            base_twice_u,
            rows,
        })
    }

    /// The band for `[low, high]` inside this one: only this band's rows can hold
    /// pairs that are still undecided.
    fn narrowed(&self, x: &[f64], y: &[f64], low: f64, high: f64) -> Self {
        let mut base_twice_u = self.base_twice_u;
        let mut rows = Vec::with_capacity(self.rows.len());
        for &(row, start, end) in &self.rows {
            let (smallest, largest) = (x[row] - high, x[row] - low);
            let undecided = &y[start..end];
            let new_start = start + undecided.partition_point(|&value| value < smallest);
            let new_end = start + undecided.partition_point(|&value| value <= largest);
            base_twice_u += 2 * (new_start - start) as u128;
            if new_end > new_start {
                rows.push((row, new_start, new_end));
            }
        }
        Self {
            low,
            high,
            base_twice_u,
            rows,
        }
    }

    /// 2U at `shift`, or `None` when some `x_i - shift` equals a `y_j` (a tie
    /// between the samples, which changes the tie sum: the full merge handles it).
    fn twice_u(&self, x: &[f64], y: &[f64], shift: f64) -> Option<u128> {
        let mut twice_u = self.base_twice_u;
        for &(row, start, end) in &self.rows {
            let value = x[row] - shift;
            let below = start + y[start..end].partition_point(|&yj| yj < value);
            if below < end && y[below] == value {
                return None;
            }
            twice_u += 2 * (below - start) as u128;
        }
        Some(twice_u)
    }
}

/// Independent merges run side by side in [`count_below`]: a merge step waits on
/// the previous one (load, subtract, compare), so interleaving several keeps the
/// processor busy. Eight is where gains flattened on the benchmark machine.
const LANES: usize = 8;

/// `Σ_i #{j : y_j < x_i - shift}` over ascending `x` and `y`, and whether some
/// `x_i - shift` equals some `y_j`.
///
/// `x` is cut into [`LANES`] runs; each run's starting position in `y` is found by
/// binary search, and the runs are merged in lockstep.
pub(crate) fn count_below(x: &[f64], y: &[f64], shift: f64) -> (u64, bool) {
    let (n, m) = (x.len(), y.len());
    let mut next = [0usize; LANES];
    let mut end = [0usize; LANES];
    let mut below = [0usize; LANES];
    let mut sums = [0u64; LANES];
    for lane in 0..LANES {
        next[lane] = lane * n / LANES;
        end[lane] = (lane + 1) * n / LANES;
        if next[lane] < end[lane] {
            let first = x[next[lane]] - shift;
            below[lane] = y.partition_point(|&value| value < first);
        }
    }
    let mut cross_tie = false;
    loop {
        let mut active = false;
        for lane in 0..LANES {
            if next[lane] < end[lane] {
                active = true;
                let value = x[next[lane]] - shift;
                let y_value = y.get(below[lane]).copied().unwrap_or(f64::INFINITY);
                cross_tie |= y_value == value;
                let y_first = y_value < value;
                // Consuming x_i: exactly `below` values of y lie under it.
                sums[lane] += if y_first { 0 } else { below[lane] as u64 };
                below[lane] += usize::from(y_first);
                next[lane] += usize::from(!y_first);
            }
        }
        if !active {
            break;
        }
    }
    debug_assert!(below.iter().all(|&b| b <= m));
    (sums.iter().sum(), cross_tie)
}

/// Sum of `t^3 - t` over the tie groups within one ascending sample.
pub(crate) fn within_tie_sum(sorted: &[f64]) -> u128 {
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
    total
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
        assert_eq!(within_tie_sum(&[1.0, 1.0, 2.0, 3.0, 3.0, 3.0]), 6 + 24);
    }

    #[test]
    fn banded_counts_equal_full_merges() {
        // (x, y, bands): quarter-grid data with ties everywhere, and spread data
        // whose bands hold few undecided pairs.
        let grid = |count: i32, step: i32, modulus: i32| -> Vec<f64> {
            let mut values: Vec<f64> = (0..count)
                .map(|i| f64::from((i * step) % modulus) / 4.0)
                .collect();
            values.sort_by(f64::total_cmp);
            values
        };
        let spread = |count: i32, scale: f64| -> Vec<f64> {
            (0..count).map(|i| f64::from(i) * scale).collect()
        };
        // (x, y, brackets to narrow to, in order)
        type Case = (Vec<f64>, Vec<f64>, Vec<(f64, f64)>);
        let cases: [Case; 2] = [
            (
                grid(300, 37, 101),
                grid(250, 53, 89),
                vec![(-30.0, 40.0), (-1.0, 3.0), (1.26, 1.49)],
            ),
            (
                spread(300, 0.25),
                spread(250, 0.3),
                vec![(-80.0, 80.0), (10.0, 20.0), (14.9, 15.3), (15.0, 15.05)],
            ),
        ];
        let mut checked_in_band = 0;
        for (x, y, bands) in &cases {
            let mut counter = ShiftCounter::new(x, y);
            for &(low, high) in bands {
                let (u_low, u_high) = (merge_summary(x, low, y).u_x, merge_summary(x, high, y).u_x);
                counter.narrow(low, high, u_low, u_high);
                // Evenly spaced shifts, plus exact pairwise differences (ties between
                // the samples, which must fall back to the full merge).
                let mut shifts: Vec<f64> = (0..=40)
                    .map(|k| low + (high - low) * f64::from(k) / 40.0)
                    .collect();
                shifts.extend(
                    x.iter()
                        .flat_map(|a| y.iter().map(move |b| a - b))
                        .filter(|d| (low..=high).contains(d))
                        .take(50),
                );
                for shift in shifts {
                    assert_eq!(
                        counter.count(shift),
                        merge_summary(x, shift, y),
                        "shift {shift}"
                    );
                    if counter
                        .band
                        .as_ref()
                        .is_some_and(|b| b.low <= shift && shift <= b.high)
                    {
                        checked_in_band += 1;
                    }
                }
            }
        }
        assert!(checked_in_band > 100, "{checked_in_band}");
    }
}
