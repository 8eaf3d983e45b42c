//! `serin rollout init | run | status | promote | abort`: the rollout companion on the command line.
//!
//! Exit codes: 0 completed (or the command did what it was asked); 2 the rollout was aborted
//! (traffic rolled back to stable); 64 usage; 65 a bad plan, a state file holding another
//! plan's unfinished rollout, or a state file changed outside `serin rollout` (its checksum
//! does not match, or it does not fit its plan); 66 the plan or state file cannot be read;
//! 69 the router, the Kubernetes API or the state file failed, or another `run` holds the state
//! file (the state is kept: run again to resume).
//!
//! One `run` per state file: it holds the file's runner lock (`FILE.lock`) for its life, and a
//! second `run` is refused before it touches anything. `abort` with a `run` going leaves an
//! abort request for it, writes 0 % to the router at once, and waits (bounded) for the runner
//! to record the abort; without one it aborts the saved rollout itself.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use serin_rollout::plan::Step;
use serin_rollout::router::nginx::Nginx;
use serin_rollout::state::VerdictRecord;
use serin_rollout::{
    AbortReport, Clock, ControlAction, ControlRequest, FileStore, HttpJudge, Judge, JudgeError,
    JudgeOutcome, JudgeRequest, Phase, Plan, PlanError, Rollout, RolloutError, RolloutState,
    Router, RouterConfig, RouterWrite, StateError, StateStore, SystemClock, Weight, WeightChange,
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
    /// Prepare the router for a first run: for plain nginx, write the upstream file with all
    /// traffic to stable if there is none, so nginx can start with its `include`.
    Init {
        /// The plan (YAML).
        #[arg(value_name = "PLAN.yaml")]
        plan: PathBuf,
    },
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
            RolloutError::State(
                StateError::Json { .. }
                | StateError::Format { .. }
                | StateError::Checksum { .. }
                | StateError::Misfit { .. },
            ) => Self::Input(error.to_string()),
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
        RolloutCommand::Init { plan } => init(plan, out).await,
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

fn read_plan(plan_path: &Path) -> Result<Plan, RolloutCliError> {
    let text = std::fs::read_to_string(plan_path)
        .map_err(|error| RolloutCliError::NoInput(format!("{}: {error}", plan_path.display())))?;
    Plan::from_yaml(&text).map_err(|error: PlanError| {
        RolloutCliError::Input(format!("{}: {error}", plan_path.display()))
    })
}

/// `init`: prepares the first run (the plain-nginx upstream file); other routers need nothing.
async fn init(plan_path: &Path, out: &mut dyn Write) -> Result<u8, RolloutCliError> {
    let plan = read_plan(plan_path)?;
    let RouterConfig::Nginx(config) = &plan.router else {
        writeln!(
            out,
            "nothing to prepare: the first write of this router creates what it needs"
        )?;
        return Ok(EXIT_PASS);
    };
    let write = Nginx::new(config.clone())
        .prepare()
        .await
        .map_err(|error| RolloutCliError::Unavailable(error.to_string()))?;
    for note in &write.notes {
        writeln!(out, "{note}")?;
    }
    Ok(EXIT_PASS)
}

async fn run_plan(
    plan_path: &Path,
    state_path: &Path,
    restart: bool,
    out: &mut dyn Write,
) -> Result<u8, RolloutCliError> {
    let plan = read_plan(plan_path)?;
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
    // Held until this function returns (the rollout owns the store), released if we die.
    let store = FileStore::exclusive(state_path)?;
    let router = plan
        .router
        .build(kube_client(&plan).await?)
        .map_err(|error| RolloutCliError::Unavailable(error.to_string()))?;
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

/// How long `abort` waits at most for a running `run` to record the abort.
const ABORT_WAIT_LIMIT: Duration = Duration::from_secs(120);

/// Rolls back right away: without a `run` going, by aborting the saved rollout; with one
/// (it holds the state file), by leaving it an abort request and writing 0 % to the router
/// at once, then waiting for the runner to record the abort.
async fn abort(
    state_path: &Path,
    reason: &str,
    out: &mut dyn Write,
) -> Result<u8, RolloutCliError> {
    let state = load(state_path)?;
    let router = state
        .plan
        .router
        .build(kube_client(&state.plan).await?)
        .map_err(|error| RolloutCliError::Unavailable(error.to_string()))?;
    let store = match FileStore::exclusive(state_path) {
        Ok(store) => store,
        Err(StateError::Locked { .. }) => {
            return abort_running(state_path, &state, router, out).await;
        }
        Err(error) => return Err(error.into()),
    };
    let mut rollout = Rollout::resume(store, router, NoJudge, SystemClock)?;
    let report = rollout.abort(reason).await?;
    write_notes(out, &report.write)?;
    writeln!(out, "{}", abort_line(&report, rollout.state()))?;
    Ok(EXIT_PASS)
}

/// What `abort` did, from what it found.
fn abort_line(report: &AbortReport, state: &RolloutState) -> String {
    let reason = state.message.as_deref().unwrap_or("no reason recorded");
    match (report.previous_phase, report.write.changed) {
        (Phase::Aborted, false) => format!(
            "already aborted ({reason}); the router was still at 0 %: all traffic is on stable"
        ),
        (Phase::Aborted, true) => format!(
            "already aborted ({reason}), but the router had been moved off 0 % since: rewritten, all traffic is on stable"
        ),
        (previous, _) => format!(
            "aborted (was {}): all traffic is on stable",
            phase_name(previous)
        ),
    }
}

fn write_notes(out: &mut dyn Write, write: &RouterWrite) -> std::io::Result<()> {
    for note in &write.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

/// `abort` while a `run` holds the state file: only the runner writes the state, so leave
/// it the request; the router is written here and now (abort always restores stable).
async fn abort_running(
    state_path: &Path,
    state: &RolloutState,
    router: impl Router,
    out: &mut dyn Write,
) -> Result<u8, RolloutCliError> {
    let store = FileStore::new(state_path);
    if !state.phase.is_terminal() {
        store.request(request(ControlAction::Abort))?;
    }
    let write = router
        .set_weight(WeightChange {
            from: state.weight,
            to: Weight::ZERO,
            force: true,
        })
        .await
        .map_err(|error| RolloutCliError::Unavailable(format!("router: {error}")))?;
    write_notes(out, &write)?;
    let plan = &state.plan;
    let wait = (plan.judge.timeout + plan.poll_interval * 2 + Duration::from_secs(5))
        .min(ABORT_WAIT_LIMIT);
    let deadline = std::time::Instant::now() + wait;
    loop {
        if let Some(now) = store.load()?
            && now.phase == Phase::Aborted
            && now.pending_weight.is_none()
        {
            writeln!(
                out,
                "aborted: all traffic is on stable; the running `serin rollout run` recorded it ({})",
                now.message.as_deref().unwrap_or_default()
            )?;
            return Ok(EXIT_PASS);
        }
        if std::time::Instant::now() >= deadline {
            writeln!(
                out,
                "all traffic is on stable; the running `serin rollout run` has not recorded the abort within {} (it does at its next step)",
                humantime::format_duration(wait)
            )?;
            return Ok(EXIT_PASS);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests;
