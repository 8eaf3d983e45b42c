//! Runs the real `serin` binary on the bundled example and on bad input: output, exit codes, messages.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(file: &str) -> String {
    root()
        .join("fixtures/example")
        .join(file)
        .display()
        .to_string()
}

fn serin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_serin"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run serin")
}

fn scratch(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("serin-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

#[test]
fn exit_codes_and_messages() {
    let config = example("canary-config.json");
    let healthy = example("metrics.csv");
    let regressed = example("metrics-regressed.csv");
    let (baseline, canary) = (example("baseline.csv"), example("canary.csv"));
    let bad_row = scratch(
        "bad.csv",
        "metric,scope,timestamp,value\nrequest_latency_ms,canary,1795428000,12\nrequest_latency_ms,canary,1795428060,fast\n",
    );
    let unknown = scratch(
        "unknown.csv",
        "metric,scope,timestamp,value\nlatency_typo,canary,1795428000,12\n",
    );
    let bad_config = scratch(
        "config.json",
        r#"{"metrics": [{"name": "m", "analysisConfigurations": {"canary": {"direction": "sideways"}}}]}"#,
    );
    // A canary that received no traffic: its error ratio is 0/0 at every scrape.
    let healthy_text = std::fs::read_to_string(example("metrics.csv")).unwrap();
    let no_traffic_text: String = healthy_text
        .lines()
        .map(|line| match line.strip_prefix("error_rate,canary,") {
            Some(rest) => format!(
                "error_rate,canary,{},NaN\n",
                rest.split(',').next().unwrap()
            ),
            None => format!("{line}\n"),
        })
        .collect();
    assert!(no_traffic_text.matches(",NaN\n").count() >= 100);
    let no_traffic = scratch("no-traffic.csv", &no_traffic_text);
    let data_rows = healthy_text.split_once('\n').unwrap().1;
    let twice = scratch("twice.csv", &format!("{healthy_text}{data_rows}"));
    // (arguments, exit code, text that stdout or stderr must contain)
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["judge", "--config", &config, "--data", &healthy],
            0,
            "verdict: PASS",
        ),
        (
            vec!["judge", "--config", &config, "--data", &regressed],
            2,
            "Canary Failed: The metric error_rate was classified as High (Critical)",
        ),
        (
            vec![
                "judge",
                "--config",
                &config,
                "--data",
                &regressed,
                "--pass",
                "0",
                "--marginal",
                "0",
            ],
            2,
            "verdict: FAIL",
        ),
        (
            vec![
                "judge",
                "--config",
                &config,
                "--baseline",
                &baseline,
                "--canary",
                &canary,
            ],
            0,
            "verdict: PASS",
        ),
        (
            vec![
                "judge", "--config", &config, "--data", &healthy, "--format", "json",
            ],
            0,
            "\"verdict\": \"pass\"",
        ),
        (
            vec![
                "judge",
                "--config",
                &config,
                "--data",
                &healthy,
                "--pass",
                "101",
                "--marginal",
                "100",
            ],
            65,
            "score thresholds must satisfy",
        ),
        (vec!["judge", "--config", &config], 64, "--data"),
        (
            vec![
                "judge", "--config", &config, "--data", &healthy, "--pass", "90",
            ],
            64,
            "--marginal",
        ),
        (
            vec![
                "judge", "--config", &config, "--data", &healthy, "--format", "xml",
            ],
            64,
            "xml",
        ),
        (
            vec!["judge", "--config", &config, "--data", "/nonexistent/m.csv"],
            66,
            "/nonexistent/m.csv",
        ),
        (
            vec![
                "judge",
                "--config",
                "/nonexistent/c.json",
                "--data",
                &healthy,
            ],
            66,
            "/nonexistent/c.json",
        ),
        (
            vec!["judge", "--config", &config, "--data", &bad_row],
            65,
            "bad.csv:3: value 'fast' is not a number",
        ),
        (
            vec!["judge", "--config", &config, "--data", &unknown],
            65,
            "unknown metric name(s) in data: latency_typo",
        ),
        (
            vec!["judge", "--config", &bad_config, "--data", &healthy],
            65,
            "metrics[0].analysisConfigurations.canary.direction: expected increase, decrease or either, found \"sideways\"",
        ),
        (
            vec!["judge", "--config", &config, "--data", &no_traffic],
            2,
            "Too few samples for error_rate: canary 0 (",
        ),
        (
            vec!["judge", "--config", &config, "--data", &twice],
            65,
            "repeats line 2",
        ),
        (vec!["--version"], 0, "serin"),
    ];
    for (args, code, text) in cases {
        let output = serin(&args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(code), "{args:?}: {all}");
        assert!(all.contains(text), "{args:?}: expected {text:?} in {all}");
    }
}

#[test]
fn json_output_is_the_full_judge_result() {
    let output = serin(&[
        "judge",
        "--config",
        &example("canary-config.json"),
        "--data",
        &example("metrics-regressed.csv"),
        "--format",
        "json",
    ]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["verdict"], "fail");
    assert_eq!(value["score"]["classification"], "Fail");
    let results = value["results"].as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["request_latency_ms", "error_rate", "cpu_utilization"]
    );
    assert_eq!(results[0]["classification"], "High");
    assert_eq!(results[1]["critical"], true);
    // The NaN scrapes in error_rate are counted, not lost.
    assert_eq!(results[1]["preprocessing"]["canaryNonFinite"], 3);
}

#[test]
fn a_closed_pipe_ends_quietly_and_keeps_the_verdict() {
    for (data, code) in [("metrics.csv", 0), ("metrics-regressed.csv", 2)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_serin"))
            .args([
                "judge",
                "--config",
                &example("canary-config.json"),
                "--data",
                &example(data),
                "--format",
                "json",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(code), "{data}");
    }
}

/// `--judge` picks the judge whatever the config names; both judge the bundled example.
#[test]
fn judge_flag_chooses_the_judge() {
    let config = example("canary-config.json");
    for (data, flag, exit) in [
        ("metrics.csv", "kayenta", 0),
        ("metrics.csv", "serin", 0),
        ("metrics-regressed.csv", "kayenta", 2),
        ("metrics-regressed.csv", "serin", 2),
    ] {
        let data = example(data);
        let output = serin(&[
            "judge", "--config", &config, "--data", &data, "--judge", flag, "--format", "json",
        ]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(exit), "{flag} {data}: {stdout}");
        let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let name = if flag == "serin" {
            "SerinJudge-v1.0"
        } else {
            "NetflixACAJudge-v1.0"
        };
        assert_eq!(answer["judgeName"], name, "{flag} {data}");
    }
    // The Serin judge's table: its own header and columns, the decision per metric.
    let output = serin(&[
        "judge",
        "--config",
        &config,
        "--data",
        &example("metrics-regressed.csv"),
        "--judge",
        "serin",
    ]);
    let table = String::from_utf8_lossy(&output.stdout);
    for want in [
        "judge: SerinJudge-v1.0, alpha 0.01 over every look",
        "confidence sequence  e-value",
        "decision",
        "regression",
        "since 2026-11-23T10:",
    ] {
        assert!(table.contains(want), "{want}: {table}");
    }
    // A judge name Serin does not know, in the config: an input error naming the known ones.
    let text = std::fs::read_to_string(&config).unwrap();
    let unknown = scratch(
        "dredd.json",
        &text.replace("\"NetflixACAJudge-v1.0\"", "\"dredd\""),
    );
    let output = serin(&[
        "judge",
        "--config",
        &unknown,
        "--data",
        &example("metrics.csv"),
    ]);
    assert_eq!(output.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "Unable to resolve canary judge 'dredd' (known judges: NetflixACAJudge-v1.0, SerinJudge-v1.0)"
        )
    );
}

/// Every subcommand through the one library entry point, with its output and messages
/// in buffers: what the binary does, without a process.
#[test]
fn every_subcommand_runs_through_serin_cli_run() {
    use clap::Parser;
    let config = example("canary-config.json");
    let regressed = example("metrics-regressed.csv");
    let missing_plan = format!("{}.missing.plan.yaml", scratch("plan-dir-marker", ""));
    // (arguments, exit code, words in the output, words in the messages)
    let cases: [(Vec<&str>, u8, &str, &str); 3] = [
        (
            vec!["serin", "judge", "--config", &config, "--data", &regressed],
            2,
            "verdict: FAIL",
            "",
        ),
        (
            vec![
                "serin",
                "judge",
                "--config",
                &config,
                "--data",
                "/no/such.csv",
            ],
            66,
            "",
            "/no/such.csv",
        ),
        (
            vec!["serin", "rollout", "run", &missing_plan],
            66,
            "",
            "serin:",
        ),
    ];
    for (args, code, output, message) in cases {
        let cli = serin_cli::Cli::try_parse_from(&args).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let got = serin_cli::run(&cli, &mut out, &mut err, false);
        let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
        assert_eq!(got, code, "{args:?}: {out}{err}");
        assert!(out.contains(output), "{args:?}: {out}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}
