//! Fuzzing by property: arbitrary and mutated bytes through every parser a user feeds (CSV, canary configs, inline data, durations and windows, plan YAML, rollout state files, request bodies); no panic, and every error says where.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use serin_core::CanaryConfig;
use serin_judge_service::configs::ConfigStore;
use serin_judge_service::{AppState, app};
use tower::ServiceExt;

use crate::support::service::{configs_dir, settings};

/// Tokens that break parsers: quotes, separators, huge and non-finite numbers.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"null",
    b"NaN",
    b"-Inf",
    b"1e400",
    b"-1e-400",
    b"99999999999999999999999",
    b"-",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\\u0000",
    b"300000y",
    b"0s",
    b"-5m",
    b"9223372036854775807",
];

/// One edit of a seed input.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the byte at a position.
    Set(usize, u8),
    /// Insert a breaking token at a position.
    Insert(usize, usize),
    /// Cut the input at a position.
    Truncate(usize),
    /// Repeat a span (a row written twice, a key given twice).
    Repeat(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Set(at, byte)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Edit::Insert(at, token)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Repeat(at, len)),
    ];
    prop::collection::vec(edit, 1..6)
}

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            Edit::Set(at, byte) => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] = byte;
                }
            }
            Edit::Insert(at, token) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, TOKENS[token].iter().copied());
            }
            Edit::Truncate(at) => bytes.truncate(at % len),
            Edit::Repeat(at, span) => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    let end = (at + span).min(bytes.len());
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(end..end, copy);
                }
            }
        }
    }
    bytes
}

/// Arbitrary bytes, or a seed with a few edits.
fn input(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        edits().prop_map(move |edits| mutate(seed, &edits)),
    ]
}

const CSV_SEED: &[u8] = b"metric,scope,timestamp,value,series\n\
latency,baseline,2026-11-23T10:00:00Z,130.5,a\n\
latency,canary,1795428060,\"131\",b\n\
errors,control,2026-11-23T10:02:00+01:00,,a\n\
errors,experiment,1795428000.5,NaN,a\n";

const CONFIG_SEED: &[u8] = br#"{"name": "svc", "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {"minSamples": 3}},
"metrics": [{"name": "latency", "groups": ["g"], "analysisConfigurations": {"canary": {"direction": "increase", "nanStrategy": "replace",
"effectSize": {"allowedIncrease": 1.1}, "outliers": {"strategy": "remove", "outlierFactor": 3}}},
"query": {"type": "prometheus", "customInlineTemplate": "PromQL:rate(x{track=\"${scope}\"}[1m])"}}],
"classifier": {"groupWeights": {"g": 100}, "scoreThresholds": {"pass": 95, "marginal": 75}}}"#;

const PLAN_SEED: &[u8] = b"name: checkout\n\
router:\n  nginx:\n    upstreamFile: /tmp/serin-fuzz/upstream.conf\n    upstream: checkout\n    stable: 127.0.0.1:8081\n    canary: 127.0.0.1:8082\n\
judge:\n  url: http://127.0.0.1:9090\n  baseline: {scope: stable}\n  canary: {scope: canary}\n  step: 30s\n\
steps:\n  - setWeight: 5\n  - analysis: {config: checkout, interval: 1m, count: 3, lookback: 10m}\n  - pause: {duration: 5m}\n  - setWeight: 50\n  - pause: {}\n";

const JUDGE_SEED: &[u8] = br#"{"configName": "checkout", "data": {"latency_p99_ms": {"baseline": [1, 2, 3, null, "NaN"], "canary": [1.5, 2.5, 3.5, 4]}},
"thresholds": {"pass": 90, "marginal": 50}}"#;

const PROMETHEUS_SEED: &[u8] =
    br#"{"configName": "checkout", "baseline": {"scope": "stable"}, "canary": {"scope": "canary"},
"lookback": "10m", "step": "30s", "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T11:00:00Z"}"#;

const FLAGGER_SEED: &[u8] = br#"{"name": "checkout", "namespace": "shop", "phase": "Progressing",
"metadata": {"configName": "checkout", "lookback": "5m", "step": "15s", "baselineScope": "stable", "canaryScope": "canary"}}"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn csv_never_panics_and_errors_name_file_and_line(bytes in input(CSV_SEED)) {
        match serin_csv::read_long_from(bytes.as_slice(), std::path::Path::new("fuzz.csv")) {
            Ok(loaded) => {
                let points: usize = loaded.metrics.names()
                    .filter_map(|name| loaded.metrics.get(name))
                    .map(|pair| pair.baseline.len() + pair.canary.len())
                    .sum();
                prop_assert_eq!(points as u64, loaded.rows);
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with("fuzz.csv"), "{}", message);
            }
        }
    }

    #[test]
    fn canary_configs_never_panic_and_errors_name_a_path(bytes in input(CONFIG_SEED)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(error) = CanaryConfig::from_json(&text) {
            let message = error.to_string();
            let (path, reason) = message.split_once(": ").unwrap_or(("", ""));
            prop_assert!(!path.is_empty() && !reason.is_empty(), "{}", message);
        }
    }

    #[test]
    fn inline_data_never_panics(bytes in input(JUDGE_SEED)) {
        if let Ok(data) = serde_json::from_slice::<serin_sources::InlineData>(&bytes)
            && let Ok(set) = data.into_metric_set()
        {
            prop_assert!(set.names().count() > 0);
        }
    }

    #[test]
    fn durations_and_windows_never_panic(lookback in input(b"5m"), step in input(b"30s")) {
        use serin_sources::{Window, parse_duration};
        let parse = |bytes: &[u8]| parse_duration(&String::from_utf8_lossy(bytes));
        if let (Ok(lookback), Ok(step)) = (parse(&lookback), parse(&step)) {
            let end = chrono::DateTime::from_timestamp(1_795_428_000, 0).unwrap();
            if let Ok(window) = Window::lookback(end, lookback, step) {
                prop_assert!(window.start() < window.end());
            }
        }
    }

    #[test]
    fn state_files_never_panic_and_errors_name_the_file(bytes in input(state_seed())) {
        use serin_rollout::StateStore;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, &bytes).unwrap();
        if let Err(error) = serin_rollout::FileStore::new(&path).load() {
            let message = error.to_string();
            prop_assert!(message.contains(&*path.to_string_lossy()), "{}", message);
        }
    }

    #[test]
    fn plans_never_panic_and_errors_say_where(bytes in input(PLAN_SEED)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(error) = serin_rollout::Plan::from_yaml(&text) {
            prop_assert!(!error.to_string().is_empty());
        }
    }
}

/// A state file as `serin rollout` writes it (checksum included), for the state fuzz.
fn state_seed() -> &'static [u8] {
    use serin_rollout::state::AnalysisProgress;
    use serin_rollout::{FileStore, Phase, Plan, RolloutState, StateStore, Timestamp};
    static SEED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SEED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let at = Timestamp::from_millis(1_795_428_000_000);
        let state = RolloutState {
            format_version: serin_rollout::state::FORMAT_VERSION,
            revision: 1,
            rollout: 1,
            plan: Plan::from_yaml(std::str::from_utf8(PLAN_SEED).unwrap()).unwrap(),
            phase: Phase::Progressing,
            step_index: 0,
            weight: None,
            pending_weight: None,
            started_at: at,
            step_started_at: at,
            updated_at: at,
            pause_until: None,
            analysis: AnalysisProgress::default(),
            background: AnalysisProgress::default(),
            verdicts: Vec::new(),
            last_request_id: None,
            message: None,
        };
        FileStore::new(&path).save(&state).unwrap();
        std::fs::read(&path).unwrap()
    })
}

/// The seeds parse, so their mutations start from valid input.
#[test]
fn the_seeds_are_valid() {
    let csv = serin_csv::read_long_from(CSV_SEED, std::path::Path::new("seed.csv"));
    assert_eq!(csv.unwrap().rows, 4);
    CanaryConfig::from_json(std::str::from_utf8(CONFIG_SEED).unwrap()).unwrap();
    serin_rollout::Plan::from_yaml(std::str::from_utf8(PLAN_SEED).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, state_seed()).unwrap();
    let loaded = serin_rollout::StateStore::load(&serin_rollout::FileStore::new(&path));
    assert_eq!(loaded.unwrap().unwrap().revision, 1);
    for seed in [JUDGE_SEED, PROMETHEUS_SEED, FLAGGER_SEED] {
        serde_json::from_slice::<serde_json::Value>(seed).unwrap();
    }
}

/// Sends each mutated body to `path`; the service answers every one (no panic, no 500).
fn service_answers_every_body(path: &'static str, seed: &'static [u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Nothing listens on port 1: every query is refused at once, with no retry.
    let toml = "[[prometheus]]\nname = \"default\"\nurl = \"http://127.0.0.1:1\"\nretries = 0\n";
    let state = AppState::new(settings(toml), ConfigStore::load(&configs_dir()).unwrap()).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&input(seed), |body| {
            let request = Request::post(path)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            let status = runtime
                .block_on(async { app(state.clone()).oneshot(request).await.unwrap().status() });
            // Prometheus is not running: a query is a 5xx from the source, never a 500.
            prop_assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR,
                "{path}: {status}"
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn request_bodies_never_panic_the_service() {
    for (path, seed) in [
        ("/judge", JUDGE_SEED),
        ("/judge", PROMETHEUS_SEED),
        ("/flagger/judge", FLAGGER_SEED),
    ] {
        service_answers_every_body(path, seed);
    }
}
