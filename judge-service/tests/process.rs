//! The `serin-judge` binary as a process: SIGTERM lets an in-flight judgement
//! finish before the process exits 0; bad settings stop the start with a message.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::routing::post;

const BINARY: &str = env!("CARGO_BIN_EXE_serin-judge");

/// A Prometheus stand-in that takes `delay` to answer every query.
async fn slow_prometheus(delay: Duration) -> String {
    let answer = move || async move {
        tokio::time::sleep(delay).await;
        let values: Vec<String> = (0..20)
            .map(|i| format!("[{},\"1\"]", 1_795_400_000 + 30 * i))
            .collect();
        format!(
            "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{{\"metric\":{{}},\"values\":[{}]}}]}}}}",
            values.join(",")
        )
    };
    let router = Router::new().route("/api/v1/query_range", post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_judgements() {
    let prometheus = slow_prometheus(Duration::from_millis(1500)).await;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/service/configs");
    let mut child = Command::new(BINARY)
        .env("SERIN_LISTEN", format!("127.0.0.1:{port}"))
        .env("SERIN_PROMETHEUS_URL", &prometheus)
        .env("SERIN_CONFIGS_DIR", &configs)
        .env("SERIN_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "service did not start");

    let body = serde_json::json!({
        "configName": "checkout",
        "baseline": {"scope": "stable"}, "canary": {"scope": "canary"},
        "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T10:10:00Z"
    });
    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/judge");
        async move {
            let response = client.post(url).json(&body).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let (status, answer) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["verdict"], "pass", "{answer}");
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "still accepting after shutdown"
    );
}

#[test]
fn bad_settings_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("listen = \"nowhere\"\n", "listen"),
        (
            "[[prometheus]]\nname = \"p\"\nurl = \"ftp://x\"\n",
            "must be http or https",
        ),
        ("configs_dir = \"/no/such/dir\"\n", "/no/such/dir"),
    ];
    for (toml, want) in cases {
        let path = dir.path().join("serin.toml");
        std::fs::write(&path, toml).unwrap();
        let output = Command::new(BINARY)
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{toml}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(want), "{toml}: {stderr}");
    }
}
