//! Validated samples: finite values, sorted once, so the statistics never re-check or re-sort.
#![allow(
    clippy::float_cmp,
    reason = "ties and shortcuts are defined by exact equality, as in R and Kayenta"
)]

use thiserror::Error;

/// Why a slice of numbers could not become a [`Sample`].
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum SampleError {
    /// The sample holds no values.
    #[error("sample is empty")]
    Empty,
    /// More values than the statistics index with 32 bits (about 4.3 billion).
    #[error("sample has {0} values, more than the 4294967295 supported")]
    TooLarge(usize),
    /// A value is NaN or infinite; preprocessing must remove or replace it first.
    #[error("sample value at index {index} is not finite ({value})")]
    NotFinite {
        /// Position of the offending value in the input.
        index: usize,
        /// The offending value.
        value: f64,
    },
}

/// A non-empty sample of finite values, kept in ascending order.
///
/// Every statistic in this crate takes `Sample`s, so the finiteness check and the
/// sort happen once, when the sample is built.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    sorted: Vec<f64>,
}

impl Sample {
    /// Validates and sorts `values`.
    pub fn new(values: &[f64]) -> Result<Self, SampleError> {
        Self::from_vec(values.to_vec())
    }

    /// Validates and sorts `values`, reusing the allocation.
    pub fn from_vec(mut values: Vec<f64>) -> Result<Self, SampleError> {
        if values.is_empty() {
            return Err(SampleError::Empty);
        }
        if u32::try_from(values.len()).is_err() {
            return Err(SampleError::TooLarge(values.len()));
        }
        if let Some(index) = values.iter().position(|value| !value.is_finite()) {
            return Err(SampleError::NotFinite {
                index,
                value: values[index],
            });
        }
        // total_cmp orders -0.0 before 0.0; they compare equal everywhere else,
        // which is what the rank statistics need, so normalise them.
        for value in &mut values {
            if *value == 0.0 {
                *value = 0.0;
            }
        }
        // A radix sort: several times faster than a comparison sort on large
        // samples, and it orders floats as `total_cmp` does.
        radsort::sort(&mut values);
        Ok(Self { sorted: values })
    }

    /// The values in ascending order.
    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Always false: a `Sample` is never empty. Present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Smallest value.
    pub fn min(&self) -> f64 {
        self.sorted[0]
    }

    /// Largest value.
    pub fn max(&self) -> f64 {
        self.sorted[self.sorted.len() - 1]
    }

    /// Arithmetic mean (with Kayenta's correction pass).
    pub fn mean(&self) -> f64 {
        crate::stats::descriptive::mean(&self.sorted)
    }

    /// True when every value is the same.
    pub fn is_constant(&self) -> bool {
        self.min() == self.max()
    }

    /// Returns a new sample with `shift` added to every value.
    pub fn shifted(&self, shift: f64) -> Result<Self, SampleError> {
        Self::from_vec(self.sorted.iter().map(|value| value + shift).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_and_non_finite_with_position() {
        assert_eq!(Sample::new(&[]), Err(SampleError::Empty));
        let error = Sample::new(&[1.0, f64::NAN]).unwrap_err();
        assert!(matches!(error, SampleError::NotFinite { index: 1, .. }));
        let error = Sample::new(&[f64::INFINITY]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "sample value at index 0 is not finite (inf)"
        );
    }

    #[test]
    fn sorts_and_normalises_negative_zero() {
        let sample = Sample::new(&[3.0, -0.0, 1.0, -2.0]).unwrap();
        assert_eq!(sample.sorted(), &[-2.0, 0.0, 1.0, 3.0]);
        assert!(sample.sorted()[1].is_sign_positive());
        assert_eq!(sample.min(), -2.0);
        assert_eq!(sample.max(), 3.0);
        assert!(!sample.is_constant());
        assert!(Sample::new(&[4.0, 4.0]).unwrap().is_constant());
    }
}
