//! The standing reliability test: the service on a real socket, facing a Prometheus that
//! hangs, dies or answers NaN, a canary with no traffic, and huge or hostile values. Every
//! case asserts the three promises: no pass without data, an answer within the configured
//! time, nothing secret in an answer or a log line. A new defect of this kind gets a row.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::fake_prometheus::{Behaviour, FakePrometheus};
use crate::support::service::{Service, settings};

/// The credentials and query string every endpoint URL below carries: none may leak.
const SECRETS: [&str; 3] = ["hunter2", "secret=xyz", "admin:"];

/// `judge_timeout` of every case; an answer must come within it and a margin.
const JUDGE_TIMEOUT: Duration = Duration::from_secs(2);
const MARGIN: Duration = Duration::from_millis(1500);

/// Where the case's Prometheus is.
#[derive(Clone, Copy)]
enum Source {
    /// Nothing listens (a dead Prometheus).
    Dead,
    /// A scripted fake: the behaviour for a query, given its form body.
    Fake(fn(&str) -> Behaviour),
    /// Listens and accepts, never answers (a Prometheus stopped with SIGSTOP).
    Hung,
}

/// What must come back.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A 200 verdict other than `pass`, whose reasons contain the text.
    NotPass(&'static str),
    /// This status, with a body that contains the text.
    Status(u16, &'static str),
}

struct Case {
    name: &'static str,
    source: Source,
    path: &'static str,
    body: fn() -> Value,
    expect: Expect,
}

fn prometheus_body() -> Value {
    json!({"configName": "checkout", "baseline": {"scope": "stable"},
           "canary": {"scope": "canary"}, "lookback": "10m", "step": "30s"})
}

fn flagger_body() -> Value {
    json!({"name": "checkout", "namespace": "shop", "metadata": {
        "config": "checkout", "baseline": "stable", "canary": "canary", "lookback": "10m", "step": "30s"}})
}

/// Healthy values for every query, NaN for the canary's error ratio: a canary that
/// serves no traffic (0/0) while its CPU and latency are still scraped.
fn no_traffic(query: &str) -> Behaviour {
    if query.contains("checkout_error_ratio") && query.contains("canary") {
        Behaviour::Matrix {
            value: "NaN",
            points: 20,
        }
    } else {
        Behaviour::Matrix {
            value: "0.25",
            points: 20,
        }
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "Prometheus hangs",
            source: Source::Hung,
            path: "/judge",
            body: prometheus_body,
            expect: Expect::Status(504, "within 2s"),
        },
        Case {
            name: "Prometheus is dead",
            source: Source::Dead,
            path: "/judge",
            body: prometheus_body,
            expect: Expect::Status(502, "unreachable for query"),
        },
        Case {
            name: "Prometheus is dead, through Flagger",
            source: Source::Dead,
            path: "/flagger/judge",
            body: flagger_body,
            expect: Expect::Status(502, "unreachable"),
        },
        Case {
            name: "Prometheus answers NaN for everything",
            source: Source::Fake(|_| Behaviour::Matrix {
                value: "NaN",
                points: 20,
            }),
            path: "/judge",
            body: prometheus_body,
            expect: Expect::NotPass("Too few samples"),
        },
        Case {
            name: "canary without traffic (NaN error ratio, replaced by 0)",
            source: Source::Fake(no_traffic),
            path: "/judge",
            body: prometheus_body,
            expect: Expect::NotPass("Too few samples for error_ratio: canary 0 ("),
        },
        Case {
            name: "canary without traffic, through Flagger",
            source: Source::Fake(no_traffic),
            path: "/flagger/judge",
            body: flagger_body,
            expect: Expect::Status(412, "Too few samples for error_ratio"),
        },
        Case {
            name: "Prometheus answers +Inf",
            source: Source::Fake(|_| Behaviour::Matrix {
                value: "+Inf",
                points: 20,
            }),
            path: "/judge",
            body: prometheus_body,
            expect: Expect::NotPass("Too few samples"),
        },
        Case {
            name: "inline canary of nulls",
            source: Source::Dead,
            path: "/judge",
            body: || {
                json!({"configName": "checkout", "data": {
                    "latency_p99_ms": {"baseline": vec![100.0; 12], "canary": vec![100.0; 12]},
                    "cpu_ratio": {"baseline": vec![0.3; 12], "canary": vec![0.3; 12]},
                    "error_ratio": {"baseline": vec![0.01; 12], "canary": vec![Value::Null; 12]}}})
            },
            expect: Expect::NotPass("Too few samples for error_ratio: canary 0 ("),
        },
        Case {
            name: "a lookback of 300000 years",
            source: Source::Dead,
            path: "/judge",
            body: || {
                json!({"configName": "checkout", "baseline": {"scope": "stable"},
                       "canary": {"scope": "canary"}, "lookback": "300000y", "step": "1000000h"})
            },
            expect: Expect::Status(400, "lookback"),
        },
        Case {
            name: "values at the edge of f64",
            source: Source::Dead,
            path: "/judge",
            body: || {
                json!({"configName": "checkout", "data": {
                    "latency_p99_ms": {"baseline": vec![1e308; 12], "canary": vec![-1e308; 12]},
                    "cpu_ratio": {"baseline": vec![f64::MIN_POSITIVE; 12], "canary": vec![1e-320; 12]},
                    "error_ratio": {"baseline": vec![0.0; 12], "canary": vec![0.0; 12]}}})
            },
            // Twelve points a side are judged; what matters is an answer, not a panic.
            expect: Expect::NotPass(""),
        },
        Case {
            name: "control: a healthy inline canary passes (the rows above can tell)",
            source: Source::Dead,
            path: "/judge",
            body: || {
                let side: Vec<f64> = (0..40).map(|i| 0.25 + f64::from(i % 5) / 100.0).collect();
                let data: serde_json::Map<String, Value> =
                    ["latency_p99_ms", "cpu_ratio", "error_ratio"]
                        .into_iter()
                        .map(|name| (name.to_owned(), json!({"baseline": side, "canary": side})))
                        .collect();
                json!({"configName": "checkout", "data": data})
            },
            expect: Expect::Status(200, "\"verdict\":\"pass\""),
        },
    ]
}

/// A `Write` into a shared buffer, for capturing the service's log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The endpoint URL of `source`, credentials and query string included.
async fn endpoint(
    source: Source,
) -> (
    String,
    Option<FakePrometheus>,
    Option<std::net::TcpListener>,
) {
    let secret = |address: &str| format!("http://admin:hunter2@{address}/?secret=xyz");
    match source {
        Source::Dead => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap().to_string();
            drop(listener);
            (secret(&address), None, None)
        }
        Source::Hung => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap().to_string();
            (secret(&address), None, Some(listener))
        }
        Source::Fake(answer) => {
            let fake = FakePrometheus::start_by_query(move |_, query| answer(query), None).await;
            let address = fake.url.trim_start_matches("http://").to_owned();
            (secret(&address), Some(fake), None)
        }
    }
}

/// One current-thread runtime, so the log subscriber set here sees every line the
/// service's request tasks write.
#[tokio::test]
async fn hostile_sources_and_values_never_pass_hang_or_leak() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_ansi(false)
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let client = reqwest::Client::new();
    for case in cases() {
        let (url, _fake, _hung) = endpoint(case.source).await;
        let service = Service::start(
            settings(&format!(
                "judge_timeout = \"{}s\"\n[[prometheus]]\nname = \"default\"\nurl = \"{url}\"\ntimeout = \"1h\"\nretries = 0\n",
                JUDGE_TIMEOUT.as_secs()
            )),
            None,
        )
        .await;
        let began = Instant::now();
        let response = client
            .post(format!("{}{}", service.url, case.path))
            .json(&(case.body)())
            .send()
            .await
            .unwrap_or_else(|error| panic!("{}: no answer: {error}", case.name));
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        let took = began.elapsed();
        assert!(
            took < JUDGE_TIMEOUT + MARGIN,
            "{}: answered after {took:?}",
            case.name
        );
        match case.expect {
            Expect::NotPass(words) => {
                assert_eq!(status, 200, "{}: {body}", case.name);
                let answer: Value = serde_json::from_str(&body).unwrap();
                assert_ne!(answer["verdict"], "pass", "{}: {body}", case.name);
                assert!(
                    body.contains(words),
                    "{}: {words:?} not in {body}",
                    case.name
                );
            }
            Expect::Status(want, words) => {
                assert_eq!(status, want, "{}: {body}", case.name);
                assert!(
                    body.contains(words),
                    "{}: {words:?} not in {body}",
                    case.name
                );
            }
        }
        for secret in SECRETS {
            assert!(!body.contains(secret), "{}: {secret} in {body}", case.name);
        }
        service.stop().await;
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("metric source failed"),
        "the failures were logged:\n{logs}"
    );
    for secret in SECRETS {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}
