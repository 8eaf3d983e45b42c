//! `serin-judge`: runs the judge service (the same as `serin serve`).

use std::process::ExitCode;

use clap::Parser;
use serin_judge_service::cli::{ServeArgs, run};
use serin_sources::error_chain;

#[derive(Debug, Parser)]
#[command(name = "serin-judge", version)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

fn main() -> ExitCode {
    match run(Cli::parse().args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("serin-judge: {}", error_chain(&error));
            // EX_CONFIG, as `serin serve` exits.
            ExitCode::from(78)
        }
    }
}
