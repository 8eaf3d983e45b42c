//! The canary's share of traffic, a whole percentage validated once.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A canary weight in percent, always within 0..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Weight(u8);

impl Weight {
    /// Everything to the stable version.
    pub const ZERO: Weight = Weight(0);
    /// Everything to the canary.
    pub const FULL: Weight = Weight(100);

    /// A weight, or `None` above 100.
    pub fn new(percent: u32) -> Option<Self> {
        u8::try_from(percent).ok().filter(|p| *p <= 100).map(Weight)
    }

    /// The canary's percentage.
    pub fn canary(self) -> u32 {
        u32::from(self.0)
    }

    /// The stable version's percentage (`100 - canary`).
    pub fn stable(self) -> u32 {
        100 - u32::from(self.0)
    }
}

impl TryFrom<u32> for Weight {
    type Error = String;

    fn try_from(percent: u32) -> Result<Self, Self::Error> {
        Weight::new(percent).ok_or_else(|| format!("weight {percent} is above 100"))
    }
}

impl From<Weight> for u32 {
    fn from(weight: Weight) -> u32 {
        weight.canary()
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} %", self.0)
    }
}
