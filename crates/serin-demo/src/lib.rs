//! Serin's live demo: a demo service whose versions differ only by flags, and one scenario that rolls v2 out behind a real nginx, judged live from a real Prometheus.
//!
//! [`service`] is the program v1 and v2 run (`serin-demo serve`). [`scenario`] starts
//! everything on 127.0.0.1 (`serin-demo scenario`): both versions as child processes,
//! Prometheus scraping them every second, nginx splitting users' traffic through the
//! plain-nginx router, a load generator, the judge service and `serin rollout`'s state
//! machine stepping 5 → 10 → 20 → 50 → 100 %; it prints a timeline and stops everything
//! it started.

pub mod configs;
pub mod load;
pub mod processes;
pub mod scenario;
pub mod service;

use thiserror::Error;

/// Why the scenario could not run to its end.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A program could not be started (not installed?).
    #[error("cannot start {program}: {source} (Debian: apt-get install prometheus nginx-light)")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A started process never became ready.
    #[error("{name} did not start: {detail}")]
    Startup {
        /// Which process.
        name: String,
        /// What went wrong.
        detail: String,
    },
    /// A process the scenario needs has exited.
    #[error("{name} exited ({status})")]
    Exited {
        /// Which process.
        name: String,
        /// Its exit status.
        status: String,
    },
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The judge service could not be set up.
    #[error("judge service: {0}")]
    Judge(String),
    /// The rollout plan was refused.
    #[error("rollout plan: {0}")]
    Plan(String),
    /// The rollout failed (not a rollback: an error).
    #[error("rollout: {0}")]
    Rollout(String),
}
