//! Statistics on validated samples: rank sums, Mann-Whitney U, Hodges-Lehmann, effect sizes, e-processes.
//!
//! Conventions shared by every module here: `x` is the canary (experiment) sample and
//! `y` the baseline (control); a positive shift means the canary is higher.

pub(crate) mod bracketing;
pub mod descriptive;
pub mod effect_size;
pub mod eprocess;
pub mod exact_distribution;
pub mod hodges_lehmann;
pub mod mann_whitney;
pub(crate) mod merge;
pub(crate) mod normal;
pub(crate) mod selection;
pub(crate) mod zeroin;

pub use descriptive::Descriptive;
pub use effect_size::EffectSizes;
pub use hodges_lehmann::{HodgesLehmann, IntervalMethod, hodges_lehmann};
pub use mann_whitney::{Alternative, MannWhitney, PValueMethod, mann_whitney_u};
