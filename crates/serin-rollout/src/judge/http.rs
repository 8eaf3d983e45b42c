//! The judge service over HTTP: `POST {url}/judge`, with 4xx and 5xx told apart.
//!
//! Redirects are never followed (a 3xx is a source error, never a verdict: a verdict counts
//! only from the URL the plan names), and an answer is read up to [`MAX_ANSWER_BYTES`].

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Judge, JudgeError, JudgeOutcome, JudgeRequest, JudgeTarget, RequestWindow};

/// The largest answer read from the judge (1 MiB); a longer one is a source error.
/// A verdict with Kayenta's `judgeResult` for a few dozen metrics is tens of kilobytes.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// How much of an error message or a redirect target is quoted in an error.
const QUOTED_CHARS: usize = 200;

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
            .redirect(reqwest::redirect::Policy::none())
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
        });
        match request.window {
            RequestWindow::Lookback(lookback) => body["lookback"] = json!(duration_text(lookback)),
            RequestWindow::Since { start, end } => {
                body["start"] = json!(start.rfc3339());
                body["end"] = json!(end.rfc3339());
            }
        }
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
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|value| quoted(&String::from_utf8_lossy(value.as_bytes())))
                .unwrap_or_else(|| "nowhere".to_owned());
            return Err(JudgeError::Source(format!(
                "{url}: {status} redirect to {location:?} not followed (judge.url must name the judge service itself)"
            )));
        }
        let body = read_capped(response, &url).await?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|error| {
                JudgeError::Source(format!("{url}: answer is not a verdict: {error}"))
            });
        }
        let text = String::from_utf8_lossy(&body);
        let message = quoted(
            &serde_json::from_str::<ErrorBody>(&text)
                .map(|body| body.error)
                .unwrap_or_else(|_| text.into_owned()),
        );
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

/// The answer's body, refused past [`MAX_ANSWER_BYTES`] (before reading it when its length is
/// announced, else as soon as it grows past it).
async fn read_capped(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, JudgeError> {
    let too_large = || {
        JudgeError::Source(format!(
            "{url}: the answer is larger than {} KiB",
            MAX_ANSWER_BYTES / 1024
        ))
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| JudgeError::Source(format!("{url}: reading the answer: {error}")))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// At most [`QUOTED_CHARS`] characters of `text`.
fn quoted(text: &str) -> String {
    text.chars().take(QUOTED_CHARS).collect()
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
