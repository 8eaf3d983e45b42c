//! The rollout companion: steps canary traffic on Serin's verdicts and rolls back on failure.
//!
//! A [`Plan`] (YAML, in the spirit of Argo Rollouts' canary steps) drives a [`Rollout`]: a
//! state machine that sets weights through a [`Router`], asks a [`Judge`] for verdicts, and
//! persists its [`RolloutState`] through a [`StateStore`] after every transition and before
//! every router write, so a killed process resumes at the same step and weight.
//! Time ([`Clock`]), the judge, the router and the store are injected: tests run the whole
//! machine deterministically, without sleeping.

pub mod clock;
pub mod judge;
pub mod machine;
pub mod plan;
pub mod router;
pub mod state;
pub mod weight;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use judge::{HttpJudge, Judge, JudgeError, JudgeOutcome, JudgeRequest, RequestWindow, Verdict};
pub use machine::{AbortReport, Progress, Rollout, RolloutError};
pub use plan::{Plan, PlanError, Step};
pub use router::{AnyRouter, Router, RouterConfig, RouterError, RouterWrite, WeightChange};
pub use state::{
    ControlAction, ControlRequest, FileStore, Phase, RolloutState, StateError, StateMisfit,
    StateStore,
};
pub use weight::Weight;
