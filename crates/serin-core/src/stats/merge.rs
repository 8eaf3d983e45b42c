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
/// Once a bracket `[low, high]` holds few pairs whose order can still change, those
/// pairs are listed in a [`Window`] with their differences, and a shift inside the
/// bracket is counted from that list alone. Every shortcut is taken only when it
/// provably gives the same answer: no two distinct `x` values can round together
/// after the shift, and (for the window and the block walk) no `x_i - shift`
/// equals a `y_j`; a grouped merge handles such ties, and the plain merge everything
/// else.
#[derive(Clone)]
pub(crate) struct ShiftCounter<'a> {
    x: &'a [f64],
    y: &'a [f64],
    /// `y` padded for [`record_positions`].
    y_padded: Vec<f64>,
    within_ties: f64,
    /// `within_ties` before rounding.
    within_ties_exact: u128,
    /// Smallest gap between distinct consecutive `x` values.
    x_gap: f64,
    /// Bound on the rounding of any difference `x_i - y_j` or `x_i - shift`.
    rounding: f64,
    window: Option<Window>,
    /// Bracket width at the last attempt to build a window.
    attempted_width: f64,
}

/// The pairs still undecided in a bracket of shifts, and how many are decided
/// "below" (`y_j < x_i - shift`) for every shift in it.
///
/// A pair's order changes near its computed difference `c = x_i - y_j`. With `u`
/// the unit roundoff (`EPSILON / 2`) and `A = max|x| + max|y|` (every shift searched
/// lies in `[-A, A]`), `c` is within `u·A` of the exact difference and `x_i - shift`
/// is computed within `2u·A` of its exact value. So for a shift below `c - 3u·A`,
/// `x_i - shift` exceeds `y_j` by more than its rounding: the pair is below; above
/// `c + 3u·A` it is neither below nor tied. The counter uses `r = 8u·A`
/// (`4 · EPSILON · A`), which also absorbs the rounding of `shift ± r`. So the
/// count at a shift is the pairs below for the whole bracket, plus the listed pairs
/// with `c` above `shift + r`; the few listed pairs within `r` of the shift are
/// compared exactly, as the merge would.
#[derive(Clone)]
struct Window {
    low: f64,
    high: f64,
    /// Pairs below for every shift in `[low, high]`.
    base_below: u64,
    /// Differences of the listed pairs.
    differences: Vec<f64>,
    /// Row (`x` index) and column (`y` index) of each listed pair.
    pairs: Vec<(u32, u32)>,
}

/// A count that may also have recorded, for every `x_i`, how many `y_j` lie below
/// `x_i - shift` (the positions a [`Window`] is listed from).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RecordedCount {
    /// U and the tie sum.
    pub summary: MergeSummary,
    /// Whether the positions were written: only by the block walk, so never
    /// at a shift where some `x_i - shift` equals a `y_j`.
    pub positions_recorded: bool,
}

/// Positions recorded at both ends of a bracket (see [`RecordedCount`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BracketPositions<'p> {
    /// At the low end (larger positions).
    pub low: &'p [u32],
    /// At the high end.
    pub high: &'p [u32],
}

/// Largest bracket, in pairs per value of `n + m`, that is listed in a [`Window`].
const WINDOW_PAIRS_PER_VALUE: f64 = 0.25;

impl<'a> ShiftCounter<'a> {
    pub(crate) fn new(x: &'a [f64], y: &'a [f64]) -> Self {
        // Zero gaps (ties) map to infinity, so a plain minimum finds the smallest
        // positive one without a branch per value.
        let x_gap = x
            .windows(2)
            .map(|pair| {
                let gap = pair[1] - pair[0];
                if gap > 0.0 { gap } else { f64::INFINITY }
            })
            .fold(
                f64::INFINITY,
                |smallest, gap| if gap < smallest { gap } else { smallest },
            );
        let largest = |values: &[f64]| {
            values
                .first()
                .zip(values.last())
                .map_or(0.0, |(first, last)| first.abs().max(last.abs()))
        };
        let within_ties_exact = within_tie_sum(x) + within_tie_sum(y);
        Self {
            x,
            y,
            y_padded: padded(y),
            // Summed exactly and rounded once, as `merge_summary` does.
            within_ties: within_ties_exact as f64,
            within_ties_exact,
            x_gap,
            rounding: 4.0 * f64::EPSILON * (largest(x) + largest(y)),
            window: None,
            attempted_width: f64::INFINITY,
        }
    }

    /// U and the tie sum at `shift`, identical to `merge_summary(x, shift, y)`.
    pub(crate) fn count(&self, shift: f64) -> MergeSummary {
        self.count_recording(shift, &mut vec![0; self.x.len()])
            .summary
    }

    /// The count from the window, when `shift` lies in it and ties nothing.
    fn windowed(&self, shift: f64) -> Option<MergeSummary> {
        let window = self.window.as_ref()?;
        if !(window.low <= shift && shift <= window.high) {
            return None;
        }
        let below = window.count_below(self.x, self.y, shift, self.rounding)?;
        Some(MergeSummary {
            u_x: below as f64,
            tie_sum: self.within_ties,
        })
    }

    /// [`Self::count`], also writing each row's position to `positions` (of length
    /// `x.len()`) when the block walk answers: from the window when `shift` lies in
    /// it, else the walk, else (at a tie between the samples, or when rounding could
    /// merge distinct shifted `x` values) the grouped or the plain merge.
    pub(crate) fn count_recording(&self, shift: f64, positions: &mut [u32]) -> RecordedCount {
        if let Some(summary) = self.windowed(shift) {
            return RecordedCount {
                summary,
                positions_recorded: false,
            };
        }
        if self.shift_keeps_x_distinct(shift, shift) {
            let (u_below, cross_tie) = record_positions(self.x, &self.y_padded, shift, positions);
            let summary = if cross_tie {
                self.tie_aware(shift)
                    .unwrap_or_else(|| merge_summary(self.x, shift, self.y))
            } else {
                MergeSummary {
                    u_x: u_below as f64,
                    tie_sum: self.within_ties,
                }
            };
            return RecordedCount {
                summary,
                positions_recorded: !cross_tie,
            };
        }
        RecordedCount {
            summary: merge_summary(self.x, shift, self.y),
            positions_recorded: false,
        }
    }

    /// A merge by groups of equal `x` for shifts where the samples tie each other
    /// (the bracket ends always do): with distinct `x` values staying distinct, a
    /// group of `a` shifted `x` values meeting `b` equal `y` values turns their
    /// separate tie terms into one of `a + b`.
    ///
    /// Only the rows whose shifted value lies within `[y_min, y_max]` are walked:
    /// rows below it have no `y` under or at them, rows above it have all `m` under
    /// them. So at the extreme shifts (the bracket ends) it costs a few binary
    /// searches.
    fn tie_aware(&self, shift: f64) -> Option<MergeSummary> {
        if !self.shift_keeps_x_distinct(shift, shift) {
            return None;
        }
        let (x, y) = (self.x, self.y);
        let (n, m) = (x.len(), y.len());
        let (y_min, y_max) = (y[0], y[m - 1]);
        let mut twice_u: u128 = 0;
        let mut tie_sum = self.within_ties_exact;
        // Subtraction is monotone, so the rows below `y_min` form a prefix (never
        // splitting a group of equal x).
        let mut start = x.partition_point(|&xi| xi - shift < y_min);
        let mut below = x
            .get(start)
            .map_or(0, |&xi| y.partition_point(|&yj| yj < xi - shift));
        let mut at_or_below = below;
        while start < n {
            let value = x[start] - shift;
            if value > y_max {
                twice_u += 2 * (m as u128) * (n - start) as u128;
                break;
            }
            let mut end = start + 1;
            while end < n && x[end] == x[start] {
                end += 1;
            }
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

    /// [`Self::count`] at a shift where the samples are expected to tie each other
    /// and few rows overlap (the bracket ends, where the extreme values meet): the
    /// grouped merge, without trying the block walk first.
    pub(crate) fn count_tied(&self, shift: f64) -> MergeSummary {
        self.tie_aware(shift)
            .unwrap_or_else(|| merge_summary(self.x, shift, self.y))
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
    /// U is `u_low` and `u_high`. Once the pairs whose order can still change
    /// (about `u_low - u_high`) are few, they are listed in a window; later calls
    /// drop the pairs the narrower bracket decides. A failed attempt (too many
    /// pairs, or a tie at the low end) is retried only once the bracket has shrunk
    /// eightfold. Positions recorded at both ends spare the window its own two
    /// walks.
    pub(crate) fn narrow(
        &mut self,
        low: f64,
        high: f64,
        u_low: f64,
        u_high: f64,
        recorded: Option<BracketPositions<'_>>,
    ) {
        let width = high - low;
        let limit = WINDOW_PAIRS_PER_VALUE * (self.x.len() + self.y.len()) as f64;
        if width.is_nan() || width < 0.0 || !self.rounding.is_finite() {
            return;
        }
        if let Some(window) = &mut self.window
            && window.low <= low
            && high <= window.high
        {
            if (window.low, window.high) != (low, high) {
                window.narrow(low, high, self.rounding);
            }
            return;
        }
        if u_low - u_high > limit
            || width > self.attempted_width / 8.0
            || !self.shift_keeps_x_distinct(low, high)
        {
            return;
        }
        self.attempted_width = width;
        let bracket = Bracket {
            low,
            high,
            rounding: self.rounding,
            limit: 2.0 * limit,
        };
        self.window = match recorded {
            Some(positions) => Window::from_positions(self.x, self.y, &bracket, positions),
            None => Window::build(self.x, self.y, &self.y_padded, &bracket),
        };
    }
}

/// A bracket of shifts to list a [`Window`] for.
struct Bracket {
    low: f64,
    high: f64,
    /// The counter's rounding bound.
    rounding: f64,
    /// Most pairs to list.
    limit: f64,
}

impl Window {
    /// Lists the pairs undecided in the bracket, after walking both of its ends;
    /// `None` when there are more than its limit (or too many to index).
    fn build(x: &[f64], y: &[f64], y_padded: &[f64], bracket: &Bracket) -> Option<Self> {
        if x.len() > u32::MAX as usize || y.len() > u32::MAX as usize {
            return None;
        }
        let mut high = vec![0u32; x.len()];
        let mut low = vec![0u32; x.len()];
        record_positions(x, y_padded, bracket.high, &mut high);
        let (_, tie_at_low) = record_positions(x, y_padded, bracket.low, &mut low);
        if tie_at_low {
            return None;
        }
        Self::from_positions(
            x,
            y,
            bracket,
            BracketPositions {
                low: &low,
                high: &high,
            },
        )
    }

    /// Lists the pairs undecided in the bracket from the positions at its ends.
    ///
    /// Row `i`'s undecided pairs are `y[first[i]..end[i]]`, `first` being the
    /// positions at the high end and `end` those at the low end: before `first[i]`,
    /// `y_j < x_i - high`, so the pair is below for every shift up to `high` (IEEE
    /// subtraction is monotone); from `end[i]` on, `y_j >= x_i - low`, and as no
    /// `y_j` equals an `x_i - low` where positions are recorded, `y_j > x_i - low`:
    /// never below nor tied for shifts from `low`.
    fn from_positions(
        x: &[f64],
        y: &[f64],
        bracket: &Bracket,
        positions: BracketPositions<'_>,
    ) -> Option<Self> {
        let &Bracket {
            low,
            high,
            rounding,
            limit,
        } = bracket;
        let (first, end) = (positions.high, positions.low);
        let undecided: u64 = first
            .iter()
            .zip(end)
            .map(|(&first, &end)| u64::from(end.saturating_sub(first)))
            .sum();
        if undecided as f64 > limit {
            return None;
        }
        let mut window = Self {
            low,
            high,
            base_below: first.iter().map(|&first| u64::from(first)).sum(),
            differences: Vec::with_capacity(undecided as usize),
            pairs: Vec::with_capacity(undecided as usize),
        };
        // Pairs the rounding bound already decides are not listed.
        let (surely_below, never_below) = (high + rounding, low - rounding);
        for (row, (&xi, (&first, &end))) in x.iter().zip(first.iter().zip(end)).enumerate() {
            for column in first..end {
                let difference = xi - y[column as usize];
                if difference > surely_below {
                    window.base_below += 1;
                } else if difference >= never_below {
                    window.differences.push(difference);
                    window.pairs.push((row as u32, column));
                }
            }
        }
        Some(window)
    }

    /// Narrows the window to `[low, high]` inside it, in place: pairs below for the
    /// whole new bracket join the base, pairs never below leave.
    fn narrow(&mut self, low: f64, high: f64, rounding: f64) {
        self.low = low;
        self.high = high;
        let (surely_below, never_below) = (high + rounding, low - rounding);
        let mut kept = 0;
        for index in 0..self.differences.len() {
            let difference = self.differences[index];
            self.base_below += u64::from(difference > surely_below);
            if difference >= never_below && difference <= surely_below {
                self.differences[kept] = difference;
                self.pairs[kept] = self.pairs[index];
                kept += 1;
            }
        }
        self.differences.truncate(kept);
        self.pairs.truncate(kept);
    }

    /// Pairs with `y_j < x_i - shift`, or `None` when some `x_i - shift` equals a
    /// `y_j` (a tie between the samples, which changes the tie sum: the full merge
    /// handles it).
    fn count_below(&self, x: &[f64], y: &[f64], shift: f64, rounding: f64) -> Option<u64> {
        let (surely_below, maybe_below) = (shift + rounding, shift - rounding);
        let (mut above, mut near_or_above) = (0u64, 0u64);
        for &difference in &self.differences {
            above += u64::from(difference > surely_below);
            near_or_above += u64::from(difference >= maybe_below);
        }
        let mut below = self.base_below + above;
        if near_or_above > above {
            for (&difference, &(row, column)) in self.differences.iter().zip(&self.pairs) {
                if difference >= maybe_below && difference <= surely_below {
                    let (value, yj) = (x[row as usize] - shift, y[column as usize]);
                    if yj == value {
                        return None;
                    }
                    below += u64::from(yj < value);
                }
            }
        }
        Some(below)
    }
}

/// Independent walks run side by side in [`record_positions`]: a row's step waits on the
/// previous row's (load a block of `y`, compare, add), so interleaving several keeps
/// the processor busy. Four is fastest on the benchmark machine: with more, the
/// lanes' state no longer fits in registers (eight lanes were 20 % slower).
const LANES: usize = 4;

/// Where each lockstep lane starts: `x` cut into [`LANES`] runs, each run's first
/// position in `y` found by binary search.
struct Lanes {
    /// Next `x` index of each lane.
    next: [usize; LANES],
    /// End of each lane's run of `x`.
    end: [usize; LANES],
    /// Values of `y` below the lane's next `x_i - shift`.
    below: [usize; LANES],
}

impl Lanes {
    #[inline]
    fn start(x: &[f64], y: &[f64], shift: f64) -> Self {
        let n = x.len();
        let mut lanes = Self {
            next: [0; LANES],
            end: [0; LANES],
            below: [0; LANES],
        };
        for lane in 0..LANES {
            lanes.next[lane] = lane * n / LANES;
            lanes.end[lane] = (lane + 1) * n / LANES;
            if lanes.next[lane] < lanes.end[lane] {
                let first = x[lanes.next[lane]] - shift;
                lanes.below[lane] = y.partition_point(|&value| value < first);
            }
        }
        lanes
    }
}

/// How many `y` values a row compares at once: each row of `x` finds its position
/// by counting, in blocks of this many, the `y` values below its shifted value.
/// Four compiles to two vector compares; two blocks per row on average (two) or a
/// wider block (eight) were slower on the benchmark machine.
pub(crate) const LOOKAHEAD: usize = 4;

/// `y` followed by [`LOOKAHEAD`] infinities, so a block never runs off the end.
pub(crate) fn padded(y: &[f64]) -> Vec<f64> {
    let mut padded = Vec::with_capacity(y.len() + LOOKAHEAD);
    padded.extend_from_slice(y);
    padded.extend_from_slice(&[f64::INFINITY; LOOKAHEAD]);
    padded
}

/// `Σ_i #{j : y_j < x_i - shift}` over ascending `x` and `y` (given padded, see
/// [`padded`]), and whether some `x_i - shift` equals some `y_j`; each row's count
/// is written to `out[i]`.
///
/// `x` is cut into [`LANES`] runs; each run's starting position in `y` is found by
/// binary search, and the runs are walked in lockstep. A row's position is its
/// predecessor's, moved on by [`advance`].
fn record_positions(x: &[f64], y_padded: &[f64], shift: f64, out: &mut [u32]) -> (u64, bool) {
    let m = y_padded.len() - LOOKAHEAD;
    let Lanes {
        next,
        end,
        mut below,
    } = Lanes::start(x, &y_padded[..m], shift);
    let mut sums = [0u64; LANES];
    let mut cross_tie = false;
    // Every lane holds at least `shortest` rows: those are walked in lockstep, from
    // slices of exactly that length (so without bounds checks on `x` and `out`, and
    // without checking which lanes are done), then each lane's last row alone.
    let shortest = x.len() / LANES;
    let rows: [&[f64]; LANES] = std::array::from_fn(|lane| &x[next[lane]..][..shortest]);
    let mut outs: [&mut [u32]; LANES] = Default::default();
    let mut rest = &mut *out;
    let mut taken = 0;
    for (lane, slot) in outs.iter_mut().enumerate() {
        let (_, from_lane) = std::mem::take(&mut rest).split_at_mut(next[lane] - taken);
        let (lane_out, after) = from_lane.split_at_mut(shortest);
        *slot = lane_out;
        rest = after;
        taken = next[lane] + shortest;
    }
    for k in 0..shortest {
        for lane in 0..LANES {
            let value = rows[lane][k] - shift;
            let position = advance(y_padded, below[lane], |yj| yj < value);
            cross_tie |= y_padded[position] == value;
            outs[lane][k] = position as u32;
            sums[lane] += position as u64;
            below[lane] = position;
        }
    }
    for lane in 0..LANES {
        for row in next[lane] + shortest..end[lane] {
            let value = x[row] - shift;
            let position = advance(y_padded, below[lane], |yj| yj < value);
            cross_tie |= y_padded[position] == value;
            out[row] = position as u32;
            sums[lane] += position as u64;
            below[lane] = position;
        }
    }
    (sums.iter().sum(), cross_tie)
}

/// Moves `position` on over the values of `padded` that `passes`, counting a block
/// of [`LOOKAHEAD`] at a time. The values that pass must form a prefix from
/// `position` on (the merge's values below a row's shifted value, the bracketing's
/// differences above a probe), and the padding must never pass.
#[inline(always)]
pub(crate) fn advance(padded: &[f64], mut position: usize, passes: impl Fn(f64) -> bool) -> usize {
    loop {
        let block = &padded[position..position + LOOKAHEAD];
        let count: usize = block.iter().map(|&value| usize::from(passes(value))).sum();
        position += count;
        if count < LOOKAHEAD {
            return position;
        }
    }
}

/// Sum of `t^3 - t` over the tie groups within one ascending sample.
pub(crate) fn within_tie_sum(sorted: &[f64]) -> u128 {
    if sorted.windows(2).all(|pair| pair[0] != pair[1]) {
        return 0;
    }
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

    /// The block walk's positions are each row's count of smaller `y` values, on
    /// shapes that stress it: a row passing many blocks (`m` much larger than `n`),
    /// rows that move by none, fewer rows than lanes, ties at exact differences, and
    /// shifts beyond either end.
    #[test]
    fn walk_positions_match_brute_force() {
        use crate::stats::selection::tests::lcg_values;
        let cases: [(Vec<f64>, Vec<f64>); 6] = [
            (lcg_values(1, 3, 1000), lcg_values(2, 1000, 1000)),
            (lcg_values(3, 1000, 1000), lcg_values(4, 3, 1000)),
            (lcg_values(5, 7, 40), lcg_values(6, 9, 40)),
            (lcg_values(7, 500, 30), lcg_values(8, 500, 30)),
            (lcg_values(9, 1, 10), lcg_values(10, 1, 10)),
            (lcg_values(11, 257, 1 << 30), lcg_values(12, 263, 1 << 30)),
        ];
        for (case, (x, y)) in cases.iter().enumerate() {
            let y_padded = padded(y);
            let (low, high) = (x[0] - y[y.len() - 1], x[x.len() - 1] - y[0]);
            let mut shifts = vec![low - 1.0, low, high, high + 1.0, 0.0, (low + high) / 2.0];
            shifts.extend(
                x.iter()
                    .step_by(17)
                    .zip(y.iter().step_by(13))
                    .map(|(a, b)| a - b),
            );
            for shift in shifts {
                let want: Vec<u32> = x
                    .iter()
                    .map(|&xi| y.iter().filter(|&&yj| yj < xi - shift).count() as u32)
                    .collect();
                let tie = x.iter().any(|&xi| y.contains(&(xi - shift)));
                let mut got = vec![0u32; x.len()];
                let (sum, cross_tie) = record_positions(x, &y_padded, shift, &mut got);
                assert_eq!(got, want, "case {case}, shift {shift}");
                assert_eq!(cross_tie, tie, "case {case}, shift {shift}");
                let total: u64 = want.iter().map(|&p| u64::from(p)).sum();
                assert_eq!(sum, total, "case {case}, shift {shift}");
            }
        }
    }

    #[test]
    fn windowed_counts_equal_full_merges() {
        // (x, y, brackets): quarter-grid data with ties everywhere, and spread data
        // whose brackets hold few undecided pairs.
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
        // (x, y, brackets to narrow to, in order); a bracket's low end is never a
        // pairwise difference (the window is not built when it is), but for the
        // last bracket of the second case, which reaches past the window before it.
        type Case = (Vec<f64>, Vec<f64>, Vec<(f64, f64)>);
        let decimals = |count: i32, offset: f64, scale: f64| -> Vec<f64> {
            (0..count)
                .map(|i| f64::from(i).mul_add(scale, offset))
                .collect()
        };
        let cases: [Case; 3] = [
            (
                grid(300, 37, 101),
                grid(250, 53, 89),
                vec![(-30.1, 40.0), (-1.1, 3.0), (1.26, 1.49)],
            ),
            (
                spread(300, 0.25),
                spread(250, 0.3),
                vec![
                    (-80.01, 80.0),
                    (10.01, 20.0),
                    (14.91, 15.3),
                    (15.01, 15.05),
                    (15.0, 15.04),
                ],
            ),
            // Large offsets with decimal steps: `x_i - shift` rounds, so the
            // window's near-difference comparisons decide.
            (
                decimals(200, 1.0e6, 0.1),
                decimals(220, 1.0e6 + 3.0, 0.07),
                vec![
                    (-40.0037, 40.0),
                    (-3.50037, -1.0),
                    (-2.31037, -2.2),
                    (-2.29037, -2.27),
                ],
            ),
        ];
        // Each case runs twice: windows listed by their own walks, and from the
        // positions recorded by counts at the bracket ends.
        for (run, (x, y, bands)) in cases.iter().chain(&cases).enumerate() {
            let (case, from_recorded) = (run % cases.len(), run >= cases.len());
            let mut checked_in_window = 0;
            let mut counter = ShiftCounter::new(x, y);
            let (mut at_low, mut at_high) = (vec![0u32; x.len()], vec![0u32; x.len()]);
            for &(low, high) in bands {
                let (u_low, u_high) = (merge_summary(x, low, y).u_x, merge_summary(x, high, y).u_x);
                let fresh = ShiftCounter::new(x, y);
                let recorded = from_recorded
                    && fresh.count_recording(low, &mut at_low).positions_recorded
                    && fresh.count_recording(high, &mut at_high).positions_recorded;
                let positions = recorded.then_some(BracketPositions {
                    low: &at_low,
                    high: &at_high,
                });
                counter.narrow(low, high, u_low, u_high, positions);
                let mut scratch = vec![0u32; x.len()];
                for shift in [low, high] {
                    let got = fresh.count_recording(shift, &mut scratch).summary;
                    assert_eq!(got, merge_summary(x, shift, y));
                }
                // Evenly spaced shifts, plus exact pairwise differences (ties between
                // the samples, which must fall back to the full merge) and the
                // floats next to them.
                let mut shifts: Vec<f64> = (0..=40)
                    .map(|k| low + (high - low) * f64::from(k) / 40.0)
                    .collect();
                shifts.extend(
                    x.iter()
                        .flat_map(|a| y.iter().map(move |b| a - b))
                        .filter(|d| (low..=high).contains(d))
                        .take(50)
                        .flat_map(|d| [d.next_down(), d, d.next_up()])
                        .filter(|d| (low..=high).contains(d)),
                );
                // The extreme differences, where the grouped merge walks few rows.
                shifts.extend([x[0] - y[y.len() - 1], x[x.len() - 1] - y[0]]);
                for shift in shifts {
                    let want = merge_summary(x, shift, y);
                    assert_eq!(counter.count(shift), want, "shift {shift}");
                    assert_eq!(counter.count_tied(shift), want, "tied, shift {shift}");
                    if counter
                        .window
                        .as_ref()
                        .is_some_and(|w| w.low <= shift && shift <= w.high)
                    {
                        checked_in_window += 1;
                    }
                }
            }
            assert!(
                checked_in_window > 30,
                "case {case} (recorded: {from_recorded}): {checked_in_window}"
            );
        }
    }
}
