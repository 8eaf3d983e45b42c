//! Kayenta's StatisticSuite, DetectorSuite and TransformSuite, ported as data (fixtures/kayenta/).

use serin_core::Sample;
use serin_core::preprocess::{
    NanStrategy, OutlierStrategy, iqr_outliers, ksigma_outliers, percentile_r7, preprocess,
};
use serin_core::stats::effect_size::{EffectSizes, mean_ratio};
use serin_core::stats::{Alternative, Descriptive, PValueMethod, mann_whitney_u};

use crate::fixtures::{json, numbers};

fn close(got: f64, want: f64, tolerance: f64, what: &str) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: got {got}, want {want} (±{tolerance})"
    );
}

#[test]
fn statistic_suite_reproduces() {
    let suite = json("kayenta/statistics.json");
    for case in suite["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let tolerance = case["tolerance"].as_f64().unwrap_or(0.0);
        match case["kind"].as_str().unwrap() {
            "summary" => {
                let stats = Descriptive::of(&numbers(&case["values"]));
                let want = &case["expected"];
                close(stats.min, want["min"].as_f64().unwrap(), tolerance, name);
                close(stats.max, want["max"].as_f64().unwrap(), tolerance, name);
                close(stats.mean, want["mean"].as_f64().unwrap(), tolerance, name);
                close(
                    stats.std,
                    want["std"].as_f64().unwrap(),
                    case["std_tolerance"].as_f64().unwrap_or(tolerance),
                    name,
                );
                assert_eq!(
                    stats.count as u64,
                    want["count"].as_u64().unwrap(),
                    "{name}"
                );
            }
            "percentile" => {
                let mut values = numbers(&case["values"]);
                values.sort_by(f64::total_cmp);
                for check in case["checks"].as_array().unwrap() {
                    let got = percentile_r7(&values, check["p"].as_f64().unwrap());
                    close(
                        got,
                        check["expected"].as_f64().unwrap(),
                        check["tolerance"].as_f64().unwrap(),
                        name,
                    );
                }
            }
            kind @ ("mean_ratio" | "mean_ratio_from_summary" | "cohen_d" | "cles") => {
                let (canary, baseline) = (numbers(&case["canary"]), numbers(&case["baseline"]));
                let u = mann_whitney_u(
                    &Sample::new(&canary).unwrap(),
                    &Sample::new(&baseline).unwrap(),
                    Alternative::TwoSided,
                    PValueMethod::Auto,
                )
                .u;
                let effects = EffectSizes::new(&canary, &baseline, u);
                let got = match kind {
                    "mean_ratio" => mean_ratio(&canary, &baseline),
                    "mean_ratio_from_summary" => {
                        let (c, b) = (Descriptive::of(&canary), Descriptive::of(&baseline));
                        (c.mean != 0.0 && b.mean != 0.0).then(|| c.mean / b.mean)
                    }
                    "cohen_d" => effects.cohens_d,
                    _ => Some(effects.cles),
                };
                if case["expected_is_nan"].as_bool() == Some(true) {
                    assert_eq!(got, None, "{name}");
                } else {
                    close(
                        got.unwrap(),
                        case["expected"].as_f64().unwrap(),
                        tolerance,
                        name,
                    );
                }
            }
            other => panic!("unknown kind {other}"),
        }
    }
}

fn outliers(case: &serde_json::Value, data: &[f64]) -> Vec<bool> {
    match case["detector"].as_str().unwrap() {
        "ksigma" => ksigma_outliers(data, case["k"].as_f64().unwrap()),
        "iqr" => iqr_outliers(
            data,
            case["factor"].as_f64().unwrap(),
            case["reduce_sensitivity"].as_bool().unwrap(),
        ),
        other => panic!("unknown detector {other}"),
    }
}

#[test]
fn detector_suite_reproduces() {
    let suite = json("kayenta/detector.json");
    let cases = suite["cases"].as_array().unwrap();
    for case in cases {
        let data = numbers(&case["data"]);
        let want: Vec<bool> = serde_json::from_value(case["expected_outliers"].clone()).unwrap();
        assert_eq!(outliers(case, &data), want, "{}", case["name"]);
    }
    // The fixture holds Kayenta's 6 DetectorSuite cases: an emptied one must not pass.
    assert!(cases.len() >= 6, "only {} detector cases", cases.len());
}

#[test]
fn transform_suite_reproduces() {
    let suite = json("kayenta/transform.json");
    let mut checked = 0;
    for case in suite["cases"].as_array().unwrap() {
        if case["generated"].as_bool() == Some(true) {
            // Kayenta's Gaussian-noise helper: Serin adds no noise (see docs/statistics.md).
            continue;
        }
        let data = numbers(&case["data"]);
        let got = match case["op"].as_str().unwrap() {
            "remove_nans" => {
                preprocess(&data, NanStrategy::Remove, OutlierStrategy::Keep, 3.0).values
            }
            "replace_nans" => {
                preprocess(&data, NanStrategy::Replace, OutlierStrategy::Keep, 3.0).values
            }
            "remove_outliers" => {
                let flags = outliers(case, &data);
                data.iter()
                    .zip(flags)
                    .filter(|(_, outlier)| !outlier)
                    .map(|(v, _)| *v)
                    .collect()
            }
            other => panic!("unknown op {other}"),
        };
        assert_eq!(got, numbers(&case["expected"]), "{}", case["name"]);
        checked += 1;
    }
    assert_eq!(checked, 5);
}
