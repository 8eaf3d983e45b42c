//! The whole loop, with real parts: a rollout plan whose analyses ask the judge
//! service (on a socket, over HTTP) for verdicts computed from a real, backfilled
//! Prometheus, and whose weights are written by the plain-nginx router (the
//! upstream file; nginx itself is exercised in `rollout_nginx.rs`). A healthy canary
//! reaches 100 %; a regressed one is rolled back to 0 % at its first analysis.

use serin_rollout::HttpJudge;
use serin_rollout::router::nginx::Nginx;
use serin_rollout::{
    FileStore, ManualClock, Phase, Plan, Rollout, RouterConfig, Timestamp, Weight,
};

use crate::support::service::CheckoutStack;

fn plan(judge_url: &str, canary: &str, upstream: &std::path::Path) -> Plan {
    Plan::from_yaml(&format!(
        "name: checkout\n\
         router:\n  nginx:\n    upstreamFile: {upstream:?}\n    upstream: app\n    stable: \"127.0.0.1:8081\"\n    canary: \"127.0.0.1:8082\"\n    reload: [\"true\"]\n\
         judge:\n  url: {judge_url:?}\n  baseline: {{scope: stable}}\n  canary: {{scope: {canary:?}}}\n  step: 30s\n\
         steps:\n\
         \x20 - setWeight: 10\n\
         \x20 - analysis: {{config: checkout, interval: 1m, count: 2, lookback: 10m}}\n\
         \x20 - setWeight: 50\n\
         \x20 - analysis: {{config: checkout, interval: 1m, count: 1, lookback: 10m}}\n\
         \x20 - setWeight: 100\n"
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_follow_verdicts_from_a_real_prometheus() {
    let CheckoutStack {
        prometheus: _prometheus,
        service,
    } = CheckoutStack::start("", "").await;
    // (canary track, final phase, final weight, verdicts the rollout recorded)
    let cases = [
        (
            "canary",
            Phase::Completed,
            100,
            vec!["pass", "pass", "pass"],
        ),
        ("canary-bad", Phase::Aborted, 0, vec!["fail"]),
    ];
    for (canary, phase, weight, verdicts) in cases {
        let directory = tempfile::tempdir().unwrap();
        let upstream = directory.path().join("upstream.conf");
        let plan = plan(&service.url, canary, &upstream);
        let RouterConfig::Nginx(nginx) = plan.router.clone() else {
            panic!("an nginx plan")
        };
        let judge = HttpJudge::new(plan.judge.clone(), None).unwrap();
        let store = FileStore::new(directory.path().join("state.json"));
        let clock = ManualClock::new(Timestamp::from_millis(1_795_000_000_000));
        let mut rollout =
            Rollout::start(plan, store, Nginx::new(nginx.clone()), judge, clock, false)
                .await
                .unwrap();
        assert_eq!(rollout.run().await.unwrap(), phase, "{canary}");
        let state = rollout.state();
        assert_eq!(state.weight, Some(Weight::new(weight).unwrap()), "{canary}");
        let recorded: Vec<String> = state
            .verdicts
            .iter()
            .map(|v| {
                v.verdict
                    .map(|v| format!("{v:?}").to_lowercase())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(recorded, verdicts, "{canary}: {:?}", state.verdicts);
        // The router left nginx's upstream at the final weight.
        let file = std::fs::read_to_string(&upstream).unwrap();
        assert_eq!(file, nginx.render(Weight::new(weight).unwrap()), "{canary}");
    }
    service.stop().await;
}
