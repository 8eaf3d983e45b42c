//! The `serin` command line: argument parsing, the `judge` command, output formats and exit codes.
//!
//! Exit codes (documented in the README):
//! - 0: pass; 1: marginal; 2: fail (including every "cannot decide");
//! - 64: usage error (bad arguments);
//! - 65: bad input (malformed CSV or config, unknown metric names, bad thresholds);
//! - 66: an input file cannot be read.

pub mod rollout;
mod table;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serin_core::config::ScoreThresholds;
use serin_core::{CanaryConfig, JudgeKind, JudgeResult, Verdict, judge_on_threads};
use serin_csv::{CsvError, LoadedMetrics, ReadOptions};
use thiserror::Error;

/// Exit code for a passing canary.
pub const EXIT_PASS: u8 = 0;
/// Exit code for a marginal canary.
pub const EXIT_MARGINAL: u8 = 1;
/// Exit code for a failing canary (or one that cannot be judged).
pub const EXIT_FAIL: u8 = 2;
/// Exit code for bad arguments.
pub const EXIT_USAGE: u8 = 64;
/// Exit code for malformed input.
pub const EXIT_INPUT: u8 = 65;
/// Exit code for an unreadable input file.
pub const EXIT_NO_INPUT: u8 = 66;
/// Exit code when `serin serve` cannot start (bad settings, configs, address).
pub const EXIT_CONFIG: u8 = 78;

/// Serin: statistical canary judgement.
#[derive(Debug, Parser)]
#[command(name = "serin", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Judge exported metric CSVs against a Kayenta canary config.
    Judge(JudgeArgs),
    /// Run the judge service (the same as the `serin-judge` binary).
    Serve(serin_judge_service::cli::ServeArgs),
    /// Step canary traffic on verdicts: run a plan, show its status, promote or abort it.
    #[command(subcommand)]
    Rollout(rollout::RolloutCommand),
}

/// Arguments of `serin judge`.
#[derive(Debug, clap::Args)]
pub struct JudgeArgs {
    /// Kayenta canary-config JSON.
    #[arg(long, value_name = "CONFIG.json")]
    pub config: PathBuf,
    /// Long-format CSV: metric, scope (baseline|canary), timestamp, value.
    #[arg(long, value_name = "METRICS.csv", required_unless_present_all = ["baseline", "canary"], conflicts_with_all = ["baseline", "canary"])]
    pub data: Option<PathBuf>,
    /// Baseline CSV (metric, timestamp, value); use with --canary.
    #[arg(long, value_name = "B.csv", requires = "canary")]
    pub baseline: Option<PathBuf>,
    /// Canary CSV (metric, timestamp, value); use with --baseline.
    #[arg(long, value_name = "C.csv", requires = "baseline")]
    pub canary: Option<PathBuf>,
    /// Lowest passing score (default: the config's, else 95).
    #[arg(long, value_name = "SCORE", requires = "marginal")]
    pub pass: Option<f64>,
    /// Lowest marginal score (default: the config's, else 75).
    #[arg(long, value_name = "SCORE", requires = "pass")]
    pub marginal: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The judge, overriding the config's `judge.name`.
    #[arg(long, value_enum)]
    pub judge: Option<JudgeChoice>,
}

/// `--judge`: which judge decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JudgeChoice {
    /// Serin's anytime-valid judge (`SerinJudge-v1.0`).
    Serin,
    /// Kayenta's NetflixACAJudge, reproduced exactly (`NetflixACAJudge-v1.0`).
    Kayenta,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable per-metric table.
    Table,
    /// The full judgeResult as JSON.
    Json,
}

/// A failure before a verdict, with the exit code it maps to.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CliError {
    /// An input file could not be read.
    #[error("{0}")]
    NoInput(String),
    /// The input is malformed.
    #[error("{0}")]
    Input(String),
    /// Writing the output failed after the verdict was reached; the exit code is
    /// still the verdict's, so a closed pipe can never turn a fail into a pass.
    #[error("writing output: {source}")]
    Output {
        /// The verdict reached.
        verdict: Verdict,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::NoInput(_) => EXIT_NO_INPUT,
            Self::Input(_) => EXIT_INPUT,
            Self::Output { verdict, .. } => verdict_exit_code(*verdict),
        }
    }
}

/// The exit code for a verdict.
pub fn verdict_exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Pass => EXIT_PASS,
        Verdict::Marginal => EXIT_MARGINAL,
        Verdict::Fail => EXIT_FAIL,
    }
}

/// Parses `args` and runs; prints errors to stderr and returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_PASS
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let (stdout, stderr) = (io::stdout(), io::stderr());
    let code = run(
        &cli,
        &mut stdout.lock(),
        &mut stderr.lock(),
        io::stderr().is_terminal(),
    );
    ExitCode::from(code)
}

/// Runs any parsed command (`judge`, `serve`, `rollout`): its output goes to `out`, its
/// error messages to `err`; returns the exit code. `progress` turns on a progress bar
/// on stderr while CSV files are read.
pub fn run(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write, progress: bool) -> u8 {
    // A message that cannot be written has nowhere else to go; the code still tells.
    match &cli.command {
        Command::Judge(args) => match judge(args, out, progress) {
            Ok(result) => verdict_exit_code(result.verdict),
            // A closed pipe (`serin judge … | head`) is not worth a message; the exit
            // code is still the verdict.
            Err(CliError::Output { verdict, source })
                if source.kind() == io::ErrorKind::BrokenPipe =>
            {
                verdict_exit_code(verdict)
            }
            Err(error) => {
                let _ = writeln!(err, "serin: {error}");
                error.exit_code()
            }
        },
        // The service runs until SIGTERM; 0 after a clean shutdown.
        Command::Serve(args) => match serin_judge_service::cli::run(args.clone()) {
            Ok(()) => EXIT_PASS,
            Err(error) => {
                let _ = writeln!(err, "serin: {}", serin_sources::error_chain(&error));
                EXIT_CONFIG
            }
        },
        Command::Rollout(command) => match rollout::run(command, out) {
            Ok(code) => code,
            Err(error) => {
                let _ = writeln!(err, "serin: {error}");
                error.exit_code()
            }
        },
    }
}

/// `serin judge`: judges the files `args` names and writes the table or JSON to `out`.
pub fn judge(
    args: &JudgeArgs,
    out: &mut dyn Write,
    progress: bool,
) -> Result<JudgeResult, CliError> {
    let config_text = std::fs::read_to_string(&args.config)
        .map_err(|error| CliError::NoInput(format!("{}: {error}", args.config.display())))?;
    let mut config = CanaryConfig::from_json(&config_text)
        .map_err(|error| CliError::Input(format!("{}: {error}", args.config.display())))?;
    if let Some(choice) = args.judge {
        config.judge.name = match choice {
            JudgeChoice::Serin => JudgeKind::Serin,
            JudgeChoice::Kayenta => JudgeKind::Kayenta,
        }
        .name()
        .to_owned();
    }
    let loaded = load_metrics(args, progress)?;
    let thresholds = match (args.pass, args.marginal) {
        (Some(pass), Some(marginal)) => Some(ScoreThresholds { pass, marginal }),
        _ => None,
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let result = judge_on_threads(&config, &loaded.metrics, thresholds, threads)
        .map_err(|error| CliError::Input(error.to_string()))?;
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut *out, &result)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Table => table::write(out, &config, &loaded, &result),
    };
    written
        .and_then(|()| out.flush())
        .map_err(|source| CliError::Output {
            verdict: result.verdict,
            source,
        })?;
    Ok(result)
}

fn csv_error(error: CsvError) -> CliError {
    match error {
        CsvError::Io { .. } => CliError::NoInput(error.to_string()),
        other => CliError::Input(other.to_string()),
    }
}

fn load_metrics(args: &JudgeArgs, progress: bool) -> Result<LoadedMetrics, CliError> {
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    let bar = |total: u64| {
        if !progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("reading metrics");
        bar
    };
    let options = ReadOptions::default();
    let (bar, loaded) = match (&args.data, &args.baseline, &args.canary) {
        (Some(data), _, _) => {
            let bar = bar(size(data));
            let loaded = serin_csv::read_long(data, options, &mut |bytes| bar.set_position(bytes));
            (bar, loaded)
        }
        (None, Some(baseline), Some(canary)) => {
            let bar = bar(size(baseline) + size(canary));
            let loaded = serin_csv::read_pair(baseline, canary, options, &mut |bytes| {
                bar.set_position(bytes)
            });
            (bar, loaded)
        }
        // clap enforces one of the two layouts; this answers a hand-built `Cli`.
        _ => {
            return Err(CliError::Input(
                "give --data, or --baseline and --canary".to_owned(),
            ));
        }
    };
    bar.finish_and_clear();
    loaded.map_err(csv_error)
}
