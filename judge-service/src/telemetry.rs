//! The service's own metrics, served at `GET /metrics` in the OpenMetrics text format:
//! requests by route, method and status; latency by route; verdicts by outcome and
//! entry point; metric-source errors by endpoint and kind; panics caught (a request
//! answered 500, or a background judgement failed, instead of a dropped connection).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a served request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template, e.g. `/canary/{id}`.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// HTTP status.
    pub status: u16,
}

/// Labels of the latency histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route template.
    pub route: String,
}

/// Labels of a verdict.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    /// `pass`, `marginal` or `fail`.
    pub verdict: String,
    /// `judge`, `flagger` or `kayenta`.
    pub api: String,
}

/// Labels of a source error.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceErrorLabels {
    /// Endpoint name.
    pub endpoint: String,
    /// Error kind (`unreachable`, `timeout`, `bad_query`, `server`, `malformed`, `config`).
    pub kind: String,
}

/// The registry and its metric families.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    /// `serin_http_requests_total`.
    pub requests: Family<RequestLabels, Counter>,
    /// `serin_http_request_duration_seconds`.
    pub latency: Family<RouteLabels, Histogram>,
    /// `serin_verdicts_total`.
    pub verdicts: Family<VerdictLabels, Counter>,
    /// `serin_source_errors_total`.
    pub source_errors: Family<SourceErrorLabels, Counter>,
    /// `serin_panics_total`.
    pub panics: Counter,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Default for Telemetry {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("serin");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let verdicts = Family::<VerdictLabels, Counter>::default();
        let source_errors = Family::<SourceErrorLabels, Counter>::default();
        let panics = Counter::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "verdicts",
            "Judgements by verdict and API",
            verdicts.clone(),
        );
        registry.register(
            "source_errors",
            "Metric-source failures by endpoint and kind",
            source_errors.clone(),
        );
        registry.register(
            "panics",
            "Panics caught in request handlers and judgements (answered as internal errors)",
            panics.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            verdicts,
            source_errors,
            panics,
        }
    }
}

impl Telemetry {
    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Counts a verdict.
    pub fn verdict(&self, verdict: &str, api: &str) {
        self.verdicts
            .get_or_create(&VerdictLabels {
                verdict: verdict.to_owned(),
                api: api.to_owned(),
            })
            .inc();
    }

    /// Counts a caught panic.
    pub fn panicked(&self) {
        self.panics.inc();
    }

    /// Counts a source error.
    pub fn source_error(&self, endpoint: &str, kind: &str) {
        self.source_errors
            .get_or_create(&SourceErrorLabels {
                endpoint: endpoint.to_owned(),
                kind: kind.to_owned(),
            })
            .inc();
    }
}
