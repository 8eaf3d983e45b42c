//! The `serin-demo` command: `serve` runs one version of the demo service, `scenario` the whole live rollout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serin_demo::scenario::{self, CanaryKind, ScenarioOptions};
use serin_demo::service::{self, Behaviour};

#[derive(Debug, Parser)]
#[command(
    name = "serin-demo",
    version,
    about = "Serin's live demo: a canary rollout on 127.0.0.1 with real nginx and Prometheus"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// One version of the demo service: `GET /` (latency and errors as flagged), `GET /metrics`.
    Serve {
        /// The version label on every metric.
        #[arg(long, default_value = "v1")]
        version: String,
        /// Where to listen (port 0: any free port; the address is printed first).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Multiplies every request's latency (1.3: +30 %).
        #[arg(long, default_value_t = 1.0)]
        latency_factor: f64,
        /// The probability of a 500.
        #[arg(long, default_value_t = Behaviour::healthy("").error_ratio)]
        error_ratio: f64,
        /// Bytes kept for good on every request (a leak).
        #[arg(long, default_value_t = 0)]
        leak_bytes: usize,
        /// Seed of the latency and error draws.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// The whole scenario: v1 and v2, nginx, users, Prometheus, the judge service and the rollout.
    Scenario {
        /// What v2 is.
        #[arg(long, value_enum, default_value = "regressed")]
        canary: CanaryKind,
        /// A regressed v2's latency factor.
        #[arg(long, default_value_t = 1.3)]
        latency_factor: f64,
        /// A regressed v2's errors, as a multiple of v1's 0.5 %.
        #[arg(long, default_value_t = 5.0)]
        error_factor: f64,
        /// A regressed v2's leak per request, in bytes.
        #[arg(long, default_value_t = 0)]
        leak_bytes: usize,
        /// Users' requests a second.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Time between two verdicts at one weight (shortened from minutes for the demo).
        #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
        interval: Duration,
        /// Verdicts per weight.
        #[arg(long, default_value_t = 2)]
        count: u32,
        /// Keep every file (configs, logs, state, Prometheus data) in this directory.
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Write what happened as JSON to this file.
        #[arg(long)]
        summary: Option<PathBuf>,
    },
}

async fn serve(behaviour: Behaviour, listen: SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    // The scenario reads this first line to learn the port.
    println!("listening on {address}");
    service::serve(listener, behaviour, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|error| error.to_string())
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            version,
            listen,
            latency_factor,
            error_ratio,
            leak_bytes,
            seed,
        } => {
            let behaviour = Behaviour {
                latency_factor,
                error_ratio,
                leak_bytes,
                seed,
                ..Behaviour::healthy(&version)
            };
            serve(behaviour, listen).await
        }
        Command::Scenario {
            canary,
            latency_factor,
            error_factor,
            leak_bytes,
            rate,
            interval,
            count,
            workdir,
            summary,
        } => {
            let options = ScenarioOptions {
                canary,
                latency_factor,
                error_factor,
                leak_bytes,
                rate,
                interval,
                count,
                workdir,
                program: std::env::current_exe()
                    .map_err(|error| format!("cannot find this program: {error}"))?,
            };
            let mut out = std::io::stdout();
            let result = tokio::select! {
                result = scenario::run(&options, &mut out) => result,
                _ = tokio::signal::ctrl_c() => {
                    // Dropping the scenario stops every process it started.
                    return Err("interrupted: everything the scenario started is stopped".to_owned());
                }
            };
            let outcome = result.map_err(|error| serin_sources::error_chain(&error))?;
            if let Some(path) = summary {
                let text =
                    serde_json::to_string_pretty(&outcome).map_err(|error| error.to_string())?;
                std::fs::write(&path, text)
                    .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
            }
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("serin-demo: {message}");
            ExitCode::FAILURE
        }
    }
}
