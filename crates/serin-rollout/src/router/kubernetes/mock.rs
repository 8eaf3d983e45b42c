//! A scripted Kubernetes API for router tests: each request must match the next expected
//! exchange exactly (method, path with query, content type, JSON body) and gets its recorded
//! answer (200, 201, 404, 409, 422 …). Anything unexpected is answered 500 and reported.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One expected request and its answer.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) body: Option<Value>,
    pub(crate) status: u16,
    pub(crate) response: Value,
}

impl Exchange {
    pub(crate) fn get(path: &str, status: u16, response: Value) -> Self {
        Exchange {
            method: Method::GET,
            path: path.to_owned(),
            content_type: None,
            body: None,
            status,
            response,
        }
    }

    pub(crate) fn merge_patch(path: &str, body: Value, status: u16, response: Value) -> Self {
        Exchange {
            method: Method::PATCH,
            path: path.to_owned(),
            content_type: Some("application/merge-patch+json"),
            body: Some(body),
            status,
            response,
        }
    }

    pub(crate) fn post(path: &str, body: Value, status: u16, response: Value) -> Self {
        Exchange {
            method: Method::POST,
            path: path.to_owned(),
            content_type: Some("application/json"),
            body: Some(body),
            status,
            response,
        }
    }
}

/// A Kubernetes `Status` answer.
pub(crate) fn status(code: u16, reason: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!("{reason} (recorded)"),
        "reason": reason,
        "code": code,
    })
}

#[derive(Clone, Default)]
struct Script {
    expected: Arc<Mutex<VecDeque<Exchange>>>,
    failures: Arc<Mutex<Vec<String>>>,
}

/// The running mock.
pub(crate) struct MockApi {
    url: String,
    script: Script,
    server: tokio::task::JoinHandle<()>,
}

async fn answer(
    State(script): State<Script>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(String::new, ToString::to_string);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body: Option<Value> = (!body.is_empty()).then(|| {
        serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)))
    });
    let seen = format!(
        "{method} {path} ({content_type:?}) {}",
        body.as_ref().map_or(String::new(), Value::to_string)
    );
    let Some(expected) = script.expected.lock().unwrap().pop_front() else {
        script
            .failures
            .lock()
            .unwrap()
            .push(format!("unexpected request: {seen}"));
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let matches = expected.method == method
        && expected.path == path
        && expected.content_type == content_type.as_deref()
        && expected.body == body;
    if !matches {
        script.failures.lock().unwrap().push(format!(
            "expected {} {} ({:?}) {}\n     got {seen}",
            expected.method,
            expected.path,
            expected.content_type,
            expected
                .body
                .as_ref()
                .map_or(String::new(), Value::to_string)
        ));
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let status = StatusCode::from_u16(expected.status).unwrap();
    (status, axum::Json(expected.response)).into_response()
}

impl MockApi {
    /// Serves `script` on a free port of 127.0.0.1.
    pub(crate) async fn start(script: Vec<Exchange>) -> Self {
        let script = Script {
            expected: Arc::new(Mutex::new(script.into())),
            failures: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockApi {
            url,
            script,
            server,
        }
    }

    /// A client pointed at the mock.
    pub(crate) fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    /// Checks that every expected request came, in order, and nothing else.
    pub(crate) fn finish(self, case: &str) {
        self.server.abort();
        let failures = self.script.failures.lock().unwrap();
        assert!(failures.is_empty(), "{case}:\n{}", failures.join("\n"));
        let left = self.script.expected.lock().unwrap();
        assert!(
            left.is_empty(),
            "{case}: expected requests never came: {left:#?}"
        );
    }
}

/// One router case: a name, the change asked, the exchanges expected, and the outcome
/// (`Ok(changed)` or an error containing the text).
pub(crate) type RouterCase = (
    &'static str,
    crate::router::WeightChange,
    Vec<Exchange>,
    Result<bool, &'static str>,
);

/// Runs each case against a fresh mock with the router `make` builds.
pub(crate) async fn check_cases<R: crate::router::Router>(
    cases: Vec<RouterCase>,
    make: impl Fn(kube::Client) -> R,
) {
    for (name, change, script, expected) in cases {
        let api = MockApi::start(script).await;
        let result = make(api.client()).set_weight(change).await;
        api.finish(name);
        match (expected, result) {
            (Ok(changed), Ok(write)) => assert_eq!(write.changed, changed, "{name}"),
            (Err(text), Err(error)) => {
                assert!(error.to_string().contains(text), "{name}: {error}");
            }
            (_, result) => panic!("{name}: unexpected {result:?}"),
        }
    }
}
