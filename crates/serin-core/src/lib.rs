//! Serin's pure core: canary-versus-baseline statistics, Kayenta configs, classification and scoring.
//!
//! Nothing here does IO, reads a clock, or runs async code: callers bring the numbers.
#![warn(clippy::float_cmp, clippy::suboptimal_flops)]

pub mod config;
pub mod data;
pub mod preprocess;
pub mod sample;
pub mod stats;

pub use data::{MetricPair, MetricSet, Scope};
pub use sample::{Sample, SampleError};
