//! Tests of canary-config parsing: Kayenta's own format, defaults, lenient scalars, and path-named errors.

use serde_json::json;

use super::*;

fn config_with_canary(canary: Value) -> Value {
    json!({
        "name": "t",
        "metrics": [
            {"name": "ok", "analysisConfigurations": {"canary": {}}},
            {"name": "second", "analysisConfigurations": {"canary": {}}},
            {"name": "probe", "query": {"type": "prometheus"}, "analysisConfigurations": {"canary": canary}}
        ]
    })
}

#[test]
fn reads_a_kayenta_config_as_it_is() {
    let text = r#"{
      "createdTimestamp": 1510247823000,
      "name": "MySampleStackdriverCanaryConfig",
      "description": "Example Automated Canary Analysis (ACA) Configuration",
      "configVersion": "1.0",
      "applications": ["myapp"],
      "judge": {"name": "NetflixACAJudge-v1.0", "judgeConfigurations": {}},
      "metrics": [
        {
          "name": "cpu",
          "query": {"type": "prometheus", "metricName": "container_cpu_usage", "customFilterTemplate": "my-template"},
          "groups": ["system"],
          "analysisConfigurations": {
            "canary": {
              "direction": "increase",
              "nanStrategy": "replace",
              "critical": "true",
              "effectSize": {"allowedIncrease": 1, "criticalIncrease": "1.5"},
              "outliers": {"strategy": "remove", "outlierFactor": 2}
            }
          },
          "scopeName": "default"
        }
      ],
      "templates": {"my-template": "job=\"${scope}\""},
      "classifier": {"groupWeights": {"system": 100}, "scoreThresholds": {"pass": 90, "marginal": 50}}
    }"#;
    let config = CanaryConfig::from_json(text).unwrap();
    assert_eq!(config.name, "MySampleStackdriverCanaryConfig");
    assert_eq!(config.judge.name, JUDGE_NAME);
    let settings = &config.judge.judge_configurations;
    assert_eq!(
        (
            settings.tolerance,
            settings.conf_level,
            settings.min_samples
        ),
        (0.25, 0.98, DEFAULT_MIN_SAMPLES)
    );
    let canary = &config.metrics[0].analysis_configurations.canary;
    assert_eq!(canary.direction, Direction::Increase);
    assert_eq!(canary.nan_strategy, NanStrategy::Replace);
    assert!(canary.critical && !canary.must_have_data && !canary.muted);
    let thresholds = canary.effect_size.thresholds();
    assert_eq!(
        (
            thresholds.allowed_increase,
            thresholds.allowed_decrease,
            thresholds.critical_increase
        ),
        (1.0, 1.0, 1.5)
    );
    assert_eq!(
        (canary.outliers.strategy, canary.outliers.outlier_factor),
        (OutlierStrategy::Remove, 2.0)
    );
    assert_eq!(config.classifier.group_weights["system"], 100.0);
    assert_eq!(
        config.classifier.score_thresholds,
        Some(ScoreThresholds {
            pass: 90.0,
            marginal: 50.0
        })
    );
    assert_eq!(config.templates["my-template"], "job=\"${scope}\"");
    // Unknown fields survive in the raw document.
    assert_eq!(config.raw["createdTimestamp"], json!(1_510_247_823_000_u64));
    assert_eq!(config.metrics[0].query["metricName"], "container_cpu_usage");
}

#[test]
fn defaults_follow_kayenta_and_cles_uses_half() {
    let config = CanaryConfig::from_value(json!({
        "metrics": [{"name": "m", "analysisConfigurations": {"canary": {"effectSize": {"measure": "cles"}}}}],
        "judge": {"judgeConfigurations": {"tolerance": 0.1, "confLevel": 0.95, "intervalMethod": "exact", "minSamples": 0}}
    }))
    .unwrap();
    let canary = &config.metrics[0].analysis_configurations.canary;
    assert_eq!(canary.direction, Direction::Either);
    assert_eq!(canary.nan_strategy, NanStrategy::Remove);
    assert_eq!(canary.outliers.strategy, OutlierStrategy::Keep);
    assert_eq!(canary.outliers.outlier_factor, 3.0);
    assert_eq!(canary.effect_size.thresholds().allowed_increase, 0.5);
    let settings = &config.judge.judge_configurations;
    assert_eq!(settings.interval_method, IntervalMethod::Exact);
    assert_eq!(
        (
            settings.tolerance,
            settings.conf_level,
            settings.min_samples
        ),
        (0.1, 0.95, 0)
    );
}

#[test]
fn invalid_values_name_their_json_path() {
    let prefix = "metrics[2].analysisConfigurations.canary";
    let cases = [
        (config_with_canary(json!({"direction": "up"})), format!("{prefix}.direction: expected increase, decrease or either, found \"up\"")),
        (config_with_canary(json!({"nanStrategy": "zero"})), format!("{prefix}.nanStrategy: expected remove or replace, found \"zero\"")),
        (config_with_canary(json!({"critical": "yes"})), format!("{prefix}.critical: expected true or false, found \"yes\"")),
        (config_with_canary(json!({"effectSize": {"measure": "median"}})), format!("{prefix}.effectSize.measure: expected meanRatio or cles, found \"median\"")),
        (config_with_canary(json!({"effectSize": {"allowedIncrease": "lots"}})), format!("{prefix}.effectSize.allowedIncrease: expected a number, found \"lots\"")),
        (config_with_canary(json!({"outliers": {"outlierFactor": 0}})), format!("{prefix}.outliers.outlierFactor: expected a number greater than 0, found 0")),
        (config_with_canary(json!({"outliers": {"strategy": "drop"}})), format!("{prefix}.outliers.strategy: expected keep or remove, found \"drop\"")),
        (config_with_canary(json!({"minSamples": -1})), format!("{prefix}.minSamples: expected a whole number of at least 0, found -1")),
        (json!({"metrics": []}), "metrics: expected at least one metric".to_owned()),
        (json!({"name": "x"}), ".: missing field `metrics`".to_owned()),
        (json!({"metrics": [{"name": "a"}, {"name": "a"}]}), "metrics[1].name: duplicate metric name 'a'".to_owned()),
        (json!({"metrics": [{"name": "a"}], "judge": {"judgeConfigurations": {"confLevel": 1.5}}}), "judge.judgeConfigurations.confLevel: expected a number between 0 and 1 (exclusive), found 1.5".to_owned()),
        (json!({"metrics": [{"name": "a"}], "judge": {"judgeConfigurations": {"intervalMethod": "guess"}}}), "judge.judgeConfigurations.intervalMethod: unknown variant `guess`, expected `kayenta` or `exact`".to_owned()),
        (json!({"metrics": [{"name": "a"}], "classifier": {"groupWeights": {"g": 80, "h": 40}}}), "classifier.groupWeights: weights add up to 120, more than 100".to_owned()),
        (json!({"metrics": [{"name": "a"}], "classifier": {"groupWeights": {"g": "heavy"}}}), "classifier.groupWeights: weight of group 'g': expected a number of at least 0, found \"heavy\"".to_owned()),
    ];
    for (value, want) in cases {
        let error = CanaryConfig::from_value(value.clone()).expect_err(&want);
        assert_eq!(error.to_string(), want, "for {value}");
    }
}

#[test]
fn malformed_json_reports_where() {
    let error = CanaryConfig::from_json("{\"metrics\": [").unwrap_err();
    assert!(
        error.to_string().starts_with(".: EOF while parsing"),
        "{error}"
    );
}
