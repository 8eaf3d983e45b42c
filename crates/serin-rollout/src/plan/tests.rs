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
                lookback: Some(Duration::from_secs(600)),
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
        (
            "lookback: 10m, failureLimit",
            "lookback: 300000y, failureLimit",
            "steps[2].analysis.lookback: duration \"300000y\" is longer than 100 years",
        ),
        (
            "{duration: 5m}",
            "{duration: 101y}",
            "steps[1].pause.duration: duration \"101y\" is longer than 100 years",
        ),
        (
            "  interval: 2m\n",
            "  interval: 500000y\n",
            // serde's `flatten` hides the field from the path; the text still names the value.
            "backgroundAnalysis: duration \"500000y\" is longer than 100 years",
        ),
        (
            "  step: 30s\n",
            "  step: 30s\n  timeout: 1000y\n",
            "judge.timeout: duration \"1000y\" is longer than 100 years",
        ),
        (
            "name: checkout\n",
            "name: checkout\npollInterval: 300000y\n",
            "pollInterval: duration \"300000y\" is longer than 100 years",
        ),
        (
            "  url: http://serin-judge:8080\n",
            "  url: not a url\n",
            "judge.url: \"not a url\" is not a URL",
        ),
        (
            "  url: http://serin-judge:8080\n",
            "  url: file:///etc/passwd\n",
            "judge.url: \"file:///etc/passwd\" is not an http(s) URL (scheme \"file\")",
        ),
        (
            "  url: http://serin-judge:8080\n",
            "  url: \"ftp://serin-judge\"\n",
            "is not an http(s) URL (scheme \"ftp\")",
        ),
        (
            "  url: http://serin-judge:8080\n",
            "  url: \"http://admin:secret@serin-judge:8080\"\n",
            "must not hold credentials",
        ),
        (
            "  url: http://serin-judge:8080\n",
            "  url: \"http://serin-judge:8080/?next=x\"\n",
            "must not have a query or fragment",
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

/// The limits themselves are accepted: 100 years, and http(s) URLs with a path.
#[test]
fn the_largest_duration_and_plain_urls_are_accepted() {
    let cases = [
        (
            "lookback: 10m, failureLimit",
            "lookback: 100y, failureLimit",
        ),
        (
            "  url: http://serin-judge:8080\n",
            "  url: https://judge.example/serin/\n",
        ),
        (
            "  url: http://serin-judge:8080\n",
            "  url: \"http://[::1]:8080\"\n",
        ),
    ];
    for (from, to) in cases {
        assert!(FULL.contains(from), "{from:?}");
        let text = FULL.replacen(from, to, 1);
        Plan::from_yaml(&text).unwrap_or_else(|error| panic!("{to:?}: {error}"));
    }
    assert_eq!(MAX_DURATION, humantime::parse_duration("100y").unwrap());
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
