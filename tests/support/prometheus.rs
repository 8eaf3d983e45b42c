//! A real Prometheus (Debian's package) on 127.0.0.1, filled by backfill: the harness
//! writes seeded OpenMetrics, runs `promtool tsdb create-blocks-from openmetrics`,
//! and starts `prometheus` with no scrape configs. Dropping it kills the server.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Seconds between backfilled points.
pub const SAMPLE_EVERY_S: i64 = 15;

/// The tracks backfilled, and how each differs from `stable`.
#[derive(Debug, Clone, Copy)]
pub struct Track {
    /// The `track` label value.
    pub name: &'static str,
    /// Latency multiplier.
    pub latency: f64,
    /// Error-ratio multiplier.
    pub errors: f64,
    /// CPU multiplier.
    pub cpu: f64,
    /// Every latency point is NaN.
    pub nan_latency: bool,
}

/// Baseline, a healthy canary, a regressed one (+30 % latency, 5x errors), one with
/// only CPU up 50 % (a marginal score: 80 of 100), and one whose latency is NaN only.
pub const TRACKS: [Track; 5] = [
    Track {
        name: "stable",
        latency: 1.0,
        errors: 1.0,
        cpu: 1.0,
        nan_latency: false,
    },
    Track {
        name: "canary",
        latency: 1.0,
        errors: 1.0,
        cpu: 1.0,
        nan_latency: false,
    },
    Track {
        name: "canary-bad",
        latency: 1.3,
        errors: 5.0,
        cpu: 1.0,
        nan_latency: false,
    },
    Track {
        name: "canary-cpu",
        latency: 1.0,
        errors: 1.0,
        cpu: 1.5,
        nan_latency: false,
    },
    Track {
        name: "canary-nan",
        latency: 1.0,
        errors: 1.0,
        cpu: 1.0,
        nan_latency: true,
    },
];

/// Standard normal by Box-Muller (seeded, so every run writes the same data).
fn gaussian(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Draws one value of a family for a track.
type ValueFn = dyn Fn(&mut SmallRng, &Track) -> f64;

/// OpenMetrics text of the checkout gauges for every track, one point every
/// [`SAMPLE_EVERY_S`] from `start` (inclusive) to `end` (exclusive).
pub fn checkout_openmetrics(start: DateTime<Utc>, end: DateTime<Utc>, seed: u64) -> String {
    let mut rng = SmallRng::seed_from_u64(seed);
    let times: Vec<i64> = (start.timestamp()..end.timestamp())
        .step_by(SAMPLE_EVERY_S as usize)
        .collect();
    let mut out = String::new();
    let families: [(&str, &ValueFn); 3] = [
        ("checkout_latency_p99_ms", &|rng, track| {
            if track.nan_latency {
                f64::NAN
            } else {
                (120.0 + 12.0 * gaussian(rng)) * track.latency
            }
        }),
        ("checkout_error_ratio", &|rng, track| {
            ((0.010 + 0.002 * gaussian(rng)) * track.errors).max(0.0)
        }),
        ("checkout_cpu_ratio", &|rng, track| {
            (0.45 + 0.04 * gaussian(rng)) * track.cpu
        }),
    ];
    for (family, value) in families {
        writeln!(out, "# TYPE {family} gauge").unwrap();
        for track in &TRACKS {
            for t in &times {
                let v = value(&mut rng, track);
                let text = if v.is_nan() {
                    "NaN".to_owned()
                } else {
                    format!("{v}")
                };
                writeln!(
                    out,
                    "{family}{{job=\"checkout\",track=\"{}\"}} {text} {t}",
                    track.name
                )
                .unwrap();
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    _dir: tempfile::TempDir,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok_and(|s| s.success()),
        "{tool} not found: install Debian's prometheus package (scripts/test.sh does)"
    );
}

impl Prometheus {
    /// Backfills `openmetrics` and starts Prometheus; waits until it is ready.
    pub async fn start(openmetrics: &str) -> Self {
        require("promtool");
        require("prometheus");
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("input.om");
        std::fs::write(&input, openmetrics).unwrap();
        let data = dir.path().join("data");
        let output = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "promtool failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "global: {}\nscrape_configs: []\n").unwrap();
        let port = free_port();
        let child = spawn(&config, &data, port, dir.path());
        let prometheus = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        prometheus.wait_ready().await;
        prometheus
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(response) = client.get(format!("{}/-/ready", self.url)).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("prometheus at {} did not become ready in 30 s", self.url);
    }

    /// Stops the server (as if it crashed).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Path, data: &Path, port: u16, dir: &Path) -> Child {
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("cannot start prometheus")
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.kill();
    }
}
