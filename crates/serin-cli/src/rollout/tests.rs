//! `serin rollout` end to end without a process: a plain-nginx router writing a temporary
//! upstream file (reload is `true`), a tiny HTTP judge answering a chosen verdict, and the
//! real clock with millisecond intervals.

use std::io::{Read, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serin_rollout::router::nginx::NginxConfig;
use serin_rollout::{Weight, state::FileStore};

use super::*;

/// A judge service answering every `POST /judge` with the current verdict.
struct FakeJudge {
    url: String,
    verdict: Arc<Mutex<&'static str>>,
}

impl FakeJudge {
    fn start(verdict: &'static str) -> FakeJudge {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let verdict = Arc::new(Mutex::new(verdict));
        let answer = verdict.clone();
        std::thread::spawn(move || {
            for connection in listener.incoming() {
                let Ok(mut connection) = connection else {
                    continue;
                };
                let mut request = Vec::new();
                let mut buffer = [0; 4096];
                // Headers, then as much body as Content-Length says.
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
                let verdict = *answer.lock().unwrap();
                let body = format!(
                    r#"{{"verdict": "{verdict}", "score": 90, "reasons": ["{verdict} by the fake"]}}"#
                );
                let _ = write!(
                    connection,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FakeJudge { url, verdict }
    }
}

struct Files {
    directory: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Files {
            directory: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    fn plan(&self, judge: &FakeJudge, steps: &str) -> PathBuf {
        let text = format!(
            "name: cli\npollInterval: 5ms\nrouter:\n  nginx:\n    upstreamFile: {:?}\n    upstream: app\n\
             \x20   stable: 127.0.0.1:1\n    canary: 127.0.0.1:2\n    reload: [\"true\"]\n\
             judge: {{url: {:?}, baseline: {{scope: s}}, canary: {{scope: c}}}}\nsteps:\n{steps}",
            self.path("upstream.conf").display(),
            judge.url
        );
        let path = self.path("plan.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The weight in the upstream file.
    fn weight(&self) -> Option<Weight> {
        let config = NginxConfig {
            upstream_file: self.path("upstream.conf"),
            upstream: "app".into(),
            stable: "127.0.0.1:1".into(),
            canary: "127.0.0.1:2".into(),
            server_options: None,
            test: None,
            reload: vec!["true".into()],
        };
        config.parse(&std::fs::read_to_string(self.path("upstream.conf")).ok()?)
    }

    fn state(&self) -> PathBuf {
        self.path("state.json")
    }
}

const STEPS: &str = "  - setWeight: 10\n  - analysis: {config: c, interval: 1ms, count: 2, lookback: 1m}\n  - setWeight: 50\n";

fn command(files: &Files, plan: PathBuf) -> RolloutCommand {
    RolloutCommand::Run {
        plan,
        state: files.state(),
        restart: false,
    }
}

fn status_text(files: &Files) -> String {
    let mut out = Vec::new();
    let command = RolloutCommand::Status {
        state: files.state(),
        format: Format::Table,
    };
    assert_eq!(run(&command, &mut out).unwrap(), EXIT_PASS);
    String::from_utf8(out).unwrap()
}

#[test]
fn run_to_completion_then_status_and_abort() {
    let files = Files::new();
    let judge = FakeJudge::start("pass");
    let plan = files.plan(&judge, STEPS);
    let mut out = Vec::new();
    assert_eq!(
        run(&command(&files, plan.clone()), &mut out).unwrap(),
        EXIT_PASS
    );
    let printed = String::from_utf8(out).unwrap();
    assert!(
        printed.contains("pass (score 90.0): pass by the fake"),
        "{printed}"
    );
    assert!(
        printed.ends_with("completed: all steps done: canary has all the traffic\n"),
        "{printed}"
    );
    assert_eq!(files.weight(), Some(Weight::FULL));

    let status = status_text(&files);
    for expected in [
        "rollout:  cli (completed)",
        "step:     3/3 (done)",
        "weight:   100 %",
        "last verdicts:",
        "step 2 at 10 %: pass",
    ] {
        assert!(status.contains(expected), "{expected:?} in\n{status}");
    }
    // Running the same plan again does not start over.
    let mut out = Vec::new();
    assert_eq!(run(&command(&files, plan), &mut out).unwrap(), EXIT_PASS);
    assert_eq!(files.weight(), Some(Weight::FULL));

    let mut out = Vec::new();
    let abort = RolloutCommand::Abort {
        state: files.state(),
        reason: "rolled back by hand".into(),
    };
    assert_eq!(run(&abort, &mut out).unwrap(), EXIT_PASS);
    assert_eq!(files.weight(), Some(Weight::ZERO));
    assert!(status_text(&files).contains("message:  rolled back by hand"));
}

#[test]
fn a_failing_verdict_rolls_back_and_exits_2() {
    let files = Files::new();
    let judge = FakeJudge::start("fail");
    let plan = files.plan(&judge, STEPS);
    let mut out = Vec::new();
    assert_eq!(run(&command(&files, plan), &mut out).unwrap(), EXIT_FAIL);
    assert_eq!(files.weight(), Some(Weight::ZERO));
    let printed = String::from_utf8(out).unwrap();
    assert!(
        printed.contains("aborted: analysis at step 1 failed"),
        "{printed}"
    );
}

/// Waits (bounded) until the state file shows `phase`.
fn wait_for(files: &Files, phase: Phase) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(state)) = FileStore::new(files.state()).load()
            && state.phase == phase
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the rollout never reached {phase:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn promote_and_abort_reach_a_running_rollout() {
    // A manual pause, promoted from "another process".
    let files = Files::new();
    let judge = FakeJudge::start("pass");
    let plan = files.plan(
        &judge,
        "  - setWeight: 10\n  - pause: {}\n  - setWeight: 40\n",
    );
    let runner = {
        let command = command(&files, plan);
        std::thread::spawn(move || run(&command, &mut Vec::new()).unwrap())
    };
    wait_for(&files, Phase::Paused);
    assert_eq!(files.weight(), Weight::new(10));
    let promote = RolloutCommand::Promote {
        state: files.state(),
        full: false,
    };
    assert_eq!(run(&promote, &mut Vec::new()).unwrap(), EXIT_PASS);
    assert_eq!(runner.join().unwrap(), EXIT_PASS);
    assert_eq!(files.weight(), Some(Weight::FULL));

    // A marginal verdict holds; abort rolls back and the runner exits 2.
    let files = Files::new();
    let judge = FakeJudge::start("marginal");
    let plan = files.plan(&judge, STEPS);
    let runner = {
        let command = command(&files, plan);
        std::thread::spawn(move || run(&command, &mut Vec::new()).unwrap())
    };
    wait_for(&files, Phase::Holding);
    assert!(status_text(&files).contains("holding at 10 %"));
    *judge.verdict.lock().unwrap() = "pass";
    let abort = RolloutCommand::Abort {
        state: files.state(),
        reason: "operator".into(),
    };
    assert_eq!(run(&abort, &mut Vec::new()).unwrap(), EXIT_PASS);
    assert_eq!(runner.join().unwrap(), EXIT_FAIL);
    assert_eq!(files.weight(), Some(Weight::ZERO));
}

#[test]
fn bad_inputs_have_their_exit_codes() {
    let files = Files::new();
    let judge = FakeJudge::start("pass");
    let missing = RolloutCommand::Status {
        state: files.state(),
        format: Format::Json,
    };
    assert_eq!(
        run(&missing, &mut Vec::new()).unwrap_err().exit_code(),
        EXIT_NO_INPUT
    );
    let no_plan = command(&files, files.path("absent.yaml"));
    assert_eq!(
        run(&no_plan, &mut Vec::new()).unwrap_err().exit_code(),
        EXIT_NO_INPUT
    );
    let bad = files.plan(&judge, "  - setWeight: 101\n");
    let error = run(&command(&files, bad), &mut Vec::new()).unwrap_err();
    assert_eq!(error.exit_code(), EXIT_INPUT, "{error}");
    assert!(
        error
            .to_string()
            .contains("steps[0].setWeight: weight 101 is above 100"),
        "{error}"
    );
}
