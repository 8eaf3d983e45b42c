//! Metric sources for Serin: where the baseline and canary series of a judgement come from.
//!
//! - [`prometheus`]: Kayenta's Prometheus query forms rendered per scope ([`promql`]),
//!   fetched with `query_range` over HTTP, concurrently, with timeouts and retries.
//! - [`inline`]: series given inline as JSON (`{"metric": {"baseline": [...], "canary": [...]}}`).
//!
//! Every failure is a typed [`SourceError`] naming the endpoint and the query; an
//! empty result is *no data* (the judge then says Nodata), never an error and never
//! a pass.

pub mod inline;
pub mod prometheus;
pub mod promql;
pub mod window;

pub use inline::{InlineData, InlineError};
pub use prometheus::{
    Auth, EndpointConfig, FetchedMetrics, FetchedQuery, MAX_METRICS_PER_FETCH, PrometheusClient,
    ScopePair, ScopeSet, SourceError, check_fan_out, fetch_metrics, redact_url,
};
pub use promql::{QueryError, ScopeSpec, render_query};
pub use window::{Window, WindowError, parse_duration};

/// An error's message with its causes on one line (`cannot listen on …: address in
/// use`); a cause whose text the message already ends with (a transparent wrapper) is
/// said once.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let line = next.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        cause = next.source();
    }
    text
}
