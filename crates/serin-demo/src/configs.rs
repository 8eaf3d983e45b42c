//! What the scenario feeds the judge and the rollout: two canary configs (the Serin judge's, which decides, and the Kayenta judge's, shown beside it) and the rollout plan.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

/// The config the rollout is judged with (the Serin judge).
pub const SERIN_CONFIG: &str = "demo";
/// The config judged beside it on the same windows (Kayenta's judge).
pub const KAYENTA_CONFIG: &str = "demo-kayenta";

/// The weights the rollout steps through (the seed articles' 5 → 10 → 20 → 50 → 100).
pub const WEIGHTS: [u32; 5] = [5, 10, 20, 50, 100];

/// A PromQL counter's exact increase over the last second, summed over a version's
/// series: `x - x offset 1s`. With 1 s scrapes and a 1 s query step, the increments of
/// consecutive points add up to the counter's whole increase (where `increase()`
/// would extrapolate).
fn increments(selector: &str) -> String {
    format!("(sum({selector}) - sum({selector} offset 1s))")
}

fn metric(name: &str, group: &str, promql: &str, canary: Value) -> Value {
    json!({
        "name": name,
        "query": {"type": "prometheus", "customInlineTemplate": format!("PromQL:{promql}")},
        "groups": [group],
        "analysisConfigurations": {"canary": canary},
        "scopeName": "default"
    })
}

/// The Serin judge's config: slow requests (slower than the objective) and errors, each
/// a rate judged with its requests, so the guarantee holds at every weight of traffic.
/// A demo window of 15 s holds 10 to 14 one-second bins (Prometheus' scrape lag), so
/// both configs judge from 5 bins up (`minSamples`; Serin's default is 10).
pub fn serin_config() -> Value {
    let slow_bucket = format!(
        "demo_request_duration_seconds_bucket{{version=\"${{scope}}\",le=\"{}\"}}",
        crate::service::SLOW_SECONDS
    );
    let slow = format!(
        "({} - {})",
        increments("demo_request_duration_seconds_count{version=\"${scope}\"}"),
        increments(&slow_bucket)
    );
    json!({
        "name": SERIN_CONFIG,
        "description": "The live demo, judged by the Serin judge: requests slower than 40 ms and 5xx answers, each a rate out of the version's requests.",
        "judge": {"name": "SerinJudge-v1.0", "judgeConfigurations": {"minSamples": 5}},
        "metrics": [
            metric("requests", "traffic",
                   &increments("demo_requests_total{version=\"${scope}\"}"),
                   json!({"direction": "increase"})),
            metric("slow_requests", "latency", &slow,
                   json!({"direction": "increase", "effectSize": {"allowedIncrease": 1.1},
                          "serin": {"kind": "rate", "requests": "requests"}})),
            metric("errors", "errors",
                   &increments("demo_requests_total{version=\"${scope}\",status=\"500\"}"),
                   json!({"direction": "increase", "critical": true,
                          "effectSize": {"allowedIncrease": 1.2},
                          "serin": {"kind": "rate", "requests": "requests"}})),
        ],
        "classifier": {
            "groupWeights": {"latency": 50, "errors": 50, "traffic": 0},
            "scoreThresholds": {"pass": 95, "marginal": 75}
        }
    })
}

/// Kayenta's judge on what a Kayenta user would query: p99 latency and the error ratio
/// of each version, over 5 s rate windows.
pub fn kayenta_config() -> Value {
    json!({
        "name": KAYENTA_CONFIG,
        "description": "The live demo, judged as Kayenta judges it (NetflixACAJudge-v1.0): p99 latency and error ratio per version.",
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {"minSamples": 5}},
        "metrics": [
            metric("latency_p99_ms", "latency",
                   "histogram_quantile(0.99, sum by (le) (rate(demo_request_duration_seconds_bucket{version=\"${scope}\"}[5s]))) * 1000",
                   json!({"direction": "increase", "effectSize": {"allowedIncrease": 1.1}})),
            metric("error_ratio", "errors",
                   "sum(rate(demo_requests_total{version=\"${scope}\",status=\"500\"}[5s])) / sum(rate(demo_requests_total{version=\"${scope}\"}[5s]))",
                   json!({"direction": "increase", "critical": true, "nanStrategy": "replace",
                          "effectSize": {"allowedIncrease": 1.2}})),
        ],
        "classifier": {
            "groupWeights": {"latency": 50, "errors": 50},
            "scoreThresholds": {"pass": 95, "marginal": 75}
        }
    })
}

/// Where the plan sends traffic and questions.
#[derive(Debug, Clone)]
pub struct PlanTargets<'a> {
    /// The upstream file nginx includes.
    pub upstream_file: &'a std::path::Path,
    /// The command that reloads nginx.
    pub reload: &'a [String],
    /// v1 (the stable).
    pub stable: SocketAddr,
    /// v2 (the canary).
    pub canary: SocketAddr,
    /// The judge service's base URL.
    pub judge_url: &'a str,
}

/// The rollout plan: 5 → 10 → 20 → 50 → 100 %, with `count` verdicts `interval` apart
/// at every weight below 100, each judging the window since the step started.
pub fn plan_yaml(targets: &PlanTargets<'_>, interval: Duration, count: u32) -> String {
    let interval = humantime::format_duration(interval);
    let reload: Vec<String> = targets
        .reload
        .iter()
        .map(|arg| format!("{arg:?}"))
        .collect();
    let mut steps = String::new();
    for weight in WEIGHTS {
        steps.push_str(&format!("  - setWeight: {weight}\n"));
        if weight < 100 {
            steps.push_str(&format!(
                "  - analysis: {{config: {SERIN_CONFIG}, interval: {interval}, count: {count}}}\n"
            ));
        }
    }
    format!(
        "name: demo\n\
         pollInterval: 1s\n\
         router:\n  nginx:\n    upstreamFile: {:?}\n    upstream: app\n    stable: \"{}\"\n    canary: \"{}\"\n    reload: [{}]\n\
         judge:\n  url: {:?}\n  baseline: {{scope: v1}}\n  canary: {{scope: v2}}\n  step: 1s\n\
         steps:\n{steps}",
        targets.upstream_file.display().to_string(),
        targets.stable,
        targets.canary,
        reload.join(", "),
        targets.judge_url,
    )
}
