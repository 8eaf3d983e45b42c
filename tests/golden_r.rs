//! Mann-Whitney U, exact distribution and Hodges-Lehmann intervals against R's `wilcox.test`
//! (values from scripts/golden/mann_whitney.R, R 4.2.2).

use serde_json::Value;
use serin_core::Sample;
use serin_core::stats::exact_distribution::ExactDistribution;
use serin_core::stats::{IntervalMethod, PValueMethod, hodges_lehmann, mann_whitney_u};

use crate::fixtures::{alternative, datasets, json};
use crate::tolerances::{
    CDF_BOUNDARY, EXACT_DISTRIBUTION_RELATIVE, EXACT_ROOT_RELATIVE, KAYENTA_ROOT,
    P_VALUE_ABSOLUTE_FLOOR, P_VALUE_RELATIVE, close_relative,
};

fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

#[test]
fn u_and_p_values_match_r() {
    let data = datasets();
    let golden = json("golden/mann_whitney_r.json");
    let mut checked = 0;
    for case in golden["results"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (x, y) = &data[name];
        let (x, y) = (Sample::new(x).unwrap(), Sample::new(y).unwrap());
        let alternative = alternative(case["alternative"].as_str().unwrap());
        let result = mann_whitney_u(&x, &y, alternative, PValueMethod::Auto);
        let label = format!("{name} {alternative:?}");
        assert_eq!(result.u, case["u"].as_f64().unwrap(), "{label}: U");
        let exact_used = case["exact_used"].as_bool().unwrap();
        assert_eq!(
            result.method == PValueMethod::Exact,
            exact_used,
            "{label}: method"
        );
        match number(&case["p_value"]) {
            Some(want) => assert!(
                close_relative(
                    result.p_value,
                    want,
                    P_VALUE_RELATIVE,
                    P_VALUE_ABSOLUTE_FLOOR
                ),
                "{label}: p {} vs R {want}",
                result.p_value
            ),
            // R gives NaN (0/0) when every value is tied; Serin reports p = 1.
            None => assert_eq!(
                (result.sigma, result.p_value),
                (0.0, 1.0),
                "{label}: all tied"
            ),
        }
        checked += 1;
    }
    assert!(checked >= 200, "{checked}");
}

#[test]
fn intervals_match_r() {
    let data = datasets();
    let golden = json("golden/mann_whitney_r.json");
    let mut exact_path = 0;
    let mut asymptotic_path = 0;
    for case in golden["results"].as_array().unwrap() {
        if case["alternative"] != "two.sided" {
            continue; // Serin's interval is two-sided, as Kayenta's.
        }
        let name = case["name"].as_str().unwrap();
        let confidence = case["conf_level"].as_f64().unwrap();
        let label = format!("{name} at {confidence}");
        let (x, y) = &data[name];
        let (x, y) = (Sample::new(x).unwrap(), Sample::new(y).unwrap());
        let kayenta = hodges_lehmann(&x, &y, confidence, IntervalMethod::Kayenta);
        let exact = hodges_lehmann(&x, &y, confidence, IntervalMethod::Exact).unwrap();
        if !case["error"].is_null() {
            // R cannot compute an interval when all observations are tied at the
            // bracket ends; neither can the kayenta method.
            assert!(kayenta.is_err(), "{label}: expected an error like R's");
            continue;
        }
        if case["exact_used"].as_bool().unwrap() {
            // R's exact path: order statistics at qwilcox ranks and the median.
            let ranks = exact.ranks.unwrap();
            assert_eq!(
                ranks.lower,
                case["exact_k_lo"].as_u64().unwrap(),
                "{label}: rank"
            );
            assert_eq!(
                ranks.upper,
                case["exact_k_hi"].as_u64().unwrap(),
                "{label}: rank"
            );
            assert_eq!(
                exact.lower,
                case["ci_lower"].as_f64().unwrap(),
                "{label}: lower"
            );
            assert_eq!(
                exact.upper,
                case["ci_upper"].as_f64().unwrap(),
                "{label}: upper"
            );
            assert_eq!(
                exact.estimate,
                case["estimate"].as_f64().unwrap(),
                "{label}: estimate"
            );
            exact_path += 1;
            continue;
        }
        // Asymptotic path: the kayenta method runs R's algorithm.
        let kayenta = kayenta.unwrap();
        for (got, key) in [(kayenta.lower, "ci_lower"), (kayenta.upper, "ci_upper")] {
            let want = case[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= KAYENTA_ROOT,
                "{label}: {key} {got} vs R {want}"
            );
            let tight = case[&format!("{key}_tight")].as_f64().unwrap();
            assert!(
                (got - tight).abs() <= KAYENTA_ROOT,
                "{label}: {key} {got} vs tight R {tight}"
            );
        }
        // Kayenta keeps the continuity correction for the estimate (R drops it), so it
        // lands in the flat zero region between the two middle differences.
        if let (Some(low), Some(high)) =
            (number(&case["diff_mid_lo"]), number(&case["diff_mid_hi"]))
        {
            assert!(
                kayenta.estimate >= low - KAYENTA_ROOT && kayenta.estimate <= high + KAYENTA_ROOT,
                "{label}: estimate {} outside [{low}, {high}]",
                kayenta.estimate
            );
        }
        // The exact method: the order statistics at which R's interval jumps
        // (sigma from the ties within each sample) and the exact median.
        if let Some(median) = number(&case["diff_median"]) {
            let ranks = exact.ranks.unwrap();
            assert_eq!(
                ranks.lower,
                case["os_within_k_lo"].as_u64().unwrap(),
                "{label}: rank"
            );
            assert_eq!(
                ranks.upper,
                case["os_within_k_hi"].as_u64().unwrap(),
                "{label}: rank"
            );
            assert_eq!(
                exact.lower,
                case["os_within_lo"].as_f64().unwrap(),
                "{label}: lower"
            );
            assert_eq!(
                exact.upper,
                case["os_within_hi"].as_f64().unwrap(),
                "{label}: upper"
            );
            assert_eq!(exact.estimate, median, "{label}: median");
            // And they agree with R's tightly solved interval.
            for (got, key) in [
                (exact.lower, "ci_lower_tight"),
                (exact.upper, "ci_upper_tight"),
            ] {
                let want = case[key].as_f64().unwrap();
                assert!(
                    (got - want).abs() <= EXACT_ROOT_RELATIVE * want.abs().max(1.0),
                    "{label}: {key} {got} vs {want}"
                );
            }
        }
        asymptotic_path += 1;
    }
    assert!(
        exact_path >= 30 && asymptotic_path >= 40,
        "{exact_path} / {asymptotic_path}"
    );
}

#[test]
fn exact_distribution_matches_pwilcox_and_qwilcox() {
    let golden = json("golden/mann_whitney_r.json");
    for row in golden["exact_distribution"].as_array().unwrap() {
        let (n, m) = (
            row["n"].as_u64().unwrap() as usize,
            row["m"].as_u64().unwrap() as usize,
        );
        let q = row["q"].as_f64().unwrap();
        let distribution = ExactDistribution::new(n, m);
        for (got, key) in [
            (distribution.cdf(q), "pwilcox_lower"),
            (distribution.sf(q), "pwilcox_upper"),
        ] {
            let want = row[key].as_f64().unwrap();
            assert!(
                close_relative(
                    got,
                    want,
                    EXACT_DISTRIBUTION_RELATIVE,
                    P_VALUE_ABSOLUTE_FLOOR
                ),
                "{n}x{m} q={q} {key}: {got} vs {want}"
            );
        }
    }
    for row in golden["exact_quantiles"].as_array().unwrap() {
        let (n, m) = (
            row["n"].as_u64().unwrap() as usize,
            row["m"].as_u64().unwrap() as usize,
        );
        let p = row["p"].as_f64().unwrap();
        let distribution = ExactDistribution::new(n, m);
        let got = distribution.quantile(p) as u64;
        let want = row["qwilcox"].as_u64().unwrap();
        // P(U <= q) can equal p exactly (p = 0.5 with n·m odd); there the answer
        // hangs on the last bits of two different summations, R's and Serin's.
        let on_boundary = (distribution.cdf(got.min(want) as f64) - p).abs() < CDF_BOUNDARY;
        assert!(
            got == want || (on_boundary && got.abs_diff(want) == 1),
            "{n}x{m} p={p}: {got} vs R {want}"
        );
    }
}
