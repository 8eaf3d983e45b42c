//! The persisted rollout state and where it lives: a JSON file written atomically, plus
//! control requests (`promote`, `abort`) left beside it by other processes.
//!
//! The state file (`FORMAT_VERSION` 1) is one JSON object; `docs/rollouts.md` documents each field.
//! It is written to a temporary file in the same directory, flushed to disk and renamed over the
//! old one, so a reader (or a process killed mid-write) sees either the old or the new state.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::clock::Timestamp;
use crate::judge::{JudgeOutcome, Verdict};
use crate::plan::Plan;
use crate::weight::Weight;

/// The state file's format version.
pub const FORMAT_VERSION: u32 = 1;

/// How many verdict records the state keeps (the most recent).
pub const KEPT_VERDICTS: usize = 20;

/// Everything needed to resume a rollout exactly where it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
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
            reasons: outcome.reasons.clone(),
        }
    }
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
    /// The file is not a state file this version understands.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Where the state is kept and control requests are found.
pub trait StateStore: Send + Sync {
    /// The saved state, if any.
    fn load(&self) -> Result<Option<RolloutState>, StateError>;
    /// Saves `state`, replacing the previous one atomically.
    fn save(&self, state: &RolloutState) -> Result<(), StateError>;
    /// The pending control request, if any.
    fn pending_request(&self) -> Result<Option<ControlRequest>, StateError>;
    /// Leaves a control request; a pending abort is never replaced by a promotion.
    fn request(&self, request: ControlRequest) -> Result<(), StateError>;
    /// Removes the control request with this id (after its effect is saved).
    fn clear_request(&self, id: &str) -> Result<(), StateError>;
}

/// The state in a JSON file; control requests in `<file>.request`.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into() }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
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
            .map_err(|error| StateError::Format {
                path: path.to_owned(),
                message: error.to_string(),
            })
    }

    fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
        let mut text = serde_json::to_vec_pretty(value).map_err(|error| StateError::Format {
            path: path.to_owned(),
            message: error.to_string(),
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

impl StateStore for FileStore {
    fn load(&self) -> Result<Option<RolloutState>, StateError> {
        let Some(state) = Self::read_json::<RolloutState>(&self.path)? else {
            return Ok(None);
        };
        if state.format_version != FORMAT_VERSION {
            return Err(StateError::Format {
                path: self.path.clone(),
                message: format!(
                    "format version {} is not {FORMAT_VERSION}",
                    state.format_version
                ),
            });
        }
        Ok(Some(state))
    }

    fn save(&self, state: &RolloutState) -> Result<(), StateError> {
        Self::write_json(&self.path, state)
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
    use super::*;

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
