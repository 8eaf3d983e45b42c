//! The judge service over HTTP: `POST {url}/judge`, with 4xx and 5xx told apart.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Judge, JudgeError, JudgeOutcome, JudgeRequest, JudgeTarget};

/// Calls the Serin judge service.
#[derive(Debug, Clone)]
pub struct HttpJudge {
    client: reqwest::Client,
    target: JudgeTarget,
    token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

impl HttpJudge {
    /// A judge for `target`, sending `token` (if any) as a bearer token.
    pub fn new(target: JudgeTarget, token: Option<String>) -> Result<Self, JudgeError> {
        let client = reqwest::Client::builder()
            .timeout(target.timeout)
            .build()
            .map_err(|error| JudgeError::Source(format!("building the HTTP client: {error}")))?;
        Ok(HttpJudge {
            client,
            target,
            token,
        })
    }

    /// The request body for `request` (the service's `POST /judge` contract).
    pub fn body(&self, request: &JudgeRequest) -> Value {
        let target = &self.target;
        let mut body = json!({
            "configName": request.config,
            "baseline": target.baseline,
            "canary": target.canary,
            "lookback": duration_text(request.lookback),
        });
        if let Some(endpoint) = &target.endpoint {
            body["endpoint"] = json!(endpoint);
        }
        if let Some(step) = target.step {
            body["step"] = json!(duration_text(step));
        }
        if let Some(thresholds) = target.thresholds {
            body["thresholds"] = json!({"pass": thresholds.pass, "marginal": thresholds.marginal});
        }
        body
    }
}

fn duration_text(duration: Duration) -> String {
    humantime::format_duration(duration)
        .to_string()
        .replace(' ', "")
}

impl Judge for HttpJudge {
    async fn judge(&self, request: &JudgeRequest) -> Result<JudgeOutcome, JudgeError> {
        let url = format!("{}/judge", self.target.url.trim_end_matches('/'));
        let mut call = self.client.post(&url).json(&self.body(request));
        if let Some(token) = &self.token {
            call = call.bearer_auth(token);
        }
        let response = call
            .send()
            .await
            .map_err(|error| JudgeError::Source(format!("{url}: {}", error_chain(&error))))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| JudgeError::Source(format!("{url}: reading the answer: {error}")))?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|error| {
                JudgeError::Source(format!("{url}: answer is not a verdict: {error}"))
            });
        }
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|body| body.error)
            .unwrap_or_else(|_| text.chars().take(200).collect());
        if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(JudgeError::Rejected {
                status: status.as_u16(),
                message,
            })
        } else {
            Err(JudgeError::Source(format!("{url}: {status}: {message}")))
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
