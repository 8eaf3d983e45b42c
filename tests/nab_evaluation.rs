//! Both judges on real AWS CloudWatch series (NAB): false fails on healthy A/A splits and detection of a 20 % regression, at one look and at 12 looks over a day.
//!
//! The protocol (docs/statistics.md, "Evaluation on NAB"): every NAB AWS series is cut
//! into whole days (288 five-minute points); a day is split into two sides of the same
//! load, either alternately (point 2i to the baseline, 2i + 1 to the canary, as two pods
//! scraped in turn) or at random (each point to either side with probability ½, seeded).
//! The healthy canary is its side as measured; the regressed canary is it times 1.2.
//! A judgement of one metric (direction `increase`, default thresholds) fails when the
//! metric is classified High or Low; "no data" is never a fail and never a pass. One
//! look judges the whole day; 12 looks judge the growing window at every 2 hours, and a
//! rollout fails at its first failing look.
//!
//! The alternate split is not an A/A test on every series: some CloudWatch series
//! alternate between two levels from one 5-minute point to the next, so their even and
//! odd points differ (the figures name them). Run `scripts/nab_evaluation.sh` for the
//! table (both judges, both splits, both look schedules).

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use serin_core::{CanaryConfig, Classification, MetricPair, MetricSet, Scope, judge};

/// Five-minute points in a day.
const DAY: usize = 288;
/// The regression every canary of the detection half carries.
const REGRESSION: f64 = 1.2;

/// One NAB series: its name and (epoch ms, value) points.
struct Series {
    name: String,
    points: Vec<(i64, f64)>,
}

fn read_series(path: &Path) -> Series {
    let text = std::fs::read_to_string(path).unwrap();
    let points = text
        .lines()
        .skip(1)
        .map(|line| {
            let (time, value) = line.split_once(',').unwrap();
            let at = NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_millis();
            (at, value.parse::<f64>().unwrap())
        })
        .collect();
    Series {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        points,
    }
}

/// The AWS CloudWatch series bundled in `fixtures/nab`.
fn nab_series() -> Vec<Series> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/nab/realAWSCloudwatch");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .collect();
    paths.sort();
    paths.iter().map(|path| read_series(path)).collect()
}

/// How a day is split into two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// Point 2i to the baseline, 2i + 1 to the canary.
    Alternate,
    /// Each point to either side with probability ½ (seeded per window).
    Random,
}

/// One day of one series, split into its two sides.
struct Window {
    series: String,
    baseline: Vec<(i64, f64)>,
    canary: Vec<(i64, f64)>,
}

fn windows(series: &[Series], split: Split) -> Vec<Window> {
    let mut out = Vec::new();
    for (index, one) in series.iter().enumerate() {
        for (day, points) in one.points.chunks_exact(DAY).enumerate() {
            let mut rng = SmallRng::seed_from_u64((index * 1000 + day) as u64);
            let (mut baseline, mut canary) = (Vec::new(), Vec::new());
            for (position, &point) in points.iter().enumerate() {
                let to_canary = match split {
                    Split::Alternate => position % 2 == 1,
                    Split::Random => rng.random::<bool>(),
                };
                if to_canary {
                    canary.push(point);
                } else {
                    baseline.push(point);
                }
            }
            out.push(Window {
                series: one.name.clone(),
                baseline,
                canary,
            });
        }
    }
    out
}

fn config(judge_name: &str) -> CanaryConfig {
    CanaryConfig::from_value(json!({
        "judge": {"name": judge_name},
        "metrics": [{"name": "m", "groups": ["g"],
                     "analysisConfigurations": {"canary": {"direction": "increase"}}}]
    }))
    .unwrap()
}

/// Whether the judgement of the window's first `until` milliseconds fails the metric.
fn fails(config: &CanaryConfig, window: &Window, factor: f64, until: i64) -> bool {
    let mut pair = MetricPair::default();
    for &(at, value) in window.baseline.iter().filter(|(at, _)| *at < until) {
        pair.push_at(Scope::Baseline, at, value);
    }
    for &(at, value) in window.canary.iter().filter(|(at, _)| *at < until) {
        pair.push_at(Scope::Canary, at, factor * value);
    }
    let mut data = MetricSet::default();
    data.insert("m", pair);
    let result = judge(config, &data, None).unwrap();
    matches!(
        result.results[0].classification,
        Classification::High | Classification::Low
    )
}

/// Whether any of `looks` judgements of the growing window fails.
fn fails_at_some_look(config: &CanaryConfig, window: &Window, factor: f64, looks: i64) -> bool {
    let start = window.baseline[0].0.min(window.canary[0].0);
    let day = 24 * 3_600_000;
    (1..=looks).any(|look| fails(config, window, factor, start + day * look / looks))
}

/// One judge's figures on one protocol.
#[derive(Debug, Clone, PartialEq)]
struct Figures {
    /// Windows judged.
    windows: usize,
    /// Healthy canaries failed, out of `windows`.
    false_fails: usize,
    /// Regressed canaries failed, out of `windows`.
    detected: usize,
    /// The series of regressed windows missed, with how many each.
    missed: Vec<(String, usize)>,
    /// The series of healthy windows failed, with how many each.
    failed: Vec<(String, usize)>,
}

impl Figures {
    fn percent(count: usize, of: usize) -> f64 {
        100.0 * count as f64 / of as f64
    }

    /// False fails in percent.
    fn false_fail_percent(&self) -> f64 {
        Self::percent(self.false_fails, self.windows)
    }

    /// Detection in percent.
    fn detected_percent(&self) -> f64 {
        Self::percent(self.detected, self.windows)
    }
}

/// Counts one more window of `series` (windows come series by series).
fn tally(counts: &mut Vec<(String, usize)>, series: &str) {
    match counts.last_mut() {
        Some((name, count)) if name == series => *count += 1,
        _ => counts.push((series.to_owned(), 1)),
    }
}

/// The figures of one judge on one split's windows and one look schedule.
fn evaluate(judge_name: &str, windows: &[Window], looks: i64) -> Figures {
    let config = config(judge_name);
    let mut figures = Figures {
        windows: windows.len(),
        false_fails: 0,
        detected: 0,
        missed: Vec::new(),
        failed: Vec::new(),
    };
    for window in windows {
        if fails_at_some_look(&config, window, 1.0, looks) {
            figures.false_fails += 1;
            tally(&mut figures.failed, &window.series);
        }
        if fails_at_some_look(&config, window, REGRESSION, looks) {
            figures.detected += 1;
        } else {
            tally(&mut figures.missed, &window.series);
        }
    }
    figures
}

/// On random splits (the A/A protocol whose sides are exchangeable), the Serin judge
/// false-fails at most 1 % of healthy days at one look and at 12, and detects the 20 %
/// regression in at least 70 % of days (issue 17 asks 90 %: docs/statistics.md says
/// which series no test at this alpha can see it in). Every figure, Kayenta's judge's
/// and the alternate split's included, is printed (`--nocapture`).
#[test]
fn serin_judge_on_nab_holds_its_bound_at_every_look() {
    let mut report = Vec::new();
    let mut checks = Vec::new();
    let series = nab_series();
    for split in [Split::Random, Split::Alternate] {
        let windows = windows(&series, split);
        for looks in [1, 12] {
            for judge_name in ["NetflixACAJudge-v1.0", "SerinJudge-v1.0"] {
                let figures = evaluate(judge_name, &windows, looks);
                report.push(format!(
                    "{judge_name:<22} {split:?} {looks:>2} look(s): false fails {}/{} ({:.1} %), detected {}/{} ({:.1} %); failed {:?}; missed {:?}",
                    figures.false_fails,
                    figures.windows,
                    figures.false_fail_percent(),
                    figures.detected,
                    figures.windows,
                    figures.detected_percent(),
                    figures.failed,
                    figures.missed
                ));
                if judge_name == "SerinJudge-v1.0" && split == Split::Random {
                    checks.push((looks, figures));
                }
            }
        }
    }
    let report = report.join("\n");
    println!("{report}");
    for (looks, figures) in checks {
        assert!(figures.windows >= 200, "{looks} looks\n{report}");
        assert!(
            figures.false_fail_percent() <= 1.0 && figures.detected_percent() >= 70.0,
            "{looks} looks\n{report}"
        );
    }
}
