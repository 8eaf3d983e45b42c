//! The `serin` binary: parses arguments, runs, and turns the outcome into an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    serin_cli::main_with_args(std::env::args_os())
}
