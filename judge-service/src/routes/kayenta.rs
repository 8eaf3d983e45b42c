//! The subset of Kayenta's REST API that Argo Rollouts' `kayenta` provider calls:
//!
//! 1. `GET /canaryConfig?application=…&configurationAccountName=…`: configs with
//!    `id` and `name` (Argo picks the id whose name matches `canaryConfigName`);
//! 2. `POST /canary/{configId}?application=…&metricsAccountName=…&…` with
//!    `{scopes: {NAME: {controlScope, experimentScope}}, thresholds: {pass, marginal}}`,
//!    answered `{canaryExecutionId}` at once while the judgement runs;
//! 3. `GET /canary/{id}`: `{complete, status, result: {judgeResult: {score: {score,
//!    classification}}}}` once done.
//!
//! `metricsAccountName` names the Prometheus endpoint (empty: the default). A
//! judgement that cannot be made (source down, bad query) completes with status
//! `terminal`, an `exception` and no `result`, which Argo reports as an Error, never
//! as a pass. Query parameters other than `metricsAccountName` and `application` are
//! accepted and ignored (Serin has no storage or configuration accounts).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use serin_core::ScoreThresholds;
use serin_sources::{ScopePair, ScopeSet, ScopeSpec, parse_duration};

use crate::AppState;
use crate::configs::ConfigSummary;
use crate::error::{ApiError, shown};
use crate::executions::ExecutionState;
use crate::judging::{self, DataSource, Deadline, JudgeJob};
use crate::request::{parse_body, read_json_body, window};

/// `GET /canaryConfig` query.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Filter by application.
    #[serde(default)]
    pub application: Option<String>,
}

/// Lists the served configs.
pub async fn list_configs(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Json<Vec<ConfigSummary>> {
    Json(
        state
            .configs()
            .list(query.application.as_deref().filter(|a| !a.is_empty())),
    )
}

/// `POST /canary/{configId}` query.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartQuery {
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics_account_name: Option<String>,
}

/// One side of a Kayenta scope.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaScope {
    /// Scope value.
    #[serde(default)]
    pub scope: String,
    /// Location (Argo: `region`).
    #[serde(default, alias = "region")]
    pub location: String,
    /// Window start.
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// Window end.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    /// Step, seconds (Kayenta) or a duration string.
    #[serde(default, deserialize_with = "step_seconds")]
    pub step: Option<std::time::Duration>,
    /// Extended scope parameters.
    #[serde(default)]
    pub extended_scope_params: BTreeMap<String, String>,
}

/// A named pair of scopes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KayentaScopePair {
    /// Baseline.
    pub control_scope: KayentaScope,
    /// Canary.
    pub experiment_scope: KayentaScope,
}

/// `POST /canary/{configId}` body (Kayenta's `CanaryExecutionRequest`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRequest {
    /// Scopes by name.
    pub scopes: BTreeMap<String, KayentaScopePair>,
    /// Thresholds.
    #[serde(default)]
    pub thresholds: Option<ScoreThresholds>,
}

fn step_seconds<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_f64().is_some_and(|s| s == 0.0) => Ok(None),
        Some(Value::Number(n)) => parse_duration(&n.to_string())
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(Value::String(s)) => parse_duration(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(other) => Err(serde::de::Error::custom(format!(
            "step: expected seconds, got {other}"
        ))),
    }
}

fn spec(side: &KayentaScope) -> ScopeSpec {
    ScopeSpec {
        scope: side.scope.clone(),
        location: side.location.clone(),
        params: side.extended_scope_params.clone(),
    }
}

fn id_param(params: &BTreeMap<String, String>) -> Result<&str, ApiError> {
    params
        .get("id")
        .map(String::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::NotFound("missing id".into()))
}

/// Starts an execution; the judgement runs in the background, within
/// `judge_timeout` of the execution's start (this request).
pub async fn start_execution(
    State(state): State<AppState>,
    Path(params): Path<BTreeMap<String, String>>,
    Query(query): Query<StartQuery>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let deadline = Deadline::after(state.settings().judge_timeout);
    let config_id = id_param(&params)?.to_owned();
    let body = deadline.run(read_json_body(&state, request)).await??;
    let request: ExecutionRequest = parse_body(&body)?;
    let stored = state.configs().find(&config_id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "unknown canary config id {:?} (served: {})",
            shown(&config_id),
            state.configs().known()
        ))
    })?;
    let config = Arc::clone(&stored.config);
    let Some((first_name, first)) = request.scopes.iter().next() else {
        return Err(ApiError::bad_field(
            "scopes",
            "at least one scope is required",
        ));
    };
    let (control, experiment) = (&first.control_scope, &first.experiment_scope);
    if request.scopes.values().any(|pair| {
        (pair.control_scope.start, pair.control_scope.end) != (control.start, control.end)
            || (pair.experiment_scope.start, pair.experiment_scope.end)
                != (control.start, control.end)
    }) {
        return Err(ApiError::bad_field(
            format!("scopes.{first_name}.experimentScope"),
            "Serin judges baseline and canary over one window: every scope needs the same start and end",
        ));
    }
    let window = window(
        control.start,
        control.end,
        None,
        control.step.or(experiment.step),
        state.now(),
    )
    .map_err(|e| match e {
        ApiError::BadRequest { message, .. } => {
            ApiError::bad_field(format!("scopes.{first_name}.controlScope"), message)
        }
        other => other,
    })?;
    let pairs = request
        .scopes
        .iter()
        .map(|(name, pair)| {
            (
                name.clone(),
                ScopePair {
                    baseline: spec(&pair.control_scope),
                    canary: spec(&pair.experiment_scope),
                },
            )
        })
        .collect();
    let endpoint = query.metrics_account_name.filter(|n| !n.is_empty());
    // Fail fast on an unknown endpoint rather than in the background.
    state.client(endpoint.as_deref())?;
    let job = JudgeJob::new(
        config,
        DataSource::Prometheus {
            endpoint,
            scopes: ScopeSet { pairs },
            window,
        },
        request.thresholds,
    )?;
    let executions = &state.shared.executions;
    let id = executions.start(&config_id, state.now()).ok_or_else(|| {
        ApiError::Unavailable("too many canary executions running; retry later".into())
    })?;
    let task_state = state.clone();
    let task_id = id.clone();
    tokio::spawn(async move {
        // The judgement runs in a task of its own, so a panic in it still ends the
        // execution (as an internal error) instead of leaving it running forever.
        let judged = tokio::spawn({
            let state = task_state.clone();
            async move { judging::run(&state, job, "kayenta", deadline).await }
        })
        .await;
        let outcome = judged.unwrap_or_else(|join_error| {
            if join_error.is_panic() {
                task_state.telemetry().panicked();
            }
            Err(ApiError::Internal(format!(
                "canary execution task failed: {join_error}"
            )))
        });
        let execution_state = match outcome {
            Ok(response) => ExecutionState::Succeeded(Arc::new(response)),
            Err(error) => {
                error.log();
                ExecutionState::Failed {
                    message: error.public_message(),
                    kind: error.kind().to_owned(),
                }
            }
        };
        task_state
            .shared
            .executions
            .finish(&task_id, execution_state, task_state.now());
    });
    Ok(Json(json!({ "canaryExecutionId": id })))
}

/// The state of an execution, in Kayenta's `CanaryExecutionStatusResponse` shape.
pub async fn execution_status(
    State(state): State<AppState>,
    Path(params): Path<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&params)?;
    let execution = state
        .shared
        .executions
        .get(id, state.now())
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "unknown or expired canary execution {:?}",
                shown(id)
            ))
        })?;
    let mut body = json!({
        "canaryExecutionId": execution.id,
        "canaryConfigId": execution.config_id,
        "startTimeIso": execution.started.to_rfc3339(),
    });
    let object = body.as_object_mut().expect("a JSON object");
    let (complete, status) = match &execution.state {
        ExecutionState::Running => (false, "running"),
        ExecutionState::Succeeded(response) => {
            object.insert(
                "result".into(),
                json!({ "judgeResult": response.judge_result, "verdict": response.verdict, "queries": response.queries }),
            );
            (true, "succeeded")
        }
        ExecutionState::Failed { message, kind } => {
            object.insert(
                "exception".into(),
                json!({ "message": message, "kind": kind }),
            );
            (true, "terminal")
        }
    };
    object.insert("complete".into(), Value::Bool(complete));
    object.insert("status".into(), Value::String(status.into()));
    object.insert(
        "executionStatus".into(),
        Value::String(status.to_uppercase()),
    );
    if let Some(finished) = execution.finished {
        object.insert("endTimeIso".into(), Value::String(finished.to_rfc3339()));
    }
    Ok(Json(body))
}
