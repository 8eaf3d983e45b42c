//! Criterion benchmarks: Mann-Whitney U with the exact Hodges-Lehmann interval at n = m = 10², 10⁴, 10⁶,
//! the kayenta interval, and a 50-metric judgement.
//!
//! Inputs are read from `target/bench-inputs/{baseline,canary}_<n>.f64` (written by
//! `scripts/golden/bench_scipy.py --write-inputs`, so scipy times the very same
//! numbers); when absent they are generated here from a fixed seed.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use serin_benches::SplitMix;
use serin_core::stats::{
    Alternative, IntervalMethod, PValueMethod, hodges_lehmann, mann_whitney_u,
};
use serin_core::{CanaryConfig, MetricPair, MetricSet, Sample, judge_on_threads};

fn inputs_dir() -> PathBuf {
    std::env::var_os("SERIN_BENCH_INPUTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-inputs"))
}

fn read_f64(path: &PathBuf) -> Option<Vec<f64>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(8)
            .map(|chunk| f64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])))
            .collect(),
    )
}

/// (baseline, canary) for size `n`: the scipy script's files if present.
fn inputs(n: usize) -> (Vec<f64>, Vec<f64>) {
    let dir = inputs_dir();
    let files = (
        read_f64(&dir.join(format!("baseline_{n}.f64"))),
        read_f64(&dir.join(format!("canary_{n}.f64"))),
    );
    if let (Some(baseline), Some(canary)) = files
        && baseline.len() == n
        && canary.len() == n
    {
        return (baseline, canary);
    }
    eprintln!(
        "note: {} has no inputs for n={n}; generating them",
        dir.display()
    );
    let baseline = SplitMix(42).lognormal(n, 1.0);
    let canary = SplitMix(43).lognormal(n, 1.05);
    (baseline, canary)
}

fn mann_whitney_with_exact_interval(c: &mut Criterion) {
    let mut group = c.benchmark_group("mwu_exact_hl");
    for n in [100usize, 10_000, 1_000_000] {
        let (baseline, canary) = inputs(n);
        group.throughput(Throughput::Elements(2 * n as u64));
        if n >= 1_000_000 {
            group.sample_size(10);
        }
        // From raw slices, sorting included, as scipy ranks from raw arrays.
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let x = Sample::new(black_box(&canary)).unwrap();
                let y = Sample::new(black_box(&baseline)).unwrap();
                let test = mann_whitney_u(&x, &y, Alternative::TwoSided, PValueMethod::Asymptotic);
                let interval = hodges_lehmann(&x, &y, 0.98, IntervalMethod::Exact).unwrap();
                black_box((
                    test.p_value,
                    interval.estimate,
                    interval.lower,
                    interval.upper,
                ))
            });
        });
    }
    group.finish();
}

fn mann_whitney_with_kayenta_interval(c: &mut Criterion) {
    let mut group = c.benchmark_group("mwu_kayenta_hl");
    for n in [100usize, 10_000] {
        let (baseline, canary) = inputs(n);
        group.throughput(Throughput::Elements(2 * n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let x = Sample::new(black_box(&canary)).unwrap();
                let y = Sample::new(black_box(&baseline)).unwrap();
                let test = mann_whitney_u(&x, &y, Alternative::TwoSided, PValueMethod::Asymptotic);
                let interval = hodges_lehmann(&x, &y, 0.98, IntervalMethod::Kayenta).unwrap();
                black_box((test.p_value, interval.estimate))
            });
        });
    }
    group.finish();
}

fn judgement_of_50_metrics(c: &mut Criterion) {
    const METRICS: usize = 50;
    const POINTS: usize = 1000;
    let metrics: Vec<_> = (0..METRICS)
        .map(|i| {
            json!({
                "name": format!("metric_{i}"),
                "groups": [format!("group_{}", i % 5)],
                "analysisConfigurations": {"canary": {"direction": if i % 2 == 0 { "increase" } else { "either" }}}
            })
        })
        .collect();
    let judge_config = |judge: &str, method: &str| {
        CanaryConfig::from_value(json!({
            "name": "bench",
            "metrics": metrics,
            "judge": {"name": judge, "judgeConfigurations": {"intervalMethod": method}}
        }))
        .unwrap()
    };
    let config = |method: &str| judge_config("NetflixACAJudge-v1.0", method);
    let mut data = MetricSet::default();
    // A day of one-minute points with their timestamps (as Prometheus gives them), as
    // the Serin judge's target states it.
    let mut day = MetricSet::default();
    let minutes: Vec<i64> = (0..1440)
        .map(|minute| 1_795_428_000_000 + 60_000 * minute)
        .collect();
    for i in 0..METRICS {
        let mut rng = SplitMix(1_000 + i as u64);
        let shift = if i % 10 == 0 { 1.3 } else { 1.0 };
        day.insert(
            format!("metric_{i}"),
            MetricPair {
                baseline: rng.lognormal(1440, 1.0),
                canary: rng.lognormal(1440, shift),
                baseline_times: minutes.clone(),
                canary_times: minutes.clone(),
            },
        );
    }
    for i in 0..METRICS {
        let mut rng = SplitMix(i as u64);
        let shift = if i % 10 == 0 { 1.3 } else { 1.0 };
        data.insert(
            format!("metric_{i}"),
            MetricPair {
                baseline: rng.lognormal(POINTS, 1.0),
                canary: rng.lognormal(POINTS, shift),
                ..MetricPair::default()
            },
        );
    }
    let mut group = c.benchmark_group("judge");
    group.throughput(Throughput::Elements((METRICS * 2 * POINTS) as u64));
    for (name, method, threads) in [
        ("50_metrics_x_2_x_1000_points", "kayenta", 1),
        ("50_metrics_x_2_x_1000_points_2_threads", "kayenta", 2),
        ("50_metrics_x_2_x_1000_points_exact", "exact", 1),
    ] {
        let config = config(method);
        group.bench_function(name, |b| {
            b.iter(|| {
                let result = judge_on_threads(&config, black_box(&data), None, threads).unwrap();
                black_box(result.score.score)
            });
        });
    }
    group.throughput(Throughput::Elements((METRICS * 2 * 1440) as u64));
    for (name, judge) in [
        (
            "50_metrics_x_2_x_1440_points_kayenta_judge",
            "NetflixACAJudge-v1.0",
        ),
        (
            "50_metrics_x_2_x_1440_points_serin_judge",
            "SerinJudge-v1.0",
        ),
    ] {
        let config = judge_config(judge, "kayenta");
        group.bench_function(name, |b| {
            b.iter(|| {
                let result = judge_on_threads(&config, black_box(&day), None, 1).unwrap();
                black_box(result.score.score)
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    mann_whitney_with_exact_interval,
    mann_whitney_with_kayenta_interval,
    judgement_of_50_metrics
);
criterion_main!(benches);
