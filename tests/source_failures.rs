//! Metric-source failures never become a pass: a scripted fake Prometheus (slow,
//! 5xx, 4xx, dying mid-judgement, empty, NaN, garbage) and a real Prometheus that
//! rejects a query and is then stopped.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use serin_judge_service::configs::ConfigStore;
use serin_judge_service::{AppState, app};
use tower::ServiceExt;

use crate::support::clients::{ArgoPhase, FlaggerCheck, KayentaProvider, argo_kayenta, flagger};
use crate::support::fake_prometheus::{Behaviour, FakePrometheus};
use crate::support::service::{CheckoutStack, configs_dir, settings};

/// The expected outcome of one scripted scenario.
enum Expect {
    /// An error status whose message contains the text.
    Error(StatusCode, &'static str),
    /// A 200 verdict.
    Verdict(&'static str),
}

struct Case {
    name: &'static str,
    answer: fn(usize) -> Behaviour,
    stop_after: Option<usize>,
    timeout_ms: u64,
    retries: u32,
    expect: Expect,
    queries: usize,
}

fn body() -> String {
    json!({
        "configName": "checkout",
        "baseline": {"scope": "stable"},
        "canary": {"scope": "canary"},
        "start": "2026-11-23T10:00:00Z",
        "end": "2026-11-23T10:10:00Z",
        "step": "30s"
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_source_failures_are_never_a_pass() {
    let cases = [
        Case {
            name: "slow beyond the timeout",
            answer: |_| Behaviour::Slow(Duration::from_secs(3)),
            stop_after: None,
            timeout_ms: 200,
            retries: 1,
            expect: Expect::Error(
                StatusCode::GATEWAY_TIMEOUT,
                "did not answer query \"avg(checkout_latency_p99_ms{job=\\\"checkout\\\",track=\\\"stable\\\"})\" within 200ms",
            ),
            queries: 2,
        },
        Case {
            name: "one 503, then answers",
            answer: |n| {
                if n == 0 {
                    Behaviour::Status(503)
                } else {
                    Behaviour::Matrix {
                        value: "1",
                        points: 20,
                    }
                }
            },
            stop_after: None,
            timeout_ms: 2000,
            retries: 2,
            expect: Expect::Verdict("pass"),
            queries: 7,
        },
        Case {
            name: "500 every time",
            answer: |_| Behaviour::Status(500),
            stop_after: None,
            timeout_ms: 2000,
            retries: 2,
            expect: Expect::Error(StatusCode::BAD_GATEWAY, "failed query"),
            queries: 3,
        },
        Case {
            name: "bad query (400): no retry",
            answer: |_| Behaviour::Status(400),
            stop_after: None,
            timeout_ms: 2000,
            retries: 2,
            expect: Expect::Error(StatusCode::UNPROCESSABLE_ENTITY, "rejected query"),
            queries: 1,
        },
        Case {
            name: "dies after three queries",
            answer: |_| Behaviour::Matrix {
                value: "1",
                points: 20,
            },
            stop_after: Some(3),
            timeout_ms: 2000,
            retries: 1,
            expect: Expect::Error(StatusCode::BAD_GATEWAY, "unreachable"),
            queries: 3,
        },
        Case {
            name: "not JSON: no retry",
            answer: |_| Behaviour::Garbage,
            stop_after: None,
            timeout_ms: 2000,
            retries: 2,
            expect: Expect::Error(StatusCode::BAD_GATEWAY, "not a range result"),
            queries: 1,
        },
        Case {
            name: "empty results",
            answer: |_| Behaviour::Empty,
            stop_after: None,
            timeout_ms: 2000,
            retries: 0,
            expect: Expect::Verdict("fail"),
            queries: 6,
        },
        Case {
            name: "NaN only",
            answer: |_| Behaviour::Matrix {
                value: "NaN",
                points: 20,
            },
            stop_after: None,
            timeout_ms: 2000,
            retries: 0,
            expect: Expect::Verdict("fail"),
            queries: 6,
        },
        Case {
            name: "+Inf only",
            answer: |_| Behaviour::Matrix {
                value: "+Inf",
                points: 20,
            },
            stop_after: None,
            timeout_ms: 2000,
            retries: 0,
            expect: Expect::Verdict("fail"),
            queries: 6,
        },
    ];
    for case in cases {
        let fake = FakePrometheus::start(case.answer, case.stop_after).await;
        let toml = format!(
            "[[prometheus]]\nname = \"default\"\nurl = \"{}\"\ntimeout = \"{}ms\"\nretries = {}\nbackoff = \"10ms\"\nmax_concurrent_queries = 1\n",
            fake.url, case.timeout_ms, case.retries
        );
        let state =
            AppState::new(settings(&toml), ConfigStore::load(&configs_dir()).unwrap()).unwrap();
        let request = Request::post("/judge").body(Body::from(body())).unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        match case.expect {
            Expect::Error(want, text) => {
                assert_eq!(status, want, "{}: {json}", case.name);
                let message = json["error"].as_str().unwrap();
                assert!(message.contains(text), "{}: {message}", case.name);
                assert!(
                    message.contains("\"default\""),
                    "{}: the endpoint is named: {message}",
                    case.name
                );
            }
            Expect::Verdict(verdict) => {
                assert_eq!(status, StatusCode::OK, "{}: {json}", case.name);
                assert_eq!(json["verdict"], verdict, "{}: {json}", case.name);
            }
        }
        assert_eq!(
            fake.served(),
            case.queries,
            "{}: queries received",
            case.name
        );
        if let Expect::Error(status, _) = case.expect
            && status.is_server_error()
        {
            let metrics = state.telemetry().encode();
            assert!(
                metrics.contains("serin_source_errors_total{endpoint=\"default\""),
                "{}:\n{metrics}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn endpoint_credentials_are_sent_with_every_query() {
    let cases = [
        (
            "auth = { type = \"bearer\", token = \"t0ken\" }",
            "Bearer t0ken",
        ),
        // base64("serin:pw")
        (
            "auth = { type = \"basic\", username = \"serin\", password = \"pw\" }",
            "Basic c2VyaW46cHc=",
        ),
        ("", ""),
    ];
    for (auth, header) in cases {
        let fake = FakePrometheus::start(
            |_| Behaviour::Matrix {
                value: "1",
                points: 20,
            },
            None,
        )
        .await;
        let toml = format!(
            "[[prometheus]]\nname = \"default\"\nurl = \"{}\"\n{auth}\n",
            fake.url
        );
        let state =
            AppState::new(settings(&toml), ConfigStore::load(&configs_dir()).unwrap()).unwrap();
        let request = Request::post("/judge").body(Body::from(body())).unwrap();
        let response = app(state).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{auth}");
        assert_eq!(fake.authorization(), vec![header.to_owned(); 6], "{auth}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_that_rejects_a_query_or_stops() {
    let now = Utc::now();
    let CheckoutStack {
        mut prometheus,
        service,
    } = CheckoutStack::start(
        "",
        "timeout = \"2s\"\nretries = 1\nbackoff = \"50ms\"\nmax_concurrent_queries = 1",
    )
    .await;
    let client = reqwest::Client::new();
    let judge = |body: Value| {
        let client = client.clone();
        let url = format!("{}/judge", service.url);
        async move {
            let response = client.post(url).json(&body).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let scopes =
        json!({"baseline": {"scope": "stable"}, "canary": {"scope": "canary"}, "lookback": "10m"});

    // Up: the healthy canary passes.
    let mut request = scopes.clone();
    request["configName"] = json!("checkout");
    let (status, answer) = judge(request.clone()).await;
    assert_eq!(
        (status, answer["verdict"].as_str()),
        (200, Some("pass")),
        "{answer}"
    );
    assert_eq!(answer["queries"].as_array().unwrap().len(), 6);

    // A query Prometheus rejects: 422 naming the endpoint and the query (one query
    // at a time, so the baseline's is the first to fail).
    let mut bad = scopes.clone();
    bad["config"] = json!({"name": "broken", "metrics": [{"name": "m",
        "query": {"customInlineTemplate": "PromQL:sum(rate(checkout_error_ratio{track=\"${scope}\"}))"},
        "analysisConfigurations": {"canary": {}}}]});
    let (status, answer) = judge(bad).await;
    assert_eq!(status, 422, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(
        message
            .contains("rejected query \"sum(rate(checkout_error_ratio{track=\\\"stable\\\"}))\""),
        "{message}"
    );
    assert!(message.contains("HTTP 400"), "{message}");

    // Stopped: every client sees an error, none a pass.
    prometheus.kill();
    let (status, answer) = judge(request).await;
    assert_eq!(status, 502, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("unreachable"),
        "{answer}"
    );

    let flagger_payload = json!({"name": "checkout", "namespace": "shop", "phase": "Progressing",
        "metadata": {"config": "checkout", "baseline": "stable", "canary": "canary"}});
    let response = client
        .post(format!("{}/flagger/judge", service.url))
        .json(&flagger_payload)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 502);
    assert!(
        matches!(flagger(status, &text), FlaggerCheck::Failed(m) if m.starts_with("error: Prometheus endpoint \"default\""))
    );

    let scope = |track: &str| {
        json!({"scope": track, "region": "", "step": 30,
               "start": (now - chrono::Duration::minutes(20)).to_rfc3339(), "end": now.to_rfc3339()})
    };
    let provider = KayentaProvider {
        address: service.url.clone(),
        application: "checkout".into(),
        canary_config_name: "checkout".into(),
        metrics_account_name: "default".into(),
        configuration_account_name: "serin".into(),
        storage_account_name: "serin".into(),
        pass: 95,
        marginal: 75,
        scopes: vec![("default".into(), scope("stable"), scope("canary"))],
    };
    let run = argo_kayenta(&client, &provider).await;
    assert_eq!(
        run.phase,
        ArgoPhase::Error("Missing Score".into()),
        "{:?}",
        run.requests
    );
    service.stop().await;
}
