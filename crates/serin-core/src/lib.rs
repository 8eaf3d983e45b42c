//! Serin's pure core: canary-versus-baseline statistics, Kayenta configs, classification and scoring.
//!
//! Nothing here does IO, reads a clock, or runs async code: callers bring the numbers.
//! The entry point is [`judge()`]: a [`CanaryConfig`] and a [`MetricSet`] in, a
//! [`JudgeResult`] (Kayenta's `judgeResult` plus a verdict and evidence) out.
#![warn(clippy::float_cmp, clippy::suboptimal_flops)]
#![cfg_attr(
    test,
    allow(
        clippy::float_cmp,
        reason = "tests compare against exact expected values"
    )
)]

pub mod classify;
pub mod config;
pub mod data;
pub mod judge;
pub mod preprocess;
pub mod sample;
pub mod score;
pub mod serin_judge;
pub mod stats;

pub use classify::{
    Classification, ClassifierSettings, Evidence, JudgedSeries, MetricClassification, classify,
};
pub use config::{CanaryConfig, ConfigError, JudgeKind, ScoreThresholds};
pub use data::{MetricPair, MetricSet, Scope};
pub use judge::{JudgeError, JudgeResult, MetricResult, judge, judge_on_threads};
pub use sample::{Sample, SampleError};
pub use score::Verdict;
