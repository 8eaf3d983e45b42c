//! The service driven through its router against hostile requests and a hung or
//! absent Prometheus: time limits, panics, secrets, content types, echoed names,
//! fan-out.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use serin_core::CanaryConfig;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::configs::ConfigStore;
use crate::settings::Settings;
use crate::{AppState, app};

/// One metric, `lat`, queried per track.
fn lat_config() -> CanaryConfig {
    CanaryConfig::from_value(json!({
        "name": "lat",
        "metrics": [{"name": "lat",
            "query": {"customInlineTemplate": "PromQL:avg(lat{track=\"${scope}\"})"},
            "analysisConfigurations": {"canary": {}}}]
    }))
    .unwrap()
}

/// A config with `n` metrics.
fn wide_config(n: usize) -> Value {
    let metrics: Vec<Value> = (0..n)
        .map(|i| {
            json!({"name": format!("m{i}"),
                "query": {"customInlineTemplate": "up{track=\"${scope}\"}"},
                "analysisConfigurations": {"canary": {}}})
        })
        .collect();
    json!({"name": "wide", "metrics": metrics})
}

fn state(toml: &str) -> AppState {
    let settings = Settings::from_toml(toml, Path::new("test.toml"))
        .unwrap()
        .with_env([])
        .unwrap();
    let wide = CanaryConfig::from_value(wide_config(201)).unwrap();
    let configs =
        ConfigStore::from_configs([("lat".to_owned(), lat_config()), ("wide".to_owned(), wide)])
            .unwrap();
    AppState::new(settings, configs).unwrap()
}

/// An endpoint table for `url`; the query timeout is long so the judge's own
/// deadline is what ends a hung query.
fn endpoint(url: &str, extra: &str) -> String {
    format!(
        "[[prometheus]]\nname = \"default\"\nurl = \"{url}\"\ntimeout = \"1h\"\nretries = 0\n{extra}\n"
    )
}

struct Answer {
    status: StatusCode,
    body: String,
    content_type: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Answer {
    call_router(app(state.clone()), method, uri, headers, body).await
}

async fn call_router(
    router: axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
        content_type,
    }
}

fn prometheus_body() -> String {
    json!({"configName": "lat", "baseline": {"scope": "stable"}, "canary": {"scope": "canary"},
           "lookback": "10m", "step": "30s"})
    .to_string()
}

fn inline_body() -> String {
    let side: Vec<f64> = (0..40).map(|i| 100.0 + f64::from(i % 7)).collect();
    json!({"configName": "lat", "data": {"lat": {"baseline": side, "canary": side}}}).to_string()
}

fn flagger_body(metadata: Value) -> String {
    json!({"name": "c", "namespace": "n", "metadata": metadata}).to_string()
}

fn kayenta_body() -> String {
    let scope = |track: &str| json!({"scope": track, "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T10:10:00Z", "step": 30});
    json!({"scopes": {"default": {"controlScope": scope("stable"), "experimentScope": scope("canary")}}})
        .to_string()
}

/// Defect 4: with Prometheus hung, `judge_timeout` bounds every request from its
/// start, queueing included; an inline judgement does not wait behind the stuck
/// ones; Kayenta executions fail within the limit of their start. Paused time: the
/// clock jumps to each deadline, so the timings below are exact, not raced.
#[tokio::test(start_paused = true)]
async fn judge_timeout_bounds_each_request_and_inline_judgements_do_not_queue() {
    // Bound but never accepted: connections are queued and never answered, as
    // from a Prometheus stopped with SIGSTOP.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", hung.local_addr().unwrap());
    let state = state(&format!(
        "concurrency_limit = 8\njudge_timeout = \"20s\"\n{}",
        endpoint(&url, "")
    ));
    let limit = Duration::from_secs(20);
    let started = Instant::now();
    let timed = |uri: &'static str, body: String| {
        let state = state.clone();
        tokio::spawn(async move {
            let answer = call(&state, "POST", uri, &[], body).await;
            (answer.status, answer.body, started.elapsed())
        })
    };
    let stuck: Vec<_> = (0..40)
        .map(|_| timed("/judge", prometheus_body()))
        .collect();
    let flagger = timed(
        "/flagger/judge",
        flagger_body(json!({"config": "lat", "baseline": "stable", "canary": "canary"})),
    );
    let mut executions = Vec::new();
    for _ in 0..5 {
        let answer = call(&state, "POST", "/canary/lat", &[], kayenta_body()).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        executions.push(
            answer.json()["canaryExecutionId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let inline = timed("/judge", inline_body());

    let (status, body, elapsed) = inline.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        elapsed < Duration::from_secs(1),
        "the inline judgement waited {elapsed:?} behind judgements stuck on Prometheus"
    );
    for task in stuck.into_iter().chain([flagger]) {
        let (status, body, elapsed) = task.await.unwrap();
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
        assert!(body.contains("did not finish within 20s"), "{body}");
        assert!(
            elapsed >= limit && elapsed < limit + Duration::from_secs(1),
            "answered after {elapsed:?}, not at the {limit:?} limit"
        );
    }
    tokio::time::sleep_until(started + limit + Duration::from_secs(1)).await;
    for id in executions {
        let answer = call(&state, "GET", &format!("/canary/{id}"), &[], Body::empty()).await;
        let execution = answer.json();
        assert_eq!(execution["complete"], true, "{execution}");
        assert_eq!(execution["status"], "terminal", "{execution}");
        assert_eq!(execution["exception"]["kind"], "timeout", "{execution}");
        assert_eq!(
            execution["exception"]["message"], "judgement did not finish within 20s",
            "{execution}"
        );
    }
    drop(hung);
}

/// Defect 5: durations and windows beyond chrono's range are a 400 naming the
/// field, on every route, never a panic.
#[tokio::test]
async fn out_of_range_windows_are_bad_requests() {
    let state = state(&endpoint("http://127.0.0.1:9", ""));
    let judge = |extra: Value| {
        let mut body = json!({"configName": "lat", "baseline": {"scope": "stable"}, "canary": {"scope": "canary"}});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body.to_string()
    };
    // (route, body, text in the error, field)
    let cases: Vec<(&str, String, &str, Option<&str>)> = vec![
        (
            "/judge",
            judge(json!({"lookback": "300000y", "step": "1000000h"})),
            "outside the supported time range",
            Some("lookback"),
        ),
        (
            "/judge",
            judge(json!({"lookback": "580000000000y"})),
            "lookback",
            Some("lookback"),
        ),
        (
            "/judge",
            judge(json!({"lookback": 1e300})),
            "invalid duration",
            Some("lookback"),
        ),
        (
            "/judge",
            judge(json!({"lookback": "10m", "step": "1e300"})),
            "invalid duration",
            Some("step"),
        ),
        (
            "/judge",
            judge(json!({"start": "2026-11-23T10:10:00Z", "end": "2026-11-23T10:00:00Z"})),
            "must be after its start",
            Some("end"),
        ),
        (
            "/flagger/judge",
            flagger_body(json!({"config": "lat", "baseline": "a", "canary": "b",
                "lookback": "300000y", "step": "1000000h"})),
            "outside the supported time range",
            None,
        ),
        (
            "/flagger/judge",
            flagger_body(json!({"config": "lat", "baseline": "a", "canary": "b",
                "lookback": "18446744073709551615s"})),
            "lookback",
            None,
        ),
    ];
    for (route, body, text, field) in cases {
        let answer = call(&state, "POST", route, &[], body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}\n{}",
            answer.body
        );
        assert!(
            answer.body.contains(text),
            "{body}\nwant {text:?} in {}",
            answer.body
        );
        if route == "/judge" {
            assert_eq!(answer.json()["field"].as_str(), field, "{body}");
        }
    }
}

/// Defect 5: a panicking handler is answered 500 (no internals), counted in
/// `/metrics`, and the connection is not dropped.
#[tokio::test]
async fn panics_are_answered_500_and_counted() {
    let state = state("");
    let metrics = call(&state, "GET", "/metrics", &[], Body::empty()).await;
    assert!(
        metrics.body.contains("serin_panics_total 0"),
        "{}",
        metrics.body
    );
    async fn boom() -> &'static str {
        panic!("secret detail")
    }
    async fn boom_string() -> &'static str {
        std::panic::panic_any(String::from("secret detail"))
    }
    let routes = axum::Router::new()
        .route("/boom", get(boom))
        .route("/boom-string", get(boom_string));
    for uri in ["/boom", "/boom-string"] {
        let answer = call_router(
            super::guarded(routes.clone(), state.clone()),
            "GET",
            uri,
            &[],
            Body::empty(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert!(answer.content_type.starts_with("application/json"));
        assert_eq!(
            answer.json(),
            json!({"error": "internal error", "kind": "internal"})
        );
    }
    let metrics = call(&state, "GET", "/metrics", &[], Body::empty()).await;
    for line in [
        "serin_panics_total 2",
        "serin_http_requests_total{route=\"/boom\",method=\"GET\",status=\"500\"} 1",
    ] {
        assert!(metrics.body.contains(line), "{line}:\n{}", metrics.body);
    }
}

/// A `Write` into a shared buffer, for capturing logs.
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

/// Defect 6: an unreachable endpoint whose URL holds credentials and a query string
/// is named by its name in the answer, and logged with the URL redacted.
#[tokio::test]
async fn endpoint_urls_never_reach_clients_or_logs() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let url = format!("http://admin:hunter2@127.0.0.1:{port}/prom?secret=xyz");
    let state = state(&format!(
        "[[prometheus]]\nname = \"default\"\nurl = \"{url}\"\nretries = 1\nbackoff = \"10ms\"\n"
    ));
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("serin_sources=debug,serin_judge_service=debug")
        .with_ansi(false)
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let answer = call(&state, "POST", "/judge", &[], prometheus_body()).await;
    let flagger = call(
        &state,
        "POST",
        "/flagger/judge",
        &[],
        flagger_body(json!({"config": "lat", "baseline": "stable", "canary": "canary"})),
    )
    .await;
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.body);
    assert_eq!(flagger.status, StatusCode::BAD_GATEWAY, "{}", flagger.body);
    let message = answer.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("Prometheus endpoint \"default\" unreachable for query "),
        "{message}"
    );
    assert!(logs.contains("metric source failed"), "{logs}");
    assert!(
        logs.contains(&format!("url=http://127.0.0.1:{port}/prom ")),
        "the redacted URL is logged:\n{logs}"
    );
    for (what, text) in [
        ("answer", &answer.body),
        ("flagger", &flagger.body),
        ("logs", &logs),
    ] {
        for secret in ["hunter2", "admin", "secret", "xyz", "/prom?", "api/v1"] {
            assert!(!text.contains(secret), "{secret} in the {what}:\n{text}");
        }
    }
}

/// Extra: JSON routes refuse a non-JSON `Content-Type` with 415; a missing one is
/// read as JSON.
#[tokio::test]
async fn json_routes_refuse_other_content_types() {
    let state = state("");
    // (content type, accepted)
    let cases: &[(Option<&str>, bool)] = &[
        (None, true),
        (Some("application/json"), true),
        (Some("application/json; charset=utf-8"), true),
        (Some("Application/JSON"), true),
        (Some("application/vnd.kayenta+json"), true),
        (Some("text/plain"), false),
        (Some("application/x-www-form-urlencoded"), false),
        (Some("multipart/form-data; boundary=x"), false),
        (Some("application/jsonp"), false),
        (Some(""), false),
    ];
    let routes = [
        ("/judge", inline_body()),
        (
            "/flagger/judge",
            flagger_body(json!({"config": "lat", "baseline": "a", "canary": "b"})),
        ),
        ("/canary/lat", kayenta_body()),
    ];
    for (content_type, accepted) in cases {
        for (route, body) in &routes {
            let headers: Vec<(&str, &str)> = content_type
                .iter()
                .map(|value| ("content-type", *value))
                .collect();
            let answer = call(&state, "POST", route, &headers, body.clone()).await;
            assert_eq!(
                answer.status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
                !accepted,
                "{route} {content_type:?}: {} {}",
                answer.status,
                answer.body
            );
            if !accepted {
                assert!(
                    answer.body.contains("send application/json"),
                    "{}",
                    answer.body
                );
            }
        }
    }
    // The inline judgement itself goes through with a JSON content type.
    let answer = call(
        &state,
        "POST",
        "/judge",
        &[("content-type", "application/json")],
        inline_body(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

/// Extra: names from a request are echoed cut to 128 characters.
#[tokio::test]
async fn huge_names_are_not_echoed_whole() {
    let state = state(&endpoint("http://127.0.0.1:9", ""));
    // Bodies take a megabyte; a URI at most 64 KiB (the `http` crate's limit).
    let huge = "x".repeat(1 << 20);
    let long_id = "x".repeat(10_000);
    let cut = format!("{}…", "x".repeat(128));
    let scopes = json!({"baseline": {"scope": "a"}, "canary": {"scope": "b"}, "lookback": "5m"});
    let mut unknown_endpoint = scopes.clone();
    unknown_endpoint["configName"] = json!("lat");
    unknown_endpoint["endpoint"] = json!(huge);
    // (method, uri, body, status)
    let cases: Vec<(&str, String, String, StatusCode)> = vec![
        (
            "POST",
            "/judge".into(),
            json!({"configName": huge, "data": {"lat": {"baseline": [1], "canary": [1]}}})
                .to_string(),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/judge".into(),
            unknown_endpoint.to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            format!("/canary/{long_id}"),
            kayenta_body(),
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            format!("/canary/{long_id}"),
            String::new(),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/flagger/judge".into(),
            flagger_body(json!({"config": huge, "baseline": "a", "canary": "b"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "POST",
            "/flagger/judge".into(),
            flagger_body(
                json!({"config": "lat", "baseline": "a", "canary": "b", huge.clone(): "1"}),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/flagger/judge".into(),
            flagger_body(
                json!({"config": "lat", "baseline": "a", "canary": "b", "onMarginal": huge}),
            ),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, uri, body, status) in cases {
        let answer = call(&state, method, &uri, &[], body).await;
        let short_uri: String = uri.chars().take(40).collect();
        assert_eq!(
            answer.status, status,
            "{method} {short_uri}: {:.300}",
            answer.body
        );
        assert!(
            answer.body.len() < 2048,
            "{method} {short_uri}: {} bytes",
            answer.body.len()
        );
        assert!(
            answer.body.contains(&cut),
            "{method} {short_uri}: {}",
            answer.body
        );
    }
}

/// Extra: a config that would fan out into more than 400 queries is refused at
/// once, on every route that queries Prometheus; inline data is not bounded by it.
#[tokio::test]
async fn fan_out_is_bounded_per_request() {
    let state = state(&endpoint("http://127.0.0.1:9", ""));
    let scopes = json!({"baseline": {"scope": "a"}, "canary": {"scope": "b"}, "lookback": "5m"});
    let mut inline_config = scopes.clone();
    inline_config["config"] = wide_config(201);
    let mut stored = scopes.clone();
    stored["configName"] = json!("wide");
    let data: serde_json::Map<String, Value> = (0..201)
        .map(|i| {
            (
                format!("m{i}"),
                json!({"baseline": [1, 2, 3], "canary": [1, 2, 3]}),
            )
        })
        .collect();
    // (uri, body, status)
    let cases: Vec<(&str, String, StatusCode)> = vec![
        ("/judge", inline_config.to_string(), StatusCode::BAD_REQUEST),
        ("/judge", stored.to_string(), StatusCode::BAD_REQUEST),
        (
            "/flagger/judge",
            flagger_body(json!({"config": "wide", "baseline": "a", "canary": "b"})),
            StatusCode::BAD_REQUEST,
        ),
        ("/canary/wide", kayenta_body(), StatusCode::BAD_REQUEST),
        (
            "/judge",
            json!({"configName": "wide", "data": data}).to_string(),
            StatusCode::OK,
        ),
    ];
    for (uri, body, status) in cases {
        let answer = call(&state, "POST", uri, &[], body).await;
        assert_eq!(answer.status, status, "{uri}: {:.500}", answer.body);
        if status == StatusCode::BAD_REQUEST {
            assert!(
                answer.body.contains(
                    "has 201 metrics; a judgement fetches at most 200 from Prometheus (400 queries)"
                ),
                "{uri}: {}",
                answer.body
            );
        }
    }
}
