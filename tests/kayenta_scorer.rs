//! Kayenta's ScorerSuite, ported as data (fixtures/kayenta/scorer.json), plus thresholds and muting.

use std::collections::BTreeMap;

use serin_core::Classification;
use serin_core::config::ScoreThresholds;
use serin_core::score::{NODATA_REASON, ScoredMetric, Verdict, score};

use crate::fixtures::json;

fn classification(label: &str) -> Classification {
    match label {
        "Pass" => Classification::Pass,
        "High" => Classification::High,
        "Low" => Classification::Low,
        "Nodata" => Classification::Nodata,
        "NodataFailMetric" => Classification::NodataFailMetric,
        "Error" => Classification::Error,
        other => panic!("unknown classification {other}"),
    }
}

#[test]
fn scorer_suite_reproduces() {
    let suite = json("kayenta/scorer.json");
    let cases = suite["cases"].as_array().unwrap();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let groups: Vec<Vec<String>> = case["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|metric| serde_json::from_value(metric["groups"].clone()).unwrap())
            .collect();
        let metrics: Vec<ScoredMetric<'_>> = case["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&groups)
            .map(|(metric, groups)| ScoredMetric {
                classification: classification(metric["classification"].as_str().unwrap()),
                reason: Some("reason"),
                groups,
                critical: metric["critical"].as_bool().unwrap(),
                muted: false,
                undecided: false,
            })
            .collect();
        let weights: BTreeMap<String, f64> =
            serde_json::from_value(case["group_weights"].clone()).unwrap();
        let result = score(&metrics, &weights, ScoreThresholds::default());
        let expected = &case["expected"];
        assert_eq!(
            result.score,
            expected["summary_score"].as_f64().unwrap(),
            "{name}"
        );
        if let Some(want) = expected["group_scores"].as_object() {
            for (group, score) in want {
                let got = result.groups.iter().find(|g| &g.name == group).unwrap();
                assert_eq!(got.score, score.as_f64().unwrap(), "{name}: {group}");
            }
        }
        if let Some(want) = expected["group_scores_sorted"].as_array() {
            let mut got: Vec<f64> = result.groups.iter().map(|g| g.score).collect();
            got.sort_by(f64::total_cmp);
            let want: Vec<f64> = want.iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(got, want, "{name}");
        }
        if let Some(want) = expected["group_count"].as_u64() {
            assert_eq!(result.groups.len() as u64, want, "{name}");
        }
    }
    assert_eq!(cases.len(), 13);
}

#[test]
fn thresholds_muting_and_overrides() {
    let group = vec!["g".to_owned()];
    let metric = |classification, critical, muted| ScoredMetric {
        classification,
        reason: Some("x was classified as High"),
        groups: &group,
        critical,
        muted,
        undecided: false,
    };
    // Serin: a metric that could not be judged under Serin's rules (minSamples > 0).
    let undecided = |classification| ScoredMetric {
        classification,
        reason: Some("Too few samples for x: canary 3, baseline 3, at least 10 per side needed"),
        groups: &group,
        critical: false,
        muted: false,
        undecided: true,
    };
    let thresholds = ScoreThresholds {
        pass: 90.0,
        marginal: 50.0,
    };
    let weights = BTreeMap::new();
    use Classification::{High, Nodata, Pass};
    // (metrics, score, verdict, reason)
    let cases: Vec<(Vec<ScoredMetric<'_>>, f64, Verdict, Option<&str>)> = vec![
        (vec![metric(Pass, false, false)], 100.0, Verdict::Pass, None),
        (
            vec![metric(Pass, false, false), metric(High, false, false)],
            50.0,
            Verdict::Marginal,
            None,
        ),
        (
            vec![
                metric(Pass, false, false),
                metric(High, false, false),
                metric(High, false, false),
            ],
            33.33,
            Verdict::Fail,
            None,
        ),
        // A muted High is reported elsewhere but not scored.
        (
            vec![metric(Pass, false, false), metric(High, false, true)],
            100.0,
            Verdict::Pass,
            None,
        ),
        (
            vec![metric(Pass, false, false), metric(High, true, false)],
            0.0,
            Verdict::Fail,
            Some("Canary Failed: x was classified as High"),
        ),
        (
            vec![metric(Pass, false, false), metric(Nodata, false, false)],
            0.0,
            Verdict::Fail,
            Some(NODATA_REASON),
        ),
        (
            vec![
                metric(Pass, false, false),
                metric(Pass, false, false),
                metric(Nodata, false, false),
            ],
            100.0,
            Verdict::Pass,
            None,
        ),
        // Serin: a passing score with a metric it could not judge is marginal, with
        // the metric's reason; a muted one, or a score that does not pass, is untouched.
        (
            vec![
                metric(Pass, false, false),
                metric(Pass, false, false),
                undecided(Nodata),
            ],
            100.0,
            Verdict::Marginal,
            Some(
                "Cannot pass while a metric could not be judged: Too few samples for x: canary 3, baseline 3, at least 10 per side needed",
            ),
        ),
        (
            vec![
                metric(Pass, false, false),
                metric(High, false, false),
                metric(Pass, false, false),
                undecided(Classification::Error),
            ],
            66.67,
            Verdict::Marginal,
            None,
        ),
        // Nothing scored at all: 0, a fail, never a pass.
        (vec![], 0.0, Verdict::Fail, None),
    ];
    // Overrides fail even when the thresholds would pass a 0.
    let lenient = ScoreThresholds {
        pass: 0.0,
        marginal: 0.0,
    };
    let critical = [metric(Pass, false, false), metric(High, true, false)];
    assert_eq!(score(&critical, &weights, lenient).verdict, Verdict::Fail);
    let nodata = [metric(Nodata, false, false)];
    assert_eq!(score(&nodata, &weights, lenient).verdict, Verdict::Fail);
    assert_eq!(
        score(&[metric(High, false, false)], &weights, lenient).verdict,
        Verdict::Pass
    );
    for (metrics, want_score, want_verdict, want_reason) in cases {
        let result = score(&metrics, &weights, thresholds);
        assert_eq!(
            (result.score, result.verdict, result.reason.as_deref()),
            (want_score, want_verdict, want_reason)
        );
    }
}
