//! The demo service: one endpoint with a latency distribution and an error ratio, and Prometheus metrics labelled with its version.
//!
//! v1 and v2 of a demo are this same program with different [`Behaviour`]s: a regressed
//! version adds latency (every request's latency multiplied), errors (a higher ratio of
//! 500s) or a leak (memory kept per request).

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;

/// The latency histogram's bucket bounds, in seconds. The judge configs count requests
/// slower than [`SLOW_SECONDS`], which must be one of them.
pub const BUCKETS: [f64; 10] = [0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0];

/// The latency objective of the demo: a request slower than this is a slow request.
pub const SLOW_SECONDS: f64 = 0.04;

/// How one version of the service behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    /// The version label on every metric (`v1`, `v2`).
    pub version: String,
    /// The median latency of a healthy request.
    pub median_latency: Duration,
    /// The spread of latency: the standard deviation of its logarithm (log-normal).
    pub latency_spread: f64,
    /// Every request's latency is multiplied by this (1: healthy; 1.3: +30 %).
    pub latency_factor: f64,
    /// The probability that a request answers 500.
    pub error_ratio: f64,
    /// Bytes kept for good on every request (0: no leak).
    pub leak_bytes: usize,
    /// Seed of the latency and error draws.
    pub seed: u64,
}

impl Behaviour {
    /// The healthy behaviour of `version`: 20 ms median latency, spread 0.35, 0.5 % errors.
    pub fn healthy(version: &str) -> Self {
        Self {
            version: version.to_owned(),
            median_latency: Duration::from_millis(20),
            latency_spread: 0.35,
            latency_factor: 1.0,
            error_ratio: 0.005,
            leak_bytes: 0,
            seed: 1,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    version: String,
    status: String,
}

/// The service's metric families.
#[derive(Debug)]
struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<VersionLabels, Histogram>,
    cpu: Family<VersionLabels, Gauge<f64, AtomicU64>>,
    memory: Family<VersionLabels, Gauge<f64, AtomicU64>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Metrics {
    fn new(version: &str) -> Self {
        let mut registry = Registry::with_prefix("demo");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<VersionLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let cpu = Family::<VersionLabels, Gauge<f64, AtomicU64>>::default();
        let memory = Family::<VersionLabels, Gauge<f64, AtomicU64>>::default();
        registry.register("requests", "Requests served, by status", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Request latency",
            latency.clone(),
        );
        registry.register(
            "process_cpu_seconds",
            "CPU time of the process (user and system)",
            cpu.clone(),
        );
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the process",
            memory.clone(),
        );
        // Every series exists from the first scrape, so a version that has not failed
        // yet shows 0 errors rather than no data.
        for status in ["200", "500"] {
            let _ = requests.get_or_create(&RequestLabels {
                version: version.to_owned(),
                status: status.to_owned(),
            });
        }
        let _ = latency.get_or_create(&VersionLabels {
            version: version.to_owned(),
        });
        Self {
            registry,
            requests,
            latency,
            cpu,
            memory,
        }
    }
}

/// The process's CPU seconds and resident bytes, from `/proc/self` (Linux; `None`
/// elsewhere). Clock ticks are taken as 100 a second and pages as 4 KiB, Linux's values
/// on every common platform.
fn process_usage() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((ticks / 100.0, pages * 4096.0))
}

struct Shared {
    behaviour: Behaviour,
    metrics: Metrics,
    rng: Mutex<SmallRng>,
    leaked: Mutex<Vec<Vec<u8>>>,
}

/// One request's draws: its latency and whether it fails.
#[derive(Debug, Clone, Copy)]
struct Draw {
    latency: Duration,
    error: bool,
}

impl Shared {
    fn draw(&self) -> Draw {
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Box-Muller: one standard normal from two uniforms on (0, 1].
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let error = rng.random::<f64>() < self.behaviour.error_ratio;
        let behaviour = &self.behaviour;
        let seconds = behaviour.median_latency.as_secs_f64()
            * (behaviour.latency_spread * normal).exp()
            * behaviour.latency_factor;
        Draw {
            latency: Duration::from_secs_f64(seconds.clamp(0.0, 10.0)),
            error,
        }
    }
}

async fn answer(State(shared): State<Arc<Shared>>) -> Response {
    let started = Instant::now();
    let draw = shared.draw();
    tokio::time::sleep(draw.latency).await;
    if shared.behaviour.leak_bytes > 0 {
        shared
            .leaked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(vec![1; shared.behaviour.leak_bytes]);
    }
    let version = &shared.behaviour.version;
    let status = if draw.error {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    shared
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            version: version.clone(),
            status: status.as_u16().to_string(),
        })
        .inc();
    shared
        .metrics
        .latency
        .get_or_create(&VersionLabels {
            version: version.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    let mut response = (status, format!("{version}\n")).into_response();
    if let Ok(value) = HeaderValue::from_str(version) {
        response.headers_mut().insert("x-demo-version", value);
    }
    response
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let labels = VersionLabels {
        version: shared.behaviour.version.clone(),
    };
    if let Some((cpu, memory)) = process_usage() {
        shared.metrics.cpu.get_or_create(&labels).set(cpu);
        shared.metrics.memory.get_or_create(&labels).set(memory);
    }
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &shared.metrics.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Serves `behaviour` on `listener` (`GET /` the endpoint, `GET /metrics`, `GET /healthz`)
/// until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    behaviour: Behaviour,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        metrics: Metrics::new(&behaviour.version),
        rng: Mutex::new(SmallRng::seed_from_u64(behaviour.seed)),
        leaked: Mutex::new(Vec::new()),
        behaviour,
    });
    let app = Router::new()
        .route("/", get(answer))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
