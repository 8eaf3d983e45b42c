//! End-to-end judgements through `serin_core::judge`: verdicts, cannot-decide cases, errors, and the two interval methods.

use serde_json::json;
use serin_core::config::ScoreThresholds;
use serin_core::{CanaryConfig, Classification, JudgeError, MetricPair, MetricSet, Verdict, judge};

use crate::fixtures::datasets;

/// A deterministic, latency-like series: a slow wave plus a hash-spread jitter.
fn series(seed: u32, count: usize, level: f64) -> Vec<f64> {
    (0..count)
        .map(|i| {
            let i = i as u32;
            let jitter =
                f64::from((i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 1000)
                    / 1000.0;
            level * (1.0 + 0.1 * (f64::from(i) / 7.0).sin() + 0.2 * jitter)
        })
        .collect()
}

fn config(extra_settings: serde_json::Value) -> CanaryConfig {
    let mut value = json!({
        "name": "svc",
        "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
        "metrics": [
            {"name": "latency", "groups": ["latency"], "analysisConfigurations": {"canary": {"direction": "increase"}}},
            {"name": "errors", "groups": ["errors"], "analysisConfigurations": {"canary": {"direction": "increase", "nanStrategy": "replace"}}},
            {"name": "cpu", "groups": ["system"], "analysisConfigurations": {"canary": {}}}
        ],
        "classifier": {"groupWeights": {"latency": 50, "errors": 30, "system": 20}}
    });
    value["judge"]["judgeConfigurations"] = extra_settings;
    CanaryConfig::from_value(value).unwrap()
}

fn data(canary_latency_factor: f64, count: usize) -> MetricSet {
    let mut set = MetricSet::default();
    let pair = |seed: u32, level: f64, factor: f64| MetricPair {
        baseline: series(seed, count, level),
        canary: series(seed + 1, count, level)
            .iter()
            .map(|v| v * factor)
            .collect(),
        ..MetricPair::default()
    };
    set.insert("latency", pair(1, 120.0, canary_latency_factor));
    set.insert("errors", pair(3, 0.002, 1.0));
    set.insert("cpu", pair(5, 0.4, 1.0));
    set
}

#[test]
fn verdicts_for_healthy_regressed_and_undecidable_canaries() {
    let starved = {
        let mut set = data(1.0, 120);
        for name in ["latency", "errors", "cpu"] {
            let mut pair = set.get(name).unwrap().clone();
            pair.canary.truncate(4);
            set.insert(name, pair);
        }
        set
    };
    let no_canary = {
        let mut set = MetricSet::default();
        set.insert(
            "latency",
            MetricPair {
                baseline: series(1, 60, 120.0),
                canary: vec![],
                ..MetricPair::default()
            },
        );
        set
    };
    let nan_canary = {
        let mut set = data(1.0, 60);
        set.insert(
            "latency",
            MetricPair {
                baseline: series(1, 60, 120.0),
                canary: vec![f64::NAN; 60],
                ..MetricPair::default()
            },
        );
        set.insert(
            "cpu",
            MetricPair {
                baseline: series(5, 60, 0.4),
                canary: vec![f64::NAN; 60],
                ..MetricPair::default()
            },
        );
        set
    };
    // A canary without traffic: every series is 0/0, and `errors` replaces NaN by 0.
    let no_traffic = {
        let mut set = MetricSet::default();
        for (name, seed, level) in [("latency", 1, 120.0), ("errors", 3, 0.002), ("cpu", 5, 0.4)] {
            set.insert(
                name,
                MetricPair {
                    baseline: series(seed, 120, level),
                    canary: vec![f64::NAN; 120],
                    ..MetricPair::default()
                },
            );
        }
        set
    };
    // (name, settings, data, verdict, latency classification, first reason starts with)
    let cases = [
        (
            "healthy",
            json!({}),
            data(1.0, 120),
            Verdict::Pass,
            Classification::Pass,
            "score 100.00",
        ),
        (
            "latency +30%",
            json!({}),
            data(1.3, 120),
            Verdict::Fail,
            Classification::High,
            "score 50.00",
        ),
        (
            "latency +30%, exact",
            json!({"intervalMethod": "exact"}),
            data(1.3, 120),
            Verdict::Fail,
            Classification::High,
            "score 50.00",
        ),
        (
            "latency +2% is inside tolerance",
            json!({}),
            data(1.02, 120),
            Verdict::Pass,
            Classification::Pass,
            "score 100.00",
        ),
        (
            "4 canary points",
            json!({}),
            starved.clone(),
            Verdict::Fail,
            Classification::Nodata,
            "Canary Failed: 50% or more",
        ),
        (
            "4 canary points, Kayenta's rules",
            json!({"minSamples": 0}),
            starved,
            Verdict::Pass,
            Classification::Pass,
            "score 100.00",
        ),
        (
            "no canary data",
            json!({}),
            no_canary,
            Verdict::Fail,
            Classification::Nodata,
            "Canary Failed: 50% or more",
        ),
        (
            "NaN-only canary",
            json!({}),
            nan_canary,
            Verdict::Fail,
            Classification::Nodata,
            "Canary Failed: 50% or more",
        ),
        (
            "canary without traffic, NaN replaced by 0",
            json!({}),
            no_traffic.clone(),
            Verdict::Fail,
            Classification::Nodata,
            "Canary Failed: 50% or more",
        ),
        (
            "canary without traffic, Kayenta's rules",
            json!({"minSamples": 0}),
            no_traffic,
            Verdict::Fail,
            Classification::Nodata,
            "Canary Failed: 50% or more",
        ),
    ];
    for (name, settings, data, verdict, latency, reason) in cases {
        let result = judge(&config(settings), &data, None).unwrap();
        assert_eq!(result.verdict, verdict, "{name}: {:?}", result.reasons);
        assert_eq!(result.results[0].classification, latency, "{name}");
        assert!(
            result.reasons[0].starts_with(reason),
            "{name}: {:?}",
            result.reasons
        );
    }
}

#[test]
fn values_replaced_by_zero_are_not_samples() {
    // Every canary `errors` value is NaN (no requests: 0/0); nanStrategy replace makes
    // them 0, which is below the baseline and passed before. Now it is no data, with
    // a reason, unless minSamples is 0 (Kayenta's rules, reproduced exactly).
    let with_nan_errors = |canary: Vec<f64>| {
        let mut set = data(1.0, 120);
        set.insert(
            "errors",
            MetricPair {
                baseline: series(3, 120, 0.002),
                canary,
                ..MetricPair::default()
            },
        );
        set
    };
    let mut few_measured = vec![f64::NAN; 120];
    few_measured[..5].copy_from_slice(&series(4, 5, 0.002));
    // (name, settings, canary errors, classification, reason, verdict): two metrics
    // of three still pass, but Serin never passes what it could not judge.
    let cases = [
        (
            "all NaN",
            json!({}),
            vec![f64::NAN; 120],
            Classification::Nodata,
            Some(
                "Too few samples for errors: canary 0 (120 of its 120 values were not numbers, replaced by 0), baseline 120, at least 10 per side needed",
            ),
            Verdict::Marginal,
        ),
        (
            "5 measured of 120",
            json!({}),
            few_measured,
            Classification::Nodata,
            Some(
                "Too few samples for errors: canary 5 (115 of its 120 values were not numbers, replaced by 0), baseline 120, at least 10 per side needed",
            ),
            Verdict::Marginal,
        ),
        (
            "all NaN, Kayenta's rules",
            json!({"minSamples": 0}),
            vec![f64::NAN; 120],
            Classification::Pass,
            None,
            Verdict::Pass,
        ),
    ];
    for (name, settings, canary, classification, reason, verdict) in cases {
        let result = judge(&config(settings), &with_nan_errors(canary), None).unwrap();
        let errors = &result.results[1];
        assert_eq!(errors.classification, classification, "{name}");
        assert_eq!(result.verdict, verdict, "{name}: {:?}", result.reasons);
        assert_eq!(errors.classification_reason.as_deref(), reason, "{name}");
        let non_finite = if name.starts_with('5') { 115 } else { 120 };
        assert_eq!(errors.preprocessing.canary_non_finite, non_finite, "{name}");
        if let Some(reason) = reason {
            assert!(
                result.reasons.iter().any(|r| r.ends_with(reason)),
                "{name}: {:?}",
                result.reasons
            );
        }
    }
}

#[test]
fn too_few_samples_is_reported_with_its_reason_and_evidence() {
    let mut set = data(1.0, 60);
    set.insert(
        "cpu",
        MetricPair {
            baseline: series(5, 60, 0.4),
            canary: series(6, 3, 0.4),
            ..MetricPair::default()
        },
    );
    let result = judge(&config(json!({})), &set, None).unwrap();
    let cpu = &result.results[2];
    assert_eq!(cpu.classification, Classification::Nodata);
    assert_eq!(
        cpu.classification_reason.as_deref(),
        Some("Too few samples for cpu: canary 3, baseline 60, at least 10 per side needed")
    );
    let evidence = serde_json::to_value(cpu.evidence).unwrap();
    assert_eq!(evidence["shortcut"], "too-few-samples");
    assert_eq!(evidence["canaryCount"], 3);
    // One Nodata of three is under Kayenta's 50 % rule: its group counts as 100,
    // and the reasons say so; the score passes, but Serin keeps it marginal.
    assert_eq!(result.score.score, 100.0);
    assert_eq!(result.verdict, Verdict::Marginal);
    assert_eq!(
        result.reasons[0],
        "Cannot pass while a metric could not be judged: Too few samples for cpu: canary 3, baseline 60, at least 10 per side needed"
    );
    assert!(
        result
            .reasons
            .iter()
            .any(|r| r.starts_with("group system had no metric"))
    );
}

#[test]
fn bad_requests_are_errors_not_verdicts() {
    let mut set = data(1.0, 30);
    set.insert("latncy", MetricPair::default());
    let error = judge(&config(json!({})), &set, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown metric name(s) in data: latncy (the config defines: latency, errors, cpu)"
    );
    let error = judge(
        &config(json!({})),
        &data(1.0, 30),
        Some(ScoreThresholds {
            pass: 50.0,
            marginal: 80.0,
        }),
    )
    .unwrap_err();
    assert!(matches!(error, JudgeError::Thresholds { .. }));
}

#[test]
fn result_json_has_kayentas_shape_and_serins_evidence() {
    let result = judge(
        &config(json!({})),
        &data(1.3, 60),
        Some(ScoreThresholds {
            pass: 95.0,
            marginal: 40.0,
        }),
    )
    .unwrap();
    let value = serde_json::to_value(&result).unwrap();
    assert_eq!(value["judgeName"], "NetflixACAJudge-v1.0");
    assert_eq!(value["verdict"], "marginal");
    assert_eq!(value["score"]["classification"], "Marginal");
    assert_eq!(value["score"]["score"], 50.0);
    let latency = &value["results"][0];
    assert_eq!(latency["classification"], "High");
    assert_eq!(
        latency["classificationReason"],
        "latency was classified as High"
    );
    assert_eq!(latency["controlMetadata"]["stats"]["count"], 60);
    assert!(latency["resultMetadata"]["ratio"].as_f64().unwrap() > 1.2);
    for key in [
        "method",
        "confidence",
        "baselineCount",
        "canaryCount",
        "u",
        "pValue",
        "ciLower",
        "ciUpper",
        "estimate",
        "effectSize",
    ] {
        assert!(
            !latency["evidence"][key].is_null(),
            "evidence.{key} missing: {}",
            latency["evidence"]
        );
    }
    assert!(latency["evidence"]["pValue"].as_f64().unwrap() < 1e-6);
    assert_eq!(value["groupScores"].as_array().unwrap().len(), 3);
}

/// On realistic data the two interval methods reach the same classification; the
/// datasets where they may not are named with the reason.
#[test]
fn exact_and_kayenta_methods_agree_on_realistic_data() {
    let mut compared = 0;
    for (name, (canary, baseline)) in datasets() {
        if canary.len() < 20 || baseline.len() < 20 {
            continue;
        }
        let mut set = MetricSet::default();
        set.insert(
            "latency",
            MetricPair {
                baseline: baseline.clone(),
                canary: canary.clone(),
                ..MetricPair::default()
            },
        );
        let outcome = |method: &str| {
            let config = CanaryConfig::from_value(json!({
                "metrics": [{"name": "latency", "groups": ["g"], "analysisConfigurations": {"canary": {}}}],
                "judge": {"judgeConfigurations": {"intervalMethod": method}}
            }))
            .unwrap();
            judge(&config, &set, None).unwrap().results[0].classification
        };
        let (kayenta, exact) = (outcome("kayenta"), outcome("exact"));
        assert_eq!(kayenta, exact, "{name}");
        compared += 1;
    }
    assert!(compared >= 25, "{compared}");
}

/// Differences that overflow f64 cannot be judged: an `Error` with Kayenta's reason
/// (critical for a critical metric), never a pass.
#[test]
fn overflowing_differences_are_an_error_not_a_pass() {
    let canary: Vec<f64> = (0..12).map(|i| 1.5e308 + f64::from(i) * 1e295).collect();
    let baseline: Vec<f64> = (0..12).map(|i| -1.5e308 - f64::from(i) * 1e295).collect();
    for (method, critical) in [("kayenta", false), ("exact", false), ("kayenta", true)] {
        let config = CanaryConfig::from_value(json!({
            "metrics": [{"name": "m", "groups": ["g"], "analysisConfigurations": {"canary": {"critical": critical}}}],
            "judge": {"judgeConfigurations": {"intervalMethod": method}}
        }))
        .unwrap();
        let mut set = MetricSet::default();
        set.insert(
            "m",
            MetricPair {
                baseline: baseline.clone(),
                canary: canary.clone(),
                ..MetricPair::default()
            },
        );
        let result = judge(&config, &set, None).unwrap();
        assert_eq!(
            result.results[0].classification,
            Classification::Error,
            "{method}"
        );
        assert_eq!(result.results[0].critical, critical, "{method}");
        assert_eq!(result.verdict, Verdict::Fail, "{method}");
    }
}

#[test]
fn threads_change_nothing_but_speed() {
    let config = config(json!({}));
    let data = data(1.3, 200);
    let one = serde_json::to_value(judge(&config, &data, None).unwrap()).unwrap();
    for threads in [2, 3, 8] {
        let many = serde_json::to_value(
            serin_core::judge_on_threads(&config, &data, None, threads).unwrap(),
        )
        .unwrap();
        assert_eq!(one, many, "{threads} threads");
    }
}
