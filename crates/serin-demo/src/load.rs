//! The load generator: steady open-loop traffic through nginx, and what users saw, by stage of the rollout and by version.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

/// What users of one version saw in one stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// Requests answered by this version.
    pub requests: u64,
    /// Of those, answered with a 5xx.
    pub errors: u64,
    /// Latencies as users measured them, in milliseconds.
    pub latencies_ms: Vec<f64>,
}

impl Seen {
    /// The 99th percentile of latency in milliseconds (nearest rank); `None` without requests.
    pub fn p99_ms(&self) -> Option<f64> {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = (0.99 * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.max(1) - 1).copied()
    }
}

/// What the load generator saw over the whole scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Requests that got no HTTP answer at all (connection refused or reset, timeout):
    /// lost users.
    pub lost: u64,
    /// Answers no version gave (nginx's own 502 or 504: no upstream reachable).
    pub gateway_errors: u64,
    /// By stage (index into the scenario's stages), then by version.
    pub stages: BTreeMap<usize, BTreeMap<String, Seen>>,
}

/// The running load generator.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    stage: Arc<AtomicUsize>,
    observed: Arc<Mutex<Observed>>,
    driver: tokio::task::JoinHandle<()>,
}

/// One request's outcome.
enum Outcome {
    Answered {
        version: Option<String>,
        status: u16,
        latency: Duration,
    },
    Lost,
}

async fn one_request(client: reqwest::Client, url: String) -> Outcome {
    let started = Instant::now();
    match client.get(&url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let version = response
                .headers()
                .get("x-demo-version")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            // The body is read so the latency is the user's whole wait.
            let complete = response.bytes().await.is_ok();
            if complete {
                Outcome::Answered {
                    version,
                    status,
                    latency: started.elapsed(),
                }
            } else {
                Outcome::Lost
            }
        }
        Err(_) => Outcome::Lost,
    }
}

impl Load {
    /// Starts sending `rate` requests a second to `url` (open loop: a slow answer never
    /// delays the next request), each on a fresh connection, as many independent users.
    pub fn start(url: String, rate: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stage = Arc::new(AtomicUsize::new(0));
        let observed = Arc::new(Mutex::new(Observed::default()));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let (stopping, staging, recording) = (stop.clone(), stage.clone(), observed.clone());
        let driver = tokio::spawn(async move {
            let mut ticks =
                tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut requests = JoinSet::new();
            while !stopping.load(Ordering::SeqCst) {
                ticks.tick().await;
                let stage = staging.load(Ordering::SeqCst);
                let (client, url, recording) = (client.clone(), url.clone(), recording.clone());
                requests.spawn(async move {
                    let outcome = one_request(client, url).await;
                    let mut observed = recording
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match outcome {
                        Outcome::Lost => observed.lost += 1,
                        Outcome::Answered { version: None, .. } => observed.gateway_errors += 1,
                        Outcome::Answered {
                            version: Some(version),
                            status,
                            latency,
                        } => {
                            let seen = observed
                                .stages
                                .entry(stage)
                                .or_default()
                                .entry(version)
                                .or_default();
                            seen.requests += 1;
                            seen.errors += u64::from(status >= 500);
                            seen.latencies_ms.push(latency.as_secs_f64() * 1000.0);
                        }
                    }
                });
                while requests.try_join_next().is_some() {}
            }
            while requests.join_next().await.is_some() {}
        });
        Self {
            stop,
            stage,
            observed,
            driver,
        }
    }

    /// Tags the requests sent from now on with `stage`.
    pub fn set_stage(&self, stage: usize) {
        self.stage.store(stage, Ordering::SeqCst);
    }

    /// Stops sending, waits for the requests in flight, and returns what was seen.
    pub async fn stop(self) -> Observed {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.driver.await;
        std::mem::take(
            &mut *self
                .observed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}
