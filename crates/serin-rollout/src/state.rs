//! The persisted rollout state and where it lives: a JSON file written atomically, plus
//! control requests (`promote`, `abort`) left beside it by other processes.
//!
//! The state file (`FORMAT_VERSION` 2) is one JSON object; `docs/rollouts.md` documents each field.
//! It is written to a temporary file in the same directory, flushed to disk and renamed over the
//! old one, so a reader (or a process killed mid-write) sees either the old or the new state.
//!
//! Three guards keep the file honest:
//! - it ends with a `checksum` (`sha256:` of its own content), so an edit made outside
//!   `serin rollout` is refused, naming the file, instead of being acted on;
//! - a state is loaded only if it fits its plan ([`RolloutState::check`]): no step past the end,
//!   no more verdicts than the step asks for, no phase the weights contradict;
//! - a save must extend the stored history: its `revision` is exactly one more than the stored
//!   one, and an aborted rollout is never replaced by anything but itself, aborted, or a new
//!   rollout. A second writer working from a stale copy is refused, never lets it erase an abort.
//!
//! [`FileStore::exclusive`] also takes an OS advisory lock on `<file>.lock` for as long as the
//! store lives (the OS drops it when the process dies): `serin rollout run` holds it, so a
//! second runner on the same state file is refused before it does anything.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::clock::Timestamp;
use crate::judge::{JudgeOutcome, Verdict};
use crate::plan::{Analysis, Plan, PlanError, Step};
use crate::weight::Weight;

/// The state file's format version (2: `revision`, `rollout` and `checksum` were added).
pub const FORMAT_VERSION: u32 = 2;

/// How many verdict records the state keeps (the most recent).
pub const KEPT_VERDICTS: usize = 20;

/// How many reasons a verdict record keeps (the first ones; the judge puts the most important
/// first), plus one line counting the rest.
pub const KEPT_REASONS: usize = 10;

/// How many characters of each reason a verdict record keeps.
pub const REASON_CHARS: usize = 500;

/// The state file's key holding its checksum.
const CHECKSUM_KEY: &str = "checksum";

/// Everything needed to resume a rollout exactly where it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Which save wrote this state: each save is one more than the state it replaces, across
    /// rollouts of the same file, so a writer working from a stale copy is refused.
    pub revision: u64,
    /// Which rollout of this state file this is: 1 for the first, one more for each rollout
    /// started over an ended one (`--restart`, or a new plan).
    pub rollout: u32,
    /// The plan being run (a copy, so `status` and `abort` need no plan file).
    pub plan: Plan,
    /// Where the rollout is.
    pub phase: Phase,
    /// The current step (0-based); equal to the number of steps once they are all done.
    pub step_index: usize,
    /// The canary weight last confirmed written to the router; `None` before the first write.
    pub weight: Option<Weight>,
    /// A router write that was started and not yet confirmed: on resume it is written again
    /// (writes are idempotent) before anything else happens.
    pub pending_weight: Option<Weight>,
    /// When the rollout started.
    pub started_at: Timestamp,
    /// When the current step started.
    pub step_started_at: Timestamp,
    /// When this state was written.
    pub updated_at: Timestamp,
    /// End of the current timed pause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<Timestamp>,
    /// Progress of the current step's analysis.
    #[serde(default)]
    pub analysis: AnalysisProgress,
    /// Progress of the background analysis.
    #[serde(default)]
    pub background: AnalysisProgress,
    /// The most recent verdicts and errors, oldest first (at most [`KEPT_VERDICTS`]).
    #[serde(default)]
    pub verdicts: Vec<VerdictRecord>,
    /// The last control request acted on (so a request is never applied twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_request_id: Option<String>,
    /// Why the rollout is held, paused, aborted or stopped, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Working through the steps.
    Progressing,
    /// At a `pause: {}` step, waiting for `serin rollout promote`.
    Paused,
    /// An analysis was inconclusive (marginal beyond its limit): held at the current weight
    /// until promoted or aborted.
    Holding,
    /// The canary has 100 % of the traffic.
    Completed,
    /// The canary has 0 %: rolled back after a failure, an exhausted error budget, or a request.
    Aborted,
}

impl Phase {
    /// Whether the rollout has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Completed | Phase::Aborted)
    }
}

/// Counts of one analysis' measurements so far.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisProgress {
    /// Passing verdicts.
    pub passed: u32,
    /// Failing verdicts.
    pub failed: u32,
    /// Marginal verdicts.
    pub inconclusive: u32,
    /// Source errors since the last verdict.
    pub consecutive_errors: u32,
    /// When the next measurement is due; `None` until the analysis starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Timestamp>,
}

impl AnalysisProgress {
    /// Verdicts received (errors excluded).
    pub fn measured(&self) -> u32 {
        self.passed + self.failed + self.inconclusive
    }
}

/// One verdict (or error) as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerdictRecord {
    /// When it came back.
    pub at: Timestamp,
    /// The step (0-based).
    pub step_index: usize,
    /// The weight in force.
    pub weight: Weight,
    /// Whether it was the background analysis.
    pub background: bool,
    /// The verdict; `None` for an error.
    pub verdict: Option<Verdict>,
    /// The score, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The reasons, or the error.
    pub reasons: Vec<String>,
}

impl VerdictRecord {
    /// The record of a verdict, keeping at most [`KEPT_REASONS`] reasons of [`REASON_CHARS`].
    pub(crate) fn from_outcome(
        at: Timestamp,
        step_index: usize,
        weight: Weight,
        background: bool,
        outcome: &JudgeOutcome,
    ) -> Self {
        VerdictRecord {
            at,
            step_index,
            weight,
            background,
            verdict: Some(outcome.verdict),
            score: outcome.score,
            reasons: bounded_reasons(&outcome.reasons),
        }
    }
}

/// The first [`KEPT_REASONS`] reasons, each cut to [`REASON_CHARS`], and a line counting the rest.
pub(crate) fn bounded_reasons(reasons: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = reasons
        .iter()
        .take(KEPT_REASONS)
        .map(|reason| {
            if reason.chars().count() > REASON_CHARS {
                let mut cut: String = reason.chars().take(REASON_CHARS).collect();
                cut.push('…');
                cut
            } else {
                reason.clone()
            }
        })
        .collect();
    if reasons.len() > KEPT_REASONS {
        kept.push(format!("… and {} more", reasons.len() - KEPT_REASONS));
    }
    kept
}

/// A state that does not fit its plan: a hand edit, or a bug; never acted on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateMisfit {
    /// The plan copy in the state is not a valid plan.
    #[error("plan: {0}")]
    Plan(#[source] PlanError),
    /// A field contradicts the plan or another field.
    #[error("{field}: {message}")]
    Field {
        /// The field (e.g. `stepIndex`, `analysis.passed`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The weight the plan has set once the steps before `step_index` are done (the last
/// `setWeight` among them), and that step's index.
fn planned_weight(steps: &[Step], step_index: usize) -> Option<(usize, Weight)> {
    steps
        .iter()
        .take(step_index)
        .enumerate()
        .rev()
        .find_map(|(index, step)| match step {
            Step::SetWeight(weight) => Some((index, *weight)),
            _ => None,
        })
}

fn weight_text(weight: Option<Weight>) -> String {
    weight.map_or_else(|| "none".to_owned(), |weight| weight.to_string())
}

impl RolloutState {
    /// Checks that the state fits its plan and itself: the plan copy is valid, the step is
    /// within the plan, the weights are the plan's for that step (or 100 % completed, 0 %
    /// aborted), the phase is one the step allows, and no analysis has more verdicts, failures
    /// or errors than its step allows. Every state the machine saves passes; a state that
    /// does not was edited (or written by a bug) and is refused rather than acted on.
    pub fn check(&self) -> Result<(), StateMisfit> {
        let misfit = |field: &str, message: String| {
            Err(StateMisfit::Field {
                field: field.to_owned(),
                message,
            })
        };
        self.plan.validate().map_err(StateMisfit::Plan)?;
        let steps = &self.plan.steps;
        if self.step_index > steps.len() {
            return misfit(
                "stepIndex",
                format!(
                    "{} is past the end of the plan ({} steps)",
                    self.step_index,
                    steps.len()
                ),
            );
        }
        if self.verdicts.len() > KEPT_VERDICTS {
            return misfit(
                "verdicts",
                format!(
                    "{} records, at most {KEPT_VERDICTS} are kept",
                    self.verdicts.len()
                ),
            );
        }
        if let Some((index, record)) = self
            .verdicts
            .iter()
            .enumerate()
            .find(|(_, record)| record.step_index > self.step_index)
        {
            return misfit(
                &format!("verdicts[{index}].stepIndex"),
                format!(
                    "{} is past the current step {}",
                    record.step_index, self.step_index
                ),
            );
        }
        let effective = self.pending_weight.or(self.weight);
        match self.phase {
            Phase::Completed => {
                if self.step_index != steps.len() {
                    return misfit(
                        "phase",
                        format!(
                            "completed, but stepIndex {} is not the end of the plan ({})",
                            self.step_index,
                            steps.len()
                        ),
                    );
                }
                if effective != Some(Weight::FULL) {
                    return misfit(
                        "phase",
                        format!(
                            "completed, but the canary weight is {}, not 100 %",
                            weight_text(effective)
                        ),
                    );
                }
                return Ok(());
            }
            Phase::Aborted => {
                if effective != Some(Weight::ZERO) {
                    return misfit(
                        "phase",
                        format!(
                            "aborted, but the canary weight is {}, not 0 %",
                            weight_text(effective)
                        ),
                    );
                }
                return Ok(());
            }
            Phase::Progressing | Phase::Paused | Phase::Holding => {}
        }
        self.check_weights(steps)?;
        let current = steps.get(self.step_index);
        let step_analysis = match current {
            Some(Step::Analysis(analysis)) => Some(analysis),
            _ => None,
        };
        let held_by_step = match step_analysis {
            Some(analysis) => check_progress("analysis", &self.analysis, analysis, true)?,
            None if self.analysis != AnalysisProgress::default() => {
                return misfit(
                    "analysis",
                    format!(
                        "progress recorded, but step {} is not an analysis",
                        self.step_index
                    ),
                );
            }
            None => false,
        };
        let held_by_background = match &self.plan.background_analysis {
            Some(background) => {
                check_progress("background", &self.background, &background.analysis, false)?
            }
            None if self.background != AnalysisProgress::default() => {
                return misfit(
                    "background",
                    "progress recorded, but the plan has no backgroundAnalysis".into(),
                );
            }
            None => false,
        };
        let measured = self.analysis.measured();
        if let Some(analysis) = step_analysis
            && measured == analysis.count
            && self.phase != Phase::Holding
        {
            return misfit(
                "analysis",
                format!(
                    "all {measured} verdicts of step {} are in, but the rollout is {:?}, not holding",
                    self.step_index, self.phase
                ),
            );
        }
        if self.phase == Phase::Holding && !held_by_step && !held_by_background {
            return misfit(
                "phase",
                "holding, but no analysis has more marginal verdicts than its inconclusiveLimit"
                    .into(),
            );
        }
        if (held_by_step || held_by_background) && self.phase != Phase::Holding {
            return misfit(
                "phase",
                format!(
                    "{:?}, but an analysis is past its inconclusiveLimit (that holds)",
                    self.phase
                ),
            );
        }
        if self.phase == Phase::Paused
            && !matches!(current, Some(Step::Pause(pause)) if pause.duration.is_none())
        {
            return misfit(
                "phase",
                format!("paused, but step {} is not a manual pause", self.step_index),
            );
        }
        if self.pause_until.is_some()
            && !matches!(current, Some(Step::Pause(pause)) if pause.duration.is_some())
        {
            return misfit(
                "pauseUntil",
                format!("set, but step {} is not a timed pause", self.step_index),
            );
        }
        Ok(())
    }

    /// While the rollout runs, `weight` is the plan's weight once the steps before `stepIndex`
    /// are done; or, with a write pending, `pendingWeight` is and `weight` is the one before.
    fn check_weights(&self, steps: &[Step]) -> Result<(), StateMisfit> {
        let planned = planned_weight(steps, self.step_index);
        let (expected, field) = match self.pending_weight {
            None => (planned.map(|(_, weight)| weight), "weight"),
            Some(pending) => {
                if planned.map(|(_, weight)| weight) != Some(pending) {
                    return Err(StateMisfit::Field {
                        field: "pendingWeight".into(),
                        message: format!(
                            "{pending} is not the plan's weight before step {} ({})",
                            self.step_index,
                            weight_text(planned.map(|(_, weight)| weight))
                        ),
                    });
                }
                let before = planned.and_then(|(index, _)| planned_weight(steps, index));
                (before.map(|(_, weight)| weight), "weight")
            }
        };
        if self.weight != expected {
            return Err(StateMisfit::Field {
                field: field.into(),
                message: format!(
                    "{} is not the plan's weight at step {} ({})",
                    weight_text(self.weight),
                    self.step_index,
                    weight_text(expected)
                ),
            });
        }
        Ok(())
    }
}

/// Checks an unfinished analysis' counts against its limits; returns whether it holds the
/// rollout (one marginal verdict past `inconclusiveLimit`).
fn check_progress(
    field: &str,
    progress: &AnalysisProgress,
    analysis: &Analysis,
    counted: bool,
) -> Result<bool, StateMisfit> {
    let misfit = |name: &str, message: String| {
        Err(StateMisfit::Field {
            field: format!("{field}.{name}"),
            message,
        })
    };
    if counted && progress.measured() > analysis.count {
        return misfit(
            "passed",
            format!(
                "{} verdicts ({} passed, {} failed, {} marginal), but the step asks for {}",
                progress.measured(),
                progress.passed,
                progress.failed,
                progress.inconclusive,
                analysis.count
            ),
        );
    }
    if progress.failed > analysis.failure_limit {
        return misfit(
            "failed",
            format!(
                "{} is past the failureLimit {} (that aborts)",
                progress.failed, analysis.failure_limit
            ),
        );
    }
    if progress.inconclusive > analysis.inconclusive_limit.saturating_add(1) {
        return misfit(
            "inconclusive",
            format!(
                "{} is past the inconclusiveLimit {} by more than the one that holds",
                progress.inconclusive, analysis.inconclusive_limit
            ),
        );
    }
    if progress.consecutive_errors > analysis.consecutive_error_limit {
        return misfit(
            "consecutiveErrors",
            format!(
                "{} is past the consecutiveErrorLimit {} (that aborts)",
                progress.consecutive_errors, analysis.consecutive_error_limit
            ),
        );
    }
    Ok(progress.inconclusive > analysis.inconclusive_limit)
}

/// A request from another process to the one running the rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlRequest {
    /// Unique per request; the runner records the last one it acted on.
    pub id: String,
    /// What to do.
    pub action: ControlAction,
}

/// What a control request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ControlAction {
    /// Approve a manual pause or a held step (or, at any other step, move on to the next step).
    Promote,
    /// Skip the remaining steps: canary to 100 %.
    PromoteFull,
    /// Roll back: canary to 0 %.
    Abort,
}

/// A state or control file that cannot be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is not JSON of a state file (or a state could not be written as JSON).
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The file is not a state file this version understands.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file's checksum does not match its content: it was changed outside `serin rollout`.
    #[error(
        "{path}: the checksum does not match the content: the state file was changed outside serin rollout (restore it, or move it away to start over)"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
    },
    /// The state does not fit its plan.
    #[error("{path}: the state does not fit its plan: {source}")]
    Misfit {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: StateMisfit,
    },
    /// A save that does not extend the stored history (another writer, or a stale copy).
    #[error("{path}: not saved: {message}")]
    Conflict {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Another process holds the runner lock of this state file.
    #[error(
        "{path}: another `serin rollout run` holds the lock of this state file; one runner per state file (use `status`, `promote` or `abort` to reach it)"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

/// Where the state is kept and control requests are found.
pub trait StateStore: Send + Sync {
    /// The saved state, if any; only a state that passes [`RolloutState::check`].
    fn load(&self) -> Result<Option<RolloutState>, StateError>;
    /// Saves `state`, replacing the previous one atomically; refuses a state whose history
    /// does not extend the stored one (its `revision` is not one more, or it would replace an
    /// aborted rollout by an unaborted state of it).
    fn save(&self, state: &RolloutState) -> Result<(), StateError>;
    /// The pending control request, if any.
    fn pending_request(&self) -> Result<Option<ControlRequest>, StateError>;
    /// Leaves a control request; a pending abort is never replaced by a promotion.
    fn request(&self, request: ControlRequest) -> Result<(), StateError>;
    /// Removes the control request with this id (after its effect is saved).
    fn clear_request(&self, id: &str) -> Result<(), StateError>;
}

/// The state in a JSON file; control requests in `<file>.request`; the runner lock on
/// `<file>.lock`.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    /// The locked lock file, for a store made by [`FileStore::exclusive`] (shared by clones).
    lock: Option<Arc<fs::File>>,
}

impl FileStore {
    /// A store at `path`, without the runner lock (for `status`, `promote`, and reading).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore {
            path: path.into(),
            lock: None,
        }
    }

    /// A store at `path` holding the runner lock: an OS advisory lock on `<path>.lock`, held
    /// while this store or a clone of it lives and released by the OS when the process dies.
    /// [`StateError::Locked`] if another store (in this or another process) holds it.
    /// The lock file is created if needed and left in place.
    pub fn exclusive(path: impl Into<PathBuf>) -> Result<Self, StateError> {
        let mut store = FileStore::new(path);
        let lock_path = store.lock_path();
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Self::io_error(&lock_path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked { path: lock_path });
            }
            Err(fs::TryLockError::Error(error)) => return Err(Self::io_error(&lock_path)(error)),
        }
        store.lock = Some(Arc::new(file));
        Ok(store)
    }

    /// Whether this store holds the runner lock.
    pub fn is_exclusive(&self) -> bool {
        self.lock.is_some()
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The runner lock's file.
    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    fn request_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".request");
        PathBuf::from(name)
    }

    fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
        move |source| StateError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, StateError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Self::io_error(path)(error)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| StateError::Json {
                path: path.to_owned(),
                source,
            })
    }

    fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
        let mut text = serde_json::to_vec_pretty(value).map_err(|source| StateError::Json {
            path: path.to_owned(),
            source,
        })?;
        text.push(b'\n');
        write_atomically(path, &text).map_err(Self::io_error(path))
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Unique per process and per write, so two writers (threads or processes) never share one.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    let temporary = directory.join(format!(
        ".{}.{}-{}.tmp",
        file_name.unwrap_or_default(),
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    if let Ok(directory) = fs::File::open(directory) {
        // Make the rename itself durable; not every filesystem allows syncing a directory.
        let _ = directory.sync_all();
    }
    Ok(())
}

/// `sha256:` and the hex digest of `value`'s compact JSON.
pub(crate) fn checksum(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    let mut text = String::from("sha256:");
    for byte in digest {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

impl FileStore {
    fn format_error(&self, message: impl Into<String>) -> StateError {
        StateError::Format {
            path: self.path.clone(),
            message: message.into(),
        }
    }

    /// Reads, verifies (version, checksum) and checks the stored state.
    fn load_verified(&self) -> Result<Option<RolloutState>, StateError> {
        let Some(mut value) = Self::read_json::<Value>(&self.path)? else {
            return Ok(None);
        };
        let Some(object) = value.as_object_mut() else {
            return Err(self.format_error("not a JSON object"));
        };
        match object.get("formatVersion").and_then(Value::as_u64) {
            Some(version) if version == u64::from(FORMAT_VERSION) => {}
            Some(version) => {
                return Err(self.format_error(format!(
                    "format version {version} is not {FORMAT_VERSION} (written by another version of serin)"
                )));
            }
            None => return Err(self.format_error("no formatVersion: not a rollout state file")),
        }
        let stored = match object.shift_remove(CHECKSUM_KEY) {
            Some(Value::String(text)) => text,
            Some(_) => return Err(self.format_error("checksum: not a string")),
            None => {
                return Err(self.format_error(
                    "no checksum: not written by serin rollout (restore it, or move it away to start over)",
                ));
            }
        };
        if stored != checksum(&value) {
            return Err(StateError::Checksum {
                path: self.path.clone(),
            });
        }
        let state: RolloutState = serde_path_to_error::deserialize(value).map_err(|error| {
            let path = error.path().to_string();
            self.format_error(format!("{path}: {}", error.into_inner()))
        })?;
        state.check().map_err(|source| StateError::Misfit {
            path: self.path.clone(),
            source,
        })?;
        Ok(Some(state))
    }

    fn conflict(&self, message: String) -> StateError {
        StateError::Conflict {
            path: self.path.clone(),
            message,
        }
    }

    /// Whether `state` may replace `stored`: its history extends it.
    fn check_extends(&self, stored: &RolloutState, state: &RolloutState) -> Result<(), StateError> {
        if state.revision != stored.revision + 1 {
            return Err(self.conflict(format!(
                "revision {} does not follow the stored revision {}: another process has written this state file since it was read",
                state.revision, stored.revision
            )));
        }
        if state.rollout < stored.rollout {
            return Err(self.conflict(format!(
                "rollout {} is older than the stored rollout {}",
                state.rollout, stored.rollout
            )));
        }
        if state.rollout > stored.rollout && !stored.phase.is_terminal() {
            return Err(self.conflict(format!(
                "the stored rollout {} has not ended; a new one cannot replace it",
                stored.rollout
            )));
        }
        if state.rollout == stored.rollout
            && stored.phase == Phase::Aborted
            && state.phase != Phase::Aborted
        {
            return Err(self.conflict(format!(
                "the stored rollout was aborted ({}); an abort is never undone",
                stored.message.as_deref().unwrap_or("no reason given")
            )));
        }
        Ok(())
    }
}

impl StateStore for FileStore {
    fn load(&self) -> Result<Option<RolloutState>, StateError> {
        self.load_verified()
    }

    fn save(&self, state: &RolloutState) -> Result<(), StateError> {
        if let Some(stored) = self.load_verified()? {
            self.check_extends(&stored, state)?;
        }
        let mut value =
            serde_json::to_value(state).map_err(|error| self.format_error(error.to_string()))?;
        let sum = checksum(&value);
        let Some(object) = value.as_object_mut() else {
            return Err(self.format_error("the state is not a JSON object"));
        };
        object.insert(CHECKSUM_KEY.to_owned(), Value::String(sum));
        Self::write_json(&self.path, &value)
    }

    fn pending_request(&self) -> Result<Option<ControlRequest>, StateError> {
        Self::read_json(&self.request_path())
    }

    fn request(&self, request: ControlRequest) -> Result<(), StateError> {
        if let Some(pending) = self.pending_request()?
            && pending.action == ControlAction::Abort
            && request.action != ControlAction::Abort
        {
            return Ok(());
        }
        Self::write_json(&self.request_path(), &request)
    }

    fn clear_request(&self, id: &str) -> Result<(), StateError> {
        let path = self.request_path();
        match self.pending_request()? {
            Some(pending) if pending.id == id => match fs::remove_file(&path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    Err(Self::io_error(&path)(error))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const PLAN: &str = r#"
name: checkout
router:
  nginx: {upstreamFile: /unused, upstream: app, stable: "127.0.0.1:1", canary: "127.0.0.1:2"}
judge: {url: "http://judge.invalid", baseline: {scope: b}, canary: {scope: c}}
steps:
  - setWeight: 5
  - pause: {}
"#;

    /// A state of `PLAN` that fits it: before the first write, or aborted.
    fn state(phase: Phase, revision: u64, rollout: u32) -> RolloutState {
        let at = Timestamp::from_millis(1_700_000_000_000);
        RolloutState {
            format_version: FORMAT_VERSION,
            revision,
            rollout,
            plan: Plan::from_yaml(PLAN).unwrap(),
            phase,
            step_index: 0,
            weight: (phase == Phase::Aborted).then_some(Weight::ZERO),
            pending_weight: None,
            started_at: at,
            step_started_at: at,
            updated_at: at,
            pause_until: None,
            analysis: AnalysisProgress::default(),
            background: AnalysisProgress::default(),
            verdicts: Vec::new(),
            last_request_id: None,
            message: Some("analysis failed".into()),
        }
    }

    /// A save must extend the stored history: the next revision, never an older rollout,
    /// a new rollout only over an ended one, and never an aborted rollout un-aborted.
    #[test]
    fn saves_must_extend_the_stored_history() {
        use Phase::{Aborted, Completed, Progressing};
        // (stored phase, stored revision, stored rollout, new phase, revision, rollout, refusal)
        type Case<'a> = (Phase, u64, u32, Phase, u64, u32, Option<&'a str>);
        let cases: [Case<'_>; 9] = [
            (Progressing, 4, 1, Progressing, 5, 1, None),
            (Progressing, 4, 1, Aborted, 5, 1, None),
            (Aborted, 4, 1, Aborted, 5, 1, None),
            (Aborted, 4, 1, Progressing, 5, 2, None),
            (Completed, 4, 1, Progressing, 5, 2, None),
            (
                Progressing,
                4,
                1,
                Progressing,
                4,
                1,
                Some("revision 4 does not follow the stored revision 4"),
            ),
            (
                Progressing,
                4,
                1,
                Progressing,
                7,
                1,
                Some("revision 7 does not follow the stored revision 4"),
            ),
            (
                Aborted,
                4,
                1,
                Progressing,
                5,
                1,
                Some("the stored rollout was aborted (analysis failed); an abort is never undone"),
            ),
            (
                Progressing,
                4,
                2,
                Progressing,
                5,
                3,
                Some("the stored rollout 2 has not ended"),
            ),
        ];
        for (stored_phase, stored_revision, stored_rollout, phase, revision, rollout, refusal) in
            cases
        {
            let directory = tempfile::tempdir().unwrap();
            let path = directory.path().join("state.json");
            let store = FileStore::new(&path);
            let mut stored = state(stored_phase, stored_revision - 1, stored_rollout);
            if stored_phase == Completed {
                stored.step_index = 2;
                stored.weight = Some(Weight::FULL);
            }
            store.save(&stored).unwrap();
            stored.revision += 1;
            store.save(&stored).unwrap();
            let new = state(phase, revision, rollout);
            let context = format!(
                "{stored_phase:?} r{stored_revision} #{stored_rollout} -> {phase:?} r{revision} #{rollout}"
            );
            match (refusal, store.save(&new)) {
                (None, Ok(())) => assert_eq!(store.load().unwrap(), Some(new), "{context}"),
                (Some(words), Err(error @ StateError::Conflict { .. })) => {
                    assert!(error.to_string().contains(words), "{context}: {error}");
                    assert_eq!(store.load().unwrap(), Some(stored), "{context}: kept");
                }
                (_, result) => panic!("{context}: {result:?}"),
            }
        }
    }

    #[test]
    fn one_runner_per_state_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("state.json");
        let first = FileStore::exclusive(&path).unwrap();
        assert!(first.is_exclusive());
        let error = FileStore::exclusive(&path).unwrap_err();
        assert!(
            matches!(&error, StateError::Locked { path: lock } if *lock == first.lock_path()),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("another `serin rollout run` holds the lock of this state file"),
            "{error}"
        );
        // Readers need no lock.
        assert_eq!(FileStore::new(&path).load().unwrap(), None);
        let clone = first.clone();
        drop(first);
        assert!(
            FileStore::exclusive(&path).is_err(),
            "a clone keeps the lock"
        );
        drop(clone);
        FileStore::exclusive(&path).unwrap();
    }

    /// The lock is the OS's (flock): another process holding it (util-linux `flock(1)`)
    /// keeps a runner out, and its death releases it.
    #[test]
    fn the_lock_is_released_when_its_process_dies() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("state.json");
        let lock = FileStore::new(&path).lock_path();
        let mut holder = std::process::Command::new("flock")
            .arg("--no-fork")
            .arg(&lock)
            .args(["sleep", "60"])
            .spawn()
            .expect("util-linux flock(1)");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match FileStore::exclusive(&path) {
                Err(StateError::Locked { .. }) => break,
                // The child has not locked it yet (it waits for us to let go).
                Ok(store) => drop(store),
                Err(error) => panic!("{error}"),
            }
            assert!(Instant::now() < deadline, "flock(1) never took the lock");
            std::thread::sleep(Duration::from_millis(10));
        }
        holder.kill().unwrap();
        holder.wait().unwrap();
        FileStore::exclusive(&path).unwrap();
    }

    /// A judge answer of any size is stored bounded: ten reasons of 500 characters, and a
    /// line counting the rest.
    #[test]
    fn a_huge_answer_is_stored_bounded() {
        let outcome = JudgeOutcome {
            verdict: Verdict::Fail,
            score: Some(1.0),
            reasons: vec!["é".repeat(100_000); 1_000],
        };
        let record = VerdictRecord::from_outcome(
            Timestamp::from_millis(0),
            1,
            Weight::ZERO,
            false,
            &outcome,
        );
        assert_eq!(record.reasons.len(), KEPT_REASONS + 1);
        for reason in &record.reasons[..KEPT_REASONS] {
            assert_eq!(
                reason.chars().count(),
                REASON_CHARS + 1,
                "cut, with an ellipsis"
            );
        }
        assert_eq!(record.reasons[KEPT_REASONS], "… and 990 more");
        assert!(serde_json::to_string(&record).unwrap().len() < 12_000);
        let short = vec!["latency up 8 %".to_owned()];
        assert_eq!(
            bounded_reasons(&short),
            short,
            "short reasons are kept whole"
        );
    }

    fn request(id: &str, action: ControlAction) -> ControlRequest {
        ControlRequest {
            id: id.to_owned(),
            action,
        }
    }

    #[test]
    fn requests_abort_wins_and_clearing_is_by_id() {
        let directory = tempfile::tempdir().unwrap();
        let store = FileStore::new(directory.path().join("state.json"));
        assert_eq!(store.pending_request().unwrap(), None);
        store.request(request("1", ControlAction::Promote)).unwrap();
        store.request(request("2", ControlAction::Abort)).unwrap();
        store
            .request(request("3", ControlAction::PromoteFull))
            .unwrap();
        assert_eq!(
            store.pending_request().unwrap(),
            Some(request("2", ControlAction::Abort))
        );
        store.clear_request("1").unwrap();
        assert!(
            store.pending_request().unwrap().is_some(),
            "another id is kept"
        );
        store.clear_request("2").unwrap();
        assert_eq!(store.pending_request().unwrap(), None);
        store.clear_request("2").unwrap();
    }

    #[test]
    fn a_missing_state_is_none_and_garbage_is_an_error() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("state.json");
        let store = FileStore::new(&path);
        assert!(store.load().unwrap().is_none());
        fs::write(&path, "{").unwrap();
        let error = store.load().unwrap_err().to_string();
        assert!(error.contains("state.json"), "{error}");
    }
}
