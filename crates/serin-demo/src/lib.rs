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
    /// A part of the scenario (the judge service, the plan, the rollout, an HTTP client)
    /// could not be set up or failed.
    #[error("{what}")]
    Part {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ScenarioError {
    /// A [`ScenarioError::Part`] failing with `source` while doing `what`.
    pub fn part(what: &str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Part {
            what: what.to_owned(),
            source: source.into(),
        }
    }
}
