//! Kayenta-style canary executions, kept in memory for the Kayenta-compatible API.
//!
//! Lifetime: an execution is readable from `POST /canary/{configId}` until
//! `retention` after it finished (default 1 h). At most `max_executions` are kept;
//! when full, expired ones go first, then the oldest finished one; if every kept
//! execution is still running, a new one is refused with 503 (the client retries).
//! Executions do not survive a restart: a client polling across a restart gets 404,
//! which Argo Rollouts counts as a measurement error, never a pass.
//! Time is the service's injected clock (`AppState::now`), so retention is tested
//! without waiting; a clock that steps back never expires an execution early.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::judging::JudgeResponse;

/// Where an execution stands.
#[derive(Debug, Clone)]
pub enum ExecutionState {
    /// Still judging.
    Running,
    /// Judged.
    Succeeded(Arc<JudgeResponse>),
    /// Could not be judged (source down, bad query...).
    Failed {
        /// Why.
        message: String,
        /// Error kind.
        kind: String,
    },
}

/// One execution.
#[derive(Debug, Clone)]
pub struct Execution {
    /// Execution id.
    pub id: String,
    /// The config judged.
    pub config_id: String,
    /// Wall-clock start (reported).
    pub started: DateTime<Utc>,
    /// Wall-clock end (reported, and where its retention starts).
    pub finished: Option<DateTime<Utc>>,
    /// State.
    pub state: ExecutionState,
}

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<String, Execution>,
    order: VecDeque<String>,
    next: u64,
}

/// The bounded store.
#[derive(Debug)]
pub struct Executions {
    inner: Mutex<Inner>,
    capacity: usize,
    retention: Duration,
    prefix: String,
}

impl Executions {
    /// A store keeping at most `capacity` executions, each `retention` after it ends.
    pub fn new(capacity: usize, retention: Duration, started: DateTime<Utc>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
            retention,
            // Ids from different service starts differ.
            prefix: format!("{:x}", started.timestamp_millis()),
        }
    }

    /// Registers a running execution; `None` when full of running executions.
    pub fn start(&self, config_id: &str, now: DateTime<Utc>) -> Option<String> {
        let mut inner = self.inner.lock().expect("executions lock");
        self.evict(&mut inner, now);
        if inner.by_id.len() >= self.capacity {
            let oldest_finished = inner
                .order
                .iter()
                .position(|id| inner.by_id.get(id).is_some_and(|e| e.finished.is_some()))?;
            let id = inner
                .order
                .remove(oldest_finished)
                .expect("index from position");
            inner.by_id.remove(&id);
        }
        inner.next += 1;
        let id = format!("{}-{:06}", self.prefix, inner.next);
        inner.order.push_back(id.clone());
        inner.by_id.insert(
            id.clone(),
            Execution {
                id: id.clone(),
                config_id: config_id.to_owned(),
                started: now,
                finished: None,
                state: ExecutionState::Running,
            },
        );
        Some(id)
    }

    /// Records the outcome of `id`.
    pub fn finish(&self, id: &str, state: ExecutionState, now: DateTime<Utc>) {
        let mut inner = self.inner.lock().expect("executions lock");
        if let Some(execution) = inner.by_id.get_mut(id) {
            execution.state = state;
            execution.finished = Some(now);
        }
    }

    /// The execution `id`, unless unknown or expired.
    pub fn get(&self, id: &str, now: DateTime<Utc>) -> Option<Execution> {
        let mut inner = self.inner.lock().expect("executions lock");
        self.evict(&mut inner, now);
        inner.by_id.get(id).cloned()
    }

    /// Executions kept.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("executions lock").by_id.len()
    }

    /// True when none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn evict(&self, inner: &mut Inner, now: DateTime<Utc>) {
        let retention = self.retention;
        let Inner { by_id, order, .. } = inner;
        order.retain(|id| {
            let expired = by_id
                .get(id)
                .and_then(|e| e.finished)
                .and_then(|at| (now - at).to_std().ok())
                .is_some_and(|age| age >= retention);
            if expired {
                by_id.remove(id);
            }
            !expired
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_expiring() {
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let at = |seconds: i64| t0 + chrono::Duration::seconds(seconds);
        let store = Executions::new(2, Duration::from_secs(60), t0);
        let a = store.start("c", t0).unwrap();
        let b = store.start("c", t0).unwrap();
        // Full of running executions: refused.
        assert_eq!(store.start("c", t0), None);
        let failed = ExecutionState::Failed {
            message: "down".into(),
            kind: "source".into(),
        };
        store.finish(&a, failed, t0);
        // Full, but `a` finished: it makes room.
        let c = store.start("c", t0).unwrap();
        assert!(store.get(&a, t0).is_none());
        assert!(store.get(&b, t0).is_some());
        store.finish(&c, ExecutionState::Running, t0);
        // Readable until the retention ends, then gone; a clock stepped back keeps it.
        assert!(store.get(&c, at(-3600)).is_some());
        assert!(store.get(&c, at(59)).is_some());
        assert!(store.get(&c, at(60)).is_none());
        assert_eq!(store.len(), 1);
        assert_ne!(a, b);
    }
}
