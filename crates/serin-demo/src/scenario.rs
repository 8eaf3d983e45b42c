//! The whole scenario on 127.0.0.1: v1 and v2, nginx splitting traffic, steady users, Prometheus, the judge service and the rollout, with a timeline of what happened.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serin_judge_service::configs::ConfigStore;
use serin_judge_service::settings::Settings;
use serin_judge_service::{AppState, serve};
use serin_rollout::router::nginx::Nginx as NginxRouter;
use serin_rollout::{
    FileStore, HttpJudge, Judge, JudgeRequest, Phase, Plan, RequestWindow, Rollout, RolloutState,
    RouterConfig, SystemClock, Timestamp, Verdict, Weight,
};
use tokio::sync::{mpsc, oneshot};

use crate::ScenarioError;
use crate::configs::{self, KAYENTA_CONFIG, PlanTargets};
use crate::load::{Load, Observed, Seen};
use crate::processes::{Nginx, Prometheus, Version, write};

/// Whether v2 is a good release or a bad one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CanaryKind {
    /// v2 behaves as v1.
    Healthy,
    /// v2 is slower and fails more often.
    Regressed,
}

/// How to run the scenario.
#[derive(Debug, Clone)]
pub struct ScenarioOptions {
    /// What v2 is.
    pub canary: CanaryKind,
    /// A regressed v2's latency factor (1.3: +30 %).
    pub latency_factor: f64,
    /// A regressed v2's error ratio over v1's (5: five times as many errors).
    pub error_factor: f64,
    /// A regressed v2's leak per request, in bytes.
    pub leak_bytes: usize,
    /// Users' requests a second, through nginx.
    pub rate: u32,
    /// Time between two verdicts of a step (the demo's shortened analysis interval).
    pub interval: Duration,
    /// Verdicts per step.
    pub count: u32,
    /// Where every file goes (configs, logs, Prometheus' data, the rollout state); a
    /// temporary directory, removed at the end, when `None`.
    pub workdir: Option<PathBuf>,
    /// The `serin-demo` program that runs the two versions.
    pub program: PathBuf,
}

/// One stage of the rollout: a weight in force, and what users saw meanwhile.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// The canary weight (percent).
    pub weight: u32,
    /// Seconds from the scenario's start to the stage's start.
    pub started_after: f64,
    /// What the stage was: `warm-up`, `step`, `rolled back`.
    pub kind: &'static str,
    /// v1's users.
    pub v1: SeenSummary,
    /// v2's users.
    pub v2: SeenSummary,
}

/// What one version's users saw in one stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeenSummary {
    /// Requests answered.
    pub requests: u64,
    /// 5xx answers.
    pub errors: u64,
    /// 99th percentile of latency, milliseconds.
    pub p99_ms: Option<f64>,
}

impl From<Option<&Seen>> for SeenSummary {
    fn from(seen: Option<&Seen>) -> Self {
        seen.map(|seen| Self {
            requests: seen.requests,
            errors: seen.errors,
            p99_ms: seen.p99_ms(),
        })
        .unwrap_or_default()
    }
}

/// One verdict of the rollout, with Kayenta's judge's on the same window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    /// The weight in force.
    pub weight: u32,
    /// Seconds from the scenario's start.
    pub at: f64,
    /// Seconds of metrics judged (from the step's start).
    pub window_seconds: f64,
    /// The Serin judge's verdict (the one the rollout acted on); `None` for an error.
    pub serin: Option<Verdict>,
    /// Its reasons.
    pub serin_reasons: Vec<String>,
    /// Kayenta's judge's verdict on the same window; `None` when it could not judge.
    pub kayenta: Option<Verdict>,
    /// Its reasons, or why it could not judge.
    pub kayenta_reasons: Vec<String>,
}

/// Everything the scenario saw, as `--summary` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// What v2 was.
    pub canary: CanaryKind,
    /// How the rollout ended (`completed`, `aborted`).
    pub phase: String,
    /// The canary weight at the end.
    pub final_weight: u32,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// The verdicts, in order.
    pub judgements: Vec<Judgement>,
    /// Requests users sent.
    pub sent: u64,
    /// Requests that got no answer (lost across reloads, refused, timed out).
    pub lost: u64,
    /// nginx's own 502 and 504 answers.
    pub gateway_errors: u64,
    /// v1's and v2's addresses (as nginx's access log names its upstreams).
    pub upstreams: Upstreams,
    /// nginx's access log (`uri status upstream request_time` a line).
    pub access_log: PathBuf,
}

/// The two versions' addresses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Upstreams {
    /// v1.
    pub v1: String,
    /// v2.
    pub v2: String,
}

/// Writes one timeline line: seconds since `start`, then `text`.
fn stamp(out: &mut dyn Write, start: Instant, text: &str) {
    let _ = writeln!(out, "[{:>6.1} s] {text}", start.elapsed().as_secs_f64());
}

/// Seconds since `start`, to a tenth.
fn seconds(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 10.0).round() / 10.0
}

fn version_args(version: &str, factor: f64, errors: f64, leak: usize, seed: u64) -> Vec<String> {
    vec![
        "--version".to_owned(),
        version.to_owned(),
        "--latency-factor".to_owned(),
        factor.to_string(),
        "--error-ratio".to_owned(),
        errors.to_string(),
        "--leak-bytes".to_owned(),
        leak.to_string(),
        "--seed".to_owned(),
        seed.to_string(),
    ]
}

/// The judge service, in this process, on a free port.
struct JudgeService {
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl JudgeService {
    async fn start(dir: &Path, prometheus_url: &str) -> Result<Self, ScenarioError> {
        let configs_dir = dir.join("configs");
        std::fs::create_dir_all(&configs_dir).map_err(|source| ScenarioError::Io {
            what: format!("creating {}", configs_dir.display()),
            source,
        })?;
        for config in [configs::serin_config(), configs::kayenta_config()] {
            let name = config["name"].as_str().unwrap_or("config");
            write(
                &configs_dir.join(format!("{name}.json")),
                &serde_json::to_string_pretty(&config).unwrap_or_default(),
            )?;
        }
        let settings_path = dir.join("serin.toml");
        let text = format!("[[prometheus]]\nname = \"default\"\nurl = \"{prometheus_url}\"\n");
        write(&settings_path, &text)?;
        let settings = Settings::from_toml(&text, &settings_path)
            .map_err(|error| ScenarioError::part("judge service settings", error))?;
        let configs = ConfigStore::load(&configs_dir)
            .map_err(|error| ScenarioError::part("judge service configs", error))?;
        let state = AppState::new(settings, configs)
            .map_err(|error| ScenarioError::part("judge service", error))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| ScenarioError::Io {
                what: "binding the judge service".to_owned(),
                source,
            })?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(|source| ScenarioError::Io {
                what: "binding the judge service".to_owned(),
                source,
            })?
        );
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            url,
            shutdown: Some(shutdown),
        })
    }
}

impl Drop for JudgeService {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn verdict_word(verdict: Option<Verdict>) -> &'static str {
    match verdict {
        Some(Verdict::Pass) => "PASS",
        Some(Verdict::Marginal) => "MARGINAL",
        Some(Verdict::Fail) => "FAIL",
        None => "ERROR",
    }
}

/// Follows the rollout's states: prints weight changes and verdicts, asks Kayenta's
/// judge about every verdict's window, and tags users' requests with the stage.
struct Timeline<'o, 'l, W: Write> {
    out: &'o mut W,
    start: Instant,
    load: &'l Load,
    kayenta: HttpJudge,
    weight: u32,
    verdicts_seen: usize,
    /// When each step (by index) started, as the states showed it.
    step_starts: std::collections::BTreeMap<usize, Timestamp>,
    stages: Vec<(u32, f64, &'static str)>,
    judgements: Vec<Judgement>,
}

impl<W: Write> Timeline<'_, '_, W> {
    fn line(&mut self, text: &str) {
        let _ = writeln!(
            self.out,
            "[{:>6.1} s] {text}",
            self.start.elapsed().as_secs_f64()
        );
    }

    async fn follow(&mut self, state: &RolloutState) {
        self.step_starts
            .entry(state.step_index)
            .or_insert(state.step_started_at);
        let weight = state.weight.map_or(0, Weight::canary);
        if weight != self.weight {
            let kind = if state.phase == Phase::Aborted || weight < self.weight {
                "rolled back"
            } else {
                "step"
            };
            self.stages.push((weight, seconds(self.start), kind));
            self.load.set_stage(self.stages.len() - 1);
            let text = if kind == "rolled back" {
                format!(
                    "ROLLED BACK: weight {} % → {weight} %, all users on v1 (nginx reloaded)",
                    self.weight
                )
            } else {
                format!(
                    "weight {} % → {weight} % on v2 (nginx reloaded)",
                    self.weight
                )
            };
            self.weight = weight;
            self.line(&text);
        }
        for record in state.verdicts.iter().skip(self.verdicts_seen) {
            self.verdicts_seen += 1;
            // The state after a step's last verdict is already at the next step: the
            // verdict's window started when its own step did.
            let step_start = self
                .step_starts
                .get(&record.step_index)
                .copied()
                .unwrap_or(state.step_started_at);
            let window = record.at.since(step_start);
            let mut text = format!(
                "Serin judge at {} % over the last {:.0} s: {}{}",
                record.weight.canary(),
                window.as_secs_f64(),
                verdict_word(record.verdict),
                record
                    .score
                    .map(|s| format!(" (score {s:.0})"))
                    .unwrap_or_default()
            );
            for reason in &record.reasons {
                text.push_str(&format!("\n             {reason}"));
            }
            self.line(&text);
            let request = JudgeRequest {
                config: KAYENTA_CONFIG.to_owned(),
                window: RequestWindow::Since {
                    start: step_start,
                    end: record.at,
                },
                step_index: record.step_index,
                weight: record.weight,
                background: false,
            };
            let (kayenta, kayenta_reasons) = match self.kayenta.judge(&request).await {
                Ok(outcome) => (Some(outcome.verdict), outcome.reasons),
                Err(error) => (None, vec![error.to_string()]),
            };
            let mut text = format!(
                "Kayenta judge, same window (not acted on): {}",
                verdict_word(kayenta)
            );
            for reason in &kayenta_reasons {
                text.push_str(&format!("\n             {reason}"));
            }
            self.line(&text);
            self.judgements.push(Judgement {
                weight: record.weight.canary(),
                at: seconds(self.start),
                window_seconds: window.as_secs_f64(),
                serin: record.verdict,
                serin_reasons: record.reasons.clone(),
                kayenta,
                kayenta_reasons,
            });
        }
    }
}

fn stage_table(stages: &[Stage]) -> String {
    let mut out = String::from(
        "stage                 weight |   v1 requests errors  p99 ms |   v2 requests errors  p99 ms\n",
    );
    let p99 = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.1}"));
    for stage in stages {
        out.push_str(&format!(
            "{:<12} at {:>5.1} s {:>5} % | {:>13} {:>6} {:>7} | {:>13} {:>6} {:>7}\n",
            stage.kind,
            stage.started_after,
            stage.weight,
            stage.v1.requests,
            stage.v1.errors,
            p99(stage.v1.p99_ms),
            stage.v2.requests,
            stage.v2.errors,
            p99(stage.v2.p99_ms),
        ));
    }
    out
}

/// Runs the scenario, printing its timeline to `out`; everything it started is stopped
/// when it returns (or when its future is dropped, as on Ctrl-C).
pub async fn run(
    options: &ScenarioOptions,
    out: &mut impl Write,
) -> Result<Summary, ScenarioError> {
    let start = Instant::now();
    let temporary;
    let dir: PathBuf = match &options.workdir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| ScenarioError::Io {
                what: format!("creating {}", dir.display()),
                source,
            })?;
            std::fs::canonicalize(dir).map_err(|source| ScenarioError::Io {
                what: format!("resolving {}", dir.display()),
                source,
            })?
        }
        None => {
            temporary = tempfile::tempdir().map_err(|source| ScenarioError::Io {
                what: "creating a temporary directory".to_owned(),
                source,
            })?;
            temporary.path().to_owned()
        }
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|error| ScenarioError::part("HTTP client", error))?;

    let healthy = crate::service::Behaviour::healthy("v1");
    let (factor, errors) = match options.canary {
        CanaryKind::Healthy => (1.0, healthy.error_ratio),
        CanaryKind::Regressed => (
            options.latency_factor,
            (healthy.error_ratio * options.error_factor).min(1.0),
        ),
    };
    let leak = if options.canary == CanaryKind::Regressed {
        options.leak_bytes
    } else {
        0
    };
    let v1 = Version::start(
        &options.program,
        &version_args("v1", 1.0, healthy.error_ratio, 0, 1),
        &dir.join("v1.log"),
    )?;
    let mut v2 = Version::start(
        &options.program,
        &version_args("v2", factor, errors, leak, 2),
        &dir.join("v2.log"),
    )?;
    stamp(
        out,
        start,
        &format!(
            "v1 (stable) on {}; v2 ({}: latency ×{factor}, errors {:.1} %) on {}",
            v1.address,
            match options.canary {
                CanaryKind::Healthy => "healthy",
                CanaryKind::Regressed => "regressed",
            },
            errors * 100.0,
            v2.address
        ),
    );
    let prometheus = Prometheus::start(&dir, &[v1.address, v2.address], &client).await?;
    stamp(
        out,
        start,
        &format!(
            "Prometheus on {} scraping both every second",
            prometheus.url
        ),
    );
    let judge_service = JudgeService::start(&dir, &prometheus.url).await?;
    stamp(
        out,
        start,
        &format!(
            "judge service on {} (configs in {})",
            judge_service.url,
            dir.join("configs").display()
        ),
    );

    let upstream_file = dir.join("upstream.conf");
    // The plan names the reload command, which names nginx's prefix: both known before
    // nginx starts; the upstream file must exist before it starts.
    let reload = Nginx::reload_command(&dir);
    let plan_text = configs::plan_yaml(
        &PlanTargets {
            upstream_file: &upstream_file,
            reload: &reload,
            stable: v1.address,
            canary: v2.address,
            judge_url: &judge_service.url,
        },
        options.interval,
        options.count,
    );
    write(&dir.join("plan.yaml"), &plan_text)?;
    let plan =
        Plan::from_yaml(&plan_text).map_err(|error| ScenarioError::part("rollout plan", error))?;
    let RouterConfig::Nginx(router_config) = plan.router.clone() else {
        return Err(ScenarioError::part(
            "rollout plan",
            "the demo plan uses the nginx router",
        ));
    };
    write(&upstream_file, &router_config.render(Weight::ZERO))?;
    let nginx = Nginx::start(&dir, &upstream_file, &client).await?;
    stamp(
        out,
        start,
        &format!("nginx on {} in front of both (all users on v1)", nginx.url),
    );

    let load = Load::start(format!("{}/", nginx.url), options.rate);
    stamp(
        out,
        start,
        &format!(
            "{} users' requests a second through nginx, each on a fresh connection",
            options.rate
        ),
    );
    // A few seconds of v1 alone: Prometheus has both versions' series before the first step.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let judge = HttpJudge::new(plan.judge.clone(), None)
        .map_err(|error| ScenarioError::part("judge client", error))?;
    let kayenta = HttpJudge::new(plan.judge.clone(), None)
        .map_err(|error| ScenarioError::part("judge client", error))?;
    let store = FileStore::new(dir.join("state.json"));
    let mut rollout = Rollout::start(
        plan,
        store,
        NginxRouter::new(router_config),
        judge,
        SystemClock,
        false,
    )
    .await
    .map_err(|error| ScenarioError::part("starting the rollout", error))?;
    stamp(
        out,
        start,
        "rollout started: 5 → 10 → 20 → 50 → 100 %, analyses by the Serin judge",
    );
    let (states, mut receive) = mpsc::unbounded_channel::<RolloutState>();
    let running = tokio::spawn(async move {
        let outcome = rollout
            .run_observed(|state| {
                let _ = states.send(state.clone());
            })
            .await;
        (outcome, rollout.state().clone())
    });
    let mut timeline = Timeline {
        out,
        start,
        load: &load,
        kayenta,
        weight: 0,
        verdicts_seen: 0,
        step_starts: std::collections::BTreeMap::new(),
        stages: vec![(0, 0.0, "warm-up")],
        judgements: Vec::new(),
    };
    while let Some(state) = receive.recv().await {
        timeline.follow(&state).await;
        v2.process.check_running()?;
    }
    let (outcome, last) = running
        .await
        .map_err(|error| ScenarioError::part("the rollout task", error))?;
    timeline.follow(&last).await;
    let phase = outcome.map_err(|error| ScenarioError::part("the rollout", error))?;
    let Timeline {
        stages: marks,
        judgements,
        out,
        ..
    } = timeline;
    // Users go on for two more seconds at the final weight.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let observed: Observed = load.stop().await;
    let stages: Vec<Stage> = marks
        .iter()
        .enumerate()
        .map(|(index, &(weight, started_after, kind))| {
            let seen = observed.stages.get(&index);
            Stage {
                weight,
                started_after,
                kind,
                v1: seen.and_then(|s| s.get("v1")).into(),
                v2: seen.and_then(|s| s.get("v2")).into(),
            }
        })
        .collect();
    let phase_text = format!("{phase:?}").to_lowercase();
    let final_weight = last.weight.map_or(0, Weight::canary);
    let _ = writeln!(out);
    let _ = write!(out, "{}", stage_table(&stages));
    let v2_requests: u64 = stages.iter().map(|stage| stage.v2.requests).sum();
    let answered: u64 = stages
        .iter()
        .map(|stage| stage.v1.requests + stage.v2.requests)
        .sum();
    let _ = writeln!(
        out,
        "\nrollout {phase_text} at {final_weight} %: v2 answered {v2_requests} of {answered} users' requests ({:.1} %); {} lost, {} nginx gateway errors",
        100.0 * v2_requests as f64 / answered.max(1) as f64,
        observed.lost,
        observed.gateway_errors
    );
    let summary = Summary {
        canary: options.canary,
        phase: phase_text,
        final_weight,
        stages,
        judgements,
        sent: observed.lost + observed.gateway_errors + answered,
        lost: observed.lost,
        gateway_errors: observed.gateway_errors,
        upstreams: Upstreams {
            v1: v1.address.to_string(),
            v2: v2.address.to_string(),
        },
        access_log: nginx.access_log.clone(),
    };
    drop(judge_service);
    Ok(summary)
}
