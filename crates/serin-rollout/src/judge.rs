//! The judge, injected: what the rollout asks, what it gets back, and how failures are told apart.

mod http;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use http::{HttpJudge, MAX_ANSWER_BYTES};

use crate::clock::Timestamp;
use crate::weight::Weight;

/// A verdict as the judge service reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The canary is as good as the baseline: the measurement succeeds.
    Pass,
    /// Cannot tell: the measurement is inconclusive (Argo's meaning).
    Marginal,
    /// The canary is worse: the measurement fails.
    Fail,
}

/// One question to the judge: the analysis config and window, with the rollout's context.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeRequest {
    /// The canary-config name.
    pub config: String,
    /// The metric window.
    pub window: RequestWindow,
    /// The plan step (0-based) the rollout is at.
    pub step_index: usize,
    /// The canary weight in force.
    pub weight: Weight,
    /// Whether this is the background analysis.
    pub background: bool,
}

/// The metric window of one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestWindow {
    /// The last `lookback` before the judge's now.
    Lookback(Duration),
    /// From `start` (the step's or the rollout's) to `end` (the rollout's now): a
    /// window that grows from one start over every verdict.
    Since {
        /// The window's start.
        start: Timestamp,
        /// The window's end.
        end: Timestamp,
    },
}

/// The judge's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeOutcome {
    /// Pass, marginal or fail.
    pub verdict: Verdict,
    /// The 0–100 score, when the judge gives one.
    #[serde(default)]
    pub score: Option<f64>,
    /// Why, in words.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// No verdict came back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum JudgeError {
    /// The judge or its metric source failed (5xx, connection refused, timeout, garbled
    /// answer): retried up to the analysis' `consecutiveErrorLimit`, then the rollout aborts.
    #[error("judge unavailable: {0}")]
    Source(String),
    /// The judge refused the question (4xx: unknown config, bad scope): retrying cannot
    /// help, so the rollout aborts at once.
    #[error("judge rejected the request ({status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The service's message.
        message: String,
    },
}

/// Anything that can judge the canary.
pub trait Judge: Send + Sync {
    /// Judges the canary against the baseline over the request's window.
    fn judge(
        &self,
        request: &JudgeRequest,
    ) -> impl Future<Output = Result<JudgeOutcome, JudgeError>> + Send;
}

/// Where and how the plan's verdicts are requested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JudgeTarget {
    /// The judge service's base URL (`POST {url}/judge`).
    pub url: String,
    /// The environment variable holding a bearer token, if the service wants one
    /// (the token itself never goes in the plan or the state file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// Timeout of one request; a timeout is a source error.
    #[serde(default = "default_timeout", with = "crate::plan::duration_text")]
    pub timeout: Duration,
    /// The Prometheus endpoint name configured in the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The baseline's scope.
    pub baseline: ScopeRef,
    /// The canary's scope.
    pub canary: ScopeRef,
    /// Query resolution.
    #[serde(
        default,
        with = "crate::plan::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub step: Option<Duration>,
    /// Score thresholds overriding the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// A scope as the judge service names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeRef {
    /// The scope (e.g. `checkout-canary`).
    pub scope: String,
    /// The location (region), if the metrics have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Extra template parameters.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// Score thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Lowest passing score.
    pub pass: f64,
    /// Lowest marginal score.
    pub marginal: f64,
}
