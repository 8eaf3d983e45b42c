//! Descriptive statistics reported for each side of a metric: min, max, mean, standard deviation, count.

use serde::Serialize;

/// The arithmetic mean with one correction pass, `m + Σ(x - m) / n` where `m = Σx / n`,
/// as Apache Commons Math (and so Kayenta) computes it. NaN for no values.
pub fn mean(values: &[f64]) -> f64 {
    let count = values.len() as f64;
    let first = values.iter().sum::<f64>() / count;
    let correction = values.iter().map(|value| value - first).sum::<f64>();
    first + correction / count
}

/// Summary statistics of one side of a metric, as Kayenta reports them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Descriptive {
    /// Smallest value (0 for no data).
    pub min: f64,
    /// Largest value (0 for no data).
    pub max: f64,
    /// Arithmetic mean (0 for no data).
    pub mean: f64,
    /// Sample standard deviation, with the n - 1 denominator (0 for fewer than 2 values).
    pub std: f64,
    /// Number of values.
    pub count: usize,
}

impl Descriptive {
    /// Summarises `values`; an empty slice gives all zeros.
    pub fn of(values: &[f64]) -> Self {
        let count = values.len();
        if count == 0 {
            return Self {
                min: 0.0,
                max: 0.0,
                mean: 0.0,
                std: 0.0,
                count,
            };
        }
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mean = mean(values);
        let std = if count < 2 {
            0.0
        } else {
            let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            (squares / (count - 1) as f64).sqrt()
        };
        Self {
            min,
            max,
            mean,
            std,
            count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_like_r() {
        // R: x <- c(2, 4, 4, 4, 5, 5, 7, 9); sd(x) = 2.138089935299395
        let stats = Descriptive::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(
            (stats.min, stats.max, stats.mean, stats.count),
            (2.0, 9.0, 5.0, 8)
        );
        assert!((stats.std - 2.138_089_935_299_395).abs() < 1e-14);
        assert_eq!(Descriptive::of(&[]).count, 0);
        assert_eq!(Descriptive::of(&[3.0]).std, 0.0);
    }
}
