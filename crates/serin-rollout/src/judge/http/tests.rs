//! The HTTP judge against a small axum server: the body and token it sends, and how each
//! kind of answer maps to a verdict, a rejection or a source error.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use super::*;
use crate::judge::{ScopeRef, Thresholds, Verdict};
use crate::weight::Weight;

/// The Authorization header and the body of a request.
type Seen = (Option<String>, Value);

/// One case: name, status, body, hang, expected verdict or error text.
type Case = (
    &'static str,
    StatusCode,
    &'static str,
    bool,
    Result<Verdict, &'static str>,
);

#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: String,
    /// Never answer (to provoke the client's timeout).
    hang: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn judge_endpoint(
    State(answer): State<Answer>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> (StatusCode, String) {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    answer.seen.lock().unwrap().push((token, body));
    if answer.hang {
        std::future::pending::<()>().await;
    }
    (answer.status, answer.body.clone())
}

async fn serve(answer: Answer) -> String {
    let app = axum::Router::new()
        .route("/judge", post(judge_endpoint))
        .with_state(answer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn target(url: &str) -> JudgeTarget {
    JudgeTarget {
        url: url.to_owned(),
        token_env: None,
        timeout: Duration::from_millis(500),
        endpoint: Some("default".into()),
        baseline: ScopeRef {
            scope: "checkout-stable".into(),
            location: Some("eu-west-1".into()),
            params: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        },
        canary: ScopeRef {
            scope: "checkout-canary".into(),
            location: Some("eu-west-1".into()),
            params: BTreeMap::new(),
        },
        step: Some(Duration::from_secs(30)),
        thresholds: Some(Thresholds {
            pass: 95.0,
            marginal: 75.0,
        }),
    }
}

fn request() -> JudgeRequest {
    JudgeRequest {
        config: "checkout".into(),
        window: RequestWindow::Lookback(Duration::from_secs(600)),
        step_index: 1,
        weight: Weight::new(5).unwrap(),
        background: false,
    }
}

#[tokio::test]
async fn answers_map_to_verdicts_rejections_and_source_errors() {
    let verdict = r#"{"verdict": "marginal", "score": 87.5, "reasons": ["latency up 8 %"], "judgeResult": {}}"#;
    let cases: [Case; 6] = [
        (
            "a verdict",
            StatusCode::OK,
            verdict,
            false,
            Ok(Verdict::Marginal),
        ),
        (
            "400 is a rejection",
            StatusCode::BAD_REQUEST,
            r#"{"error": "unknown config checkout"}"#,
            false,
            Err("judge rejected the request (400): unknown config checkout"),
        ),
        (
            "503 is a source error",
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error": "prometheus unreachable"}"#,
            false,
            Err("judge unavailable: "),
        ),
        (
            "429 is retried, not a rejection",
            StatusCode::TOO_MANY_REQUESTS,
            "slow down",
            false,
            Err("judge unavailable: "),
        ),
        (
            "a 200 that is not a verdict is a source error",
            StatusCode::OK,
            r#"{"verdict": "maybe"}"#,
            false,
            Err("answer is not a verdict"),
        ),
        (
            "a timeout is a source error",
            StatusCode::OK,
            verdict,
            true,
            Err("judge unavailable: "),
        ),
    ];
    for (name, status, body, hang, expected) in cases {
        let seen = Arc::default();
        let url = serve(Answer {
            status,
            body: body.into(),
            hang,
            seen: Arc::clone(&seen),
        })
        .await;
        let judge = HttpJudge::new(target(&url), Some("s3cret".into())).unwrap();
        let result = judge.judge(&request()).await;
        match (expected, &result) {
            (Ok(verdict), Ok(outcome)) => {
                assert_eq!(outcome.verdict, verdict, "{name}");
                assert_eq!(outcome.score, Some(87.5));
                assert_eq!(outcome.reasons, ["latency up 8 %"]);
            }
            (Err(text), Err(error)) => assert!(error.to_string().contains(text), "{name}: {error}"),
            _ => panic!("{name}: {result:?}"),
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{name}");
        assert_eq!(seen[0].0.as_deref(), Some("Bearer s3cret"), "{name}");
        assert_eq!(
            seen[0].1,
            json!({
                "configName": "checkout",
                "baseline": {"scope": "checkout-stable", "location": "eu-west-1", "params": {"k": "v"}},
                "canary": {"scope": "checkout-canary", "location": "eu-west-1", "params": {}},
                "lookback": "10m",
                "endpoint": "default",
                "step": "30s",
                "thresholds": {"pass": 95.0, "marginal": 75.0}
            }),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_service_is_a_source_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let judge = HttpJudge::new(target(&format!("http://127.0.0.1:{port}")), None).unwrap();
    let error = judge.judge(&request()).await.unwrap_err();
    assert!(matches!(error, JudgeError::Source(_)), "{error}");
}

/// A bare HTTP server on 127.0.0.1 answering every request with `head` (status line and
/// headers, without the blank line) and `body`, then closing; counts the requests it got.
fn raw_server(head: String, body: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            let Ok(mut connection) = connection else {
                continue;
            };
            // The request's headers, then as much body as Content-Length says.
            let mut request = Vec::new();
            let mut buffer = [0; 4096];
            while let Ok(n) = connection.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|value| value.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = connection.write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes());
            let _ = connection.write_all(&body);
        }
    });
    (url, requests)
}

const PASS: &str = r#"{"verdict": "pass", "score": 99, "reasons": ["fine"]}"#;

/// A redirect is an error naming where it pointed, never a verdict: the server it points at
/// (which would say "pass") is never asked.
#[tokio::test]
async fn redirects_are_not_followed() {
    let (elsewhere, asked) = raw_server(
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}", PASS.len()),
        PASS.into(),
    );
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "303 See Other",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let (url, requests) = raw_server(
            format!("HTTP/1.1 {status}\r\nLocation: {elsewhere}/judge\r\nContent-Length: 0"),
            Vec::new(),
        );
        let judge = HttpJudge::new(target(&url), None).unwrap();
        let error = judge.judge(&request()).await.unwrap_err();
        let code = &status[..3];
        assert!(
            matches!(&error, JudgeError::Source(message)
                if message.contains(&format!("{code} ")) && message.contains(&format!("redirect to \"{elsewhere}/judge\" not followed"))),
            "{status}: {error}"
        );
        assert_eq!(requests.load(Ordering::SeqCst), 1, "{status}");
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "the redirect target was asked"
    );
}

/// Answers are read up to 1 MiB, whether their length is announced or not; past it they are
/// a source error (retried, then abort), and error messages are quoted short.
#[tokio::test]
async fn answers_are_read_up_to_a_mebibyte() {
    // A verdict padded with a long reason to `size` bytes.
    let verdict = |size: usize| {
        let frame = r#"{"verdict": "pass", "reasons": [""]}"#;
        let reason = "x".repeat(size - frame.len());
        format!(r#"{{"verdict": "pass", "reasons": ["{reason}"]}}"#).into_bytes()
    };
    // (name, announce the length, body, expected: Ok(reason length) or the error's words)
    type Case<'a> = (&'a str, bool, Vec<u8>, Result<usize, &'a str>);
    let cases: [Case<'_>; 5] = [
        (
            "exactly 1 MiB",
            true,
            verdict(MAX_ANSWER_BYTES),
            Ok(MAX_ANSWER_BYTES - 36),
        ),
        (
            "exactly 1 MiB, unannounced",
            false,
            verdict(MAX_ANSWER_BYTES),
            Ok(MAX_ANSWER_BYTES - 36),
        ),
        (
            "one byte more",
            true,
            verdict(MAX_ANSWER_BYTES + 1),
            Err("the answer is larger than 1024 KiB"),
        ),
        (
            "200 MB unannounced",
            false,
            verdict(200_000_000),
            Err("the answer is larger than 1024 KiB"),
        ),
        (
            "a 500 with a long message",
            true,
            format!(r#"{{"error": "{}"}}"#, "e".repeat(5000)).into_bytes(),
            Err("judge unavailable"),
        ),
    ];
    for (name, announce, body, expected) in cases {
        let status = if name.contains("500") {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        let head = if announce {
            format!("HTTP/1.1 {status}\r\nContent-Length: {}", body.len())
        } else {
            format!("HTTP/1.1 {status}")
        };
        let (url, _) = raw_server(head, body);
        let mut target = target(&url);
        target.timeout = Duration::from_secs(30);
        let result = HttpJudge::new(target, None)
            .unwrap()
            .judge(&request())
            .await;
        match (expected, &result) {
            (Ok(length), Ok(outcome)) => {
                assert_eq!(outcome.verdict, Verdict::Pass, "{name}");
                assert_eq!(outcome.reasons[0].len(), length, "{name}");
            }
            (Err(words), Err(error)) => {
                let text = error.to_string();
                assert!(text.contains(words), "{name}: {text}");
                assert!(text.len() < 400, "{name}: {} bytes of error", text.len());
            }
            _ => panic!("{name}: {result:?}"),
        }
    }
}

#[test]
fn a_growing_window_is_sent_as_start_and_end() {
    let judge = HttpJudge::new(target("http://127.0.0.1:1"), None).unwrap();
    let request = JudgeRequest {
        window: RequestWindow::Since {
            start: crate::clock::Timestamp::from_millis(1_700_000_000_000),
            end: crate::clock::Timestamp::from_millis(1_700_000_090_500),
        },
        ..request()
    };
    let body = judge.body(&request);
    assert_eq!(body["start"], "2023-11-14T22:13:20.000Z");
    assert_eq!(body["end"], "2023-11-14T22:14:50.500Z");
    assert!(body.get("lookback").is_none(), "{body}");
}
