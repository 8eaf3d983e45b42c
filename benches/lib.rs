//! Shared inputs for the criterion benchmarks in `statistics.rs` and `service_request.rs`.

/// A small deterministic generator (SplitMix64), so every run times the same numbers.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// A uniform value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal value by Box-Muller.
    pub fn standard_normal(&mut self) -> f64 {
        let (u1, u2) = (self.next_f64().max(f64::MIN_POSITIVE), self.next_f64());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `count` values of Lognormal(ln 100, 0.5) times `scale`, like the scipy script's inputs.
    pub fn lognormal(&mut self, count: usize, scale: f64) -> Vec<f64> {
        (0..count)
            .map(|_| (100f64.ln() + 0.5 * self.standard_normal()).exp() * scale)
            .collect()
    }

    /// Normal(mean, mean/10), like `scripts/load/make_inputs.py`.
    pub fn gauss(&mut self, mean: f64) -> f64 {
        mean + mean * 0.1 * self.standard_normal()
    }
}
