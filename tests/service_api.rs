//! The judge service's HTTP API driven through its Router (`oneshot`): inline
//! judgements, every documented error status, auth, probes, metrics and OpenAPI.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use serin_judge_service::configs::ConfigStore;
use serin_judge_service::{AppState, app};
use tower::ServiceExt;

use crate::support::service::{configs_dir, settings};

/// Method, path, headers, expected status.
type AuthCase = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    StatusCode,
);

fn state(toml: &str) -> AppState {
    AppState::new(settings(toml), ConfigStore::load(&configs_dir()).unwrap()).unwrap()
}

/// `n` seeded values around `mean`.
fn series(seed: u64, n: usize, mean: f64, spread: f64) -> Vec<f64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n)
        .map(|_| mean + spread * (rng.random::<f64>() - 0.5))
        .collect()
}

fn inline(latency_factor: f64, errors_factor: f64) -> Value {
    let side = |seed: u64, factor_latency: f64, factor_errors: f64| {
        json!({
            "latency_p99_ms": series(seed, 60, 120.0 * factor_latency, 20.0),
            "error_ratio": series(seed + 1, 60, 0.01 * factor_errors, 0.004),
            "cpu_ratio": series(seed + 2, 60, 0.45, 0.05),
        })
    };
    let baseline = side(1, 1.0, 1.0);
    let canary = side(11, latency_factor, errors_factor);
    let mut data = serde_json::Map::new();
    for metric in ["latency_p99_ms", "error_ratio", "cpu_ratio"] {
        data.insert(
            metric.into(),
            json!({"baseline": baseline[metric], "canary": canary[metric]}),
        );
    }
    Value::Object(data)
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
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app(state.clone())
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

#[tokio::test]
async fn inline_judgements_answer_200_with_the_verdict() {
    let state = state("");
    let cases = [(1.0, 1.0, "pass"), (1.3, 5.0, "fail")];
    for (latency, errors, verdict) in cases {
        let body = json!({"configName": "checkout", "data": inline(latency, errors)});
        let answer = call(&state, "POST", "/judge", &[], body.to_string()).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let json = answer.json();
        assert_eq!(json["verdict"], verdict, "{}", answer.body);
        assert_eq!(json["judgeResult"]["verdict"], verdict);
        assert!(json["score"].is_number() && json["reasons"].is_array());
        assert_eq!(json["judgeResult"]["results"].as_array().unwrap().len(), 3);
    }

    // An inline config and request thresholds work the same; a canary without latency
    // data (mustHaveData) loses the latency group: 60 of 100, marginal at 90 / 50.
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(configs_dir().join("checkout.json")).unwrap(),
    )
    .unwrap();
    let mut data = inline(1.0, 1.0);
    data["latency_p99_ms"]["canary"] = json!([]);
    let body = json!({"config": config, "data": data, "thresholds": {"pass": 90, "marginal": 50}});
    let answer = call(&state, "POST", "/judge", &[], body.to_string()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let json = answer.json();
    assert_eq!(json["verdict"], "marginal", "{}", answer.body);
    assert_eq!(json["score"], 60.0);
    assert_eq!(
        json["judgeResult"]["results"][0]["classification"],
        "NodataFailMetric"
    );
}

/// The Serin judge from `/judge`: an inline config naming it, inline data with
/// timestamps; the answer carries its sequential evidence and reasons with the time.
#[tokio::test]
async fn the_serin_judge_answers_from_judge_with_timestamps() {
    let state = state("");
    let mut config: Value = serde_json::from_str(
        &std::fs::read_to_string(configs_dir().join("checkout.json")).unwrap(),
    )
    .unwrap();
    config["judge"] = json!({"name": "SerinJudge-v1.0", "judgeConfigurations": {}});
    let times: Vec<String> = (0..60)
        .map(|minute| format!("2026-12-03T10:{minute:02}:00Z"))
        .collect();
    for (latency, errors, verdict) in [(1.0, 1.0, "pass"), (1.3, 5.0, "fail")] {
        let mut data = inline(latency, errors);
        for metric in data.as_object_mut().unwrap().values_mut() {
            metric["baselineTimes"] = json!(times);
            metric["canaryTimes"] = json!(times);
        }
        let body = json!({"config": config, "data": data});
        let answer = call(&state, "POST", "/judge", &[], body.to_string()).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let json = answer.json();
        assert_eq!(json["verdict"], verdict, "{}", answer.body);
        assert_eq!(json["judgeResult"]["judgeName"], "SerinJudge-v1.0");
        let latency_evidence = &json["judgeResult"]["results"][0]["evidence"]["sequential"];
        assert_eq!(latency_evidence["bins"], 60, "{}", answer.body);
        if verdict == "fail" {
            assert_eq!(latency_evidence["decision"], "regression");
            let reasons = json["reasons"].to_string();
            assert!(reasons.contains("since 2026-12-03T10:"), "{reasons}");
        }
    }
}

#[tokio::test]
async fn bad_requests_get_clear_statuses() {
    let state = state("body_limit_bytes = 4096\n");
    let good_data = json!({"latency_p99_ms": {"baseline": [1, 2, 3], "canary": [1, 2, 3]}});
    let big = json!({"configName": "checkout", "data": {"latency_p99_ms": {"baseline": vec![1.0; 2000], "canary": [1.0]}}});
    // (body, status, text in the error, field)
    let cases: Vec<(String, StatusCode, &str, Option<&str>)> = vec![
        ("{\"configName\": \"checkout\",".into(), StatusCode::BAD_REQUEST, "EOF", None),
        ("\"judge me\"".into(), StatusCode::BAD_REQUEST, "invalid type", None),
        (json!({"configName": 7}).to_string(), StatusCode::BAD_REQUEST, "configName", Some("configName")),
        (
            json!({"configName": "checkout", "baseline": {"scope": 1}, "canary": {"scope": "x"}, "lookback": "5m"}).to_string(),
            StatusCode::BAD_REQUEST,
            "baseline.scope",
            Some("baseline.scope"),
        ),
        (json!({"configName": "checkout", "lookbak": "5m"}).to_string(), StatusCode::BAD_REQUEST, "unknown field `lookbak`", Some("lookbak")),
        (json!({"configName": "checkout", "data": {"m": {"baseline": ["x"], "canary": []}}}).to_string(), StatusCode::BAD_REQUEST, "data.m.baseline[0]", Some("data.m.baseline[0]")),
        (json!({"configName": "nope", "data": good_data}).to_string(), StatusCode::NOT_FOUND, "unknown canary config \"nope\"", None),
        (json!({"data": good_data}).to_string(), StatusCode::BAD_REQUEST, "a canary config is required", Some("configName")),
        (json!({"configName": "checkout", "data": {"latncy": {"baseline": [1], "canary": [1]}}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "unknown metric name(s) in data: latncy", None),
        (json!({"configName": "checkout", "data": good_data, "thresholds": {"pass": 50, "marginal": 90}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "marginal <= pass", None),
        (json!({"configName": "checkout", "baseline": {"scope": "a"}, "canary": {"scope": "b"}}).to_string(), StatusCode::BAD_REQUEST, "a window is required", Some("lookback")),
        (json!({"configName": "checkout", "baseline": {"scope": "a"}, "canary": {"scope": "b"}, "lookback": "1d", "step": "1s"}).to_string(), StatusCode::BAD_REQUEST, "exceeds Prometheus' limit", Some("step")),
        (json!({"configName": "checkout", "baseline": {"scope": "a"}, "canary": {"scope": "b"}, "lookback": "5m"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "no Prometheus endpoint is configured", None),
        (json!({"configName": "checkout", "config": {}, "data": good_data}).to_string(), StatusCode::BAD_REQUEST, "not both", Some("configName")),
        (
            json!({"config": {"name": "x", "metrics": [{"name": "m", "analysisConfigurations": {"canary": {"direction": "up"}}}]}, "data": good_data}).to_string(),
            StatusCode::BAD_REQUEST,
            "metrics[0].analysisConfigurations.canary.direction",
            Some("config"),
        ),
        (big.to_string(), StatusCode::PAYLOAD_TOO_LARGE, "exceeds the limit of 4096 bytes", None),
    ];
    for (body, status, text, field) in cases {
        let answer = call(
            &state,
            "POST",
            "/judge",
            &[("content-type", "application/json")],
            body.clone(),
        )
        .await;
        assert_eq!(answer.status, status, "{body}\n{}", answer.body);
        assert!(
            answer.content_type.starts_with("application/json"),
            "{}",
            answer.content_type
        );
        let json = answer.json();
        assert!(
            json["error"].as_str().unwrap().contains(text),
            "{body}\nwant {text:?} in {}",
            answer.body
        );
        assert_eq!(json["field"].as_str(), field, "{body}");
    }
    let answer = call(&state, "GET", "/judgment", &[], Body::empty()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tokens_guard_the_judging_routes_only() {
    let state = state("tokens = [\"s3cret\"]\n");
    let body = json!({"configName": "checkout", "data": inline(1.0, 1.0)}).to_string();
    let cases: [AuthCase; 8] = [
        ("POST", "/judge", vec![], StatusCode::UNAUTHORIZED),
        (
            "POST",
            "/judge",
            vec![("authorization", "Bearer wrong")],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "POST",
            "/judge",
            vec![("authorization", "Bearer s3cret")],
            StatusCode::OK,
        ),
        ("GET", "/canaryConfig", vec![], StatusCode::UNAUTHORIZED),
        ("GET", "/t/s3cret/canaryConfig", vec![], StatusCode::OK),
        (
            "GET",
            "/t/wrong/canaryConfig",
            vec![],
            StatusCode::UNAUTHORIZED,
        ),
        ("GET", "/healthz", vec![], StatusCode::OK),
        ("GET", "/metrics", vec![], StatusCode::OK),
    ];
    for (method, uri, headers, status) in cases {
        let answer = call(&state, method, uri, &headers, body.clone()).await;
        assert_eq!(
            answer.status, status,
            "{method} {uri} {headers:?}: {}",
            answer.body
        );
    }
    let flagger = |token: Option<&str>| {
        let mut metadata = json!({"config": "checkout", "baseline": "a", "canary": "b"});
        if let Some(token) = token {
            metadata["token"] = json!(token);
        }
        json!({"name": "c", "namespace": "n", "metadata": metadata}).to_string()
    };
    let answer = call(
        &state,
        "POST",
        "/flagger/judge",
        &[],
        flagger(Some("wrong")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body, "error: missing or invalid bearer token\n");
    // With the token, it gets past auth (and fails later: no endpoint is configured).
    let answer = call(
        &state,
        "POST",
        "/flagger/judge",
        &[],
        flagger(Some("s3cret")),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn kayenta_api_lists_configs_and_refuses_what_it_cannot_run() {
    let state = state("");
    let answer = call(
        &state,
        "GET",
        "/canaryConfig?application=checkout",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let list = answer.json();
    assert_eq!(list[0]["id"], "checkout");
    assert_eq!(list[0]["name"], "checkout");
    let answer = call(
        &state,
        "GET",
        "/canaryConfig?application=billing",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(answer.json(), json!([]));

    let scope = json!({"scope": "a", "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T10:10:00Z", "step": 30});
    let execution =
        json!({"scopes": {"default": {"controlScope": scope, "experimentScope": scope}}})
            .to_string();
    let cases = [
        ("/canary/nope", execution.as_str(), StatusCode::NOT_FOUND),
        (
            "/canary/checkout?metricsAccountName=elsewhere",
            execution.as_str(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/canary/checkout",
            "{\"scopes\": {}}",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/canary/checkout",
            execution.as_str(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (uri, body, status) in cases {
        let answer = call(&state, "POST", uri, &[], body.to_owned()).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.body);
    }
    let answer = call(&state, "GET", "/canary/unknown-id", &[], Body::empty()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn probes_metrics_and_openapi() {
    let state = state("");
    assert_eq!(
        call(&state, "GET", "/healthz", &[], Body::empty())
            .await
            .body,
        "ok"
    );
    let ready = call(&state, "GET", "/readyz", &[], Body::empty()).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["configs"], 1);
    state.start_draining();
    assert_eq!(
        call(&state, "GET", "/readyz", &[], Body::empty())
            .await
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let body = json!({"configName": "checkout", "data": inline(1.0, 1.0)}).to_string();
    assert_eq!(
        call(&state, "POST", "/judge", &[], body).await.status,
        StatusCode::OK
    );
    let metrics = call(&state, "GET", "/metrics", &[], Body::empty()).await;
    assert!(
        metrics
            .content_type
            .starts_with("application/openmetrics-text")
    );
    for line in [
        "serin_verdicts_total{verdict=\"pass\",api=\"judge\"} 1",
        "serin_http_requests_total{route=\"/judge\",method=\"POST\",status=\"200\"} 1",
        "serin_http_request_duration_seconds_count{route=\"/judge\"} 1",
    ] {
        assert!(
            metrics.body.contains(line),
            "{line} missing:\n{}",
            metrics.body
        );
    }

    // The OpenAPI document lists every route the router serves, and no other.
    let spec = call(&state, "GET", "/openapi.json", &[], Body::empty())
        .await
        .json();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let served = [
        "GET /canary/{id}",
        "GET /canaryConfig",
        "GET /healthz",
        "GET /metrics",
        "GET /openapi.json",
        "GET /readyz",
        "POST /canary/{id}",
        "POST /flagger/judge",
        "POST /judge",
    ];
    assert_eq!(documented, served);
    for route in served {
        let (method, path) = route.split_once(' ').unwrap();
        let uri = path.replace("{id}", "checkout");
        let answer = call(&state, method, &uri, &[], "{}").await;
        assert_ne!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{route}");
        assert!(
            !answer.body.contains("no such route"),
            "{route} is documented but not served"
        );
    }
}
