//! Prometheus `query_range` over HTTP: one client per configured endpoint, and the
//! concurrent fetch of every metric of a judgement for both scopes.
//!
//! - Requests are `POST /api/v1/query_range` with a form body (no URL length limit),
//!   each with its own timeout.
//! - Retries with exponential backoff happen only where a retry can help: HTTP 5xx,
//!   timeouts and failed connections. A 4xx (a bad query) or a malformed answer is
//!   returned at once.
//! - A query matching several series pools all their points into one sample, in
//!   series order then time order (Kayenta would judge each series as its own metric
//!   set; Serin judges the metric as a whole, which is what one metric name means to
//!   a user). `NaN` and `±Inf` points become NaN and go through the metric's NaN
//!   strategy. No series at all is no data: an empty sample, judged Nodata.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};
use serin_core::{CanaryConfig, MetricPair, MetricSet, Scope};
use thiserror::Error;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use crate::promql::{QueryError, ScopeSpec, render_query};
use crate::window::Window;

/// How a client authenticates to Prometheus.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: String,
    },
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets never reach logs.
        match self {
            Self::Bearer { .. } => f.write_str("Bearer(***)"),
            Self::Basic { username, .. } => write!(f, "Basic({username}:***)"),
        }
    }
}

/// One named Prometheus endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// The name requests use to pick it.
    pub name: String,
    /// Base URL, e.g. `http://prometheus:9090` (the API path is appended).
    pub url: String,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Retries after the first attempt (5xx, timeouts, connection failures only).
    pub retries: u32,
    /// Delay before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Queries in flight at once against this endpoint, over all judgements.
    pub max_concurrent_queries: usize,
    /// Credentials, if the endpoint needs them.
    pub auth: Option<Auth>,
}

impl EndpointConfig {
    /// An endpoint with Serin's defaults: 10 s timeout, 2 retries from 200 ms, 8
    /// queries at once, no auth.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            timeout: Duration::from_secs(10),
            retries: 2,
            backoff: Duration::from_millis(200),
            max_concurrent_queries: 8,
            auth: None,
        }
    }
}

/// Why metrics could not be fetched. Each message names the endpoint and the query.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The request names an endpoint that is not configured.
    #[error("unknown Prometheus endpoint {name:?} (configured: {known})")]
    UnknownEndpoint {
        /// Name asked for.
        name: String,
        /// Configured names.
        known: String,
    },
    /// A metric's query could not be rendered (a config problem).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A metric asks for a scope the request does not give.
    #[error(
        "metric {metric:?} uses scope {scope:?}, which the request does not define (given: {given})"
    )]
    MissingScope {
        /// Metric name.
        metric: String,
        /// Scope name.
        scope: String,
        /// Scope names given.
        given: String,
    },
    /// The endpoint could not be reached.
    #[error("Prometheus endpoint {endpoint:?} ({url}) unreachable for query {query:?}: {source}")]
    Unreachable {
        /// Endpoint name.
        endpoint: String,
        /// Endpoint URL.
        url: String,
        /// The PromQL.
        query: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// No answer within the timeout.
    #[error("Prometheus endpoint {endpoint:?} did not answer query {query:?} within {timeout:?}")]
    Timeout {
        /// Endpoint name.
        endpoint: String,
        /// The PromQL.
        query: String,
        /// The timeout.
        timeout: Duration,
    },
    /// HTTP 4xx: the query (or the request) is wrong; retrying will not help.
    #[error(
        "Prometheus endpoint {endpoint:?} rejected query {query:?} with HTTP {status}: {message}"
    )]
    BadQuery {
        /// Endpoint name.
        endpoint: String,
        /// The PromQL.
        query: String,
        /// HTTP status.
        status: u16,
        /// Prometheus' error text.
        message: String,
    },
    /// HTTP 5xx: Prometheus failed.
    #[error(
        "Prometheus endpoint {endpoint:?} failed query {query:?} with HTTP {status}: {message}"
    )]
    Server {
        /// Endpoint name.
        endpoint: String,
        /// The PromQL.
        query: String,
        /// HTTP status.
        status: u16,
        /// Prometheus' error text.
        message: String,
    },
    /// An answer that is not a Prometheus matrix.
    #[error(
        "Prometheus endpoint {endpoint:?} answered query {query:?} with something that is not a range result: {message}"
    )]
    Malformed {
        /// Endpoint name.
        endpoint: String,
        /// The PromQL.
        query: String,
        /// What is wrong.
        message: String,
    },
    /// The HTTP client could not be built (e.g. a bad URL).
    #[error("Prometheus endpoint {endpoint:?}: {message}")]
    Setup {
        /// Endpoint name.
        endpoint: String,
        /// What is wrong.
        message: String,
    },
}

impl SourceError {
    /// A short label for metrics and logs: `unreachable`, `timeout`, `bad_query`,
    /// `server`, `malformed`, `config`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::BadQuery { .. } => "bad_query",
            Self::Server { .. } => "server",
            Self::Malformed { .. } => "malformed",
            Self::UnknownEndpoint { .. }
            | Self::Query(_)
            | Self::MissingScope { .. }
            | Self::Setup { .. } => "config",
        }
    }

    /// True when the request itself is wrong (unknown endpoint, bad template,
    /// missing scope, a query Prometheus rejects); false for infrastructure failures.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::UnknownEndpoint { .. }
                | Self::Query(_)
                | Self::MissingScope { .. }
                | Self::BadQuery { .. }
        )
    }

    fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::Server { .. }
        )
    }
}

/// The points of one query.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeResult {
    /// Series the query matched (pooled into `values`).
    pub series: usize,
    /// All points, NaN for `NaN`/`±Inf`.
    pub values: Vec<f64>,
}

/// A client for one Prometheus endpoint.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    endpoint: Arc<EndpointConfig>,
    query_url: String,
    permits: Arc<Semaphore>,
}

impl PrometheusClient {
    /// A client for `endpoint`.
    pub fn new(endpoint: EndpointConfig) -> Result<Self, SourceError> {
        let setup = |message: String| SourceError::Setup {
            endpoint: endpoint.name.clone(),
            message,
        };
        let base = reqwest::Url::parse(&endpoint.url)
            .map_err(|e| setup(format!("invalid url {:?}: {e}", endpoint.url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(setup(format!(
                "url {:?} must be http or https",
                endpoint.url
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.timeout)
            .build()
            .map_err(|e| setup(e.to_string()))?;
        let query_url = format!("{}/api/v1/query_range", endpoint.url.trim_end_matches('/'));
        let permits = Arc::new(Semaphore::new(endpoint.max_concurrent_queries.max(1)));
        Ok(Self {
            http,
            endpoint: Arc::new(endpoint),
            query_url,
            permits,
        })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &EndpointConfig {
        &self.endpoint
    }

    /// Runs `query` over `window`, retrying transient failures.
    pub async fn query_range(
        &self,
        query: &str,
        window: &Window,
    ) -> Result<RangeResult, SourceError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut delay = self.endpoint.backoff;
        let mut attempt = 0;
        loop {
            match self.query_once(query, window).await {
                Err(error) if error.is_retryable() && attempt < self.endpoint.retries => {
                    attempt += 1;
                    warn!(endpoint = %self.endpoint.name, %error, attempt, "retrying Prometheus query");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
                other => return other,
            }
        }
    }

    async fn query_once(&self, query: &str, window: &Window) -> Result<RangeResult, SourceError> {
        let endpoint = &self.endpoint;
        let form = [
            ("query", query.to_owned()),
            ("start", unix_seconds(window.start())),
            ("end", unix_seconds(window.end())),
            ("step", format!("{}", window.step().as_secs_f64())),
        ];
        let mut request = self.http.post(&self.query_url).form(&form);
        request = match &endpoint.auth {
            Some(Auth::Bearer { token }) => request.bearer_auth(token),
            Some(Auth::Basic { username, password }) => {
                request.basic_auth(username, Some(password))
            }
            None => request,
        };
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                SourceError::Timeout {
                    endpoint: endpoint.name.clone(),
                    query: query.to_owned(),
                    timeout: endpoint.timeout,
                }
            } else {
                SourceError::Unreachable {
                    endpoint: endpoint.name.clone(),
                    url: endpoint.url.clone(),
                    query: query.to_owned(),
                    source,
                }
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        debug!(endpoint = %endpoint.name, %query, status = status.as_u16(), bytes = body.len(), "query_range");
        let parsed: Result<ApiResponse, _> = serde_json::from_slice(&body);
        if !status.is_success() {
            let message = match &parsed {
                Ok(api) => format!(
                    "{}: {}",
                    api.error_type.as_deref().unwrap_or("error"),
                    api.error.as_deref().unwrap_or("")
                ),
                Err(_) => String::from_utf8_lossy(&body[..body.len().min(512)])
                    .trim()
                    .to_owned(),
            };
            let (endpoint, query, status) =
                (endpoint.name.clone(), query.to_owned(), status.as_u16());
            return Err(if (400..500).contains(&status) {
                SourceError::BadQuery {
                    endpoint,
                    query,
                    status,
                    message,
                }
            } else {
                SourceError::Server {
                    endpoint,
                    query,
                    status,
                    message,
                }
            });
        }
        let malformed = |message: String| SourceError::Malformed {
            endpoint: endpoint.name.clone(),
            query: query.to_owned(),
            message,
        };
        let api = parsed.map_err(|e| malformed(e.to_string()))?;
        if api.status != "success" {
            return Err(malformed(format!(
                "status {:?}: {}",
                api.status,
                api.error.unwrap_or_default()
            )));
        }
        let data = api.data.ok_or_else(|| malformed("no data".into()))?;
        if data.result_type != "matrix" {
            return Err(malformed(format!(
                "resultType {:?}, expected matrix",
                data.result_type
            )));
        }
        let series = data.result.len();
        let mut values = Vec::with_capacity(data.result.iter().map(|s| s.values.len()).sum());
        for one in data.result {
            for point in one.values {
                values.push(parse_sample(&point.1).ok_or_else(|| {
                    malformed(format!("sample value {:?} is not a number", point.1))
                })?);
            }
        }
        Ok(RangeResult { series, values })
    }
}

fn unix_seconds(time: chrono::DateTime<chrono::Utc>) -> String {
    let millis = time.timestamp_millis();
    format!("{}.{:03}", millis.div_euclid(1000), millis.rem_euclid(1000))
}

/// A Prometheus sample value: a number, `NaN` or `±Inf` (both of which become NaN).
fn parse_sample(text: &str) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    Some(if value.is_finite() { value } else { f64::NAN })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiData {
    result_type: String,
    #[serde(default)]
    result: Vec<ApiSeries>,
}

#[derive(Deserialize)]
struct ApiSeries {
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// The baseline and canary scopes of one Kayenta scope name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScopePair {
    /// Baseline (Kayenta's control).
    pub baseline: ScopeSpec,
    /// Canary (Kayenta's experiment).
    pub canary: ScopeSpec,
}

/// Scopes by Kayenta scope name; a metric picks its pair by `scopeName` (default
/// `default`), and a set with a single pair serves every metric.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    /// Pairs by name.
    pub pairs: BTreeMap<String, ScopePair>,
}

impl ScopeSet {
    /// A set holding one pair, used for every metric.
    pub fn single(pair: ScopePair) -> Self {
        Self {
            pairs: BTreeMap::from([("default".to_owned(), pair)]),
        }
    }

    fn for_metric(
        &self,
        metric: &str,
        scope_name: Option<&str>,
    ) -> Result<&ScopePair, SourceError> {
        if self.pairs.len() == 1 {
            return Ok(self.pairs.values().next().expect("one pair"));
        }
        let name = scope_name.unwrap_or("default");
        self.pairs
            .get(name)
            .ok_or_else(|| SourceError::MissingScope {
                metric: metric.to_owned(),
                scope: name.to_owned(),
                given: self.pairs.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
}

/// What was asked of Prometheus for one metric and scope (reported with the verdict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchedQuery {
    /// Metric name.
    pub metric: String,
    /// `baseline` or `canary`.
    pub scope: String,
    /// The PromQL sent.
    pub query: String,
    /// Series matched.
    pub series: usize,
    /// Points received (including NaN).
    pub points: usize,
}

/// The metric set of a judgement and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedMetrics {
    /// Baseline and canary series of every metric of the config.
    pub data: MetricSet,
    /// One entry per query, in config order (baseline then canary).
    pub queries: Vec<FetchedQuery>,
}

/// Fetches every metric of `config` for both scopes, concurrently (bounded by the
/// endpoint's `max_concurrent_queries`). The first failure cancels the rest and is
/// returned: a judgement never runs on partial data.
pub async fn fetch_metrics(
    client: &PrometheusClient,
    config: &CanaryConfig,
    scopes: &ScopeSet,
    window: &Window,
) -> Result<FetchedMetrics, SourceError> {
    let mut planned = Vec::with_capacity(config.metrics.len() * 2);
    for metric in &config.metrics {
        let pair = scopes.for_metric(&metric.name, metric.scope_name.as_deref())?;
        for (scope, spec) in [
            (Scope::Baseline, &pair.baseline),
            (Scope::Canary, &pair.canary),
        ] {
            planned.push((
                metric.name.as_str(),
                scope,
                render_query(config, metric, spec)?,
            ));
        }
    }
    let results = try_join_all(
        planned
            .iter()
            .map(|(_, _, query)| client.query_range(query, window)),
    )
    .await?;
    let mut pairs: BTreeMap<&str, MetricPair> = BTreeMap::new();
    let mut queries = Vec::with_capacity(planned.len());
    for ((metric, scope, query), result) in planned.into_iter().zip(results) {
        queries.push(FetchedQuery {
            metric: metric.to_owned(),
            scope: scope_label(scope).to_owned(),
            query,
            series: result.series,
            points: result.values.len(),
        });
        pairs
            .entry(metric)
            .or_default()
            .scope_mut(scope)
            .extend(result.values);
    }
    let mut data = MetricSet::default();
    for (metric, pair) in pairs {
        data.insert(metric, pair);
    }
    Ok(FetchedMetrics { data, queries })
}

fn scope_label(scope: Scope) -> &'static str {
    match scope {
        Scope::Baseline => "baseline",
        Scope::Canary => "canary",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_values_follow_prometheus_text() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1.5", Some(1.5)),
            ("-2e3", Some(-2000.0)),
            ("0", Some(0.0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_sample(text), *want, "{text}");
        }
        for text in ["NaN", "+Inf", "-Inf", "Inf"] {
            assert!(parse_sample(text).is_some_and(f64::is_nan), "{text}");
        }
        assert_eq!(parse_sample("one"), None);
    }

    #[test]
    fn timestamps_are_unix_seconds_with_millis() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00.250Z")
            .unwrap()
            .to_utc();
        assert_eq!(unix_seconds(t), "1795428000.250");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let auth = Auth::Basic {
            username: "serin".into(),
            password: "hunter2".into(),
        };
        assert_eq!(format!("{auth:?}"), "Basic(serin:***)");
        assert!(
            !format!(
                "{:?}",
                Auth::Bearer {
                    token: "t0k".into()
                }
            )
            .contains("t0k")
        );
    }
}
