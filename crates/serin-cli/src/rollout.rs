//! `serin rollout run | status | promote | abort`: the rollout companion on the command line.
//!
//! Exit codes: 0 completed (or the command did what it was asked); 2 the rollout was aborted
//! (traffic rolled back to stable); 64 usage; 65 a bad plan, or a state file holding another
//! plan's unfinished rollout; 66 the plan or state file cannot be read; 69 the router, the
//! Kubernetes API or the state file failed (the state is kept: run again to resume).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use serin_rollout::plan::Step;
use serin_rollout::state::VerdictRecord;
use serin_rollout::{
    Clock, ControlAction, ControlRequest, FileStore, HttpJudge, Judge, JudgeError, JudgeOutcome,
    JudgeRequest, Phase, Plan, PlanError, Rollout, RolloutError, RolloutState, StateError,
    StateStore, SystemClock,
};
use thiserror::Error;

use crate::{EXIT_FAIL, EXIT_INPUT, EXIT_NO_INPUT, EXIT_PASS, Format};

/// Exit code when the router, the Kubernetes API or the state file failed.
pub const EXIT_UNAVAILABLE: u8 = 69;

/// The default state file, in the working directory.
pub const DEFAULT_STATE: &str = "serin-rollout.state.json";

/// `serin rollout` subcommands.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Run (or resume) the rollout a plan describes, until it completes or is aborted.
    Run {
        /// The plan (YAML).
        #[arg(value_name = "PLAN.yaml")]
        plan: PathBuf,
        /// The state file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
        state: PathBuf,
        /// Start the plan again even if the state file holds an ended rollout of it.
        #[arg(long)]
        restart: bool,
    },
    /// Show the step, weight, elapsed time and the last verdicts with their reasons.
    Status {
        /// The state file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
        state: PathBuf,
        /// Output format (`json` prints the state file).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Approve a manual pause or a held step; with --full, skip to 100 %.
    Promote {
        /// The state file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
        state: PathBuf,
        /// Skip the remaining steps: canary to 100 %.
        #[arg(long)]
        full: bool,
    },
    /// Roll back now: canary to 0 %.
    Abort {
        /// The state file.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_STATE)]
        state: PathBuf,
        /// Why (recorded in the state).
        #[arg(long, default_value = "aborted by `serin rollout abort`")]
        reason: String,
    },
}

/// A rollout command that could not do its job.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RolloutCliError {
    /// A file could not be read.
    #[error("{0}")]
    NoInput(String),
    /// The plan or state is not usable.
    #[error("{0}")]
    Input(String),
    /// The router, the API or the state store failed.
    #[error("{0}")]
    Unavailable(String),
}

impl RolloutCliError {
    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::NoInput(_) => EXIT_NO_INPUT,
            Self::Input(_) => EXIT_INPUT,
            Self::Unavailable(_) => EXIT_UNAVAILABLE,
        }
    }
}

impl From<RolloutError> for RolloutCliError {
    fn from(error: RolloutError) -> Self {
        match error {
            RolloutError::PlanMismatch(_) => Self::Input(error.to_string()),
            RolloutError::NoState => Self::NoInput(error.to_string()),
            RolloutError::State(StateError::Format { .. }) => Self::Input(error.to_string()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<StateError> for RolloutCliError {
    fn from(error: StateError) -> Self {
        RolloutError::State(error).into()
    }
}

impl From<std::io::Error> for RolloutCliError {
    fn from(error: std::io::Error) -> Self {
        Self::Unavailable(format!("writing output: {error}"))
    }
}

/// Runs a rollout command, writing to `out`; returns the exit code.
pub fn run(command: &RolloutCommand, out: &mut dyn Write) -> Result<u8, RolloutCliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| RolloutCliError::Unavailable(format!("starting the runtime: {error}")))?;
    runtime.block_on(run_async(command, out))
}

async fn run_async(command: &RolloutCommand, out: &mut dyn Write) -> Result<u8, RolloutCliError> {
    match command {
        RolloutCommand::Run {
            plan,
            state,
            restart,
        } => run_plan(plan, state, *restart, out).await,
        RolloutCommand::Status { state, format } => {
            let state = load(state)?;
            match format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut *out, &state)
                        .map_err(std::io::Error::from)?;
                    writeln!(out)?;
                }
                Format::Table => write_status(out, &state, SystemClock.now())?,
            }
            Ok(EXIT_PASS)
        }
        RolloutCommand::Promote { state, full } => {
            let store = FileStore::new(state);
            let current = load(state)?;
            if current.phase.is_terminal() {
                writeln!(
                    out,
                    "nothing to promote: the rollout is {}",
                    phase_name(current.phase)
                )?;
                return Ok(EXIT_PASS);
            }
            let action = if *full {
                ControlAction::PromoteFull
            } else {
                ControlAction::Promote
            };
            store.request(request(action))?;
            writeln!(
                out,
                "promotion requested; `serin rollout run` applies it at its next poll (or when resumed)"
            )?;
            Ok(EXIT_PASS)
        }
        RolloutCommand::Abort { state, reason } => abort(state, reason, out).await,
    }
}

fn request(action: ControlAction) -> ControlRequest {
    ControlRequest {
        id: format!("{}-{}", SystemClock.now().millis(), std::process::id()),
        action,
    }
}

fn load(path: &Path) -> Result<RolloutState, RolloutCliError> {
    FileStore::new(path).load()?.ok_or_else(|| {
        RolloutCliError::NoInput(format!(
            "{}: no rollout has been started with this state file",
            path.display()
        ))
    })
}

async fn kube_client(plan: &Plan) -> Result<Option<kube::Client>, RolloutCliError> {
    if !plan.router.needs_kubernetes() {
        return Ok(None);
    }
    kube::Client::try_default()
        .await
        .map(Some)
        .map_err(|error| RolloutCliError::Unavailable(format!("connecting to Kubernetes: {error}")))
}

async fn run_plan(
    plan_path: &Path,
    state_path: &Path,
    restart: bool,
    out: &mut dyn Write,
) -> Result<u8, RolloutCliError> {
    let text = std::fs::read_to_string(plan_path)
        .map_err(|error| RolloutCliError::NoInput(format!("{}: {error}", plan_path.display())))?;
    let plan = Plan::from_yaml(&text).map_err(|error: PlanError| {
        RolloutCliError::Input(format!("{}: {error}", plan_path.display()))
    })?;
    let token = match &plan.judge.token_env {
        Some(variable) => Some(std::env::var(variable).map_err(|_| {
            RolloutCliError::Input(format!(
                "judge.tokenEnv: environment variable {variable} is not set"
            ))
        })?),
        None => None,
    };
    let judge = HttpJudge::new(plan.judge.clone(), token)
        .map_err(|error| RolloutCliError::Unavailable(error.to_string()))?;
    let router = plan
        .router
        .build(kube_client(&plan).await?)
        .map_err(|error| RolloutCliError::Unavailable(error.to_string()))?;
    let store = FileStore::new(state_path);
    let mut rollout = Rollout::start(plan, store, router, judge, SystemClock, restart).await?;
    let mut last = Summary::of(rollout.state());
    let mut last_verdict = rollout.state().verdicts.last().cloned();
    writeln!(out, "{}", last.line(rollout.state()))?;
    let mut write_error = None;
    let phase = rollout
        .run_observed(|state| {
            // Each transition adds at most one verdict.
            let mut lines = Vec::new();
            if state.verdicts.last() != last_verdict.as_ref() {
                last_verdict = state.verdicts.last().cloned();
                lines.extend(
                    last_verdict
                        .as_ref()
                        .map(|record| format!("  {}", verdict_line(record))),
                );
            }
            let summary = Summary::of(state);
            if summary != last {
                lines.push(summary.line(state));
                last = summary;
            }
            for line in lines {
                if let Err(error) = writeln!(out, "{line}") {
                    write_error.get_or_insert(error);
                }
            }
        })
        .await?;
    if let Some(error) = write_error
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(error.into());
    }
    let final_state = rollout.state();
    let _ = writeln!(
        out,
        "{}: {}",
        phase_name(phase),
        final_state.message.as_deref().unwrap_or_default()
    );
    Ok(match phase {
        Phase::Aborted => EXIT_FAIL,
        _ => EXIT_PASS,
    })
}

/// What a progress line shows; a line is printed when it changes.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    phase: Phase,
    step_index: usize,
    weight: Option<serin_rollout::Weight>,
    pending: Option<serin_rollout::Weight>,
    measured: u32,
}

impl Summary {
    fn of(state: &RolloutState) -> Self {
        Summary {
            phase: state.phase,
            step_index: state.step_index,
            weight: state.weight,
            pending: state.pending_weight,
            measured: state.analysis.measured(),
        }
    }

    fn line(&self, state: &RolloutState) -> String {
        format!(
            "{} {}: step {}, weight {}",
            state.updated_at.rfc3339(),
            phase_name(self.phase),
            step_label(state),
            weight_text(state)
        )
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Progressing => "progressing",
        Phase::Paused => "paused",
        Phase::Holding => "holding",
        Phase::Completed => "completed",
        Phase::Aborted => "aborted",
    }
}

fn step_label(state: &RolloutState) -> String {
    let total = state.plan.steps.len();
    match state.plan.steps.get(state.step_index) {
        None => format!("{total}/{total} (done)"),
        Some(step) => {
            let what = match step {
                Step::SetWeight(weight) => format!("setWeight {}", weight.canary()),
                Step::Pause(pause) => match pause.duration {
                    Some(duration) => format!("pause {}", humantime::format_duration(duration)),
                    None => "pause until promoted".to_owned(),
                },
                Step::Analysis(analysis) => format!(
                    "analysis {} ({}/{} verdicts)",
                    analysis.config,
                    state.analysis.measured(),
                    analysis.count
                ),
            };
            format!("{}/{total}: {what}", state.step_index + 1)
        }
    }
}

fn weight_text(state: &RolloutState) -> String {
    let weight = state
        .weight
        .map_or_else(|| "not yet written".to_owned(), |w| w.to_string());
    match state.pending_weight {
        Some(pending) => format!("{weight} (writing {pending})"),
        None => weight,
    }
}

fn verdict_line(record: &VerdictRecord) -> String {
    let what = match record.verdict {
        Some(verdict) => format!("{verdict:?}").to_lowercase(),
        None => "error".to_owned(),
    };
    let score = record
        .score
        .map(|score| format!(" (score {score:.1})"))
        .unwrap_or_default();
    let source = if record.background {
        "background".to_owned()
    } else {
        format!("step {}", record.step_index + 1)
    };
    format!(
        "{} {source} at {}: {what}{score}: {}",
        record.at.rfc3339(),
        record.weight,
        record.reasons.join("; ")
    )
}

fn round_seconds(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs())
}

/// Writes the `status` text.
pub fn write_status(
    out: &mut dyn Write,
    state: &RolloutState,
    now: serin_rollout::Timestamp,
) -> std::io::Result<()> {
    writeln!(
        out,
        "rollout:  {} ({})",
        state.plan.name,
        phase_name(state.phase)
    )?;
    writeln!(out, "step:     {}", step_label(state))?;
    writeln!(out, "weight:   {}", weight_text(state))?;
    let elapsed = |since| humantime::format_duration(round_seconds(now.since(since)));
    writeln!(
        out,
        "elapsed:  {} (this step {})",
        elapsed(state.started_at),
        elapsed(state.step_started_at)
    )?;
    if let Some(until) = state.pause_until {
        writeln!(out, "pause:    until {}", until.rfc3339())?;
    }
    if let Some(message) = &state.message {
        writeln!(out, "message:  {message}")?;
    }
    if !state.verdicts.is_empty() {
        writeln!(out, "last verdicts:")?;
        for record in state.verdicts.iter().rev().take(5) {
            writeln!(out, "  {}", verdict_line(record))?;
        }
    }
    Ok(())
}

/// A judge for commands that never judge (abort).
struct NoJudge;

impl Judge for NoJudge {
    async fn judge(&self, _: &JudgeRequest) -> Result<JudgeOutcome, JudgeError> {
        Err(JudgeError::Source("this command does not judge".into()))
    }
}

/// Leaves an abort request (for a running `serin rollout run`) and rolls back right away.
async fn abort(
    state_path: &Path,
    reason: &str,
    out: &mut dyn Write,
) -> Result<u8, RolloutCliError> {
    let state = load(state_path)?;
    let store = FileStore::new(state_path);
    if state.phase == Phase::Aborted && state.pending_weight.is_none() {
        writeln!(out, "already aborted: all traffic is on stable")?;
        return Ok(EXIT_PASS);
    }
    if !state.phase.is_terminal() {
        // A running `serin rollout run` sees this at its next step and aborts too; the request
        // is kept until then (a later fresh run drops it as stale).
        store.request(request(ControlAction::Abort))?;
    }
    let router = state
        .plan
        .router
        .build(kube_client(&state.plan).await?)
        .map_err(|error| RolloutCliError::Unavailable(error.to_string()))?;
    let mut rollout = Rollout::resume(store, router, NoJudge, SystemClock)?;
    rollout.abort(reason).await?;
    writeln!(out, "aborted: all traffic is on stable")?;
    Ok(EXIT_PASS)
}

#[cfg(test)]
mod tests;
