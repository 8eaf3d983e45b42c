//! Kayenta's ClassifierSuite, ported as data (fixtures/kayenta/classifier.json), run with `minSamples: 0`.

use serde_json::Value;
use serin_core::config::{Direction, EffectMeasure, EffectThresholds};
use serin_core::preprocess::NanStrategy;
use serin_core::stats::IntervalMethod;
use serin_core::{Classification, ClassifierSettings, classify};

use crate::fixtures::{json, numbers};

fn settings(case: &Value) -> ClassifierSettings {
    let effect = &case["effect_size"];
    let measure = match effect["measure"].as_str().unwrap() {
        "cles" => EffectMeasure::Cles,
        _ => EffectMeasure::MeanRatio,
    };
    ClassifierSettings {
        tolerance: case["tolerance"].as_f64().unwrap(),
        confidence: case["conf_level"].as_f64().unwrap(),
        interval_method: IntervalMethod::Kayenta,
        min_samples: 0,
        direction: match case["direction"].as_str().unwrap() {
            "increase" => Direction::Increase,
            "decrease" => Direction::Decrease,
            _ => Direction::Either,
        },
        nan_strategy: match case["nan_strategy"].as_str().unwrap() {
            "replace" => NanStrategy::Replace,
            _ => NanStrategy::Remove,
        },
        effect: EffectThresholds {
            measure,
            allowed_increase: effect["allowed_increase"].as_f64().unwrap(),
            allowed_decrease: effect["allowed_decrease"].as_f64().unwrap(),
            critical_increase: effect["critical_increase"].as_f64().unwrap(),
            critical_decrease: effect["critical_decrease"].as_f64().unwrap(),
        },
        critical: case["critical"].as_bool().unwrap(),
        must_have_data: case["must_have_data"].as_bool().unwrap(),
    }
}

#[test]
fn classifier_suite_reproduces() {
    let suite = json("kayenta/classifier.json");
    let mut checked = 0;
    for case in suite["cases"].as_array().unwrap() {
        if case["classifier"] != "mann_whitney" {
            // MeanInequalityClassifier exists only in Kayenta's tests; its judge never uses it.
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let outcome = classify(
            case["metric_name"].as_str().unwrap(),
            &numbers(&case["baseline"]),
            &numbers(&case["canary"]),
            &settings(case),
        );
        let expected = &case["expected"];
        if let Some(want) = expected["classification"].as_str() {
            assert_eq!(outcome.classification.as_str(), want, "{name}: {outcome:?}");
        }
        if let Some(want) = expected["critical"].as_bool() {
            assert_eq!(outcome.critical, want, "{name}");
        }
        if expected["reason_non_empty"].as_bool() == Some(true) {
            assert!(
                outcome.reason.as_deref().is_some_and(|r| !r.is_empty()),
                "{name}"
            );
        }
        if expected["deviation_is_nan"].as_bool() == Some(true) {
            assert_eq!(outcome.ratio, None, "{name}: ratio should be NaN (null)");
        }
        if let Some(want) = expected["deviation"].as_f64() {
            assert_eq!(outcome.ratio, Some(want), "{name}");
        }
        checked += 1;
    }
    assert_eq!(checked, 34);
}

#[test]
fn reason_strings_are_kayentas() {
    let base = ClassifierSettings {
        tolerance: 0.25,
        confidence: 0.98,
        interval_method: IntervalMethod::Kayenta,
        min_samples: 0,
        direction: Direction::Either,
        nan_strategy: NanStrategy::Remove,
        effect: EffectMeasure::MeanRatio.default_thresholds(),
        critical: false,
        must_have_data: false,
    };
    let low: Vec<f64> = (0..30).map(|i| 10.0 + f64::from(i % 7)).collect();
    let high: Vec<f64> = low.iter().map(|v| v * 3.0).collect();
    let critical = ClassifierSettings {
        critical: true,
        ..base
    };
    let must_have = ClassifierSettings {
        must_have_data: true,
        ..base
    };
    // (settings, baseline, canary, classification, reason, critical)
    type Case<'a> = (
        &'a ClassifierSettings,
        &'a [f64],
        &'a [f64],
        Classification,
        Option<&'a str>,
        bool,
    );
    let cases: [Case<'_>; 6] = [
        (
            &base,
            &low,
            &high,
            Classification::High,
            Some("m was classified as High"),
            false,
        ),
        (
            &base,
            &high,
            &low,
            Classification::Low,
            Some("m was classified as Low"),
            false,
        ),
        (
            &critical,
            &low,
            &high,
            Classification::High,
            Some("The metric m was classified as High (Critical)"),
            true,
        ),
        (
            &base,
            &low,
            &low,
            Classification::Pass,
            Some("The Canary and Baseline data are identical"),
            false,
        ),
        (
            &critical,
            &low,
            &[],
            Classification::Nodata,
            Some("Missing data for m"),
            true,
        ),
        (
            &must_have,
            &[],
            &low,
            Classification::NodataFailMetric,
            Some("Missing data for m"),
            false,
        ),
    ];
    for (settings, baseline, canary, classification, reason, is_critical) in cases {
        let outcome = classify("m", baseline, canary, settings);
        assert_eq!(
            (
                outcome.classification,
                outcome.reason.as_deref(),
                outcome.critical
            ),
            (classification, reason, is_critical)
        );
    }
}
