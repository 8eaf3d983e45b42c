//! State-machine tests: a manual clock, a scripted judge, an in-memory store and a fake
//! router, all deterministic; kills are simulated after every side effect.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::judge::JudgeOutcome;
use crate::router::RouterWrite;
use crate::state::FileStore;

const START: u64 = 1_700_000_000_000;

/// Counts side effects (saves and router writes) and "kills the process" right after the
/// effect numbered `kill_after` (0-based): that effect happens, then everything fails.
#[derive(Clone, Default)]
struct Killer {
    remaining: Arc<AtomicI64>,
    effects: Arc<AtomicU32>,
}

impl Killer {
    fn armed(kill_after: u32) -> Self {
        Killer {
            remaining: Arc::new(AtomicI64::new(i64::from(kill_after))),
            effects: Arc::default(),
        }
    }

    fn disarmed() -> Self {
        Killer {
            remaining: Arc::new(AtomicI64::new(-1)),
            effects: Arc::default(),
        }
    }

    fn dead(&self) -> bool {
        self.remaining.load(Ordering::SeqCst) == -2
    }

    /// Called after an effect happened; true if the process dies now.
    fn after_effect(&self) -> bool {
        self.effects.fetch_add(1, Ordering::SeqCst);
        let left = self.remaining.load(Ordering::SeqCst);
        if left == 0 {
            self.remaining.store(-2, Ordering::SeqCst);
            true
        } else {
            if left > 0 {
                self.remaining.store(left - 1, Ordering::SeqCst);
            }
            false
        }
    }
}

#[derive(Clone, Default)]
struct Shared {
    state: Arc<Mutex<Option<RolloutState>>>,
    request: Arc<Mutex<Option<ControlRequest>>>,
}

#[derive(Clone)]
struct MemoryStore {
    shared: Shared,
    killer: Killer,
}

fn killed_io() -> StateError {
    StateError::Io {
        path: "memory".into(),
        source: std::io::Error::other("killed"),
    }
}

impl StateStore for MemoryStore {
    fn load(&self) -> Result<Option<RolloutState>, StateError> {
        Ok(self.shared.state.lock().unwrap().clone())
    }

    fn save(&self, state: &RolloutState) -> Result<(), StateError> {
        if self.killer.dead() {
            return Err(killed_io());
        }
        // Every state the machine saves fits its plan and extends the stored history.
        if let Err(misfit) = state.check() {
            panic!("the machine saved a misfit: {misfit}\n{state:#?}");
        }
        if let Some(stored) = self.shared.state.lock().unwrap().as_ref() {
            assert_eq!(
                state.revision,
                stored.revision + 1,
                "revisions go up by one"
            );
            assert!(state.rollout >= stored.rollout, "rollouts never go back");
        }
        // Round-trip through JSON, as the file store does.
        let text = serde_json::to_string(state).unwrap();
        *self.shared.state.lock().unwrap() = Some(serde_json::from_str(&text).unwrap());
        if self.killer.after_effect() {
            return Err(killed_io());
        }
        Ok(())
    }

    fn pending_request(&self) -> Result<Option<ControlRequest>, StateError> {
        Ok(self.shared.request.lock().unwrap().clone())
    }

    fn request(&self, request: ControlRequest) -> Result<(), StateError> {
        let mut pending = self.shared.request.lock().unwrap();
        if !pending
            .as_ref()
            .is_some_and(|p| p.action == ControlAction::Abort)
        {
            *pending = Some(request);
        }
        Ok(())
    }

    fn clear_request(&self, id: &str) -> Result<(), StateError> {
        let mut pending = self.shared.request.lock().unwrap();
        if pending.as_ref().is_some_and(|p| p.id == id) {
            *pending = None;
        }
        Ok(())
    }
}

/// The traffic split as the outside world sees it, and every write made to it.
#[derive(Debug, Default)]
struct World {
    weight: Option<Weight>,
    writes: Vec<Weight>,
}

#[derive(Clone)]
struct FakeRouter {
    world: Arc<Mutex<World>>,
    killer: Killer,
}

impl Router for FakeRouter {
    async fn set_weight(&self, change: WeightChange) -> Result<RouterWrite, RouterError> {
        if self.killer.dead() {
            return Err(killed_router());
        }
        let mut world = self.world.lock().unwrap();
        if let Some(found) = world.weight {
            change.check("fake", found)?;
        }
        let changed = world.weight != Some(change.to);
        world.weight = Some(change.to);
        world.writes.push(change.to);
        drop(world);
        if self.killer.after_effect() {
            return Err(killed_router());
        }
        Ok(RouterWrite {
            changed,
            notes: Vec::new(),
        })
    }
}

fn killed_router() -> RouterError {
    RouterError::Invalid {
        object: "fake".into(),
        message: "killed".into(),
    }
}

/// Answers by step index (pass where nothing is scripted); a list is used in order, its last
/// entry repeating. Counts calls.
#[derive(Clone, Default)]
struct ScriptedJudge {
    by_step: Arc<HashMap<(usize, bool), Vec<Answer>>>,
    calls: Arc<Mutex<HashMap<(usize, bool), usize>>>,
    /// Every request's (step, background, window), in order.
    windows: Arc<Mutex<Vec<(usize, bool, RequestWindow)>>>,
}

#[derive(Clone, Copy, Debug)]
enum Answer {
    Pass,
    Marginal,
    Fail,
    SourceError,
    Rejected,
}

impl ScriptedJudge {
    fn new(script: &[(usize, bool, &[Answer])]) -> Self {
        ScriptedJudge {
            by_step: Arc::new(
                script
                    .iter()
                    .map(|(step, background, answers)| ((*step, *background), answers.to_vec()))
                    .collect(),
            ),
            calls: Arc::default(),
            windows: Arc::default(),
        }
    }
}

impl Judge for ScriptedJudge {
    async fn judge(&self, request: &JudgeRequest) -> Result<JudgeOutcome, JudgeError> {
        let key = (request.step_index, request.background);
        self.windows
            .lock()
            .unwrap()
            .push((request.step_index, request.background, request.window));
        let call = {
            let mut calls = self.calls.lock().unwrap();
            let count = calls.entry(key).or_default();
            *count += 1;
            *count - 1
        };
        let answer = self
            .by_step
            .get(&key)
            .map_or(Answer::Pass, |answers| answers[call.min(answers.len() - 1)]);
        let outcome = |verdict| {
            Ok(JudgeOutcome {
                verdict,
                score: Some(90.0),
                reasons: vec![format!("{answer:?} at step {}", request.step_index)],
            })
        };
        match answer {
            Answer::Pass => outcome(Verdict::Pass),
            Answer::Marginal => outcome(Verdict::Marginal),
            Answer::Fail => outcome(Verdict::Fail),
            Answer::SourceError => Err(JudgeError::Source("prometheus down".into())),
            Answer::Rejected => Err(JudgeError::Rejected {
                status: 400,
                message: "unknown config".into(),
            }),
        }
    }
}

const PLAN: &str = r#"
name: checkout
router:
  nginx: {upstreamFile: /unused, upstream: app, stable: "127.0.0.1:1", canary: "127.0.0.1:2"}
judge:
  url: http://judge.invalid
  baseline: {scope: checkout-stable}
  canary: {scope: checkout-canary}
pollInterval: 10s
steps:
  - setWeight: 5
  - analysis: {config: checkout, interval: 1m, count: 2, lookback: 5m}
  - setWeight: 20
  - pause: {duration: 5m}
  - setWeight: 50
  - analysis: {config: checkout, interval: 1m, count: 1, lookback: 5m}
"#;

fn plan(text: &str) -> Plan {
    Plan::from_yaml(text).unwrap_or_else(|error| panic!("{error}"))
}

/// One simulated operator: when the rollout waits in `phase`, leave a request.
type Reaction = (Phase, ControlAction);

/// The judge's script by (step, background).
type Script = Vec<(usize, bool, &'static [Answer])>;

/// A named script with its operator reactions.
type Scenario = (&'static str, Script, Vec<Reaction>);

struct Harness {
    shared: Shared,
    world: Arc<Mutex<World>>,
    clock: ManualClock,
    judge: ScriptedJudge,
    plan: Plan,
}

#[derive(Debug, PartialEq)]
struct Ending {
    phase: Phase,
    writes: Vec<Weight>,
    step_index: usize,
    weight: Option<Weight>,
    elapsed: Duration,
}

impl Harness {
    fn new(plan_text: &str, judge: ScriptedJudge) -> Self {
        Harness {
            shared: Shared::default(),
            world: Arc::default(),
            clock: ManualClock::new(Timestamp::from_millis(START)),
            judge,
            plan: plan(plan_text),
        }
    }

    async fn rollout(
        &self,
        killer: &Killer,
    ) -> Result<Rollout<MemoryStore, FakeRouter, ScriptedJudge, ManualClock>, RolloutError> {
        Rollout::start(
            self.plan.clone(),
            MemoryStore {
                shared: self.shared.clone(),
                killer: killer.clone(),
            },
            FakeRouter {
                world: self.world.clone(),
                killer: killer.clone(),
            },
            self.judge.clone(),
            self.clock.clone(),
            false,
        )
        .await
    }

    /// Steps to the end, leaving the reactions' requests when the rollout waits in their phase.
    async fn drive(
        &self,
        killer: &Killer,
        reactions: &mut VecDeque<Reaction>,
    ) -> Result<Phase, RolloutError> {
        let mut rollout = self.rollout(killer).await?;
        for _ in 0..10_000 {
            match rollout.step().await? {
                Progress::Finished(phase) => return Ok(phase),
                Progress::Advanced => {}
                Progress::Waiting { until } => {
                    if let Some((phase, action)) = reactions.front().copied()
                        && rollout.state().phase == phase
                    {
                        let id = format!("request-{}", reactions.len());
                        rollout.store.request(ControlRequest { id, action })?;
                        reactions.pop_front();
                    }
                    assert!(until > self.clock.now(), "waiting for the past");
                    self.clock.sleep_until(until).await;
                }
            }
        }
        panic!("the rollout did not finish");
    }

    fn ending(&self) -> Ending {
        let state = self.shared.state.lock().unwrap().clone().unwrap();
        Ending {
            phase: state.phase,
            writes: self.world.lock().unwrap().writes.clone(),
            step_index: state.step_index,
            weight: state.weight,
            elapsed: self.clock.now().since(Timestamp::from_millis(START)),
        }
    }

    fn state(&self) -> RolloutState {
        self.shared.state.lock().unwrap().clone().unwrap()
    }
}

fn weights(percents: &[u32]) -> Vec<Weight> {
    percents.iter().map(|p| Weight::new(*p).unwrap()).collect()
}

struct Case {
    name: &'static str,
    script: Vec<(usize, bool, &'static [Answer])>,
    reactions: Vec<Reaction>,
    phase: Phase,
    writes: &'static [u32],
    /// A word the final message must contain.
    message: &'static str,
}

async fn check(plan_text: &str, case: Case) -> Harness {
    let harness = Harness::new(plan_text, ScriptedJudge::new(&case.script));
    let mut reactions = case.reactions.into();
    let phase = harness
        .drive(&Killer::disarmed(), &mut reactions)
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", case.name));
    assert_eq!(phase, case.phase, "{}", case.name);
    assert!(
        reactions.is_empty(),
        "{}: unused reactions {reactions:?}",
        case.name
    );
    let ending = harness.ending();
    assert_eq!(ending.writes, weights(case.writes), "{}", case.name);
    let message = harness.state().message.unwrap_or_default();
    assert!(
        message.contains(case.message),
        "{}: message {message:?} lacks {:?}",
        case.name,
        case.message
    );
    harness
}

use Answer::{Fail, Marginal, Pass, Rejected, SourceError};

#[tokio::test]
async fn verdicts_drive_the_rollout() {
    let cases = [
        Case {
            name: "all pass: every step, then 100 %",
            script: vec![],
            reactions: vec![],
            phase: Phase::Completed,
            writes: &[5, 20, 50, 100],
            message: "all steps done",
        },
        Case {
            name: "fail at the second analysis (step 5) rolls back",
            script: vec![(5, false, &[Fail])],
            reactions: vec![],
            phase: Phase::Aborted,
            writes: &[5, 20, 50, 0],
            message: "Fail at step 5",
        },
        Case {
            name: "fail at step 1 rolls back from 5 %",
            script: vec![(1, false, &[Pass, Fail])],
            reactions: vec![],
            phase: Phase::Aborted,
            writes: &[5, 0],
            message: "analysis at step 1 failed",
        },
        Case {
            name: "marginal holds; promote goes on",
            script: vec![(1, false, &[Marginal])],
            reactions: vec![(Phase::Holding, ControlAction::Promote)],
            phase: Phase::Completed,
            writes: &[5, 20, 50, 100],
            message: "all steps done",
        },
        Case {
            name: "marginal holds; abort rolls back",
            script: vec![(1, false, &[Marginal])],
            reactions: vec![(Phase::Holding, ControlAction::Abort)],
            phase: Phase::Aborted,
            writes: &[5, 0],
            message: "aborted on request",
        },
        Case {
            name: "marginal holds; promote --full skips to 100 %",
            script: vec![(1, false, &[Marginal])],
            reactions: vec![(Phase::Holding, ControlAction::PromoteFull)],
            phase: Phase::Completed,
            writes: &[5, 100],
            message: "promoted to 100 %",
        },
        Case {
            name: "four source errors are retried, then a pass goes on",
            script: vec![(
                1,
                false,
                &[SourceError, SourceError, SourceError, SourceError, Pass],
            )],
            reactions: vec![],
            phase: Phase::Completed,
            writes: &[5, 20, 50, 100],
            message: "all steps done",
        },
        Case {
            name: "five source errors in a row abort",
            script: vec![(1, false, &[SourceError])],
            reactions: vec![],
            phase: Phase::Aborted,
            writes: &[5, 0],
            message: "5 source errors in a row (limit 4), last: judge unavailable: prometheus down",
        },
        Case {
            name: "a rejected request aborts at once",
            script: vec![(1, false, &[Rejected])],
            reactions: vec![],
            phase: Phase::Aborted,
            writes: &[5, 0],
            message: "rejected the request (400): unknown config",
        },
    ];
    for case in cases {
        check(PLAN, case).await;
    }
}

const LIMITS_PLAN: &str = r#"
name: limits
router:
  nginx: {upstreamFile: /unused, upstream: app, stable: "127.0.0.1:1", canary: "127.0.0.1:2"}
judge: {url: "http://judge.invalid", baseline: {scope: b}, canary: {scope: c}}
steps:
  - setWeight: 10
  - analysis: {config: c, interval: 1m, count: 3, lookback: 5m, failureLimit: 1, inconclusiveLimit: 1, consecutiveErrorLimit: 0}
  - pause: {}
  - setWeight: 60
  - pause: {duration: 10m}
backgroundAnalysis: {startingStep: 3, config: c, interval: 2m, lookback: 5m}
"#;

#[tokio::test]
async fn limits_manual_pauses_and_background_analysis() {
    let cases = [
        Case {
            name: "one fail and one marginal are tolerated; the manual pause waits for promote",
            script: vec![(1, false, &[Fail, Marginal, Pass])],
            reactions: vec![(Phase::Paused, ControlAction::Promote)],
            phase: Phase::Completed,
            writes: &[10, 60, 100],
            message: "all steps done",
        },
        Case {
            name: "a second fail aborts",
            script: vec![(1, false, &[Fail, Pass, Fail])],
            reactions: vec![],
            phase: Phase::Aborted,
            writes: &[10, 0],
            message: "2 failing verdicts, limit 1",
        },
        Case {
            name: "with consecutiveErrorLimit 0 the first source error aborts",
            script: vec![(1, false, &[SourceError])],
            reactions: vec![],
            phase: Phase::Aborted,
            writes: &[10, 0],
            message: "1 source errors in a row (limit 0)",
        },
        Case {
            name: "background analysis failing at step 4 aborts",
            script: vec![(4, true, &[Pass, Fail])],
            reactions: vec![(Phase::Paused, ControlAction::Promote)],
            phase: Phase::Aborted,
            writes: &[10, 60, 0],
            message: "background analysis failed",
        },
        Case {
            name: "background hold released by promote stays at the step",
            script: vec![(4, true, &[Marginal, Marginal, Pass])],
            reactions: vec![
                (Phase::Paused, ControlAction::Promote),
                (Phase::Holding, ControlAction::Promote),
                (Phase::Holding, ControlAction::Promote),
            ],
            phase: Phase::Completed,
            writes: &[10, 60, 100],
            message: "all steps done",
        },
    ];
    for case in cases {
        check(LIMITS_PLAN, case).await;
    }
}

#[tokio::test]
async fn time_is_only_what_the_plan_asks_for() {
    // 2 measurements 1 min apart, a 5 min pause, 1 measurement: 8 minutes, exactly.
    let harness = check(
        PLAN,
        Case {
            name: "timing",
            script: vec![],
            reactions: vec![],
            phase: Phase::Completed,
            writes: &[5, 20, 50, 100],
            message: "",
        },
    )
    .await;
    assert_eq!(harness.ending().elapsed, Duration::from_secs(8 * 60));
    let state = harness.state();
    let verdicts: Vec<_> = state
        .verdicts
        .iter()
        .map(|v| (v.step_index, v.weight.canary()))
        .collect();
    assert_eq!(verdicts, [(1, 5), (1, 5), (5, 50)]);
}

/// Without `lookback`, every verdict of a step judges the window growing from the
/// step's start (the background analysis: from the rollout's start), ending now.
#[tokio::test]
async fn an_analysis_without_lookback_judges_the_window_since_its_start() {
    let text = PLAN.replace("count: 1, lookback: 5m", "count: 2").replace(
        "pollInterval: 10s",
        "pollInterval: 10s\nbackgroundAnalysis: {startingStep: 2, config: c, interval: 2m}",
    );
    let harness = Harness::new(&text, ScriptedJudge::default());
    let mut rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
    assert_eq!(rollout.run().await.unwrap(), Phase::Completed);
    let windows = harness.judge.windows.lock().unwrap().clone();
    let minute = 60_000;
    let since = |start: u64, end: u64| RequestWindow::Since {
        start: Timestamp::from_millis(START + start * minute),
        end: Timestamp::from_millis(START + end * minute),
    };
    // Step 1 keeps its lookback; the background analysis (from step 2, every 2 min)
    // judges from the rollout's start; step 5 starts after the pause, at minute 7, and
    // asks twice a minute apart from there.
    let lookback = RequestWindow::Lookback(Duration::from_secs(300));
    assert_eq!(
        windows,
        [
            (1, false, lookback),
            (1, false, lookback),
            (3, true, since(0, 4)),
            (3, true, since(0, 6)),
            (5, true, since(0, 8)),
            (5, false, since(7, 8)),
            (5, false, since(7, 9)),
        ]
    );
}

#[tokio::test]
async fn run_sleeps_on_the_clock_until_the_end() {
    let harness = Harness::new(PLAN, ScriptedJudge::default());
    let mut rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
    assert_eq!(rollout.run().await.unwrap(), Phase::Completed);
    assert_eq!(harness.ending().elapsed, Duration::from_secs(8 * 60));
}

/// Kills the process after every side effect in turn (each save and each router write), resumes
/// with a fresh process, and checks the world saw the same weights in the same order as an
/// uninterrupted run: a weight may be written again (idempotent), never skipped, and no step
/// is repeated.
#[tokio::test]
async fn resumes_after_a_kill_at_every_transition() {
    let scenarios: [Scenario; 3] = [
        ("complete", vec![], vec![]),
        ("fail at step 5", vec![(5, false, &[Fail])], vec![]),
        (
            "hold, promote",
            vec![(1, false, &[Pass, Marginal])],
            vec![(Phase::Holding, ControlAction::Promote)],
        ),
    ];
    for (name, script, reactions) in scenarios {
        let reference = Harness::new(PLAN, ScriptedJudge::new(&script));
        let counter = Killer::disarmed();
        reference
            .drive(&counter, &mut reactions.clone().into())
            .await
            .unwrap();
        let expected = reference.ending();
        let effects = counter.effects.load(Ordering::SeqCst);
        assert!(effects > 10, "{name}: only {effects} effects");
        for kill_after in 0..effects {
            let harness = Harness::new(PLAN, ScriptedJudge::new(&script));
            let mut pending: VecDeque<Reaction> = reactions.clone().into();
            let first = harness
                .drive(&Killer::armed(kill_after), &mut pending)
                .await;
            assert!(
                first.is_err(),
                "{name}: kill after effect {kill_after} did not stop the run"
            );
            let phase = harness
                .drive(&Killer::disarmed(), &mut pending)
                .await
                .unwrap();
            let ending = harness.ending();
            let context = format!("{name}, killed after effect {kill_after}");
            assert_eq!(phase, expected.phase, "{context}");
            assert_eq!(ending.step_index, expected.step_index, "{context}");
            assert_eq!(ending.weight, expected.weight, "{context}");
            assert_eq!(ending.elapsed, expected.elapsed, "{context}: time");
            let mut distinct = ending.writes.clone();
            distinct.dedup();
            assert_eq!(
                distinct, expected.writes,
                "{context}: writes {:?}",
                ending.writes
            );
            assert!(
                ending.writes.len() <= expected.writes.len() + 1,
                "{context}: more than one write repeated: {:?}",
                ending.writes
            );
        }
    }
}

#[tokio::test]
async fn a_foreign_edit_stops_the_rollout_and_abort_still_restores_stable() {
    let harness = Harness::new(PLAN, ScriptedJudge::default());
    let mut rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
    // Up to the first analysis at 5 %.
    while rollout.state().weight.is_none() {
        rollout.step().await.unwrap();
    }
    harness.world.lock().unwrap().weight = Weight::new(30);
    let error = rollout.run().await.unwrap_err();
    assert!(
        matches!(&error, RolloutError::Router(RouterError::ForeignEdit { expected, found, .. })
            if expected == "5 %" && found == "30 %"),
        "{error}"
    );
    assert_eq!(
        harness.state().pending_weight,
        Weight::new(20),
        "the write stays pending"
    );
    let mut rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
    let report = rollout.abort("operator").await.unwrap();
    assert_eq!(report.previous_phase, Phase::Progressing);
    assert!(report.write.changed);
    assert_eq!(harness.world.lock().unwrap().weight, Some(Weight::ZERO));
    assert_eq!(harness.state().weight, Some(Weight::ZERO));
    assert_eq!(harness.state().pending_weight, None);
}

#[tokio::test]
async fn a_request_is_applied_once_and_stale_requests_do_not_touch_a_new_rollout() {
    let harness = Harness::new(
        r#"
name: once
router:
  nginx: {upstreamFile: /unused, upstream: app, stable: "127.0.0.1:1", canary: "127.0.0.1:2"}
judge: {url: "http://judge.invalid", baseline: {scope: b}, canary: {scope: c}}
steps:
  - setWeight: 10
  - pause: {}
  - pause: {}
  - setWeight: 30
"#,
        ScriptedJudge::default(),
    );
    let mut rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
    while rollout.state().phase != Phase::Paused {
        rollout.step().await.unwrap();
    }
    let request = ControlRequest {
        id: "same".into(),
        action: ControlAction::Promote,
    };
    rollout.store.request(request.clone()).unwrap();
    rollout.step().await.unwrap();
    assert_eq!(rollout.state().step_index, 2);
    // The same request again (e.g. its file reappeared after a crash) is dropped.
    rollout.store.request(request).unwrap();
    rollout.step().await.unwrap();
    assert_eq!(rollout.state().step_index, 2);
    assert_eq!(rollout.store.pending_request().unwrap(), None);
    // An abort finishes this rollout; a request left over must not abort the next one.
    rollout.abort("test").await.unwrap();
    rollout
        .store
        .request(ControlRequest {
            id: "stale".into(),
            action: ControlAction::Abort,
        })
        .unwrap();
    let rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
    assert_eq!(
        rollout.state().phase,
        Phase::Aborted,
        "an ended rollout stays ended"
    );
    let restarted = Rollout::start(
        harness.plan.clone(),
        rollout.store,
        rollout.router,
        rollout.judge,
        rollout.clock,
        true,
    )
    .await
    .unwrap();
    assert_eq!(restarted.state().phase, Phase::Progressing);
    assert_eq!(restarted.state().weight, None);
    assert_eq!(restarted.store.pending_request().unwrap(), None);
}

#[tokio::test]
async fn an_unfinished_rollout_of_another_plan_is_refused() {
    let harness = Harness::new(PLAN, ScriptedJudge::default());
    let mut rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
    rollout.step().await.unwrap();
    let other = Harness {
        plan: plan(&PLAN.replace("name: checkout", "name: other")),
        ..harness
    };
    let error = other.rollout(&Killer::disarmed()).await.err().unwrap();
    assert!(
        matches!(error, RolloutError::PlanMismatch(ref name) if name == "checkout"),
        "{error}"
    );
}

/// The state file a real `FileStore` writes has the fields `docs/rollouts.md` documents, and
/// a fresh process resumes from it.
#[tokio::test]
async fn the_state_file_has_the_documented_fields_and_resumes() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("state.json");
    let clock = ManualClock::new(Timestamp::from_millis(START));
    let world: Arc<Mutex<World>> = Arc::default();
    let router = || FakeRouter {
        world: world.clone(),
        killer: Killer::disarmed(),
    };
    let judge = ScriptedJudge::new(&[(1, false, &[Pass, Marginal])]);
    let mut rollout = Rollout::start(
        plan(PLAN),
        FileStore::new(&path),
        router(),
        judge.clone(),
        clock.clone(),
        false,
    )
    .await
    .unwrap();
    while rollout.state().phase != Phase::Holding {
        if let Progress::Waiting { until } = rollout.step().await.unwrap() {
            clock.sleep_until(until).await;
        }
    }
    drop(rollout);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut keys: Vec<&str> = saved
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "analysis",
            "background",
            "checksum",
            "formatVersion",
            "message",
            "pendingWeight",
            "phase",
            "plan",
            "revision",
            "rollout",
            "startedAt",
            "stepIndex",
            "stepStartedAt",
            "updatedAt",
            "verdicts",
            "weight"
        ]
    );
    assert_eq!(saved["phase"], "holding");
    assert_eq!(saved["weight"], 5);
    assert_eq!(saved["startedAt"], "2023-11-14T22:13:20.000Z");
    assert_eq!(saved["analysis"]["inconclusive"], 1);
    assert_eq!(saved["verdicts"][1]["verdict"], "marginal");

    // Another process promotes through the request file; a new runner resumes and finishes.
    let store = FileStore::new(&path);
    store
        .request(ControlRequest {
            id: "from-the-cli".into(),
            action: ControlAction::Promote,
        })
        .unwrap();
    let mut resumed = Rollout::start(plan(PLAN), store, router(), judge, clock, false)
        .await
        .unwrap();
    assert_eq!(resumed.run().await.unwrap(), Phase::Completed);
    assert_eq!(world.lock().unwrap().writes, weights(&[5, 20, 50, 100]));
}

/// A real state file after the first verdict of the first analysis (step 1 of `PLAN`, one
/// pass of two), with the world the rollout wrote (5 %).
async fn state_file_in_analysis() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Arc<Mutex<World>>,
    ManualClock,
) {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("state.json");
    let clock = ManualClock::new(Timestamp::from_millis(START));
    let world: Arc<Mutex<World>> = Arc::default();
    let router = FakeRouter {
        world: world.clone(),
        killer: Killer::disarmed(),
    };
    let mut rollout = Rollout::start(
        plan(PLAN),
        FileStore::new(&path),
        router,
        ScriptedJudge::default(),
        clock.clone(),
        false,
    )
    .await
    .unwrap();
    while rollout.state().analysis.passed == 0 {
        if let Progress::Waiting { until } = rollout.step().await.unwrap() {
            clock.sleep_until(until).await;
        }
    }
    (directory, path, world, clock)
}

/// Signs `value` as the store does (for edits that keep the checksum right).
fn resign(value: &mut serde_json::Value) {
    let object = value.as_object_mut().unwrap();
    object.shift_remove("checksum");
    let sum = crate::state::checksum(value);
    value
        .as_object_mut()
        .unwrap()
        .insert("checksum".into(), sum.into());
}

/// An edit of a state file, whether the checksum is fixed after it, and the words the refusal has.
type Edit = (&'static str, fn(&mut serde_json::Value), bool, &'static str);

/// A hand-edited state file is refused, naming the file and what is wrong, and nothing is
/// written to the router: an edit that keeps the old checksum is caught by it, and one that
/// fixes the checksum by the check of the state against its plan.
#[tokio::test]
async fn hand_edited_state_files_are_refused() {
    let cases: [Edit; 16] = [
        (
            "stepIndex 99, checksum left as it was",
            |v| v["stepIndex"] = 99.into(),
            false,
            "the checksum does not match the content",
        ),
        (
            "checksum removed",
            |v| {
                v.as_object_mut().unwrap().shift_remove("checksum");
            },
            false,
            "no checksum: not written by serin rollout",
        ),
        (
            "a step past the end",
            |v| v["stepIndex"] = 99.into(),
            true,
            "stepIndex: 99 is past the end of the plan (6 steps)",
        ),
        (
            "a million passes",
            |v| v["analysis"]["passed"] = 1_000_000.into(),
            true,
            "analysis.passed: 1000000 verdicts (1000000 passed, 0 failed, 0 marginal), but the step asks for 2",
        ),
        (
            "completed in the middle of the plan",
            |v| v["phase"] = "completed".into(),
            true,
            "phase: completed, but stepIndex 1 is not the end of the plan (6)",
        ),
        (
            "completed at the end with the router at 5 %",
            |v| {
                v["phase"] = "completed".into();
                v["stepIndex"] = 6.into();
            },
            true,
            "phase: completed, but the canary weight is 5 %, not 100 %",
        ),
        (
            "aborted with the canary at 5 %",
            |v| v["phase"] = "aborted".into(),
            true,
            "phase: aborted, but the canary weight is 5 %, not 0 %",
        ),
        (
            "a weight the plan does not set at this step",
            |v| v["weight"] = 50.into(),
            true,
            "weight: 50 % is not the plan's weight at step 1 (5 %)",
        ),
        (
            "a pending weight the plan does not write",
            |v| v["pendingWeight"] = 100.into(),
            true,
            "pendingWeight: 100 % is not the plan's weight before step 1 (5 %)",
        ),
        (
            "paused at an analysis",
            |v| v["phase"] = "paused".into(),
            true,
            "phase: paused, but step 1 is not a manual pause",
        ),
        (
            "holding without a marginal verdict",
            |v| v["phase"] = "holding".into(),
            true,
            "phase: holding, but no analysis has more marginal verdicts",
        ),
        (
            "a failure past the limit",
            |v| v["analysis"]["failed"] = 1.into(),
            true,
            "analysis.failed: 1 is past the failureLimit 0 (that aborts)",
        ),
        (
            "a timed pause's end at an analysis",
            |v| v["pauseUntil"] = "2023-11-14T22:13:20.000Z".into(),
            true,
            "pauseUntil: set, but step 1 is not a timed pause",
        ),
        (
            "a judge URL that is not http",
            |v| v["plan"]["judge"]["url"] = "file:///etc/passwd".into(),
            true,
            "plan: judge.url: \"file:///etc/passwd\" is not an http(s) URL",
        ),
        (
            "a lookback of 300000 years",
            |v| v["plan"]["steps"][1]["analysis"]["lookback"] = "300000y".into(),
            true,
            "plan.steps[1].analysis.lookback: duration \"300000y\" is longer than 100 years",
        ),
        (
            "an older format",
            |v| v["formatVersion"] = 1.into(),
            true,
            "format version 1 is not 2",
        ),
    ];
    for (name, edit, fix_checksum, expected) in cases {
        let (_directory, path, world, clock) = state_file_in_analysis().await;
        let writes = world.lock().unwrap().writes.clone();
        assert_eq!(writes, weights(&[5]), "{name}");
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut value);
        if fix_checksum {
            resign(&mut value);
        }
        std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).unwrap();

        let error = FileStore::new(&path).load().unwrap_err().to_string();
        assert!(error.contains(expected), "{name}: {error}");
        assert!(
            error.starts_with(&path.display().to_string()),
            "{name}: the error names the file: {error}"
        );
        let started = Rollout::start(
            plan(PLAN),
            FileStore::new(&path),
            FakeRouter {
                world: world.clone(),
                killer: Killer::disarmed(),
            },
            ScriptedJudge::default(),
            clock,
            false,
        )
        .await;
        assert!(
            matches!(&started, Err(RolloutError::State(_))),
            "{name}: the rollout started"
        );
        assert_eq!(
            world.lock().unwrap().writes,
            writes,
            "{name}: router written"
        );
    }
}

/// Two runners on one state file without the runner lock (the lock is tested with the store):
/// the first aborts on a fail; the second, working from the state it read before, judges a
/// pass and tries to move on. Its save is refused, so the stored state keeps the fail and the
/// abort, and the router stays at 0 %.
#[tokio::test]
async fn a_second_writer_cannot_erase_an_abort() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("state.json");
    let clock = ManualClock::new(Timestamp::from_millis(START));
    let world: Arc<Mutex<World>> = Arc::default();
    let router = || FakeRouter {
        world: world.clone(),
        killer: Killer::disarmed(),
    };
    let start = |judge: ScriptedJudge| {
        Rollout::start(
            plan(PLAN),
            FileStore::new(&path),
            router(),
            judge,
            clock.clone(),
            false,
        )
    };
    let mut first = start(ScriptedJudge::new(&[(1, false, &[Fail])]))
        .await
        .unwrap();
    while first.state().analysis.next_at.is_none() {
        first.step().await.unwrap();
    }
    let mut second = start(ScriptedJudge::default()).await.unwrap();
    assert_eq!(second.state(), first.state());
    clock.advance(Duration::from_secs(60));

    assert_eq!(first.run().await.unwrap(), Phase::Aborted);
    let error = second.run().await.unwrap_err();
    assert!(
        matches!(&error, RolloutError::State(StateError::Conflict { .. })),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("another process has written this state file"),
        "{error}"
    );
    let stored = FileStore::new(&path).load().unwrap().unwrap();
    assert_eq!(stored.phase, Phase::Aborted);
    assert_eq!(stored.verdicts.last().unwrap().verdict, Some(Verdict::Fail));
    assert!(
        stored
            .message
            .unwrap()
            .contains("analysis at step 1 failed"),
        "the abort's reason is kept"
    );
    assert_eq!(world.lock().unwrap().weight, Some(Weight::ZERO));
    assert_eq!(world.lock().unwrap().writes, weights(&[5, 0]));
}

/// A router that, on its first ordinary write, behaves as if `serin rollout abort` ran at
/// that moment from another process: it leaves an abort request and puts the traffic on
/// stable, so the write under way finds a weight it did not write.
struct AbortMidWrite {
    inner: FakeRouter,
    shared: Shared,
    armed: std::sync::atomic::AtomicBool,
}

impl Router for AbortMidWrite {
    async fn set_weight(&self, change: WeightChange) -> Result<RouterWrite, RouterError> {
        if !change.force && self.armed.swap(false, Ordering::SeqCst) {
            *self.shared.request.lock().unwrap() = Some(ControlRequest {
                id: "from-abort".into(),
                action: ControlAction::Abort,
            });
            self.inner.world.lock().unwrap().weight = Some(Weight::ZERO);
        }
        self.inner.set_weight(change).await
    }
}

#[tokio::test]
async fn an_abort_requested_during_a_router_write_wins_over_its_foreign_edit() {
    let harness = Harness::new(PLAN, ScriptedJudge::default());
    let mut rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
    while rollout.state().weight.is_none() {
        rollout.step().await.unwrap();
    }
    // The next ordinary write is the one to 20 %.
    let mut rollout = Rollout::start(
        harness.plan.clone(),
        rollout.store,
        AbortMidWrite {
            inner: rollout.router,
            shared: harness.shared.clone(),
            armed: true.into(),
        },
        rollout.judge,
        rollout.clock,
        false,
    )
    .await
    .unwrap();
    assert_eq!(rollout.run().await.unwrap(), Phase::Aborted);
    let state = harness.state();
    assert_eq!(state.message.as_deref(), Some("aborted on request"));
    assert_eq!(
        (state.weight, state.pending_weight),
        (Some(Weight::ZERO), None)
    );
    assert_eq!(harness.world.lock().unwrap().weight, Some(Weight::ZERO));
}

/// `abort` on a rollout aborted already keeps its state and reason, but still writes 0 %,
/// so it reports what the router had: moved back to the canary by hand, or still at 0 %.
#[tokio::test]
async fn abort_on_an_aborted_rollout_looks_at_the_router() {
    let harness = Harness::new(PLAN, ScriptedJudge::new(&[(1, false, &[Fail])]));
    harness
        .drive(&Killer::disarmed(), &mut VecDeque::new())
        .await
        .unwrap();
    let aborted = harness.state();
    assert_eq!(aborted.phase, Phase::Aborted);
    // (hand-set weight, whether abort finds it changed)
    let cases = [(Some(30), true), (None, false)];
    for (hand_set, changed) in cases {
        if let Some(percent) = hand_set {
            harness.world.lock().unwrap().weight = Weight::new(percent);
        }
        let mut rollout = harness.rollout(&Killer::disarmed()).await.unwrap();
        let report = rollout.abort("again").await.unwrap();
        assert_eq!(report.previous_phase, Phase::Aborted, "{hand_set:?}");
        assert_eq!(report.write.changed, changed, "{hand_set:?}");
        assert_eq!(harness.world.lock().unwrap().weight, Some(Weight::ZERO));
        assert_eq!(
            harness.state(),
            aborted,
            "the state and its reason are kept"
        );
    }
}
