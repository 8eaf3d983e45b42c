//! The body of `POST /judge`, parsed with JSON paths in errors and turned into a
//! [`JudgeJob`].
//!
//! ```json
//! {
//!   "configName": "checkout",            // or "config": { inline Kayenta canary config }
//!   "endpoint": "default",               // optional: a configured Prometheus endpoint
//!   "baseline": {"scope": "checkout-v1", "location": "eu-west-1", "params": {}},
//!   "canary":   {"scope": "checkout-v2", "location": "eu-west-1", "params": {}},
//!   "lookback": "10m",                   // or "start"/"end" (RFC 3339)
//!   "step": "30s",
//!   "thresholds": {"pass": 95, "marginal": 75},
//!   "data": {"latency": {"baseline": [..], "canary": [..]}}   // instead of a source
//! }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serin_core::CanaryConfig;
use serin_core::config::ScoreThresholds;
use serin_sources::{
    InlineData, ScopePair, ScopeSet, ScopeSpec, Window, WindowError, parse_duration,
};

use crate::AppState;
use crate::error::{ApiError, shown};
use crate::judging::{DataSource, JudgeJob};

/// Default step when a request gives none.
pub const DEFAULT_STEP: Duration = Duration::from_secs(30);

/// `POST /judge` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JudgeRequest {
    /// Inline Kayenta canary config.
    #[serde(default)]
    pub config: Option<Value>,
    /// Name (or id) of a config in the service's configs directory.
    #[serde(default, alias = "configId")]
    pub config_name: Option<String>,
    /// Prometheus endpoint name.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Baseline scope.
    #[serde(default, alias = "control")]
    pub baseline: Option<ScopeSpec>,
    /// Canary scope.
    #[serde(default, alias = "experiment")]
    pub canary: Option<ScopeSpec>,
    /// Several named scope pairs (Kayenta's `scopeName`), instead of baseline/canary.
    #[serde(default)]
    pub scopes: Option<BTreeMap<String, ScopePair>>,
    /// Window start.
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// Window end.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    /// Window length before now (or before `end`).
    #[serde(default, deserialize_with = "optional_duration")]
    pub lookback: Option<Duration>,
    /// Resolution.
    #[serde(default, deserialize_with = "optional_duration")]
    pub step: Option<Duration>,
    /// Score thresholds.
    #[serde(default)]
    pub thresholds: Option<ScoreThresholds>,
    /// Inline series instead of a metric source.
    #[serde(default)]
    pub data: Option<InlineData>,
}

/// Refuses (415) a body whose `Content-Type` is not JSON: `application/json` or any
/// `application/*+json`, parameters such as `charset` allowed.
///
/// A request without `Content-Type` is accepted as JSON: curl's `--data` users and
/// minimal clients omit it, and refusing them would gain nothing (the body must still
/// parse as JSON). Argo Rollouts (as documented) and Flagger send `application/json`.
pub fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(shown(&text)))
    }
}

/// Reads the JSON body of `request` (415 for a non-JSON content type, 413 over the
/// configured limit).
pub async fn read_json_body(state: &AppState, request: Request) -> Result<Bytes, ApiError> {
    check_json_content_type(request.headers())?;
    Bytes::from_request(request, state)
        .await
        .map_err(|r| ApiError::from_body(r, state.settings().body_limit_bytes))
}

/// Parses a JSON body, naming the path of the first bad field.
///
/// The fast path parses without tracking paths (tracking costs as much as the
/// parse itself on large inline data); only a body that fails is parsed again
/// with tracking, to name the field.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = format!("invalid request body: {inner}");
        if path.is_empty() || path == "." || path == "?" {
            ApiError::bad(message)
        } else {
            ApiError::bad_field(path.clone(), format!("{path}: {inner}"))
        }
    })
}

fn optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Number(f64),
        Text(String),
    }
    match Option::<Text>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Text::Number(seconds)) => parse_duration(&seconds.to_string())
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(Text::Text(text)) => parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// The window of a request: `start`+`end`, or `lookback` before `end` (default: now).
pub fn window(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    lookback: Option<Duration>,
    step: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<Window, ApiError> {
    let step = step.unwrap_or(DEFAULT_STEP);
    let result = match (start, end, lookback) {
        (Some(start), Some(end), None) => Window::new(start, end, step).map_err(|e| (e, "end")),
        (None, end, Some(lookback)) => {
            Window::lookback(end.unwrap_or(now), lookback, step).map_err(|e| (e, "lookback"))
        }
        (Some(_), _, Some(_)) => {
            return Err(ApiError::bad_field(
                "lookback",
                "give either start/end or lookback, not both",
            ));
        }
        (Some(_), None, None) => {
            return Err(ApiError::bad_field(
                "end",
                "start needs an end (or use lookback)",
            ));
        }
        (None, _, None) => {
            return Err(ApiError::bad_field(
                "lookback",
                "a window is required: start and end, or lookback",
            ));
        }
    };
    // Each error names the field to change: the step for too many points or a zero
    // step, else the bound (`end`, or `lookback`) that made the window unusable.
    result.map_err(|(error, bound)| {
        let field = match error {
            WindowError::ZeroStep | WindowError::TooManyPoints { .. } => "step",
            _ => bound,
        };
        ApiError::bad_field(field, error.to_string())
    })
}

/// Resolves an inline config or a configured one.
pub fn resolve_config(
    state: &AppState,
    inline: Option<Value>,
    name: Option<&str>,
) -> Result<Arc<CanaryConfig>, ApiError> {
    match (inline, name) {
        (Some(_), Some(_)) => Err(ApiError::bad_field(
            "configName",
            "give either config or configName, not both",
        )),
        (Some(value), None) => CanaryConfig::from_value(value)
            .map(Arc::new)
            .map_err(|e| ApiError::bad_field("config", format!("config.{e}"))),
        (None, Some(name)) => state
            .shared
            .configs
            .find(name)
            .map(|stored| Arc::clone(&stored.config))
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "unknown canary config {:?} (served: {})",
                    shown(name),
                    state.shared.configs.known()
                ))
            }),
        (None, None) => Err(ApiError::bad_field(
            "configName",
            "a canary config is required: config or configName",
        )),
    }
}

impl JudgeRequest {
    /// Validates the request into a job.
    pub fn into_job(self, state: &AppState) -> Result<JudgeJob, ApiError> {
        let config = resolve_config(state, self.config, self.config_name.as_deref())?;
        let data = match self.data {
            Some(inline) => {
                if self.baseline.is_some()
                    || self.canary.is_some()
                    || self.scopes.is_some()
                    || self.endpoint.is_some()
                {
                    return Err(ApiError::bad_field(
                        "data",
                        "inline data replaces the metric source: drop endpoint and scopes",
                    ));
                }
                DataSource::Inline(
                    inline
                        .into_metric_set()
                        .map_err(|e| ApiError::bad_field("data", e.to_string()))?,
                )
            }
            None => {
                let scopes = match (self.scopes, self.baseline, self.canary) {
                    (Some(pairs), None, None) if !pairs.is_empty() => ScopeSet { pairs },
                    (None, Some(baseline), Some(canary)) => {
                        ScopeSet::single(ScopePair { baseline, canary })
                    }
                    (None, None, Some(_)) => {
                        return Err(ApiError::bad_field(
                            "baseline",
                            "baseline scope is required",
                        ));
                    }
                    (None, Some(_), None) => {
                        return Err(ApiError::bad_field("canary", "canary scope is required"));
                    }
                    (None, None, None) => {
                        return Err(ApiError::bad_field(
                            "data",
                            "give inline data, or baseline and canary scopes to query",
                        ));
                    }
                    _ => {
                        return Err(ApiError::bad_field(
                            "scopes",
                            "give either scopes or baseline/canary, not both",
                        ));
                    }
                };
                let window = window(self.start, self.end, self.lookback, self.step, state.now())?;
                DataSource::Prometheus {
                    endpoint: self.endpoint,
                    scopes,
                    window,
                }
            }
        };
        JudgeJob::new(config, data, self.thresholds)
    }
}
