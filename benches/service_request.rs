//! Criterion benchmarks of one `POST /judge` with inline data, step by step: parsing
//! the body's series, judging them, and writing the answer (the load benchmark's
//! shape: 20 metrics x 2 x 500 points, see `scripts/bench_service.sh`).

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use serin_benches::SplitMix;
use serin_core::{CanaryConfig, judge};
use serin_sources::InlineData;

const METRICS: usize = 20;
const POINTS: usize = 500;

/// The inline `data` object of the load benchmark's body, as JSON text (6 decimals).
fn body() -> String {
    let mut rng = SplitMix(42);
    let mut text = String::from("{");
    for i in 0..METRICS {
        let mean = 100.0 + i as f64;
        let _ = write!(
            text,
            "{}\"metric_{i:02}\": {{",
            if i == 0 { "" } else { ", " }
        );
        for (k, side) in ["baseline", "canary"].iter().enumerate() {
            let _ = write!(text, "{}\"{side}\": [", if k == 0 { "" } else { ", " });
            for p in 0..POINTS {
                let _ = write!(
                    text,
                    "{}{:.6}",
                    if p == 0 { "" } else { ", " },
                    rng.gauss(mean)
                );
            }
            text.push(']');
        }
        text.push('}');
    }
    text.push('}');
    text
}

fn config() -> CanaryConfig {
    let metrics: Vec<_> = (0..METRICS)
        .map(|i| {
            json!({
                "name": format!("metric_{i:02}"),
                "groups": [format!("group_{}", i % 4)],
                "analysisConfigurations": {"canary": {"direction": "either"}}
            })
        })
        .collect();
    CanaryConfig::from_value(json!({"name": "load", "metrics": metrics})).unwrap()
}

fn inline_judge_request(c: &mut Criterion) {
    let body = body();
    let config = config();
    let data = serde_json::from_str::<InlineData>(&body)
        .unwrap()
        .into_metric_set()
        .unwrap();
    let result = judge(&config, &data, None).unwrap();
    let mut group = c.benchmark_group("inline_request");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_20_metrics_x_2_x_500_points", |b| {
        b.iter(|| {
            let parsed: InlineData = serde_json::from_str(black_box(&body)).unwrap();
            black_box(parsed.metrics.len())
        });
    });
    group.bench_function("judge_20_metrics_x_2_x_500_points", |b| {
        b.iter(|| black_box(judge(&config, black_box(&data), None).unwrap().score.score));
    });
    group.bench_function("write_answer", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&result)).unwrap().len()));
    });
    group.finish();
}

criterion_group!(benches, inline_judge_request);
criterion_main!(benches);
