//! The HTTP judge against a small axum server: the body and token it sends, and how each
//! kind of answer maps to a verdict, a rejection or a source error.

use std::collections::BTreeMap;
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
        lookback: Duration::from_secs(600),
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
