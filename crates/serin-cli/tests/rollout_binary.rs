//! Runs the real `serin` binary's `rollout` commands: dispatch, messages and exit codes
//! (the rollouts themselves are tested through `serin_cli::rollout::run`).

use std::process::{Command, Output, Stdio};

fn serin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_serin"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run serin")
}

#[test]
fn rollout_commands_exit_with_their_codes() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json").display().to_string();
    let plan = directory.path().join("plan.yaml");
    std::fs::write(&plan, "name: x\nsteps: []\n").unwrap();
    let plan = plan.display().to_string();
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["rollout", "status", "--state", &state],
            66,
            "no rollout has been started",
        ),
        (
            &["rollout", "promote", "--state", &state],
            66,
            "no rollout has been started",
        ),
        (
            &["rollout", "abort", "--state", &state],
            66,
            "no rollout has been started",
        ),
        (
            &["rollout", "run", &plan, "--state", &state],
            65,
            "missing field `router`",
        ),
        (&["rollout", "launch"], 64, "unrecognized subcommand"),
    ];
    for (args, code, message) in cases {
        let output = serin(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
