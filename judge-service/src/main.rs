//! `serin-judge`: runs the judge service (the same as `serin serve`).

use clap::Parser;
use serin_judge_service::cli::{ServeArgs, run};

#[derive(Debug, Parser)]
#[command(name = "serin-judge", version)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

fn main() -> anyhow::Result<()> {
    run(Cli::parse().args)
}
