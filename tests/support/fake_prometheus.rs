//! A scripted stand-in for Prometheus, for failures a real one cannot be made to
//! show on demand: slowness, 5xx, malformed answers, dying after some queries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::Notify;

/// How the fake answers the n-th query (0-based).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// A matrix with one series of `points` copies of `value` (as Prometheus text).
    Matrix { value: &'static str, points: usize },
    /// A success with no series.
    Empty,
    /// An HTTP error with Prometheus' error body.
    Status(u16),
    /// Waits this long, then answers a matrix.
    Slow(Duration),
    /// HTTP 200 with a body that is not JSON.
    Garbage,
}

/// The behaviour for the n-th query, given its form-encoded body.
type Answer = Box<dyn Fn(usize, &str) -> Behaviour + Send + Sync>;

struct Script {
    answer: Answer,
    served: AtomicUsize,
    authorization: std::sync::Mutex<Vec<String>>,
    stop_after: Option<usize>,
    stop: Notify,
}

/// A running fake.
pub struct FakePrometheus {
    /// Base URL.
    pub url: String,
    script: Arc<Script>,
}

impl FakePrometheus {
    /// Starts a fake answering query `n` with `answer(n)`; with `stop_after: Some(k)`
    /// it stops listening once it has answered `k` queries.
    pub async fn start(
        answer: impl Fn(usize) -> Behaviour + Send + Sync + 'static,
        stop_after: Option<usize>,
    ) -> Self {
        Self::start_by_query(move |n, _| answer(n), stop_after).await
    }

    /// Starts a fake answering query `n`, whose form-encoded body is `query`, with
    /// `answer(n, query)`.
    pub async fn start_by_query(
        answer: impl Fn(usize, &str) -> Behaviour + Send + Sync + 'static,
        stop_after: Option<usize>,
    ) -> Self {
        let script = Arc::new(Script {
            answer: Box::new(answer),
            served: AtomicUsize::new(0),
            authorization: std::sync::Mutex::new(Vec::new()),
            stop_after,
            stop: Notify::new(),
        });
        let router = Router::new()
            .route("/api/v1/query_range", post(query))
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stopper = Arc::clone(&script);
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move { stopper.stop.notified().await })
                .await
                .unwrap();
        });
        Self { url, script }
    }

    /// Queries received so far.
    pub fn served(&self) -> usize {
        self.script.served.load(Ordering::SeqCst)
    }

    /// The `Authorization` header of every query received (empty when absent).
    pub fn authorization(&self) -> Vec<String> {
        self.script.authorization.lock().unwrap().clone()
    }
}

fn matrix(value: &str, points: usize) -> String {
    let values: Vec<String> = (0..points)
        .map(|i| format!("[{},\"{value}\"]", 1_795_400_000 + 30 * i))
        .collect();
    format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{{\"metric\":{{\"track\":\"x\"}},\"values\":[{}]}}]}}}}",
        values.join(",")
    )
}

async fn query(
    State(script): State<Arc<Script>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let authorization = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    script.authorization.lock().unwrap().push(authorization);
    let n = script.served.fetch_add(1, Ordering::SeqCst);
    let behaviour = (script.answer)(n, &body);
    if script.stop_after == Some(n + 1) {
        script.stop.notify_one();
    }
    match behaviour {
        Behaviour::Matrix { value, points } => matrix(value, points).into_response(),
        Behaviour::Empty => {
            "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}"
                .into_response()
        }
        Behaviour::Status(code) => (
            StatusCode::from_u16(code).unwrap(),
            format!(
                "{{\"status\":\"error\",\"errorType\":\"{}\",\"error\":\"scripted failure\"}}",
                if code < 500 { "bad_data" } else { "internal" }
            ),
        )
            .into_response(),
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            matrix("1", 20).into_response()
        }
        Behaviour::Garbage => "<html>proxy error</html>".into_response(),
    }
}
