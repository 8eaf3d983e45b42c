//! `serin-demo scenario`, run as a user runs it, with a healthy and a regressed v2: outcomes checked from what nginx logged and what the users (the load generator) saw.
//!
//! Needs Debian's `prometheus` and `nginx-light` (scripts/test.sh installs them). Each
//! run takes about a minute and a half (healthy) or half a minute (regressed).

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One line of nginx's access log (`uri status upstream request_time`).
struct Logged {
    uri: String,
    status: u16,
    upstream: String,
}

fn access_log(path: &Path) -> Vec<Logged> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 3, "access log line {line:?}");
            Logged {
                uri: fields[0].to_owned(),
                status: fields[1].parse().unwrap(),
                upstream: fields[2].to_owned(),
            }
        })
        .collect()
}

/// Runs the scenario; returns its summary and nginx's log of users' requests (`GET /`).
fn scenario(canary: &str) -> (Value, Vec<Logged>) {
    let dir = tempfile::tempdir().unwrap();
    let summary_path = dir.path().join("summary.json");
    let output = Command::new(env!("CARGO_BIN_EXE_serin-demo"))
        .args(["scenario", "--canary", canary, "--workdir"])
        .arg(dir.path().join("work"))
        .arg("--summary")
        .arg(&summary_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{canary}: {stdout}\n{stderr}");
    println!("{stdout}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).unwrap()).unwrap();
    let log = access_log(Path::new(summary["accessLog"].as_str().unwrap()))
        .into_iter()
        .filter(|line| line.uri == "/")
        .collect();
    (summary, log)
}

/// What users saw, whatever the rollout reported: every request answered by a version
/// (none lost across nginx's reloads, no 502), the last requests all on `final_version`.
fn check_users(summary: &Value, log: &[Logged], final_version: &str) {
    assert_eq!(summary["lost"], 0, "{summary:#}");
    assert_eq!(summary["gatewayErrors"], 0, "{summary:#}");
    let upstream = summary["upstreams"][final_version].as_str().unwrap();
    assert!(log.len() > 2_000, "{} requests logged", log.len());
    for line in log {
        assert!(
            [200, 500].contains(&line.status),
            "nginx answered {} ({})",
            line.status,
            line.upstream
        );
    }
    let last = &log[log.len() - 200..];
    assert!(
        last.iter().all(|line| line.upstream == upstream),
        "the last 200 requests not all on {final_version} ({upstream})"
    );
}

/// Processes whose command line names `dir` (Prometheus and nginx name their files).
fn processes_naming(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

/// The `127.0.0.1:PORT` addresses in `text` (the plan's versions, nginx's listen).
fn addresses(text: &str) -> Vec<String> {
    text.split(|c: char| c == '"' || c == ';' || c.is_whitespace())
        .filter(|word| word.starts_with("127.0.0.1:"))
        .map(str::to_owned)
        .collect()
}

/// Ctrl-C (SIGINT to the scenario alone, as a terminal would send it) in the middle of
/// a step stops everything the scenario started: no process left, no port answering.
fn interrupted_mid_step_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let mut child = Command::new(env!("CARGO_BIN_EXE_serin-demo"))
        .args(["scenario", "--canary", "healthy", "--workdir"])
        .arg(&work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let stepped = line.contains("→ 5 %");
        seen.push(line);
        if stepped {
            break;
        }
    }
    let running = processes_naming(&work);
    assert!(
        running.len() >= 2,
        "prometheus and nginx running: {running:?}\n{seen:?}"
    );
    let plan = std::fs::read_to_string(work.join("plan.yaml")).unwrap();
    let nginx = std::fs::read_to_string(work.join("nginx.conf")).unwrap();
    let ports: Vec<String> = addresses(&plan)
        .into_iter()
        .chain(addresses(&nginx))
        .collect();
    assert_eq!(ports.len(), 3, "v1, v2 and nginx: {ports:?}");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the scenario did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let stderr = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(processes_naming(&work), Vec::<String>::new());
    for address in &ports {
        assert!(
            TcpStream::connect(address.as_str()).is_err(),
            "{address} still answers after the scenario stopped"
        );
    }
}

/// The three runs share one test so they never run side by side on two cores.
#[test]
fn a_healthy_v2_reaches_every_user_a_regressed_one_is_rolled_back_at_5_percent_and_ctrl_c_stops_all()
 {
    interrupted_mid_step_leaves_nothing_running();
    let (summary, log) = scenario("healthy");
    assert_eq!(summary["phase"], "completed", "{summary:#}");
    check_users(&summary, &log, "v2");
    // At every step, v2's share of users follows the weight (nginx's weighted round
    // robin; requests in flight across a reload are counted in the stage they started in).
    for stage in summary["stages"].as_array().unwrap() {
        let (v1, v2) = (
            stage["v1"]["requests"].as_f64().unwrap(),
            stage["v2"]["requests"].as_f64().unwrap(),
        );
        if stage["kind"] == "step" && v1 + v2 > 1_000.0 {
            let share = 100.0 * v2 / (v1 + v2);
            let weight = stage["weight"].as_f64().unwrap();
            assert!((share - weight).abs() < 3.0, "{stage:#}");
        }
    }

    let (summary, log) = scenario("regressed");
    assert_eq!(summary["phase"], "aborted", "{summary:#}");
    check_users(&summary, &log, "v1");
    // Rolled back at the first step: the bad version reached a few of every hundred users.
    let v2_upstream = summary["upstreams"]["v2"].as_str().unwrap();
    let on_v2 = log
        .iter()
        .filter(|line| line.upstream == v2_upstream)
        .count();
    let share = 100.0 * on_v2 as f64 / log.len() as f64;
    assert!(
        on_v2 > 0 && share < 5.0,
        "v2 served {on_v2} of {}",
        log.len()
    );
    let judgements = summary["judgements"].as_array().unwrap();
    assert!(
        judgements.iter().all(|judgement| judgement["weight"] == 5),
        "{summary:#}"
    );
    assert_eq!(judgements.last().unwrap()["serin"], "fail", "{summary:#}");
}
