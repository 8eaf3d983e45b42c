//! One judgement, whatever API asked for it: resolve the config, get the data (inline
//! or from Prometheus), judge on a blocking thread, within the service's concurrency
//! limit and time limit.

use std::sync::Arc;

use serde::Serialize;
use serin_core::config::ScoreThresholds;
use serin_core::{CanaryConfig, JudgeResult, MetricSet, Verdict};
use serin_sources::{FetchedQuery, ScopeSet, Window, fetch_metrics};
use tracing::info;

use crate::AppState;
use crate::error::ApiError;

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

/// Runs `job` for `api` (`judge`, `flagger`, `kayenta`: the label of the verdict metric).
pub async fn run(
    state: &AppState,
    job: JudgeJob,
    api: &'static str,
) -> Result<JudgeResponse, ApiError> {
    let _permit = state
        .shared
        .permits
        .acquire()
        .await
        .map_err(|_| ApiError::Unavailable("shutting down".into()))?;
    let limit = state.shared.settings.judge_timeout;
    let outcome = tokio::time::timeout(limit, judge_job(state, job)).await;
    let response = match outcome {
        Ok(result) => result?,
        Err(_) => return Err(ApiError::JudgeTimeout(limit)),
    };
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
    let config = Arc::clone(&job.config);
    let thresholds = job.thresholds;
    let result = tokio::task::spawn_blocking(move || serin_core::judge(&config, &data, thresholds))
        .await
        .map_err(|e| ApiError::Internal(format!("judgement task failed: {e}")))?
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    Ok(JudgeResponse {
        verdict: result.verdict,
        score: result.score.score,
        reasons: result.reasons.clone(),
        judge_result: result,
        queries,
    })
}
