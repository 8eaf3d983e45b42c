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
//! - The API path is joined to the endpoint's URL as path segments (its query string,
//!   if any, stays a query string). Errors name the endpoint by its name only, never
//!   its URL; logs show the URL without user info or query string ([`redact_url`]).
//! - One judgement fetches at most [`MAX_METRICS_PER_FETCH`] metrics (two queries
//!   each), so one request cannot fan out into thousands of queries.

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

use crate::error_chain;
use crate::promql::{QueryError, ScopeSpec, render_query, shown};
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

/// Metrics one judgement may fetch (each is one query per scope).
pub const MAX_METRICS_PER_FETCH: usize = 200;

/// One named Prometheus endpoint.
#[derive(Clone, PartialEq, Eq)]
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

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry credentials: only its redacted form reaches logs.
        f.debug_struct("EndpointConfig")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("max_concurrent_queries", &self.max_concurrent_queries)
            .field("auth", &self.auth)
            .finish()
    }
}

/// `url` without user info, query string or fragment, for logs: e.g.
/// `http://admin:pw@prom:9090/api?token=x` is `http://prom:9090/api`. A URL that does
/// not parse is shown as `<invalid url>`, as it cannot be redacted reliably.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => redacted(&parsed),
        Err(_) => "<invalid url>".to_owned(),
    }
}

fn redacted(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    // Both fail only for URLs that cannot have credentials (e.g. `data:`).
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// The `query_range` URL of an endpoint: its path plus `api/v1/query_range`, with
/// its user info and query string kept where they belong.
fn query_range_url(base: &reqwest::Url) -> Option<reqwest::Url> {
    let mut url = base.clone();
    url.set_fragment(None);
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(["api", "v1", "query_range"]);
    Some(url)
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
    /// The endpoint could not be reached. The message names the endpoint, not its
    /// URL, which may hold credentials.
    #[error("Prometheus endpoint {endpoint:?} unreachable for query {query:?}: {reason}")]
    Unreachable {
        /// Endpoint name.
        endpoint: String,
        /// The PromQL.
        query: String,
        /// The transport error and its causes, without the URL.
        reason: String,
        /// The transport error, its URL removed.
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
    /// The config has more metrics than one judgement may fetch.
    #[error(
        "config {config:?} has {metrics} metrics; a judgement fetches at most {limit} from Prometheus ({} queries)",
        2 * limit
    )]
    TooManyMetrics {
        /// Config name.
        config: String,
        /// Metrics in the config.
        metrics: usize,
        /// [`MAX_METRICS_PER_FETCH`].
        limit: usize,
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
            | Self::TooManyMetrics { .. }
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
                | Self::TooManyMetrics { .. }
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
    /// The timestamp of each point, in milliseconds since the epoch.
    pub times: Vec<i64>,
}

/// A client for one Prometheus endpoint.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    endpoint: Arc<EndpointConfig>,
    query_url: reqwest::Url,
    /// The endpoint's URL as logs show it.
    shown_url: String,
    permits: Arc<Semaphore>,
}

impl PrometheusClient {
    /// A client for `endpoint`.
    pub fn new(endpoint: EndpointConfig) -> Result<Self, SourceError> {
        let setup = |message: String| SourceError::Setup {
            endpoint: endpoint.name.clone(),
            message,
        };
        // The URL is not repeated: it may hold credentials.
        let base =
            reqwest::Url::parse(&endpoint.url).map_err(|e| setup(format!("invalid url: {e}")))?;
        let shown_url = redacted(&base);
        if !matches!(base.scheme(), "http" | "https") {
            return Err(setup(format!("url {shown_url:?} must be http or https")));
        }
        let query_url = query_range_url(&base)
            .ok_or_else(|| setup(format!("url {shown_url:?} cannot take a path")))?;
        let http = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.timeout)
            .build()
            .map_err(|e| setup(error_chain(&e.without_url())))?;
        let permits = Arc::new(Semaphore::new(endpoint.max_concurrent_queries.max(1)));
        Ok(Self {
            http,
            endpoint: Arc::new(endpoint),
            query_url,
            shown_url,
            permits,
        })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &EndpointConfig {
        &self.endpoint
    }

    /// The endpoint's URL without user info or query string, as logs show it.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
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
                    warn!(endpoint = %self.endpoint.name, url = %self.shown_url, %error, attempt, "retrying Prometheus query");
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
        let mut request = self.http.post(self.query_url.clone()).form(&form);
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
                // reqwest's message names the URL, credentials and all: strip it.
                let source = source.without_url();
                SourceError::Unreachable {
                    endpoint: endpoint.name.clone(),
                    query: query.to_owned(),
                    reason: error_chain(&source),
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
        let points = data.result.iter().map(|s| s.values.len()).sum();
        let mut values = Vec::with_capacity(points);
        let mut times = Vec::with_capacity(points);
        for one in data.result {
            for point in one.values {
                values.push(parse_sample(&point.1).ok_or_else(|| {
                    malformed(format!("sample value {:?} is not a number", point.1))
                })?);
                times.push((point.0 * 1000.0).round() as i64);
            }
        }
        Ok(RangeResult {
            series,
            values,
            times,
        })
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
                metric: shown(metric),
                scope: shown(name),
                given: shown(&self.pairs.keys().cloned().collect::<Vec<_>>().join(", ")),
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

/// Checks that `config` stays within [`MAX_METRICS_PER_FETCH`], before anything is
/// fetched (services call it when a request arrives, to refuse it at once).
pub fn check_fan_out(config: &CanaryConfig) -> Result<(), SourceError> {
    if config.metrics.len() > MAX_METRICS_PER_FETCH {
        return Err(SourceError::TooManyMetrics {
            config: shown(&config.name),
            metrics: config.metrics.len(),
            limit: MAX_METRICS_PER_FETCH,
        });
    }
    Ok(())
}

/// Fetches every metric of `config` for both scopes, concurrently (bounded by the
/// endpoint's `max_concurrent_queries`). The first failure cancels the rest and is
/// returned: a judgement never runs on partial data. A config over
/// [`MAX_METRICS_PER_FETCH`] is refused before any query is sent.
pub async fn fetch_metrics(
    client: &PrometheusClient,
    config: &CanaryConfig,
    scopes: &ScopeSet,
    window: &Window,
) -> Result<FetchedMetrics, SourceError> {
    check_fan_out(config)?;
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
        let pair = pairs.entry(metric).or_default();
        for (value, at) in result.values.into_iter().zip(result.times) {
            pair.push_at(scope, at, value);
        }
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
    fn api_path_is_joined_as_path_segments() {
        // (base URL, query_range URL, URL as logs show it)
        let cases = [
            (
                "http://prom:9090",
                "http://prom:9090/api/v1/query_range",
                "http://prom:9090/",
            ),
            (
                "http://prom:9090/",
                "http://prom:9090/api/v1/query_range",
                "http://prom:9090/",
            ),
            (
                "https://host/prom/",
                "https://host/prom/api/v1/query_range",
                "https://host/prom/",
            ),
            (
                "http://admin:hunter2@host/prom?secret=xyz",
                "http://admin:hunter2@host/prom/api/v1/query_range?secret=xyz",
                "http://host/prom",
            ),
            (
                "http://host/a%20b#frag",
                "http://host/a%20b/api/v1/query_range",
                "http://host/a%20b",
            ),
        ];
        for (base, query_url, shown) in cases {
            let client = PrometheusClient::new(EndpointConfig::new("p", base)).unwrap();
            assert_eq!(client.query_url.as_str(), query_url, "{base}");
            assert_eq!(client.shown_url(), shown, "{base}");
            assert_eq!(redact_url(base), shown, "{base}");
        }
        assert_eq!(redact_url("not a url"), "<invalid url>");
    }

    #[test]
    fn setup_errors_do_not_repeat_the_url() {
        let cases = [
            (
                "ftp://admin:hunter2@host/?secret=xyz",
                "must be http or https",
            ),
            ("http://admin:hunter2@[::1/?secret=xyz", "invalid url"),
        ];
        for (url, want) in cases {
            let error = PrometheusClient::new(EndpointConfig::new("p", url)).unwrap_err();
            let text = format!("{error} {error:?}");
            assert!(text.contains(want), "{url}: {text}");
            for secret in ["hunter2", "secret", "xyz"] {
                assert!(!text.contains(secret), "{url}: {text}");
            }
        }
        let debug = format!(
            "{:?}",
            EndpointConfig::new("p", "http://u:hunter2@h/?secret=xyz")
        );
        assert!(
            !debug.contains("hunter2") && !debug.contains("xyz"),
            "{debug}"
        );
    }

    /// A port nobody listens on (bound, then released).
    fn dead_url(credentials: &str, query: &str) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://{credentials}127.0.0.1:{port}/prom{query}")
    }

    fn window() -> Window {
        let end = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:10:00Z")
            .unwrap()
            .to_utc();
        Window::lookback(end, Duration::from_secs(600), Duration::from_secs(30)).unwrap()
    }

    #[tokio::test]
    async fn unreachable_endpoints_are_named_without_their_url() {
        let mut endpoint =
            EndpointConfig::new("default", dead_url("admin:hunter2@", "?secret=xyz"));
        endpoint.retries = 0;
        let client = PrometheusClient::new(endpoint).unwrap();
        let error = client.query_range("up", &window()).await.unwrap_err();
        assert!(
            matches!(error, SourceError::Unreachable { .. }),
            "{error:?}"
        );
        let mut texts = vec![error.to_string(), format!("{error:?}")];
        let mut cause = std::error::Error::source(&error);
        while let Some(next) = cause {
            texts.push(next.to_string());
            cause = next.source();
        }
        let message = &texts[0];
        assert!(
            message.starts_with("Prometheus endpoint \"default\" unreachable for query \"up\": "),
            "{message}"
        );
        assert!(message.contains("onnect"), "the cause is kept: {message}");
        for text in &texts {
            for secret in ["hunter2", "admin", "secret", "xyz", "/prom"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        // The message names no address at all (the Debug form may show the socket
        // address the connection was tried at, which holds no secret).
        assert!(!message.contains("127.0.0.1"), "{message}");
    }

    /// What a fake Prometheus saw of one request.
    #[derive(Debug, Clone, Default)]
    struct Seen {
        uri: String,
        authorization: String,
    }

    #[tokio::test]
    async fn requests_go_to_the_api_path_with_the_query_string_kept() {
        use axum::routing::post;
        let seen = Arc::new(std::sync::Mutex::new(Vec::<Seen>::new()));
        let record = Arc::clone(&seen);
        let router = axum::Router::new().route(
            "/prom/api/v1/query_range",
            post(move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                let record = Arc::clone(&record);
                async move {
                    record.lock().unwrap().push(Seen {
                        uri: uri.to_string(),
                        authorization: headers
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default(),
                    });
                    r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}"#
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let url = format!("http://serin:pw@{address}/prom?secret=xyz");
        let client = PrometheusClient::new(EndpointConfig::new("p", url)).unwrap();
        let result = client.query_range("up", &window()).await.unwrap();
        assert_eq!(result.values, vec![1.0]);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].uri, "/prom/api/v1/query_range?secret=xyz");
        // base64("serin:pw"): the URL's user info is sent as basic auth.
        assert_eq!(seen[0].authorization, "Basic c2VyaW46cHc=");
        server.abort();
    }

    #[tokio::test]
    async fn a_config_over_the_fan_out_bound_sends_no_query() {
        let metric = |i: usize| {
            serde_json::json!({"name": format!("m{i}"),
                "query": {"customInlineTemplate": "up{a=\"${scope}\"}"},
                "analysisConfigurations": {"canary": {}}})
        };
        // A dead endpoint: a query sent would fail as unreachable.
        let mut endpoint = EndpointConfig::new("p", dead_url("", ""));
        endpoint.retries = 0;
        let client = PrometheusClient::new(endpoint).unwrap();
        let scopes = ScopeSet::single(ScopePair::default());
        let cases = [
            (MAX_METRICS_PER_FETCH, false),
            (MAX_METRICS_PER_FETCH + 1, true),
        ];
        for (metrics, refused) in cases {
            let config = CanaryConfig::from_value(serde_json::json!({
                "name": "wide", "metrics": (0..metrics).map(metric).collect::<Vec<_>>()
            }))
            .unwrap();
            assert_eq!(check_fan_out(&config).is_err(), refused, "{metrics}");
            let error = fetch_metrics(&client, &config, &scopes, &window())
                .await
                .unwrap_err();
            if refused {
                assert!(
                    matches!(error, SourceError::TooManyMetrics { metrics: m, limit: MAX_METRICS_PER_FETCH, .. } if m == metrics),
                    "{error}"
                );
                assert!(error.is_client_error());
                assert!(
                    error
                        .to_string()
                        .contains("at most 200 from Prometheus (400 queries)"),
                    "{error}"
                );
            } else {
                assert_eq!(error.kind(), "unreachable", "{error}");
            }
        }
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
