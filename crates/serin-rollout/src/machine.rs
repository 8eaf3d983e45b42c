//! The rollout state machine: one transition at a time, persisted before every router write
//! and after every transition, with time, judge, router and store injected.
//!
//! Every call to [`Rollout::step`] makes at most one transition:
//! 1. act on a pending control request (abort, promote), recorded by id so it is never applied twice;
//! 2. finish a router write that was started but not confirmed (idempotent rewrite);
//! 3. otherwise advance the plan: start or end a pause, take a measurement, write a weight.
//!
//! A weight change is saved first as `pendingWeight` together with the state that follows it
//! (the next step index), then written, then confirmed. A process killed anywhere therefore
//! resumes at the same step and weight: the write is repeated (harmlessly) or confirmed, never
//! skipped and never followed by a repeat of the step.

use tracing::{info, warn};

use crate::clock::{Clock, Timestamp};
use crate::judge::{Judge, JudgeError, JudgeRequest, RequestWindow, Verdict};
use crate::plan::{Analysis, Plan, Step};
use crate::router::{Router, RouterError, RouterWrite, WeightChange};
use crate::state::{
    AnalysisProgress, ControlAction, ControlRequest, FORMAT_VERSION, KEPT_VERDICTS, Phase,
    RolloutState, StateError, StateStore, VerdictRecord, bounded_reasons,
};
use crate::weight::Weight;

/// How many transient router failures in a row [`Rollout::run`] retries (one poll interval apart).
pub const ROUTER_RETRIES: u32 = 5;

/// What one [`Rollout::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A transition was made and saved; call `step` again.
    Advanced,
    /// Nothing to do before this time (a pause, the next measurement, or a poll for requests).
    Waiting {
        /// When to call `step` again.
        until: Timestamp,
    },
    /// The rollout has ended in this phase.
    Finished(Phase),
}

/// What [`Rollout::abort`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortReport {
    /// The phase before the abort; [`Phase::Aborted`] if the rollout had been aborted already.
    pub previous_phase: Phase,
    /// The router's write of 0 %. It is always made, even on an aborted rollout: `changed`
    /// then says whether the router had been moved off 0 % since.
    pub write: RouterWrite,
}

/// A rollout that cannot go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// The state could not be read or saved.
    #[error(transparent)]
    State(#[from] StateError),
    /// The router failed; the write is still pending and is retried on resume.
    #[error("router: {0}")]
    Router(#[from] RouterError),
    /// The saved state belongs to another plan and is still running.
    #[error(
        "the state file holds an unfinished rollout of plan {0:?} that differs from this plan; finish or abort it first, or use another state file"
    )]
    PlanMismatch(String),
    /// There is no saved rollout.
    #[error("no rollout has been started with this state file")]
    NoState,
}

/// A rollout: the plan's state plus the injected world.
pub struct Rollout<S, R, J, C> {
    store: S,
    router: R,
    judge: J,
    clock: C,
    state: RolloutState,
}

impl<S: StateStore, R: Router, J: Judge, C: Clock> Rollout<S, R, J, C> {
    /// Resumes the saved rollout of `plan` (even one that has ended: it stays ended), or starts
    /// a new one if there is none or the saved one was of another plan and has ended.
    /// `restart` starts a new rollout of `plan` over an ended one of the same plan.
    pub async fn start(
        plan: Plan,
        store: S,
        router: R,
        judge: J,
        clock: C,
        restart: bool,
    ) -> Result<Self, RolloutError> {
        let now = clock.now();
        let mut rollout = match store.load()? {
            Some(state) if !state.phase.is_terminal() || (state.plan == plan && !restart) => {
                if state.plan != plan {
                    return Err(RolloutError::PlanMismatch(state.plan.name.clone()));
                }
                info!(plan = %plan.name, step = state.step_index, phase = ?state.phase, "resuming rollout");
                return Ok(Rollout {
                    store,
                    router,
                    judge,
                    clock,
                    state,
                });
            }
            Some(state) => {
                // The previous rollout has ended; finish its last write before replacing it.
                let mut previous = Rollout {
                    store,
                    router,
                    judge,
                    clock,
                    state,
                };
                previous.finish_pending_write().await?;
                previous.state = new_state(plan, now, Some(&previous.state));
                previous
            }
            None => Rollout {
                store,
                router,
                judge,
                clock,
                state: new_state(plan, now, None),
            },
        };
        // A request left for an earlier rollout must not act on this one.
        if let Some(stale) = rollout.store.pending_request()? {
            rollout.store.clear_request(&stale.id)?;
        }
        rollout.save()?;
        info!(plan = %rollout.state.plan.name, "starting rollout");
        Ok(rollout)
    }

    /// Resumes the saved rollout, whatever its plan (for `abort` and `promote` from another process).
    pub fn resume(store: S, router: R, judge: J, clock: C) -> Result<Self, RolloutError> {
        let state = store.load()?.ok_or(RolloutError::NoState)?;
        Ok(Rollout {
            store,
            router,
            judge,
            clock,
            state,
        })
    }

    /// The current state.
    pub fn state(&self) -> &RolloutState {
        &self.state
    }

    /// Steps until the rollout ends, sleeping on the clock while waiting; transient router
    /// failures are retried [`ROUTER_RETRIES`] times, one poll interval apart.
    pub async fn run(&mut self) -> Result<Phase, RolloutError> {
        self.run_observed(|_| {}).await
    }

    /// [`Rollout::run`], calling `observe` with the state after every transition.
    pub async fn run_observed(
        &mut self,
        mut observe: impl FnMut(&RolloutState),
    ) -> Result<Phase, RolloutError> {
        let mut router_failures = 0;
        loop {
            match self.step().await {
                Ok(Progress::Finished(phase)) => return Ok(phase),
                Ok(Progress::Waiting { until }) => self.clock.sleep_until(until).await,
                Ok(Progress::Advanced) => {
                    router_failures = 0;
                    observe(&self.state);
                }
                // An abort requested meanwhile (e.g. `serin rollout abort` wrote 0 % while this
                // write was under way, so it found a foreign weight) comes first.
                Err(RolloutError::Router(error)) if self.abort_requested() => {
                    warn!(%error, "router write failed with an abort requested; aborting");
                }
                Err(RolloutError::Router(error))
                    if error.is_transient() && router_failures < ROUTER_RETRIES =>
                {
                    router_failures += 1;
                    warn!(%error, attempt = router_failures, "router write failed; retrying");
                    let retry_at = self.clock.now().plus(self.state.plan.poll_interval);
                    self.clock.sleep_until(retry_at).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Rolls back now: canary to 0 %, whatever the router shows (used by `serin rollout abort`).
    /// On a rollout aborted already the state (and its reason) is kept, and 0 % is written
    /// again, so the report says what the router actually had.
    pub async fn abort(&mut self, reason: &str) -> Result<AbortReport, RolloutError> {
        let previous_phase = self.state.phase;
        if previous_phase != Phase::Aborted {
            self.begin_abort(reason.to_owned())?;
        }
        let write = match self.write_pending().await? {
            Some(write) => write,
            None => {
                self.router
                    .set_weight(WeightChange {
                        from: self.state.weight,
                        to: Weight::ZERO,
                        force: true,
                    })
                    .await?
            }
        };
        Ok(AbortReport {
            previous_phase,
            write,
        })
    }

    /// Whether an abort request not yet acted on is waiting.
    fn abort_requested(&self) -> bool {
        matches!(self.store.pending_request(), Ok(Some(request))
            if request.action == ControlAction::Abort
                && self.state.last_request_id.as_deref() != Some(request.id.as_str()))
    }

    /// Makes at most one transition.
    pub async fn step(&mut self) -> Result<Progress, RolloutError> {
        if let Some(request) = self.store.pending_request()? {
            self.handle_request(request).await?;
            return Ok(Progress::Advanced);
        }
        if self.state.pending_weight.is_some() {
            self.finish_pending_write().await?;
            return Ok(Progress::Advanced);
        }
        let now = self.clock.now();
        let poll = now.plus(self.state.plan.poll_interval);
        match self.state.phase {
            Phase::Completed | Phase::Aborted => return Ok(Progress::Finished(self.state.phase)),
            Phase::Holding => return Ok(Progress::Waiting { until: poll }),
            Phase::Paused | Phase::Progressing => {}
        }
        let background_due = match self.background_due(now)? {
            BackgroundDue::Scheduled => return Ok(Progress::Advanced),
            BackgroundDue::Measure(analysis) => {
                self.measure(&analysis, true).await?;
                return Ok(Progress::Advanced);
            }
            BackgroundDue::At(at) => at,
        };
        if self.state.phase == Phase::Paused {
            return Ok(Progress::Waiting {
                until: earliest(poll, background_due),
            });
        }
        let Some(step) = self.state.plan.steps.get(self.state.step_index).cloned() else {
            let complete = |state: &mut RolloutState| {
                state.phase = Phase::Completed;
                state.message = Some("all steps done: canary has all the traffic".into());
            };
            if self.state.weight == Some(Weight::FULL) {
                complete(&mut self.state);
                self.save()?;
            } else {
                self.begin_weight_change(Weight::FULL, complete)?;
                self.finish_pending_write().await?;
            }
            return Ok(Progress::Advanced);
        };
        match step {
            Step::SetWeight(weight) => {
                self.begin_weight_change(weight, |state| {
                    next_step(state, now);
                })?;
                self.finish_pending_write().await?;
                Ok(Progress::Advanced)
            }
            Step::Pause(pause) => match (pause.duration, self.state.pause_until) {
                (None, _) => {
                    self.state.phase = Phase::Paused;
                    self.state.message = Some(format!(
                        "paused at step {} for approval: run `serin rollout promote`",
                        self.state.step_index
                    ));
                    self.save()?;
                    Ok(Progress::Advanced)
                }
                (Some(duration), None) => {
                    self.state.pause_until = Some(now.plus(duration));
                    self.save()?;
                    Ok(Progress::Advanced)
                }
                (Some(_), Some(until)) if until <= now => {
                    next_step(&mut self.state, now);
                    self.save()?;
                    Ok(Progress::Advanced)
                }
                (Some(_), Some(until)) => Ok(Progress::Waiting {
                    until: earliest(until.min(poll), background_due),
                }),
            },
            Step::Analysis(analysis) => match self.state.analysis.next_at {
                None => {
                    self.state.analysis.next_at = Some(now.plus(analysis.interval));
                    self.save()?;
                    Ok(Progress::Advanced)
                }
                Some(at) if at <= now => {
                    self.measure(&analysis, false).await?;
                    Ok(Progress::Advanced)
                }
                Some(at) => Ok(Progress::Waiting {
                    until: earliest(at.min(poll), background_due),
                }),
            },
        }
    }

    async fn handle_request(&mut self, request: ControlRequest) -> Result<(), RolloutError> {
        if self.state.last_request_id.as_deref() == Some(request.id.as_str()) {
            self.store.clear_request(&request.id)?;
            return Ok(());
        }
        let now = self.clock.now();
        info!(action = ?request.action, id = %request.id, "control request");
        self.state.last_request_id = Some(request.id.clone());
        if self.state.phase.is_terminal() {
            self.save()?;
        } else {
            match request.action {
                ControlAction::Abort => self.begin_abort("aborted on request".into())?,
                ControlAction::PromoteFull => self.begin_weight_change(Weight::FULL, |state| {
                    state.phase = Phase::Completed;
                    state.step_index = state.plan.steps.len();
                    state.pause_until = None;
                    state.message = Some("promoted to 100 % on request".into());
                })?,
                ControlAction::Promote => {
                    self.promote(now);
                    self.save()?;
                }
            }
        }
        self.store.clear_request(&request.id)?;
        if self.state.pending_weight.is_some() {
            self.finish_pending_write().await?;
        }
        Ok(())
    }

    fn promote(&mut self, now: Timestamp) {
        let step = self.state.plan.steps.get(self.state.step_index);
        let held_by_step = matches!(step, Some(Step::Analysis(analysis))
            if self.state.analysis.inconclusive > analysis.inconclusive_limit);
        match (self.state.phase, step) {
            (Phase::Holding, _) if !held_by_step => {
                // Held by the background analysis: forgive its inconclusive verdicts, stay at this step.
                self.state.background.inconclusive = 0;
                self.state.phase = Phase::Progressing;
                self.state.message = Some("promoted: background analysis hold released".into());
            }
            (Phase::Paused | Phase::Holding, _)
            | (Phase::Progressing, Some(Step::Pause(_) | Step::Analysis(_))) => {
                self.state.message = Some(format!("promoted past step {}", self.state.step_index));
                next_step(&mut self.state, now);
            }
            _ => {
                self.state.message =
                    Some("promote: nothing to approve at this step (use promote --full to skip to 100 %)".into());
            }
        }
    }

    fn begin_abort(&mut self, reason: String) -> Result<(), RolloutError> {
        warn!(%reason, "aborting rollout");
        self.begin_weight_change(Weight::ZERO, |state| {
            state.phase = Phase::Aborted;
            state.pause_until = None;
            state.message = Some(reason);
        })
    }

    /// Saves the state that follows a weight change, with the change marked pending.
    fn begin_weight_change(
        &mut self,
        to: Weight,
        then: impl FnOnce(&mut RolloutState),
    ) -> Result<(), RolloutError> {
        then(&mut self.state);
        self.state.pending_weight = Some(to);
        self.save()
    }

    async fn finish_pending_write(&mut self) -> Result<(), RolloutError> {
        self.write_pending().await.map(|_| ())
    }

    /// Writes the pending weight and confirms it; `None` if no write was pending.
    async fn write_pending(&mut self) -> Result<Option<RouterWrite>, RolloutError> {
        let Some(to) = self.state.pending_weight else {
            return Ok(None);
        };
        let change = WeightChange {
            from: self.state.weight,
            to,
            force: self.state.phase == Phase::Aborted,
        };
        let write = self.router.set_weight(change).await?;
        for note in &write.notes {
            info!(note = %note, "router");
        }
        info!(weight = %to, changed = write.changed, "weight written");
        self.state.weight = Some(to);
        self.state.pending_weight = None;
        self.save()?;
        Ok(Some(write))
    }

    fn background_due(&mut self, now: Timestamp) -> Result<BackgroundDue, RolloutError> {
        let Some(background) = &self.state.plan.background_analysis else {
            return Ok(BackgroundDue::At(None));
        };
        let steps = self.state.plan.steps.len();
        if self.state.step_index < background.starting_step || self.state.step_index >= steps {
            return Ok(BackgroundDue::At(None));
        }
        match self.state.background.next_at {
            None => {
                self.state.background.next_at = Some(now.plus(background.analysis.interval));
                self.save()?;
                Ok(BackgroundDue::Scheduled)
            }
            Some(at) if at <= now => Ok(BackgroundDue::Measure(background.analysis.clone())),
            Some(at) => Ok(BackgroundDue::At(Some(at))),
        }
    }

    async fn measure(&mut self, analysis: &Analysis, background: bool) -> Result<(), RolloutError> {
        let weight = self.state.weight.unwrap_or(Weight::ZERO);
        let window = match analysis.lookback {
            Some(lookback) => RequestWindow::Lookback(lookback),
            None => RequestWindow::Since {
                start: if background {
                    self.state.started_at
                } else {
                    self.state.step_started_at
                },
                end: self.clock.now(),
            },
        };
        let request = JudgeRequest {
            config: analysis.config.clone(),
            window,
            step_index: self.state.step_index,
            weight,
            background,
        };
        let result = self.judge.judge(&request).await;
        let now = self.clock.now();
        let step_index = self.state.step_index;
        let label = if background {
            "background analysis".to_owned()
        } else {
            format!("analysis at step {step_index}")
        };
        let record = match &result {
            Ok(outcome) => {
                VerdictRecord::from_outcome(now, step_index, weight, background, outcome)
            }
            Err(error) => VerdictRecord {
                at: now,
                step_index,
                weight,
                background,
                verdict: None,
                score: None,
                reasons: bounded_reasons(&[error.to_string()]),
            },
        };
        self.state.verdicts.push(record);
        let excess = self.state.verdicts.len().saturating_sub(KEPT_VERDICTS);
        self.state.verdicts.drain(..excess);
        let progress = if background {
            &mut self.state.background
        } else {
            &mut self.state.analysis
        };
        progress.next_at = Some(now.plus(analysis.interval));
        let decision = match result {
            Ok(outcome) => {
                progress.consecutive_errors = 0;
                match outcome.verdict {
                    Verdict::Pass => progress.passed += 1,
                    Verdict::Marginal => progress.inconclusive += 1,
                    Verdict::Fail => progress.failed += 1,
                }
                let reasons = bounded_reasons(&outcome.reasons).join("; ");
                if progress.failed > analysis.failure_limit {
                    Decision::Abort(format!(
                        "{label} failed ({} failing verdicts, limit {}): {reasons}",
                        progress.failed, analysis.failure_limit
                    ))
                } else if progress.inconclusive > analysis.inconclusive_limit {
                    Decision::Hold(format!(
                        "{label} inconclusive ({} marginal verdicts, limit {}): {reasons}; holding at {weight} until `serin rollout promote` or `abort`",
                        progress.inconclusive, analysis.inconclusive_limit
                    ))
                } else if !background && progress.measured() >= analysis.count {
                    Decision::NextStep
                } else {
                    Decision::Continue
                }
            }
            Err(JudgeError::Rejected { status, message }) => Decision::Abort(format!(
                "{label}: the judge rejected the request ({status}): {message}"
            )),
            Err(error) => {
                progress.consecutive_errors += 1;
                if progress.consecutive_errors > analysis.consecutive_error_limit {
                    Decision::Abort(format!(
                        "{label}: {} source errors in a row (limit {}), last: {error}",
                        progress.consecutive_errors, analysis.consecutive_error_limit
                    ))
                } else {
                    warn!(%error, errors = progress.consecutive_errors, "judge failed; will retry");
                    Decision::Continue
                }
            }
        };
        match decision {
            Decision::Abort(reason) => {
                self.begin_abort(reason)?;
                self.finish_pending_write().await?;
            }
            Decision::Hold(reason) => {
                warn!(%reason, "holding rollout");
                self.state.phase = Phase::Holding;
                self.state.message = Some(reason);
                self.save()?;
            }
            Decision::NextStep => {
                next_step(&mut self.state, now);
                self.save()?;
            }
            Decision::Continue => self.save()?,
        }
        Ok(())
    }

    /// Saves the state as the next revision (kept as it was if the save fails).
    fn save(&mut self) -> Result<(), RolloutError> {
        self.state.updated_at = self.clock.now();
        self.state.revision += 1;
        if let Err(error) = self.store.save(&self.state) {
            self.state.revision -= 1;
            return Err(error.into());
        }
        Ok(())
    }
}

enum BackgroundDue {
    /// Not started before: its first measurement was just scheduled (and saved).
    Scheduled,
    /// A measurement is due now.
    Measure(Analysis),
    /// The next measurement's time, if a background analysis is running.
    At(Option<Timestamp>),
}

enum Decision {
    Abort(String),
    Hold(String),
    NextStep,
    Continue,
}

fn earliest(a: Timestamp, b: Option<Timestamp>) -> Timestamp {
    b.map_or(a, |b| a.min(b))
}

fn next_step(state: &mut RolloutState, now: Timestamp) {
    state.step_index += 1;
    state.step_started_at = now;
    state.pause_until = None;
    state.analysis = AnalysisProgress::default();
    state.phase = Phase::Progressing;
}

/// A fresh rollout of `plan`, numbered after the `previous` one of the same state file.
fn new_state(plan: Plan, now: Timestamp, previous: Option<&RolloutState>) -> RolloutState {
    RolloutState {
        format_version: FORMAT_VERSION,
        revision: previous.map_or(0, |state| state.revision),
        rollout: previous.map_or(1, |state| state.rollout + 1),
        plan,
        phase: Phase::Progressing,
        step_index: 0,
        weight: None,
        pending_weight: None,
        started_at: now,
        step_started_at: now,
        updated_at: now,
        pause_until: None,
        analysis: AnalysisProgress::default(),
        background: AnalysisProgress::default(),
        verdicts: Vec::new(),
        last_request_id: None,
        message: None,
    }
}

#[cfg(test)]
mod tests;
