//! Order statistics of all pairwise differences `x_i - y_j` without materialising them.
//!
//! With `x` and `y` ascending, row `i` of the implicit matrix is
//! `x_i - y_{m-1}, …, x_i - y_0`: ascending along the row, and each column ascends
//! down the rows (IEEE subtraction is monotone, so this holds for the rounded values too).
//! Counting the entries `<= v` is then one two-pointer walk, O(n + m).
//!
//! Large inputs first try value bracketing ([`super::bracketing`]), which needs no
//! per-row state; this module's band selection is the general method it falls back to.
//!
//! Selection keeps, per row, a band `[left_i, right_i)` of positions that may still hold
//! a wanted order statistic. Each round draws a uniform sample from the band, picks
//! pivots just below and above where each wanted rank should fall, counts them exactly,
//! and shrinks the band; ranks that fall on a pivot are answered by it (which also
//! settles large blocks of tied differences at once). When the band is small it is
//! enumerated and finished with `select_nth_unstable`. The answer is always exact; the
//! seeded sampling only affects how fast it is found. Expected cost is
//! O((n + m) · log(n + m)) for a handful of ranks.
#![allow(
    clippy::float_cmp,
    reason = "ties between differences are exact equality"
)]

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::bracketing;

/// Most values drawn from the band per round.
const MAX_SAMPLE_SIZE: usize = 65_536;
/// Fewest values drawn from the band per round.
const MIN_SAMPLE_SIZE: usize = 4_096;
/// Half-width of the pivot window around a rank's expected sample position, in
/// standard deviations of a sample quantile; a miss only costs one more round.
const PIVOT_MARGIN: f64 = 3.0;
/// Bands at most this wide are counted by binary search instead of a pointer walk.
const NARROW: u32 = 64;
/// Fixed seed: selection is deterministic, run to run.
const SEED: u64 = 0x5e21_0c0d_e5a1_7e57;

/// The `n · m` differences `x_i - y_j` of two ascending slices.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PairwiseDifferences<'a> {
    x: &'a [f64],
    y: &'a [f64],
}

/// A wanted order statistic: its 1-based rank and where its answer goes.
#[derive(Debug, Clone, Copy)]
struct Target {
    rank: u64,
    slot: usize,
}

/// The positions of each row that may still hold a wanted order statistic.
///
/// Invariant: every entry left of a row's band is smaller than every entry in any
/// band, and every entry right of it larger; so a pivot drawn from the band has,
/// in each row, its count of smaller entries between `left` and `right`.
/// Positions are `u32` (a [`crate::Sample`] has at most `u32::MAX` values): the
/// passes over the rows are bound by memory traffic.
#[derive(Debug, Clone)]
struct Band {
    left: Vec<u32>,
    right: Vec<u32>,
    /// Entries left of the band: all smaller than every wanted answer.
    below: u64,
    /// Entries inside the band.
    active: u64,
}

impl Band {
    /// Keeps only entries `< pivot`.
    fn cut_above(&mut self, counts: &PivotCounts) {
        let mut active = 0u64;
        for ((right, &left), &limit) in self
            .right
            .iter_mut()
            .zip(&self.left)
            .zip(&counts.less_or_equal)
        {
            *right = (*right).min(limit).max(left);
            active += u64::from(*right - left);
        }
        for &(row, less) in &counts.ties {
            let row = row as usize;
            let (left, right) = (self.left[row], &mut self.right[row]);
            let cut = (*right).min(less).max(left);
            active -= u64::from(*right - cut);
            *right = cut;
        }
        self.active = active;
    }

    /// Keeps only entries `> pivot`.
    fn cut_below(&mut self, counts: &PivotCounts) {
        let (mut below, mut active) = (0u64, 0u64);
        for ((left, &right), &limit) in self
            .left
            .iter_mut()
            .zip(&self.right)
            .zip(&counts.less_or_equal)
        {
            *left = (*left).max(limit).min(right);
            below += u64::from(*left);
            active += u64::from(right - *left);
        }
        self.below = below;
        self.active = active;
    }
}

/// Per-row counts of entries `<= pivot`, and the few rows where entries equal to
/// the pivot make the `< pivot` count smaller; buffers are reused across pivots.
#[derive(Debug, Default)]
struct PivotCounts {
    less_or_equal: Vec<u32>,
    /// (row, entries `< pivot`) where that differs from `less_or_equal`.
    ties: Vec<(u32, u32)>,
    total_less: u64,
    total_less_or_equal: u64,
}

impl<'a> PairwiseDifferences<'a> {
    /// Both slices must be ascending and non-empty.
    pub(crate) fn new(x: &'a [f64], y: &'a [f64]) -> Self {
        debug_assert!(x.is_sorted() && y.is_sorted());
        debug_assert!(!x.is_empty() && !y.is_empty());
        Self { x, y }
    }

    /// Number of differences, `n · m`.
    pub(crate) fn len(&self) -> u64 {
        self.x.len() as u64 * self.y.len() as u64
    }

    /// The entry at `position` of row `row` (positions ascend along a row).
    fn entry(&self, row: usize, position: usize) -> f64 {
        self.x[row] - self.y[self.y.len() - 1 - position]
    }

    /// The `rank`-th smallest differences (1-based), in the order asked for.
    pub(crate) fn select(&self, ranks: &[u64]) -> Vec<f64> {
        if self.len() > self.enumerate_limit() {
            let mut distinct = ranks.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            // Each final bracket is listed: about `budget / 4` differences when
            // interpolation lands, cheap next to a counting pass.
            let budget = ((self.x.len() + self.y.len()) as u64 / 2).max(1 << 10);
            if let Some(values) = bracketing::select(self.x, self.y, &distinct, budget) {
                return ranks
                    .iter()
                    .map(|rank| {
                        distinct
                            .binary_search(rank)
                            .map_or(f64::NAN, |at| values[at])
                    })
                    .collect();
            }
        }
        self.select_in_bands(ranks)
    }

    /// [`Self::select`] by band selection, whatever the data.
    pub(crate) fn select_in_bands(&self, ranks: &[u64]) -> Vec<f64> {
        let mut out = vec![f64::NAN; ranks.len()];
        let mut targets: Vec<Target> = ranks
            .iter()
            .enumerate()
            .map(|(slot, &rank)| {
                assert!(
                    (1..=self.len()).contains(&rank),
                    "rank {rank} outside 1..={}",
                    self.len()
                );
                Target { rank, slot }
            })
            .collect();
        targets.sort_by_key(|target| target.rank);
        let n = self.x.len();
        let band = Band {
            left: vec![0; n],
            right: vec![self.y.len() as u32; n],
            below: 0,
            active: self.len(),
        };
        let mut rng = SmallRng::seed_from_u64(SEED);
        let mut counts = PivotCounts::default();
        self.solve(band, targets, &mut out, &mut rng, &mut counts);
        out
    }

    /// Bands this small are enumerated and finished with `select_nth_unstable`.
    fn enumerate_limit(&self) -> u64 {
        ((self.x.len() + self.y.len()) as u64 / 2).max(1 << 16)
    }

    fn solve(
        &self,
        mut band: Band,
        mut targets: Vec<Target>,
        out: &mut [f64],
        rng: &mut SmallRng,
        counts: &mut PivotCounts,
    ) {
        while !targets.is_empty() {
            if band.active <= self.enumerate_limit() {
                self.finish(&band, &targets, out);
                return;
            }
            let pivots = self.pivots(&band, &targets, rng);
            for pivot in pivots {
                self.count(pivot, &band, counts);
                let split = targets.partition_point(|t| t.rank <= counts.total_less);
                let smaller: Vec<Target> = targets.drain(..split).collect();
                let equal = targets.partition_point(|t| t.rank <= counts.total_less_or_equal);
                for target in targets.drain(..equal) {
                    out[target.slot] = pivot;
                }
                // Cut both sides before recursing: the recursion reuses `counts`.
                let below_pivot = (!smaller.is_empty()).then(|| {
                    let mut below_pivot = band.clone();
                    below_pivot.cut_above(counts);
                    below_pivot
                });
                if !targets.is_empty() {
                    band.cut_below(counts);
                }
                if let Some(below_pivot) = below_pivot {
                    self.solve(below_pivot, smaller, out, rng, counts);
                }
                if targets.is_empty() {
                    return;
                }
            }
        }
    }

    /// Draws a sample from the band and returns ascending, distinct pivots that
    /// bracket each target's expected position.
    fn pivots(&self, band: &Band, targets: &[Target], rng: &mut SmallRng) -> Vec<f64> {
        // A round costs a few passes over the rows; a larger sample shrinks the band
        // more per round, so scale it with the row count.
        let size = ((self.x.len() + self.y.len()) / 16)
            .clamp(MIN_SAMPLE_SIZE, MAX_SAMPLE_SIZE)
            .min(band.active as usize);
        // Uniform positions in the band, sorted, then located in one sweep down the rows.
        let mut indices: Vec<u64> = (0..size)
            .map(|_| rng.random_range(0..band.active))
            .collect();
        indices.sort_unstable();
        let mut sample = Vec::with_capacity(size);
        let mut next = indices.iter().copied().peekable();
        let mut before = 0u64;
        for (row, (&left, &right)) in band.left.iter().zip(&band.right).enumerate() {
            let after = before + u64::from(right - left);
            while let Some(index) = next.next_if(|&index| index < after) {
                sample.push(self.entry(row, (u64::from(left) + index - before) as usize));
            }
            before = after;
        }
        sample.sort_unstable_by(f64::total_cmp);

        // Window of sample indices per target, merged where windows overlap.
        let margin = PIVOT_MARGIN * (size as f64).sqrt();
        let mut windows: Vec<(f64, f64)> = Vec::new();
        for target in targets {
            let expected = (target.rank - band.below) as f64 / band.active as f64 * size as f64;
            let window = (expected - margin, expected + margin);
            match windows.last_mut() {
                Some(last) if window.0 <= last.1 => last.1 = window.1,
                _ => windows.push(window),
            }
        }
        let mut pivots = Vec::with_capacity(2 * windows.len());
        for (low, high) in windows {
            if low >= 0.0 {
                pivots.push(sample[low.floor() as usize]);
            }
            if high.ceil() < size as f64 {
                pivots.push(sample[high.ceil() as usize]);
            }
        }
        if pivots.is_empty() {
            // Only possible for a tiny sample; the median still makes progress.
            pivots.push(sample[size / 2]);
        }
        pivots.dedup();
        pivots
    }

    /// Counts, per row, the entries `< pivot` and `<= pivot`, for a pivot drawn
    /// from the band: the counts lie inside each row's band, and the `<=` count
    /// never grows from one row to the next, so one pointer walks down the rows,
    /// clamped to each band (which lets it skip gaps in one step).
    fn count(&self, pivot: f64, band: &Band, counts: &mut PivotCounts) {
        let n = self.x.len();
        counts.less_or_equal.resize(n, 0);
        counts.ties.clear();
        let mut total_less_or_equal = 0u64;
        let mut tied = 0u64;
        let mut le = self.y.len() as u32;
        for (row, ((&left, &right), slot)) in band
            .left
            .iter()
            .zip(&band.right)
            .zip(counts.less_or_equal.iter_mut())
            .enumerate()
        {
            if right - left <= NARROW {
                // A narrow band: a branch-free binary search, independent of the
                // previous row (the pointer walk's exit branch is unpredictable).
                let (mut base, mut size) = (left, right - left);
                while size > 1 {
                    let half = size / 2;
                    let middle = base + half;
                    base = std::hint::select_unpredictable(
                        self.entry(row, middle as usize - 1) <= pivot,
                        middle,
                        base,
                    );
                    size -= half;
                }
                le = if size == 1 && self.entry(row, base as usize) <= pivot {
                    base + 1
                } else {
                    base
                };
            } else {
                le = le.clamp(left, right);
                while le > left && self.entry(row, le as usize - 1) > pivot {
                    le -= 1;
                }
            }
            *slot = le;
            total_less_or_equal += u64::from(le);
            // Entries equal to the pivot sit just below `le`; they are rare, so
            // look for them only when the last counted entry is one.
            if le > left && self.entry(row, le as usize - 1) == pivot {
                let (mut low, mut high) = (left, le);
                while low < high {
                    let middle = low + (high - low) / 2;
                    if self.entry(row, middle as usize) < pivot {
                        low = middle + 1;
                    } else {
                        high = middle;
                    }
                }
                tied += u64::from(le - low);
                counts.ties.push((row as u32, low));
            }
        }
        counts.total_less_or_equal = total_less_or_equal;
        counts.total_less = total_less_or_equal - tied;
    }

    /// Enumerates the band and answers the remaining targets exactly.
    fn finish(&self, band: &Band, targets: &[Target], out: &mut [f64]) {
        let mut values = Vec::with_capacity(band.active as usize);
        for (row, (&left, &right)) in band.left.iter().zip(&band.right).enumerate() {
            values.extend((left..right).map(|position| self.entry(row, position as usize)));
        }
        let mut start = 0usize;
        for target in targets {
            let local = (target.rank - band.below - 1) as usize;
            let (_, value, _) =
                values[start..].select_nth_unstable_by(local - start, f64::total_cmp);
            out[target.slot] = *value;
            start = local;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn brute(x: &[f64], y: &[f64]) -> Vec<f64> {
        let mut all: Vec<f64> = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| a - b))
            .collect();
        all.sort_unstable_by(f64::total_cmp);
        all
    }

    /// Ascending pseudo-random multiples of 1/7 below `modulus / 7` (small moduli tie).
    pub(crate) fn lcg_values(seed: u64, count: usize, modulus: u64) -> Vec<f64> {
        let mut state = seed;
        let mut values: Vec<f64> = (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 33) % modulus) as f64 / 7.0
            })
            .collect();
        values.sort_unstable_by(f64::total_cmp);
        values
    }

    #[test]
    fn every_rank_matches_brute_force_on_small_inputs() {
        // (n, m, modulus): small moduli give heavy ties.
        for (n, m, modulus) in [
            (1, 1, 10),
            (3, 5, 1000),
            (7, 2, 3),
            (40, 31, 1_000_000),
            (25, 25, 2),
        ] {
            let x = lcg_values(n as u64, n, modulus);
            let y = lcg_values(1000 + m as u64, m, modulus);
            let want = brute(&x, &y);
            let diffs = PairwiseDifferences::new(&x, &y);
            let ranks: Vec<u64> = (1..=diffs.len()).collect();
            assert_eq!(diffs.select(&ranks), want, "n={n} m={m} modulus={modulus}");
        }
    }

    #[test]
    fn sampling_rounds_give_exact_answers_on_larger_inputs() {
        // Large enough that the band is sampled several times before enumeration.
        for (n, m, modulus) in [(600, 500, 1_000_000_000), (500, 700, 5), (300, 900, 40)] {
            let x = lcg_values(7 + n as u64, n, modulus);
            let y = lcg_values(99 + m as u64, m, modulus);
            let want = brute(&x, &y);
            let diffs = PairwiseDifferences::new(&x, &y);
            let total = diffs.len();
            let ranks = [
                1,
                2,
                total / 100,
                total / 2,
                total / 2 + 1,
                total - total / 100,
                total - 1,
                total,
            ];
            // Both paths: bracketing first (falling back on ties), and bands alone.
            for got in [diffs.select(&ranks), diffs.select_in_bands(&ranks)] {
                for (rank, value) in ranks.iter().zip(got) {
                    assert_eq!(value, want[*rank as usize - 1], "n={n} m={m} rank={rank}");
                }
            }
        }
    }
}
