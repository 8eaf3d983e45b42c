//! What each client concludes from Serin's answers, modelled on the clients' source:
//!
//! - Argo Rollouts' web provider: a non-2xx status or unparsable JSON is an Error;
//!   otherwise the `jsonPath` value is tested by `successCondition` and
//!   `failureCondition` with Argo's rules (failure wins; with both set and neither
//!   true, Inconclusive; with only one set, the other is its negation).
//! - Argo Rollouts' `kayenta` provider: three calls (list configs, start, poll); any
//!   non-200 or a missing `complete` or score is an Error; the integer part of the
//!   score is compared with the thresholds: >= pass Successful, >= marginal
//!   Inconclusive, else Failed.
//! - Flagger: a status above 202 is a failed check whose message is the body.

use std::time::Duration;

use serde_json::Value;

/// An Argo Rollouts measurement phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgoPhase {
    /// Successful.
    Successful,
    /// Failed.
    Failed,
    /// Inconclusive.
    Inconclusive,
    /// Error (with the reason Argo would record).
    Error(String),
}

/// Evaluates an Argo condition of the form `result OP literal` (`==`, `!=`, `>=`,
/// `>`, `<=`, `<`; literal a quoted string or a number), the forms the docs use.
fn condition(expression: &str, result: &Value) -> bool {
    for op in ["==", "!=", ">=", "<=", ">", "<"] {
        if let Some((left, right)) = expression.split_once(op) {
            assert_eq!(
                left.trim(),
                "result",
                "unsupported condition {expression:?}"
            );
            let right = right.trim();
            if let Some(text) = right.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                let equal = result.as_str() == Some(text);
                return match op {
                    "==" => equal,
                    "!=" => !equal,
                    _ => panic!("string comparison {op} in {expression:?}"),
                };
            }
            let literal: f64 = right.parse().unwrap();
            let value = result.as_f64().expect("a number to compare");
            return match op {
                "==" => value == literal,
                "!=" => value != literal,
                ">=" => value >= literal,
                "<=" => value <= literal,
                ">" => value > literal,
                _ => value < literal,
            };
        }
    }
    panic!("unsupported condition {expression:?}");
}

/// Argo's JSONPath subset used here: `{$.a.b}`.
fn json_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let inner = path
        .trim()
        .strip_prefix("{$")
        .and_then(|p| p.strip_suffix('}'))?;
    inner
        .split('.')
        .filter(|s| !s.is_empty())
        .try_fold(value, |v, key| v.get(key))
}

/// The phase Argo's web provider records.
pub fn argo_web(
    status: u16,
    body: &str,
    json_path_expr: &str,
    success: Option<&str>,
    failure: Option<&str>,
) -> ArgoPhase {
    if !(200..300).contains(&status) {
        return ArgoPhase::Error(format!("received non 2xx response code: {status}"));
    }
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return ArgoPhase::Error("could not parse JSON body".into());
    };
    let Some(result) = json_path(&json, json_path_expr) else {
        return ArgoPhase::Error(format!("{json_path_expr} not found"));
    };
    let mut succeeded = success.map(|c| condition(c, result)).unwrap_or(false);
    let mut failed = failure.map(|c| condition(c, result)).unwrap_or(false);
    match (success, failure) {
        (None, None) => return ArgoPhase::Successful,
        (Some(_), None) => failed = !succeeded,
        (None, Some(_)) => succeeded = !failed,
        (Some(_), Some(_)) => {}
    }
    if failed {
        ArgoPhase::Failed
    } else if !succeeded {
        ArgoPhase::Inconclusive
    } else {
        ArgoPhase::Successful
    }
}

/// Argo's `kayenta` provider settings, as in an AnalysisTemplate.
#[derive(Debug, Clone)]
pub struct KayentaProvider {
    /// `address`.
    pub address: String,
    /// `application`.
    pub application: String,
    /// `canaryConfigName`.
    pub canary_config_name: String,
    /// `metricsAccountName`.
    pub metrics_account_name: String,
    /// `configurationAccountName`.
    pub configuration_account_name: String,
    /// `storageAccountName`.
    pub storage_account_name: String,
    /// `threshold.pass`.
    pub pass: i64,
    /// `threshold.marginal`.
    pub marginal: i64,
    /// `scopes`, as Argo marshals them: `{"name": {"controlScope": …, "experimentScope": …}}` entries.
    pub scopes: Vec<(String, Value, Value)>,
}

/// Every request Argo's kayenta provider made, in order, and the phase it recorded.
#[derive(Debug)]
pub struct KayentaRun {
    /// `METHOD path?query` of each request.
    pub requests: Vec<String>,
    /// The outcome.
    pub phase: ArgoPhase,
}

/// A run that ended in an Error measurement.
fn errored(requests: Vec<String>, reason: &str) -> KayentaRun {
    KayentaRun {
        requests,
        phase: ArgoPhase::Error(reason.to_owned()),
    }
}

/// Runs Argo's kayenta provider against `provider.address`: the config lookup, the
/// execution start, then polls until complete (Argo waits 15 s between polls; the
/// model waits 50 ms).
pub async fn argo_kayenta(client: &reqwest::Client, provider: &KayentaProvider) -> KayentaRun {
    let mut requests = Vec::new();
    let address = provider.address.trim_end_matches('/');
    let lookup = format!(
        "{address}/canaryConfig?application={}&configurationAccountName={}",
        provider.application, provider.storage_account_name
    );
    requests.push(format!("GET {}", lookup.trim_start_matches(address)));
    let response = client.get(&lookup).send().await.unwrap();
    if response.status() != 200 {
        return errored(requests, "Invalid Response");
    }
    let configs: Vec<Value> = match response.json().await {
        Ok(configs) => configs,
        Err(e) => {
            return errored(requests, &e.to_string());
        }
    };
    let config_id = configs
        .iter()
        .find(|c| c["name"] == provider.canary_config_name.as_str())
        .and_then(|c| c["id"].as_str())
        .unwrap_or("")
        .to_owned();
    let job = format!(
        "{address}/canary/{config_id}?application={}&metricsAccountName={}&configurationAccountName={}&storageAccountName={}",
        provider.application,
        provider.metrics_account_name,
        provider.configuration_account_name,
        provider.storage_account_name
    );
    let scopes: Vec<String> = provider
        .scopes
        .iter()
        .map(|(name, control, experiment)| {
            format!("\"{name}\":{{\"controlScope\": {control}, \"experimentScope\": {experiment}}}")
        })
        .collect();
    let payload = format!(
        "{{\"scopes\": {{{}}}, \"thresholds\" : {{\"pass\": {}, \"marginal\": {}}}}}",
        scopes.join(","),
        provider.pass,
        provider.marginal
    );
    requests.push(format!("POST {}", job.trim_start_matches(address)));
    let response = client
        .post(&job)
        .header("Content-Type", "application/json")
        .body(payload)
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return errored(requests, "Invalid Response");
    }
    let started: Value = response.json().await.unwrap();
    let execution_id = match &started["canaryExecutionId"] {
        Value::String(id) if !id.is_empty() => id.clone(),
        _ => {
            return errored(requests, "Invalid canaryExecutionId");
        }
    };
    for _ in 0..600 {
        requests.push(format!("GET /canary/{execution_id}"));
        let response = client
            .get(format!("{address}/canary/{execution_id}"))
            .send()
            .await
            .unwrap();
        if response.status() != 200 {
            return errored(requests, "Invalid Response");
        }
        let body: Value = response.json().await.unwrap();
        match body.get("complete").and_then(Value::as_bool) {
            None => {
                return errored(requests, "Missing Complete Status");
            }
            Some(false) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Some(true) => {}
        }
        let Some(score) = body
            .pointer("/result/judgeResult/score/score")
            .and_then(Value::as_f64)
        else {
            return errored(requests, "Missing Score");
        };
        let score = score as i64;
        let phase = if score >= provider.pass {
            ArgoPhase::Successful
        } else if score >= provider.marginal {
            ArgoPhase::Inconclusive
        } else {
            ArgoPhase::Failed
        };
        return KayentaRun { requests, phase };
    }
    panic!("execution {execution_id} never completed");
}

/// What Flagger concludes from a webhook answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlaggerCheck {
    /// The check passed.
    Passed,
    /// A failed check, with Flagger's message (the body).
    Failed(String),
}

/// Flagger's rule: any status above 202 fails the check.
pub fn flagger(status: u16, body: &str) -> FlaggerCheck {
    if status > 202 {
        FlaggerCheck::Failed(body.to_owned())
    } else {
        FlaggerCheck::Passed
    }
}
