//! One judgement, whatever API asked for it: resolve the config, get the data (inline
//! or from Prometheus), judge on a blocking thread, within the service's concurrency
//! limit and time limit.
//!
//! Limits:
//! - the [`Deadline`] (`judge_timeout` after the request, or the Kayenta execution,
//!   began) bounds everything: fetching, waiting for a judgement slot and judging;
//! - a judgement slot (`concurrency_limit` of them) is held only while the CPU part
//!   runs, so judgements stuck on a slow source never hold one, and inline judgements
//!   never queue behind them; fetching is bounded by each endpoint's
//!   `max_concurrent_queries` and by [`serin_sources::MAX_METRICS_PER_FETCH`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serin_core::config::ScoreThresholds;
use serin_core::{CanaryConfig, JudgeResult, MetricSet, Verdict};
use serin_sources::{FetchedQuery, ScopeSet, Window, check_fan_out, fetch_metrics};
use tokio::time::Instant;
use tracing::info;

use crate::AppState;
use crate::error::ApiError;

/// When a request must be answered by: `judge_timeout` after it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now (a limit too large for the clock means "about never").
    pub fn after(limit: Duration) -> Self {
        let now = Instant::now();
        let at = now
            .checked_add(limit)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600));
        Self { at, limit }
    }

    /// Runs `work` until done or until the deadline, whichever comes first.
    pub async fn run<T>(self, work: impl Future<Output = T>) -> Result<T, ApiError> {
        tokio::time::timeout_at(self.at, work)
            .await
            .map_err(|_| ApiError::JudgeTimeout(self.limit))
    }
}

/// Where a judgement's data comes from.
#[derive(Debug, Clone)]
pub enum DataSource {
    /// Given in the request.
    Inline(MetricSet),
    /// Fetched from a configured Prometheus endpoint.
    Prometheus {
        /// Endpoint name (`None`: the service's default).
        endpoint: Option<String>,
        /// Baseline and canary scopes.
        scopes: ScopeSet,
        /// Time window.
        window: Window,
    },
}

/// Everything needed to judge.
#[derive(Debug, Clone)]
pub struct JudgeJob {
    /// The canary config.
    pub config: Arc<CanaryConfig>,
    /// The data.
    pub data: DataSource,
    /// Thresholds overriding the config's.
    pub thresholds: Option<ScoreThresholds>,
}

impl JudgeJob {
    /// A job, refused (400) when it would fetch more metrics than one judgement may,
    /// so the request is answered at once rather than failing later.
    pub fn new(
        config: Arc<CanaryConfig>,
        data: DataSource,
        thresholds: Option<ScoreThresholds>,
    ) -> Result<Self, ApiError> {
        if matches!(data, DataSource::Prometheus { .. }) {
            check_fan_out(&config)?;
        }
        Ok(Self {
            config,
            data,
            thresholds,
        })
    }
}

/// The answer of `POST /judge` (and what Kayenta executions and Flagger report).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgeResponse {
    /// `pass`, `marginal` or `fail`.
    pub verdict: Verdict,
    /// 0-100.
    pub score: f64,
    /// Why, in words.
    pub reasons: Vec<String>,
    /// Kayenta's `judgeResult` plus Serin's evidence.
    pub judge_result: JudgeResult,
    /// The PromQL sent, per metric and scope (empty for inline data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<FetchedQuery>,
}

/// Runs `job` for `api` (`judge`, `flagger`, `kayenta`: the label of the verdict
/// metric), answering [`ApiError::JudgeTimeout`] once `deadline` passes, wherever the
/// judgement stands (fetching, waiting for a slot, judging).
pub async fn run(
    state: &AppState,
    job: JudgeJob,
    api: &'static str,
    deadline: Deadline,
) -> Result<JudgeResponse, ApiError> {
    let response = deadline.run(judge_job(state, job)).await??;
    state
        .shared
        .telemetry
        .verdict(response.verdict.as_str(), api);
    info!(
        api,
        verdict = response.verdict.as_str(),
        score = response.score,
        config = %response.judge_result.judge_name,
        "judged"
    );
    Ok(response)
}

async fn judge_job(state: &AppState, job: JudgeJob) -> Result<JudgeResponse, ApiError> {
    let (data, queries) = match job.data {
        DataSource::Inline(data) => (data, Vec::new()),
        DataSource::Prometheus {
            endpoint,
            scopes,
            window,
        } => {
            let client = state.client(endpoint.as_deref())?;
            match fetch_metrics(client, &job.config, &scopes, &window).await {
                Ok(fetched) => (fetched.data, fetched.queries),
                Err(error) => {
                    state
                        .shared
                        .telemetry
                        .source_error(&client.endpoint().name, error.kind());
                    return Err(ApiError::Source(error));
                }
            }
        }
    };
    // The slot is taken for the CPU part only, and moves into the blocking task: a
    // judgement abandoned at its deadline keeps its slot until its thread is done.
    let slot = Arc::clone(&state.shared.judging_slots)
        .acquire_owned()
        .await
        .map_err(|_| ApiError::Unavailable("shutting down".into()))?;
    let config = Arc::clone(&job.config);
    let thresholds = job.thresholds;
    let result = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        serin_core::judge(&config, &data, thresholds)
    })
    .await
    .map_err(|e| {
        if e.is_panic() {
            state.shared.telemetry.panicked();
        }
        ApiError::Internal(format!("judgement task failed: {e}"))
    })?
    .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    Ok(JudgeResponse {
        verdict: result.verdict,
        score: result.score.score,
        reasons: result.reasons.clone(),
        judge_result: result,
        queries,
    })
}
