//! Plan parsing: a full plan with its defaults, and one table of mistakes with the path each
//! error names.

use super::*;
use crate::router::RouterConfig;

const FULL: &str = r#"
name: checkout
router:
  nginx:
    upstreamFile: /etc/nginx/conf.d/checkout-upstream.conf
    upstream: checkout
    stable: 127.0.0.1:8081
    canary: 127.0.0.1:8082
judge:
  url: http://serin-judge:8080
  tokenEnv: SERIN_JUDGE_TOKEN
  baseline: {scope: checkout-stable, location: eu-west-1}
  canary: {scope: checkout-canary, location: eu-west-1}
  step: 30s
steps:
  - setWeight: 5
  - pause: {duration: 5m}
  - analysis: {config: checkout, interval: 1m, count: 5, lookback: 10m, failureLimit: 1}
  - pause: {}
  - setWeight: 100
backgroundAnalysis:
  startingStep: 1
  config: checkout-errors
  interval: 2m
  lookback: 10m
"#;

#[test]
fn a_full_plan_and_its_defaults() {
    let plan = Plan::from_yaml(FULL).unwrap();
    assert_eq!(plan.name, "checkout");
    assert!(
        matches!(plan.router, RouterConfig::Nginx(ref nginx) if nginx.reload == ["nginx", "-s", "reload"])
    );
    assert_eq!(plan.poll_interval, Duration::from_secs(5));
    assert_eq!(plan.judge.timeout, Duration::from_secs(30));
    assert_eq!(
        plan.steps,
        vec![
            Step::SetWeight(Weight::new(5).unwrap()),
            Step::Pause(Pause {
                duration: Some(Duration::from_secs(300))
            }),
            Step::Analysis(Analysis {
                config: "checkout".into(),
                interval: Duration::from_secs(60),
                count: 5,
                lookback: Duration::from_secs(600),
                failure_limit: 1,
                inconclusive_limit: 0,
                consecutive_error_limit: 4,
            }),
            Step::Pause(Pause { duration: None }),
            Step::SetWeight(Weight::FULL),
        ]
    );
    let background = plan.background_analysis.as_ref().unwrap();
    assert_eq!(
        (background.starting_step, background.analysis.count),
        (1, 1)
    );
    // The plan survives the state file's JSON round trip unchanged.
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
}

#[test]
fn mistakes_name_their_place() {
    let cases = [
        (
            "  - setWeight: 5\n",
            "  - setWeight: 150\n",
            "steps[0].setWeight: weight 150 is above 100",
        ),
        (
            "  - pause: {duration: 5m}\n",
            "  - pause: {duration: soon}\n",
            "steps[1].pause.duration: bad duration \"soon\"",
        ),
        (
            "  - pause: {}\n",
            "  - wait: {}\n",
            "steps[3]: unknown variant `wait`",
        ),
        (
            "count: 5,",
            "count: 0,",
            "steps[2].analysis.count: must be at least 1",
        ),
        (
            "interval: 1m, count",
            "interval: 0s, count",
            "steps[2].analysis.interval: must be positive",
        ),
        (
            "failureLimit: 1}",
            "failureLimit: 1, typo: 2}",
            "steps[2].analysis.typo: unknown field `typo`",
        ),
        (
            "  startingStep: 1\n",
            "  startingStep: 9\n",
            "backgroundAnalysis.startingStep: 9 is past the last step (4)",
        ),
        (
            "  step: 30s\n",
            "  step: 30s\n  thresholds: {pass: 70, marginal: 80}\n",
            "judge.thresholds: need 0 <= marginal <= pass <= 100",
        ),
        (
            "    upstream: checkout\n",
            "    upstream: check out\n",
            "router.nginx.upstream: \"check out\" is not a plain nginx word",
        ),
        (
            "  nginx:\n",
            "  envoy:\n",
            "router: unknown variant `envoy`",
        ),
        ("name: checkout\n", "", "missing field `name`"),
        ("steps:\n", "steps: []\nunused:\n", "unknown field `unused`"),
    ];
    for (from, to, expected) in cases {
        assert!(FULL.contains(from), "{from:?}");
        let text = FULL.replacen(from, to, 1);
        let error = Plan::from_yaml(&text).unwrap_err().to_string();
        assert!(error.contains(expected), "{to:?}: {error}");
    }
    let error = Plan::from_yaml("name: [unclosed").unwrap_err().to_string();
    assert!(error.starts_with("plan: "), "{error}");
}

/// Every example plan under `docs/examples/rollout/` parses.
#[test]
fn documented_plans_parse() {
    let directory =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/rollout");
    let mut parsed = 0;
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".plan.yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            Plan::from_yaml(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            parsed += 1;
        }
    }
    assert_eq!(parsed, 5, "one example plan per router");
}
