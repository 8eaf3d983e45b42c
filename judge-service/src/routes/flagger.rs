//! `POST /flagger/judge`: Flagger's webhook (`type: rollout`, or any other hook type).
//!
//! Flagger posts `{name, namespace, phase, checksum, metadata}` with every parameter
//! as a string in `metadata`, and counts any status above 202 as a failed check,
//! showing the body as the reason. So: 200 with a one-line body on pass; 412 on fail
//! (and on marginal unless `onMarginal`/the service says `pass`); 400 for a bad
//! payload, 401 for a bad token, 404 for an unknown config; 5xx when the metric
//! source fails (Flagger counts it as a failed check too: never a pass).
//!
//! Metadata keys:
//! - `config` (required): a config name or id of the configs directory;
//! - `baseline`, `canary` (required): the scope values;
//! - `location`, or `baselineLocation` / `canaryLocation`;
//! - `lookback` (default `10m`) or `start` + `end` (RFC 3339); `step` (default `30s`);
//! - `endpoint`: the Prometheus endpoint (default: the service's default);
//! - `pass`, `marginal`: score thresholds; `onMarginal`: `pass` or `fail`;
//! - `param.NAME`: extended scope parameter `NAME` for both scopes;
//! - `token`: the bearer token, as Flagger cannot send headers.
//!
//! Unknown keys are rejected (400 naming them), so a typo never silently changes a
//! judgement.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serin_core::{ScoreThresholds, Verdict};
use serin_sources::{ScopePair, ScopeSet, ScopeSpec, parse_duration};

use crate::AppState;
use crate::error::{ApiError, shown};
use crate::judging::{self, DataSource, Deadline, JudgeJob};
use crate::request::{parse_body, read_json_body, resolve_config, window};
use crate::routes::token_matches;
use crate::settings::MarginalAs;

/// Lookback when the metadata gives no window.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(600);

const KNOWN_KEYS: &[&str] = &[
    "config",
    "baseline",
    "canary",
    "location",
    "baselineLocation",
    "canaryLocation",
    "lookback",
    "start",
    "end",
    "step",
    "endpoint",
    "pass",
    "marginal",
    "onMarginal",
    "token",
];

/// Flagger's webhook payload.
#[derive(Debug, Deserialize)]
pub struct FlaggerPayload {
    /// Canary name.
    pub name: String,
    /// Canary namespace.
    pub namespace: String,
    /// Canary phase.
    #[serde(default)]
    pub phase: String,
    /// Canary spec checksum.
    #[serde(default)]
    pub checksum: String,
    /// Webhook metadata, all strings.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A one-line plain-text answer.
fn text(status: StatusCode, line: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", line.replace('\n', " ")),
    )
        .into_response()
}

fn error_response(error: ApiError) -> Response {
    error.log();
    text(error.status(), format!("error: {}", error.public_message()))
}

/// Handles one webhook call; `judge_timeout` bounds the whole call.
pub async fn webhook(State(state): State<AppState>, request: Request) -> Response {
    match judge(&state, request).await {
        Ok(response) => response,
        Err(error) => error_response(error),
    }
}

async fn judge(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let deadline = Deadline::after(state.settings().judge_timeout);
    let headers = request.headers().clone();
    let body = deadline.run(read_json_body(state, request)).await??;
    let payload: FlaggerPayload = parse_body(&body)?;
    authorize(state, &headers, &payload.metadata)?;
    let meta = &payload.metadata;
    let unknown: Vec<&str> = meta
        .keys()
        .map(String::as_str)
        .filter(|k| !KNOWN_KEYS.contains(k) && !k.starts_with("param."))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_field(
            "metadata",
            format!(
                "unknown metadata key(s) {} (known: {}, param.NAME)",
                shown(&unknown.join(", ")),
                KNOWN_KEYS.join(", ")
            ),
        ));
    }
    let required = |key: &str| {
        meta.get(key)
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_field(
                    format!("metadata.{key}"),
                    format!("metadata.{key} is required"),
                )
            })
    };
    let config_name = required("config")?;
    let config = resolve_config(state, None, Some(&config_name))?;
    let params: BTreeMap<String, String> = meta
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("param.")
                .map(|name| (name.to_owned(), v.clone()))
        })
        .collect();
    let location = meta.get("location").cloned().unwrap_or_default();
    let side = |scope_key: &str, location_key: &str| -> Result<ScopeSpec, ApiError> {
        Ok(ScopeSpec {
            scope: required(scope_key)?,
            location: meta
                .get(location_key)
                .cloned()
                .unwrap_or_else(|| location.clone()),
            params: params.clone(),
        })
    };
    let scopes = ScopeSet::single(ScopePair {
        baseline: side("baseline", "baselineLocation")?,
        canary: side("canary", "canaryLocation")?,
    });
    let duration = |key: &str| -> Result<Option<Duration>, ApiError> {
        meta.get(key)
            .map(|v| {
                parse_duration(v).map_err(|e| {
                    ApiError::bad_field(format!("metadata.{key}"), format!("metadata.{key}: {e}"))
                })
            })
            .transpose()
    };
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        meta.get(key)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.to_utc())
                    .map_err(|e| {
                        ApiError::bad_field(
                            format!("metadata.{key}"),
                            format!("metadata.{key}: {e}"),
                        )
                    })
            })
            .transpose()
    };
    let number = |key: &str| -> Result<Option<f64>, ApiError> {
        meta.get(key)
            .map(|v| {
                v.trim().parse::<f64>().map_err(|e| {
                    ApiError::bad_field(format!("metadata.{key}"), format!("metadata.{key}: {e}"))
                })
            })
            .transpose()
    };
    let (start, end) = (time("start")?, time("end")?);
    let lookback = match (duration("lookback")?, start) {
        (None, None) => Some(DEFAULT_LOOKBACK),
        (lookback, _) => lookback,
    };
    let window = window(start, end, lookback, duration("step")?, state.now())?;
    let thresholds = match (number("pass")?, number("marginal")?) {
        (None, None) => None,
        (pass, marginal) => {
            let defaults = config.classifier.score_thresholds.unwrap_or_default();
            Some(ScoreThresholds {
                pass: pass.unwrap_or(defaults.pass),
                marginal: marginal.unwrap_or(defaults.marginal),
            })
        }
    };
    let marginal_as = match meta.get("onMarginal").map(String::as_str) {
        None => state.settings().flagger.marginal,
        Some("pass") => MarginalAs::Pass,
        Some("fail") => MarginalAs::Fail,
        Some(other) => {
            return Err(ApiError::bad_field(
                "metadata.onMarginal",
                format!(
                    "metadata.onMarginal: expected pass or fail, got {:?}",
                    shown(other)
                ),
            ));
        }
    };
    let job = JudgeJob::new(
        config,
        DataSource::Prometheus {
            endpoint: meta.get("endpoint").cloned(),
            scopes,
            window,
        },
        thresholds,
    )?;
    let response = judging::run(state, job, "flagger", deadline).await?;
    let passed = match response.verdict {
        Verdict::Pass => true,
        Verdict::Marginal => marginal_as == MarginalAs::Pass,
        Verdict::Fail => false,
    };
    let thresholds = response.judge_result.thresholds;
    let mut line = format!(
        "{}: score {} (pass {}, marginal {}) for {}/{} with config {:?}",
        response.verdict.as_str(),
        response.score,
        thresholds.pass,
        thresholds.marginal,
        payload.namespace,
        payload.name,
        config_name
    );
    if !passed && !response.reasons.is_empty() {
        line.push_str(": ");
        line.push_str(&response.reasons.join("; "));
    }
    let status = if passed {
        StatusCode::OK
    } else {
        StatusCode::PRECONDITION_FAILED
    };
    Ok(text(status, line))
}

fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    metadata: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let tokens = &state.settings().tokens;
    if tokens.is_empty() {
        return Ok(());
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let given = bearer.or(metadata.get("token").map(String::as_str));
    if given.is_some_and(|t| token_matches(tokens, t.trim())) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}
